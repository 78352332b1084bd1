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
	b := newBrowser(t, func() string { return current.Load().addr })

	b.mustRegister("reese", password)
	access := b.mustLogin("reese", password)
	b.mustIntraIdentity("alice") // an api_token survives too
	id := b.mustMe(access).body["id"]

	began := time.Now()
	if err := first.stop(); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	t.Logf("authd stopped in %s after SIGTERM", time.Since(began).Round(time.Millisecond))
	if !strings.Contains(tail(first.logPath, 5), `"msg":"stopped"`) {
		t.Errorf("authd did not log its clean stop:\n%s", tail(first.logPath, 5))
	}
	b.http.Transport.(*http.Transport).CloseIdleConnections()

	second := mustAuthd(t, "authd-2", first.db, journeySettings()...)
	current.Store(second)

	r := b.call("POST", "/auth/refresh/", "", nil)
	want(t, "refresh after the restart", r, http.StatusOK, "")
	if b.mustMe(r.str("access_token")).body["id"] != id {
		t.Error("the refreshed token is someone else's")
	}
	if b.mustMe(access).body["id"] != id {
		t.Error("the access token from before the restart names someone else")
	}
	r = b.call("POST", "/oauth2/intra/login/", "", nil)
	want(t, "intra login with the api_token from before the restart", r, http.StatusOK, "")
	if me := b.mustMe(r.str("access_token")); me.str("username") != "alice" {
		t.Errorf("intra login after the restart: me = %s, want the user created from alice", me.text)
	}
	want(t, "logout", b.call("POST", "/auth/logout/", access, nil), http.StatusOK, "")
}
