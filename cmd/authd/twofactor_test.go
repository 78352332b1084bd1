package main

import (
	"path/filepath"
	"strings"
	"testing"

	"authd/internal/authdtest"
)

// TestUser2FAReset: authd user 2fa-reset removes a lost second factor and
// ends the user's sessions; the next password login needs no code.
func TestUser2FAReset(t *testing.T) {
	t.Parallel()
	env := map[string]string{"AUTHD_DB": filepath.Join(t.TempDir(), "authd.db"), "AUTHD_COOKIE_SECURE": "false"}
	if out, err := cli(t, env, "hana's password\n", "user", "add", "--password-stdin", "hana"); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	s := mustRun(t, env)
	c := authdtest.NewClient(t, s.URL)
	access := c.MustLogin("hana", "hana's password").AccessToken
	setup := c.TOTPSetup(access)
	setup.Want(t, "totp setup", 200, "")
	c.TOTPConfirm(access, authdtest.NewAuthenticator(t, setup.Secret).Code()).Want(t, "totp confirm", 200, "")
	if r := c.Login("hana", "hana's password"); r.Status != 200 || !r.MFARequired {
		t.Fatalf("login with 2FA = %s, want mfa_required", r)
	}

	out, err := cli(t, env, "", "user", "2fa-reset", "hana")
	if err != nil || !strings.Contains(out, "removed the two-factor authentication of hana") {
		t.Fatalf("user 2fa-reset = %v, %q", err, out)
	}
	c.Me(access).Want(t, "me after 2fa-reset", 401, "invalid_token")
	again := c.MustLogin("hana", "hana's password")
	if again.AccessToken == "" || again.MFARequired {
		t.Errorf("login after 2fa-reset = %s, want a session", again)
	}
	if me := c.MustMe(again.AccessToken); me.TwoFactor {
		t.Error("me says two_factor after the reset")
	}
	out, err = cli(t, env, "", "user", "2fa-reset", "hana")
	if err != nil || !strings.Contains(out, "had no two-factor authentication") {
		t.Errorf("user 2fa-reset again = %v, %q", err, out)
	}
	if _, err := cli(t, env, "", "user", "2fa-reset", "nobody"); err == nil || !strings.Contains(err.Error(), `no user "nobody"`) {
		t.Errorf("user 2fa-reset nobody = %v", err)
	}
}
