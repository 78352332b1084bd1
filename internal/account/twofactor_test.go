package account

import (
	"encoding/base32"
	"errors"
	"strings"
	"testing"
	"time"

	"authd/internal/datakey"
	"authd/internal/intra"
	"authd/internal/totp"
)

// principal authenticates an access token of g.
func (e *env) principal(t *testing.T, g Grant) Principal {
	t.Helper()
	p, err := e.svc.Authenticate(t.Context(), g.AccessToken)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	return p
}

// code is the code of the base32 secret at the clock's time, moved by
// steps time steps.
func (e *env) code(t *testing.T, secret string, steps int64) string {
	t.Helper()
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		t.Fatalf("secret %q is not base32: %v", secret, err)
	}
	return totp.Code(raw, totp.Step(e.clock.Now())+steps)
}

// mustEnrol registers name, logs in, sets up and confirms TOTP; it
// returns the secret, the recovery codes and the grant of the session.
func (e *env) mustEnrol(t *testing.T, name string) (string, []string, Grant) {
	t.Helper()
	e.mustRegister(t, name, name+"-password")
	g := e.mustLogin(t, name, name+"-password")
	setup, err := e.svc.SetupTOTP(t.Context(), e.principal(t, g))
	if err != nil {
		t.Fatalf("SetupTOTP: %v", err)
	}
	codes, err := e.svc.ConfirmTOTP(t.Context(), e.principal(t, g), e.code(t, setup.Secret, 0))
	if err != nil {
		t.Fatalf("ConfirmTOTP: %v", err)
	}
	return setup.Secret, codes, g
}

// mustMFAToken logs name in with the password and returns the mfa_token.
func (e *env) mustMFAToken(t *testing.T, name string) string {
	t.Helper()
	g := e.mustLogin(t, name, name+"-password")
	if g.MFAToken == "" || g.AccessToken != "" || g.RefreshToken != "" || g.SessionID != "" {
		t.Fatalf("Login of a user with 2FA = %+v, want an mfa_token alone", g)
	}
	return g.MFAToken
}

func TestTOTPEnrolment(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.TOTPIssuer = "Example Co" })
	e.mustRegister(t, "alice", "alice-password")
	g := e.mustLogin(t, "alice", "alice-password")
	other := e.mustLogin(t, "alice", "alice-password")
	p := e.principal(t, g)
	ctx := t.Context()

	if _, err := e.svc.ConfirmTOTP(ctx, p, "123456"); !errors.Is(err, ErrTOTPNotEnabled) {
		t.Errorf("ConfirmTOTP without setup = %v, want ErrTOTPNotEnabled", err)
	}
	first, err := e.svc.SetupTOTP(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	setup, err := e.svc.SetupTOTP(ctx, p) // asking again replaces the secret
	if err != nil {
		t.Fatal(err)
	}
	if len(setup.Secret) != 32 || setup.Secret == first.Secret {
		t.Errorf("secrets %q then %q: want two different 20-byte base32 secrets", first.Secret, setup.Secret)
	}
	wantURL := "otpauth://totp/Example%20Co:alice?secret=" + setup.Secret + "&issuer=Example+Co&algorithm=SHA1&digits=6&period=30"
	if setup.URL != wantURL {
		t.Errorf("URL = %s\nwant  %s", setup.URL, wantURL)
	}
	if on, err := e.svc.TwoFactorEnabled(ctx, p.User.ID); err != nil || on {
		t.Errorf("TwoFactorEnabled while pending = %v, %v; want false", on, err)
	}
	// Wrong and malformed codes, and a code of the replaced secret.
	for _, code := range []string{e.code(t, first.Secret, 0), e.code(t, setup.Secret, 2), "12345", "1234567", " 12345", "", strings.Repeat("1", 60000)} {
		if _, err := e.svc.ConfirmTOTP(ctx, p, code); !errors.Is(err, ErrInvalidCode) {
			t.Errorf("ConfirmTOTP(%.10q) = %v, want ErrInvalidCode", code, err)
		}
	}
	if on, _ := e.svc.TwoFactorEnabled(ctx, p.User.ID); on {
		t.Fatal("wrong codes enabled 2FA")
	}
	// Two of those were well-formed wrong codes, counted by the lockout
	// (3 failures): one more failure would lock alice. Let them age out.
	e.clock.Advance(11 * time.Minute)
	g = e.mustLogin(t, "alice", "alice-password")
	p = e.principal(t, g)
	codes, err := e.svc.ConfirmTOTP(ctx, p, e.code(t, setup.Secret, -1))
	if err != nil {
		t.Fatalf("ConfirmTOTP with the previous step's code: %v", err)
	}
	if len(codes) != RecoveryCodeCount {
		t.Errorf("%d recovery codes, want %d", len(codes), RecoveryCodeCount)
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if !recoveryShaped(c) || c != strings.ToLower(c) || seen[c] {
			t.Errorf("recovery code %q: not of the alphabet, or repeated", c)
		}
		seen[c] = true
	}
	if on, err := e.svc.TwoFactorEnabled(ctx, p.User.ID); err != nil || !on {
		t.Errorf("TwoFactorEnabled once confirmed = %v, %v; want true", on, err)
	}
	// Every other session of alice's ended; this one did not.
	if _, err := e.svc.Authenticate(ctx, other.AccessToken); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("the other session after confirm: %v, want ErrInvalidToken", err)
	}
	e.principal(t, g)
	if _, err := e.svc.SetupTOTP(ctx, p); !errors.Is(err, ErrTOTPAlreadyEnabled) {
		t.Errorf("SetupTOTP when active = %v, want ErrTOTPAlreadyEnabled", err)
	}
	if _, err := e.svc.ConfirmTOTP(ctx, p, e.code(t, setup.Secret, 0)); !errors.Is(err, ErrTOTPNotEnabled) {
		t.Errorf("ConfirmTOTP twice = %v, want ErrTOTPNotEnabled", err)
	}
	// Fresh sessions only, for setup.
	e.clock.Advance(DefaultReauthWindow + time.Second)
	bob := e.mustRegister(t, "bob", "bob-password")
	gb := e.mustLogin(t, "bob", "bob-password")
	e.clock.Advance(DefaultReauthWindow + time.Second)
	if _, err := e.svc.SetupTOTP(ctx, Principal{User: bob, Claims: e.principal(t, gb).Claims}); !errors.Is(err, ErrReauthRequired) {
		t.Errorf("SetupTOTP of a stale session = %v, want ErrReauthRequired", err)
	}
}

func TestLoginMFA(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	secret, _, first := e.mustEnrol(t, "alice")
	ctx := t.Context()

	// The code that confirmed is spent: its step is not accepted again.
	tok := e.mustMFAToken(t, "alice")
	if _, err := e.svc.LoginMFA(ctx, tok, e.code(t, secret, 0)); !errors.Is(err, ErrInvalidCode) {
		t.Errorf("LoginMFA with the confirming code = %v, want ErrInvalidCode", err)
	}
	e.clock.Advance(totp.Period)
	g, err := e.svc.LoginMFA(ctx, tok, e.code(t, secret, 0))
	if err != nil {
		t.Fatalf("LoginMFA: %v", err)
	}
	if g.AccessToken == "" || g.RefreshToken == "" {
		t.Fatalf("LoginMFA = %+v, want a session", g)
	}
	p := e.principal(t, g)
	if !p.Claims.AuthTime.Equal(e.clock.Now().Truncate(time.Second)) || p.Session.Method != MethodPassword {
		t.Errorf("session of the mfa step: auth_time %v method %q; want now and password", p.Claims.AuthTime, p.Session.Method)
	}
	// The token is used up; a new token cannot replay the step.
	if _, err := e.svc.LoginMFA(ctx, tok, e.code(t, secret, 1)); !errors.Is(err, ErrInvalidMFAToken) {
		t.Errorf("LoginMFA with a used token = %v, want ErrInvalidMFAToken", err)
	}
	tok2 := e.mustMFAToken(t, "alice")
	if _, err := e.svc.LoginMFA(ctx, tok2, e.code(t, secret, 0)); !errors.Is(err, ErrInvalidCode) {
		t.Errorf("LoginMFA replaying a code = %v, want ErrInvalidCode", err)
	}
	// Tokens of other types, and nonsense.
	for name, bad := range map[string]string{
		"access": first.AccessToken, "refresh": first.RefreshToken, "empty": "", "garbage": "a.b.c",
	} {
		if _, err := e.svc.LoginMFA(ctx, bad, e.code(t, secret, 1)); !errors.Is(err, ErrInvalidMFAToken) {
			t.Errorf("LoginMFA with an %s token = %v, want ErrInvalidMFAToken", name, err)
		}
	}
	api, err := e.svc.IntraToken(intra.Identity{ID: 9, Login: "x9"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.LoginMFA(ctx, api, e.code(t, secret, 1)); !errors.Is(err, ErrInvalidMFAToken) {
		t.Errorf("LoginMFA with an api token = %v, want ErrInvalidMFAToken", err)
	}
	// Expired.
	tok3 := e.mustMFAToken(t, "alice")
	e.clock.Advance(MFATokenTTL + time.Minute)
	if _, err := e.svc.LoginMFA(ctx, tok3, e.code(t, secret, 0)); !errors.Is(err, ErrInvalidMFAToken) {
		t.Errorf("LoginMFA with an expired token = %v, want ErrInvalidMFAToken", err)
	}
}

func TestLoginMFAAttempts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.Lockout.N = 0 })
	secret, _, _ := e.mustEnrol(t, "alice")
	e.clock.Advance(totp.Period)
	tok := e.mustMFAToken(t, "alice")
	wrong := "000000"
	if wrong == e.code(t, secret, -1) || wrong == e.code(t, secret, 0) || wrong == e.code(t, secret, 1) {
		wrong = "999999"
	}
	for i := range MaxMFAAttempts {
		if _, err := e.svc.LoginMFA(t.Context(), tok, wrong); !errors.Is(err, ErrInvalidCode) {
			t.Fatalf("wrong code %d: %v, want ErrInvalidCode", i+1, err)
		}
	}
	if _, err := e.svc.LoginMFA(t.Context(), tok, e.code(t, secret, 0)); !errors.Is(err, ErrInvalidMFAToken) {
		t.Errorf("right code after %d wrong = %v, want ErrInvalidMFAToken", MaxMFAAttempts, err)
	}
	// Another token still works: the step was not spent.
	if _, err := e.svc.LoginMFA(t.Context(), e.mustMFAToken(t, "alice"), e.code(t, secret, 0)); err != nil {
		t.Errorf("a new token with the right code: %v", err)
	}
}

func TestLoginMFALockout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil) // 3 failures in 10 minutes lock
	secret, _, _ := e.mustEnrol(t, "alice")
	e.clock.Advance(totp.Period)
	tok := e.mustMFAToken(t, "alice")
	for i := range 3 {
		if _, err := e.svc.LoginMFA(t.Context(), tok, "abcdefghjk"); !errors.Is(err, ErrInvalidCode) {
			t.Fatalf("wrong recovery code %d: %v", i+1, err)
		}
	}
	var locked *LockedError
	if _, err := e.svc.LoginMFA(t.Context(), tok, e.code(t, secret, 0)); !errors.As(err, &locked) {
		t.Errorf("right code once locked = %v, want a *LockedError", err)
	}
	if _, err := e.svc.Login(t.Context(), "alice", "alice-password"); !errors.As(err, &locked) {
		t.Errorf("password login once locked by codes = %v, want a *LockedError", err)
	}
	// Malformed codes are not guesses: they do not count.
	e.clock.Advance(11 * time.Minute)
	tok = e.mustMFAToken(t, "alice")
	for range 3 {
		if _, err := e.svc.LoginMFA(t.Context(), tok, "12 345"); !errors.Is(err, ErrInvalidCode) {
			t.Fatalf("malformed code: %v", err)
		}
	}
	if _, err := e.svc.LoginMFA(t.Context(), e.mustMFAToken(t, "alice"), e.code(t, secret, 0)); err != nil {
		t.Errorf("right code after malformed ones: %v", err)
	}
}

func TestRecoveryCodes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.Lockout.N = 0 })
	secret, codes, g := e.mustEnrol(t, "alice")
	ctx := t.Context()
	// Recovery codes are read without regard to case, and used once.
	if _, err := e.svc.LoginMFA(ctx, e.mustMFAToken(t, "alice"), strings.ToUpper(codes[0])); err != nil {
		t.Fatalf("LoginMFA with a recovery code: %v", err)
	}
	if _, err := e.svc.LoginMFA(ctx, e.mustMFAToken(t, "alice"), codes[0]); !errors.Is(err, ErrInvalidCode) {
		t.Errorf("LoginMFA with a used recovery code = %v, want ErrInvalidCode", err)
	}
	// Disable with a used recovery code: refused, nothing changes.
	p := e.principal(t, g)
	if err := e.svc.DisableTOTP(ctx, p, codes[0]); !errors.Is(err, ErrInvalidCode) {
		t.Errorf("DisableTOTP with a used recovery code = %v, want ErrInvalidCode", err)
	}
	// New codes: the old ones stop working.
	fresh, err := e.svc.NewRecoveryCodes(ctx, p, codes[1])
	if err != nil {
		t.Fatalf("NewRecoveryCodes: %v", err)
	}
	if len(fresh) != RecoveryCodeCount {
		t.Errorf("%d new codes", len(fresh))
	}
	if _, err := e.svc.LoginMFA(ctx, e.mustMFAToken(t, "alice"), codes[2]); !errors.Is(err, ErrInvalidCode) {
		t.Errorf("an old recovery code after renewal = %v, want ErrInvalidCode", err)
	}
	if on, _ := e.svc.TwoFactorEnabled(ctx, p.User.ID); !on {
		t.Fatal("2FA is off after refused codes")
	}
	// Disable with a code of the app; logins are one step again.
	e.clock.Advance(totp.Period)
	if err := e.svc.DisableTOTP(ctx, p, e.code(t, secret, 0)); err != nil {
		t.Fatalf("DisableTOTP: %v", err)
	}
	if g := e.mustLogin(t, "alice", "alice-password"); g.AccessToken == "" || g.MFAToken != "" {
		t.Errorf("Login after disable = %+v, want a session", g)
	}
	for name, err := range map[string]error{
		"disable":        e.svc.DisableTOTP(ctx, p, fresh[0]),
		"recovery codes": func() error { _, err := e.svc.NewRecoveryCodes(ctx, p, fresh[0]); return err }(),
	} {
		if !errors.Is(err, ErrTOTPNotEnabled) {
			t.Errorf("%s without 2FA = %v, want ErrTOTPNotEnabled", name, err)
		}
	}
	// Stale sessions cannot disable or renew.
	e.clock.Advance(DefaultReauthWindow + time.Second)
	if err := e.svc.DisableTOTP(ctx, p, "123456"); !errors.Is(err, ErrReauthRequired) {
		t.Errorf("DisableTOTP of a stale session = %v, want ErrReauthRequired", err)
	}
	if _, err := e.svc.NewRecoveryCodes(ctx, p, "123456"); !errors.Is(err, ErrReauthRequired) {
		t.Errorf("NewRecoveryCodes of a stale session = %v, want ErrReauthRequired", err)
	}
}

func TestIntraLoginMFA(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	api, err := e.svc.IntraToken(intra.Identity{ID: 7, Login: "jdoe"})
	if err != nil {
		t.Fatal(err)
	}
	g, err := e.svc.IntraLogin(t.Context(), api)
	if err != nil {
		t.Fatal(err)
	}
	p := e.principal(t, g)
	setup, err := e.svc.SetupTOTP(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ConfirmTOTP(t.Context(), p, e.code(t, setup.Secret, 0)); err != nil {
		t.Fatal(err)
	}
	api, _ = e.svc.IntraToken(intra.Identity{ID: 7, Login: "jdoe"})
	g, err = e.svc.IntraLogin(t.Context(), api)
	if err != nil || g.MFAToken == "" || g.AccessToken != "" {
		t.Fatalf("IntraLogin with 2FA = %+v, %v; want an mfa_token alone", g, err)
	}
	e.clock.Advance(totp.Period)
	g, err = e.svc.LoginMFA(t.Context(), g.MFAToken, e.code(t, setup.Secret, 0))
	if err != nil {
		t.Fatal(err)
	}
	if m := e.principal(t, g).Session.Method; m != MethodIntra {
		t.Errorf("method of the session = %q, want intra", m)
	}
}

func TestTOTPSecretsAtRest(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"", strings.Repeat("k", 32)} {
		box, err := datakey.New([]byte(key))
		if err != nil {
			t.Fatal(err)
		}
		e := newEnv(t, func(o *Options) { o.Secrets = box })
		secret, _, g := e.mustEnrol(t, "alice")
		kept, err := e.store.TOTP(t.Context(), g.User.ID)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
		wantPrefix := "plain:"
		if key != "" {
			wantPrefix = "aes256gcm:"
		}
		if !strings.HasPrefix(kept.Secret, wantPrefix) {
			t.Errorf("key %q: the secret is kept as %.12q..., want %s", key, kept.Secret, wantPrefix)
		}
		opened, err := box.Open(kept.Secret, bind(g.User.ID))
		if err != nil || string(opened) != string(raw) {
			t.Errorf("key %q: the kept secret opens to %x, %v; want %x", key, opened, err, raw)
		}
		// Without the key, a sealed secret cannot be used: an error, not a
		// login.
		if key != "" {
			plain := newEnv(t, func(o *Options) { o.Store = e.store; o.Now = e.clock.Now })
			e.clock.Advance(totp.Period)
			tok, err := plain.svc.Login(t.Context(), "alice", "alice-password")
			if err != nil {
				t.Fatal(err)
			}
			_, err = plain.svc.LoginMFA(t.Context(), tok.MFAToken, e.code(t, secret, 0))
			if !errors.Is(err, datakey.ErrNoKey) {
				t.Errorf("LoginMFA without the data key = %v, want ErrNoKey", err)
			}
		}
	}
}

func TestResetTwoFactor(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	_, _, g := e.mustEnrol(t, "alice")
	tok := e.mustMFAToken(t, "alice")
	u, had, err := e.svc.ResetTwoFactor(t.Context(), "ALICE")
	if err != nil || !had || u.ID != g.User.ID {
		t.Fatalf("ResetTwoFactor = %v, %v, %v", u.ID, had, err)
	}
	if _, err := e.svc.Authenticate(t.Context(), g.AccessToken); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("a session after the reset: %v, want ErrInvalidToken", err)
	}
	if _, err := e.svc.LoginMFA(t.Context(), tok, "123456"); !errors.Is(err, ErrInvalidMFAToken) {
		t.Errorf("an mfa_token from before the reset = %v, want ErrInvalidMFAToken", err)
	}
	if g := e.mustLogin(t, "alice", "alice-password"); g.AccessToken == "" {
		t.Error("no session from a password login after the reset")
	}
	if _, had, err := e.svc.ResetTwoFactor(t.Context(), "alice"); err != nil || had {
		t.Errorf("ResetTwoFactor again = %v, %v; want false", had, err)
	}
	if _, _, err := e.svc.ResetTwoFactor(t.Context(), "nobody"); !errors.Is(err, ErrNoSuchUser) {
		t.Errorf("ResetTwoFactor of nobody = %v", err)
	}
}
