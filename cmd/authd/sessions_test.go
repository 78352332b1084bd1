package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"authd/internal/authdtest"
	"authd/internal/store"
	"authd/internal/store/sqlite"
)

// TestUserPasswdRevokesSessions: authd user passwd ends every session of
// the user, the access tokens' and the refresh cookies' alike.
func TestUserPasswdRevokesSessions(t *testing.T) {
	t.Parallel()
	env := map[string]string{"AUTHD_DB": filepath.Join(t.TempDir(), "authd.db"), "AUTHD_COOKIE_SECURE": "false"}
	if out, err := cli(t, env, "erin's password\n", "user", "add", "--password-stdin", "erin"); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	s := mustRun(t, env)
	c := authdtest.NewClient(t, s.URL)
	access := c.MustLogin("erin", "erin's password").AccessToken
	c.MustRefresh()
	out, err := cli(t, env, "erin's new password\n", "user", "passwd", "--password-stdin", "erin")
	if err != nil || !strings.Contains(out, "sessions revoked") {
		t.Fatalf("user passwd = %v, %q", err, out)
	}
	c.Refresh().Want(t, "refresh after user passwd", 400, "invalid_refresh_token")
	c.Me(access).Want(t, "me after user passwd", 401, "invalid_token")
	c.MustLogin("erin", "erin's new password")
}

// TestUserUnlink: authd user unlink removes a link, and refuses a user
// whose only way to log in it is.
func TestUserUnlink(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "authd.db")
	env := map[string]string{"AUTHD_DB": path}
	if out, err := cli(t, env, "frank's password\n", "user", "add", "--password-stdin", "frank"); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	frank, err := db.UserByUsername(t.Context(), "frank")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.LinkIntra(t.Context(), frank.ID, store.IntraAccount{ID: 42, Login: "frank42"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateUser(t.Context(), store.NewUser{Username: "gina", Intra: &store.IntraAccount{ID: 43, Login: "gina"}}, time.Now()); err != nil {
		t.Fatal(err)
	}

	for _, step := range []struct {
		name, wantOut, wantErr string
	}{
		{"frank", "unlinked the 42 account frank42 from frank", ""},
		{"frank", "", "no 42 account linked"},
		{"gina", "", "no password"},
	} {
		out, err := cli(t, env, "", "user", "unlink", step.name)
		switch {
		case step.wantErr == "" && (err != nil || !strings.Contains(out, step.wantOut)):
			t.Errorf("user unlink %s = %v, %q; want %q", step.name, err, out, step.wantOut)
		case step.wantErr != "" && (err == nil || !strings.Contains(err.Error(), step.wantErr)):
			t.Errorf("user unlink %s = %v; want an error containing %q", step.name, err, step.wantErr)
		}
	}
	if u, _ := db.UserByUsername(t.Context(), "frank"); u.Intra != nil {
		t.Errorf("frank still linked: %+v", u.Intra)
	}
	if u, _ := db.UserByUsername(t.Context(), "gina"); u.Intra == nil {
		t.Error("the refused unlink removed gina's link")
	}
}
