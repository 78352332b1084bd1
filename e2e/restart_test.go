//go:build e2e

package e2e

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRestart: a user logs in; authd is stopped with SIGTERM, exits 0 and
// frees its port; a new authd on the same database accepts the refresh
// cookie and the access token issued before, so the signing key
// generated on the first start and the session both survived.
func TestRestart(t *testing.T) {
	t.Parallel()
	first := mustAuthd(t, "authd-1", "", journeySettings()...)
	var current atomic.Pointer[authd]
	current.Store(first)
	b := clientTo(t, func() string { return current.Load().Addr })

	b.MustRegister("reese", password)
	access := b.MustLogin("reese", password).AccessToken
	b.MustIntraIdentity("alice") // an api_token survives too
	id := b.MustMe(access).ID

	began := time.Now()
	if err := first.Stop(); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	t.Logf("authd stopped in %s after SIGTERM", time.Since(began).Round(time.Millisecond))
	if !strings.Contains(first.Tail(5), `"msg":"stopped"`) {
		t.Errorf("authd did not log its clean stop:\n%s", first.Tail(5))
	}
	b.CloseIdleConnections()

	second := mustAuthd(t, "authd-2", first.db, journeySettings()...)
	current.Store(second)

	r := b.Refresh()
	r.Want(t, "refresh after the restart", http.StatusOK, "")
	if b.MustMe(r.AccessToken).ID != id {
		t.Error("the refreshed token is someone else's")
	}
	if b.MustMe(access).ID != id {
		t.Error("the access token from before the restart names someone else")
	}
	r = b.IntraLogin()
	r.Want(t, "intra login with the api_token from before the restart", http.StatusOK, "")
	if me := b.MustMe(r.AccessToken); me.Username != "alice" {
		t.Errorf("intra login after the restart: me = %s, want the user created from alice", me.Body)
	}
	b.Logout(access).Want(t, "logout", http.StatusOK, "")
}
