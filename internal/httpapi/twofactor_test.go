package httpapi

import (
	"encoding/base32"
	"net/http"
	"strings"
	"testing"
	"time"

	"authd/internal/config"
	"authd/internal/throttle"
	"authd/internal/totp"
)

// twoFactorUser is a user of a test server with TOTP on.
type twoFactorUser struct {
	access   string
	secret   []byte
	recovery []string
}

// code is the code of u's secret at the env's time, moved by steps.
func (e *testEnv) code(u twoFactorUser, steps int64) string {
	return totp.Code(u.secret, totp.Step(e.clock.Now())+steps)
}

// mustEnable registers name, logs in and turns TOTP on with a code of the
// previous step, so that the current one is still free.
func (e *testEnv) mustEnable(t *testing.T, name string) twoFactorUser {
	t.Helper()
	e.mustUser(t, name, name+"-password")
	access, _ := e.mustLogin(t, name, name+"-password")
	r := e.do(t, request{method: "POST", path: "/auth/2fa/totp/setup/", bearer: access})
	if r.status != 200 {
		t.Fatalf("setup = %d %s", r.status, r.raw)
	}
	s, _ := r.body["secret"].(string)
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil {
		t.Fatalf("secret %q: %v", s, err)
	}
	if url, _ := r.body["otpauth_url"].(string); url != totp.URL("authd", name, secret) {
		t.Errorf("otpauth_url = %q", url)
	}
	u := twoFactorUser{access: access, secret: secret}
	r = e.do(t, request{method: "POST", path: "/auth/2fa/totp/confirm/", bearer: access, body: jsonBody(t, map[string]string{"code": e.code(u, -1)})})
	if r.status != 200 {
		t.Fatalf("confirm = %d %s", r.status, r.raw)
	}
	for _, c := range r.body["recovery_codes"].([]any) {
		u.recovery = append(u.recovery, c.(string))
	}
	if len(u.recovery) != 10 {
		t.Fatalf("confirm gave %d recovery codes, want 10", len(u.recovery))
	}
	return u
}

// mustMFAToken logs name in with the password: 200 mfa_required, no cookie.
func (e *testEnv) mustMFAToken(t *testing.T, name string) string {
	t.Helper()
	r := e.do(t, request{method: "POST", path: "/auth/login/", body: jsonBody(t, map[string]any{"username": name, "password": name + "-password"})})
	tok, _ := r.body["mfa_token"].(string)
	if r.status != 200 || r.body["mfa_required"] != true || tok == "" || r.body["expires_in"] != float64(300) ||
		r.body["access_token"] != nil || len(r.setRaw) != 0 {
		t.Fatalf("login with 2FA = %d %s, Set-Cookie %q; want mfa_required, an mfa_token for 300 s, no cookie", r.status, r.raw, r.setRaw)
	}
	return tok
}

func mfaBody(t *testing.T, tok, code any) string {
	return jsonBody(t, map[string]any{"mfa_token": tok, "code": code})
}

func TestTwoFactorLogin(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, generous)
	u := e.mustEnable(t, "alice")
	if r := e.do(t, request{method: "GET", path: "/auth/me/", bearer: u.access}); r.body["two_factor"] != true {
		t.Errorf("me = %s, want two_factor true", r.raw)
	}
	tok := e.mustMFAToken(t, "alice")
	r := e.do(t, request{method: "POST", path: "/auth/login/mfa/", body: mfaBody(t, tok, e.code(u, 0))})
	if r.status != 200 || r.body["access_token"] == nil || r.body["token_type"] != "Bearer" || r.cookies[cookieRefresh] == nil || r.cookies[cookieRefresh].Value == "" {
		t.Fatalf("login mfa = %d %s %q; want a session and its refresh cookie", r.status, r.raw, r.setRaw)
	}
	refresh := r.cookies[cookieRefresh]
	if r := e.do(t, request{method: "POST", path: "/auth/refresh/", cookies: []*http.Cookie{refresh}}); r.status != 200 {
		t.Errorf("refresh of the mfa session = %d %s", r.status, r.raw)
	}
	// A used mfa_token; a code replayed with a new one.
	if r := e.do(t, request{method: "POST", path: "/auth/login/mfa/", body: mfaBody(t, tok, e.code(u, 1))}); r.code() != codeInvalidMFAToken {
		t.Errorf("a used mfa_token = %d %s", r.status, r.raw)
	}
	if r := e.do(t, request{method: "POST", path: "/auth/login/mfa/", body: mfaBody(t, e.mustMFAToken(t, "alice"), e.code(u, 0))}); r.code() != codeInvalidCode {
		t.Errorf("a replayed code = %d %s", r.status, r.raw)
	}
	// A recovery code, once.
	if r := e.do(t, request{method: "POST", path: "/auth/login/mfa/", body: mfaBody(t, e.mustMFAToken(t, "alice"), u.recovery[0])}); r.status != 200 {
		t.Errorf("a recovery code = %d %s", r.status, r.raw)
	}
	if r := e.do(t, request{method: "POST", path: "/auth/login/mfa/", body: mfaBody(t, e.mustMFAToken(t, "alice"), u.recovery[0])}); r.code() != codeInvalidCode {
		t.Errorf("a used recovery code = %d %s", r.status, r.raw)
	}
}

// TestTwoFactorBadInput sends the mfa step and the 2FA endpoints what a
// client should not: each gets the contract's error, as JSON, and the
// account does not change.
func TestTwoFactorBadInput(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, func(c *config.Config) { generous(c); c.Lockout.N = 0 })
	alice := e.mustEnable(t, "alice")
	e.mustEnable(t, "bob")
	e.mustUser(t, "carol", "carol-password")
	carolAccess, carolRefresh := e.mustLogin(t, "carol", "carol-password")
	expired := e.mustMFAToken(t, "alice")
	e.clock.Advance(6 * time.Minute)
	used := e.mustMFAToken(t, "alice")
	if r := e.do(t, request{method: "POST", path: "/auth/login/mfa/", body: mfaBody(t, used, e.code(alice, 0))}); r.status != 200 {
		t.Fatalf("login mfa = %d %s", r.status, r.raw)
	}

	wrong := "000000"
	for _, s := range []int64{-1, 0, 1} {
		if e.code(alice, s) == wrong {
			wrong = "999999"
		}
	}
	long := strings.Repeat("1", 60<<10)
	codes := []struct {
		name string
		code any
		want string
	}{
		{"five digits", "12345", codeInvalidCode},
		{"seven digits", "1234567", codeInvalidCode},
		{"an inner space", wrong[:3] + " " + wrong[3:], codeInvalidCode},
		{"a leading space", " " + wrong, codeInvalidCode},
		{"a trailing newline", wrong + "\n", codeInvalidCode},
		{"letters", "abcdef", codeInvalidCode},
		{"a number", 123456, codeInvalidCode},
		{"a fraction", 1234.5, codeInvalidCode},
		{"null", nil, codeInvalidCode},
		{"an object", map[string]string{"code": wrong}, codeInvalidCode},
		{"an array", []string{wrong}, codeInvalidCode},
		{"empty", "", codeInvalidCode},
		{"60 KiB long", long, codeInvalidCode},
		{"wrong", wrong, codeInvalidCode},
		{"a recovery code of another user", strings.Repeat("2", 10), codeInvalidCode},
	}
	for _, c := range codes {
		tok := e.mustMFAToken(t, "alice")
		r := e.do(t, request{method: "POST", path: "/auth/login/mfa/", body: mfaBody(t, tok, c.code)})
		if r.status != 400 || r.code() != c.want || len(r.setRaw) != 0 {
			t.Errorf("login mfa with a code %s = %d %s %q; want 400 %s, no cookie", c.name, r.status, truncate(r.raw), r.setRaw, c.want)
		}
	}
	r := e.do(t, request{method: "POST", path: "/auth/login/mfa/", body: mfaBody(t, e.mustMFAToken(t, "alice"), strings.Repeat("1", 1<<20))})
	if r.status != 413 || r.code() != codeRequestTooLarge {
		t.Errorf("login mfa with a 1 MiB code = %d %s; want 413", r.status, truncate(r.raw))
	}
	otherAccess, otherCookie := e.mustLogin(t, "carol", "carol-password")
	for _, c := range []struct {
		name string
		tok  any
	}{
		{"an access token", carolAccess},
		{"another access token", otherAccess},
		{"a refresh token", carolRefresh.Value},
		{"another refresh token", otherCookie.Value},
		{"an expired one", expired},
		{"a used one", used},
		{"garbage", "a.b.c"},
		{"a number", 42},
		{"null", nil},
		{"empty", ""},
	} {
		r := e.do(t, request{method: "POST", path: "/auth/login/mfa/", body: mfaBody(t, c.tok, e.code(alice, 1))})
		if r.status != 400 || r.code() != codeInvalidMFAToken {
			t.Errorf("login mfa with %s as mfa_token = %d %s; want 400 invalid_mfa_token", c.name, r.status, truncate(r.raw))
		}
	}
	if r := e.do(t, request{method: "POST", path: "/auth/login/mfa/", body: `{"code":"123456"}`}); r.code() != codeInvalidMFAToken {
		t.Errorf("login mfa without an mfa_token = %d %s", r.status, r.raw)
	}
	// Bob's mfa_token with alice's code is a wrong code, for bob.
	if r := e.do(t, request{method: "POST", path: "/auth/login/mfa/", body: mfaBody(t, e.mustMFAToken(t, "bob"), e.code(alice, 1))}); r.code() != codeInvalidCode {
		t.Errorf("bob's mfa_token with alice's code = %d %s; want invalid_code", r.status, r.raw)
	}

	// The endpoints of the account's second factor.
	post := func(path, bearer string, body any) response {
		t.Helper()
		rq := request{method: "POST", path: path, bearer: bearer}
		if body != nil {
			rq.body = jsonBody(t, body)
		}
		return e.do(t, rq)
	}
	want := func(what string, r response, status int, code string) {
		t.Helper()
		if r.status != status || r.code() != code {
			t.Errorf("%s = %d %s; want %d %s", what, r.status, truncate(r.raw), status, code)
		}
	}
	g := e.do(t, request{method: "POST", path: "/auth/login/mfa/", body: mfaBody(t, e.mustMFAToken(t, "alice"), e.code(alice, 1))})
	fresh, _ := g.body["access_token"].(string)
	// alice uses her first recovery code.
	if r := e.do(t, request{method: "POST", path: "/auth/login/mfa/", body: mfaBody(t, e.mustMFAToken(t, "alice"), alice.recovery[0])}); r.status != 200 {
		t.Fatalf("login mfa with a recovery code = %d %s", r.status, r.raw)
	}
	want("setup twice", post("/auth/2fa/totp/setup/", fresh, nil), 409, codeTOTPAlreadyEnabled)
	want("confirm without setup", post("/auth/2fa/totp/confirm/", carolAccess, map[string]string{"code": "123456"}), 409, codeTOTPNotEnabled)
	want("disable without 2FA", post("/auth/2fa/totp/disable/", carolAccess, map[string]string{"code": "123456"}), 409, codeTOTPNotEnabled)
	want("recovery codes without 2FA", post("/auth/2fa/recovery-codes/", carolAccess, map[string]string{"code": "123456"}), 409, codeTOTPNotEnabled)
	want("disable with a used recovery code", post("/auth/2fa/totp/disable/", fresh, map[string]string{"code": alice.recovery[0]}), 400, codeInvalidCode)
	want("recovery codes with a used recovery code", post("/auth/2fa/recovery-codes/", fresh, map[string]string{"code": alice.recovery[0]}), 400, codeInvalidCode)
	for _, c := range codes {
		for _, path := range []string{"/auth/2fa/totp/disable/", "/auth/2fa/recovery-codes/"} {
			want(path+" with a code "+c.name, post(path, fresh, map[string]any{"code": c.code}), 400, c.want)
		}
	}
	r = e.do(t, request{method: "POST", path: "/auth/2fa/totp/disable/", bearer: fresh, body: `{"code":"` + strings.Repeat("1", 1<<20) + `"}`})
	want("disable with a 1 MiB code", r, 413, codeRequestTooLarge)

	// Carol sets up; bad codes do not confirm.
	carolSetup := post("/auth/2fa/totp/setup/", carolAccess, nil)
	if carolSetup.status != 200 {
		t.Fatalf("carol's setup = %d %s", carolSetup.status, carolSetup.raw)
	}
	for _, c := range codes {
		want("confirm with a code "+c.name, post("/auth/2fa/totp/confirm/", carolAccess, map[string]any{"code": c.code}), 400, c.want)
	}
	for _, who := range []struct {
		access string
		want   bool
	}{{carolAccess, false}, {fresh, true}} {
		if r := e.do(t, request{method: "GET", path: "/auth/me/", bearer: who.access}); r.body["two_factor"] != who.want {
			t.Errorf("me after refused codes = %s, want two_factor %v", r.raw, who.want)
		}
	}
	// alice's second factor still works, and her recovery codes but the used one.
	if r := e.do(t, request{method: "POST", path: "/auth/login/mfa/", body: mfaBody(t, e.mustMFAToken(t, "alice"), alice.recovery[1])}); r.status != 200 {
		t.Errorf("a recovery code after the refusals = %d %s", r.status, r.raw)
	}

	// Stale sessions: 403 for setup, disable and new recovery codes.
	carolAccess, _ = e.mustLogin(t, "carol", "carol-password")
	e.clock.Advance(11 * time.Minute)
	want("setup of a stale session", post("/auth/2fa/totp/setup/", carolAccess, nil), 403, codeReauthRequired)
	want("disable of a stale session", post("/auth/2fa/totp/disable/", fresh, map[string]string{"code": alice.recovery[2]}), 403, codeReauthRequired)
	want("recovery codes of a stale session", post("/auth/2fa/recovery-codes/", fresh, map[string]string{"code": alice.recovery[2]}), 403, codeReauthRequired)
	// Confirm follows a fresh setup and needs only the Bearer token.
	secret, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(carolSetup.body["secret"].(string))
	carol := twoFactorUser{secret: secret}
	if r := post("/auth/2fa/totp/confirm/", carolAccess, map[string]string{"code": e.code(carol, 0)}); r.status != 200 {
		t.Errorf("confirm of a stale session = %d %s, want 200", r.status, r.raw)
	}
}

func TestTwoFactorThrottles(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, func(c *config.Config) {
		generous(c)
		c.Rates[config.ScopeTOTP] = throttle.Rate{N: 2, Period: time.Minute}
		c.Rates[config.ScopeLoginMFA] = throttle.Rate{N: 2, Period: time.Minute}
	})
	e.mustUser(t, "alice", "alice-password")
	e.mustUser(t, "bob", "bob-password")
	alice, _ := e.mustLogin(t, "alice", "alice-password")
	bob, _ := e.mustLogin(t, "bob", "bob-password")
	// The four endpoints share alice's counter.
	for _, path := range []string{"/auth/2fa/totp/setup/", "/auth/2fa/totp/disable/"} {
		if r := e.do(t, request{method: "POST", path: path, bearer: alice, body: `{"code":"123456"}`}); r.status == 429 {
			t.Fatalf("%s = 429 within the rate", path)
		}
	}
	for _, path := range []string{"/auth/2fa/totp/confirm/", "/auth/2fa/recovery-codes/", "/auth/2fa/totp/setup/"} {
		if r := e.do(t, request{method: "POST", path: path, bearer: alice, body: `{"code":"123456"}`}); r.status != 429 || r.header.Get("Retry-After") == "" {
			t.Errorf("%s over alice's totp rate = %d %s", path, r.status, r.raw)
		}
	}
	if r := e.do(t, request{method: "POST", path: "/auth/2fa/totp/setup/", bearer: bob}); r.status != 200 {
		t.Errorf("bob's setup with alice throttled = %d %s", r.status, r.raw)
	}
	// login_mfa counts the client's address, before the body is read.
	for i := range 3 {
		r := e.do(t, request{method: "POST", path: "/auth/login/mfa/", body: "not json", remote: "203.0.113.9:1000"})
		if want := map[bool]int{true: 400, false: 429}[i < 2]; r.status != want {
			t.Errorf("login mfa #%d from one address = %d, want %d", i+1, r.status, want)
		}
	}
	if r := e.do(t, request{method: "POST", path: "/auth/login/mfa/", body: "not json", remote: "203.0.113.10:1000"}); r.status != 400 {
		t.Errorf("login mfa from another address = %d, want 400", r.status)
	}
}
