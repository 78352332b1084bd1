//go:build e2e

package cluster

import (
	"testing"

	"authd/internal/authdtest"
)

// twoFactorAcrossReplicas: a user turns TOTP on across replicas; a code
// accepted by one replica is refused by another, as are an mfa_token used
// up on one, the sixth try of an mfa_token whose five tries were spread
// over all three, and a recovery code used on another.
func twoFactorAcrossReplicas(t *testing.T, replicas []*authdtest.Server) {
	a, b, c := replicas[0], replicas[1], replicas[2]
	const username, password = "tara", "tara's long password"
	u := newClient(t)
	if r := u.Via(a.Addr).Register(authdtest.RegisterRequest{Username: username, Password: password}); r.Status != 201 {
		t.Fatalf("register on A = %s", r)
	}
	access := u.Via(a.Addr).MustLogin(username, password).AccessToken
	setup := u.Via(b.Addr).TOTPSetup(access)
	setup.Want(t, "setup on B", 200, "")
	app := authdtest.NewAuthenticator(t, setup.Secret)
	confirm := u.Via(c.Addr).TOTPConfirm(access, app.Code())
	confirm.Want(t, "confirm on C", 200, "")

	// Each part logs in from an address of its own, within the login rate.
	mfaToken := func(on *authdtest.Server) string {
		t.Helper()
		r := newClient(t).Via(on.Addr).Login(username, password)
		if r.Status != 200 || !r.MFARequired {
			t.Fatalf("login on %s = %s, want mfa_required", on.Addr, r)
		}
		return r.MFAToken
	}
	tok := mfaToken(a)
	code := app.Code()
	u.Via(b.Addr).LoginMFA(tok, code).Want(t, "the code on B", 200, "")
	u.Via(c.Addr).LoginMFA(mfaToken(c), code).Want(t, "the same code on C", 400, "invalid_code")
	u.Via(a.Addr).LoginMFA(tok, app.Code()).Want(t, "the token used on B, on A", 400, "invalid_mfa_token")

	tok = mfaToken(b)
	for i := range 5 {
		u.Via(replicas[i%3].Addr).LoginMFA(tok, "abcdefghjk").Want(t, "a wrong code", 400, "invalid_code")
	}
	u.Via(c.Addr).LoginMFA(tok, app.Code()).Want(t, "a right code after 5 wrong on three replicas", 400, "invalid_mfa_token")

	u.Via(a.Addr).LoginMFA(mfaToken(a), confirm.RecoveryCodes[0]).Want(t, "a recovery code on A", 200, "")
	u.Via(b.Addr).LoginMFA(mfaToken(b), confirm.RecoveryCodes[0]).Want(t, "the same recovery code on B", 400, "invalid_code")
}
