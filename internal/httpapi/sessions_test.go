package httpapi

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authd/internal/config"
	"authd/internal/throttle"
)

func TestSessionsList(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, generous)
	e.mustUser(t, "alice", "alice-password")
	first := e.do(t, request{method: "POST", path: "/auth/login/", body: `{"username":"alice","password":"alice-password"}`,
		header: map[string]string{"User-Agent": "Firefox/140.0"}, remote: "203.0.113.9:4444"})
	e.clock.Advance(time.Second)
	access, _ := e.mustLogin(t, "alice", "alice-password")

	r := e.do(t, request{method: "GET", path: "/auth/sessions/", bearer: access})
	if r.status != 200 {
		t.Fatalf("sessions = %d %s", r.status, r.raw)
	}
	list, _ := r.body["sessions"].([]any)
	if len(list) != 2 {
		t.Fatalf("sessions = %s, want two", r.raw)
	}
	newest, oldest := list[0].(map[string]any), list[1].(map[string]any)
	if newest["current"] != true || oldest["current"] != false {
		t.Errorf("current: newest %v, oldest %v; want true, false", newest["current"], oldest["current"])
	}
	created := e.clock.Now().Add(-time.Second).UTC().Format(time.RFC3339)
	want := map[string]any{
		"id": claimsOfAccess(t, e, first.body["access_token"].(string)), "created_at": created, "last_used_at": created,
		"expires_at": e.clock.Now().Add(-time.Second).Add(24 * time.Hour).UTC().Format(time.RFC3339),
		"method":     "password", "user_agent": "Firefox/140.0", "ip": "203.0.113.9", "current": false,
	}
	if diff := cmp.Diff(want, oldest); diff != "" {
		t.Errorf("the first session (-want +got):\n%s", diff)
	}
}

func claimsOfAccess(t *testing.T, e *testEnv, tok string) string {
	t.Helper()
	c, err := e.tokens.Verify(tok, "access")
	if err != nil {
		t.Fatal(err)
	}
	return c.SessionID
}

func TestEndSession(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, generous)
	e.mustUser(t, "alice", "alice-password")
	e.mustUser(t, "bob", "bob-password")
	access, _ := e.mustLogin(t, "alice", "alice-password")
	otherAccess, otherCookie := e.mustLogin(t, "alice", "alice-password")
	bobAccess, bobCookie := e.mustLogin(t, "bob", "bob-password")
	other := claimsOfAccess(t, e, otherAccess)

	for name, id := range map[string]string{
		"another user's": claimsOfAccess(t, e, bobAccess),
		"no one's":       "AAAAAAAAAAAAAAAAAAAAAA",
		"numeric":        "12345",
		"10 KB":          strings.Repeat("x", 10<<10),
		"escaped slash":  "a%2Fb",
	} {
		r := e.do(t, request{method: "DELETE", path: "/auth/sessions/" + id + "/", bearer: access})
		if r.status != 404 || r.code() != codeNotFound {
			t.Errorf("DELETE %s session = %d %s, want 404 not_found", name, r.status, r.raw)
		}
	}
	if r := e.do(t, request{method: "POST", path: "/auth/refresh/", cookies: []*http.Cookie{bobCookie}}); r.status != 200 {
		t.Errorf("bob's refresh after alice's attempts = %d %s", r.status, r.raw)
	}
	if r := e.do(t, request{method: "DELETE", path: "/auth/sessions/" + other + "/", bearer: access}); r.status != 200 {
		t.Fatalf("DELETE own other session = %d %s", r.status, r.raw)
	}
	if r := e.do(t, request{method: "POST", path: "/auth/refresh/", cookies: []*http.Cookie{otherCookie}}); r.code() != codeInvalidRefreshToken {
		t.Errorf("refresh of the ended session = %d %s, want invalid_refresh_token", r.status, r.raw)
	}
	if r := e.do(t, request{method: "GET", path: "/auth/me/", bearer: otherAccess}); r.status != 401 {
		t.Errorf("access token of the ended session = %d, want 401", r.status)
	}
	if r := e.do(t, request{method: "DELETE", path: "/auth/sessions/" + other + "/", bearer: access}); r.status != 404 {
		t.Errorf("DELETE the ended session again = %d %s, want 404", r.status, r.raw)
	}
	if r := e.do(t, request{method: "GET", path: "/auth/me/", bearer: access}); r.status != 200 {
		t.Errorf("the deleting session after = %d", r.status)
	}
}

// TestEndSessionSharesTheLogoutCounter: DELETE /auth/sessions/{id}/ and
// POST /auth/logout/ count in one logout scope.
func TestEndSessionSharesTheLogoutCounter(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, func(c *config.Config) {
		generous(c)
		c.Rates[config.ScopeLogout] = mustRate(t, "2/minute")
	})
	e.mustUser(t, "alice", "alice-password")
	a1, _ := e.mustLogin(t, "alice", "alice-password")
	a2, _ := e.mustLogin(t, "alice", "alice-password")
	a3, _ := e.mustLogin(t, "alice", "alice-password")
	if r := e.do(t, request{method: "DELETE", path: "/auth/sessions/" + claimsOfAccess(t, e, a2) + "/", bearer: a1}); r.status != 200 {
		t.Fatalf("delete = %d %s", r.status, r.raw)
	}
	if r := e.do(t, request{method: "POST", path: "/auth/logout/", bearer: a1}); r.status != 200 {
		t.Fatalf("logout = %d %s", r.status, r.raw)
	}
	if r := e.do(t, request{method: "DELETE", path: "/auth/sessions/nothing/", bearer: a3}); r.status != 429 {
		t.Errorf("third request of the logout scope = %d %s, want 429", r.status, r.raw)
	}
}

func TestLogoutScopesHTTP(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body          string
		status              int
		clears              bool
		ownLive, otherLives bool
	}{
		{"no body", "", 200, true, false, true},
		{"empty object", `{}`, 200, true, false, true},
		{"local", `{"scope":"local"}`, 200, true, false, true},
		{"others", `{"scope":"others"}`, 200, false, true, false},
		{"global", `{"scope":"global"}`, 200, true, false, false},
		{"unknown scope", `{"scope":"everything"}`, 400, false, true, true},
		{"empty scope", `{"scope":""}`, 400, false, true, true},
		{"scope in capitals", `{"scope":"GLOBAL"}`, 400, false, true, true},
		{"scope not a string", `{"scope":1}`, 400, false, true, true},
		{"not JSON", `scope=global`, 400, false, true, true},
		{"over 64 KiB", `{"scope":"global","pad":"` + strings.Repeat("x", 64<<10) + `"}`, 413, false, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, generous)
			e.mustUser(t, "alice", "alice-password")
			access, cookie := e.mustLogin(t, "alice", "alice-password")
			_, otherCookie := e.mustLogin(t, "alice", "alice-password")
			r := e.do(t, request{method: "POST", path: "/auth/logout/", bearer: access, body: tc.body, cookies: []*http.Cookie{cookie}})
			if r.status != tc.status {
				t.Fatalf("logout = %d %s, want %d", r.status, r.raw, tc.status)
			}
			if tc.status == 413 && r.code() != codeRequestTooLarge {
				t.Errorf("logout = %s, want request_too_large", r.raw)
			}
			if tc.status == 400 && r.code() != codeInvalidRequest {
				t.Errorf("logout = %s, want invalid_request", r.raw)
			}
			if c := r.cookies[cookieRefresh]; (c != nil && c.MaxAge < 0) != tc.clears {
				t.Errorf("cookie cleared = %v, want %v (%q)", c != nil, tc.clears, r.setRaw)
			}
			for name, want := range map[string]struct {
				c    *http.Cookie
				live bool
			}{"own": {cookie, tc.ownLive}, "other": {otherCookie, tc.otherLives}} {
				r := e.do(t, request{method: "POST", path: "/auth/refresh/", cookies: []*http.Cookie{want.c}})
				if live := r.status == 200; live != want.live {
					t.Errorf("%s session live = %v (%d), want %v", name, live, r.status, want.live)
				}
			}
		})
	}
}

func TestChangePasswordHTTP(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, generous)
	e.mustUser(t, "alice", "alice-password")
	access, _ := e.mustLogin(t, "alice", "alice-password")
	_, otherCookie := e.mustLogin(t, "alice", "alice-password")
	change := func(body string) response {
		return e.do(t, request{method: "POST", path: "/auth/password/", bearer: access, body: body})
	}
	for _, tc := range []struct {
		body   string
		status int
		code   string
	}{
		{`{}`, 400, codeInvalidRequest},
		{`{"current_password":"alice-password"}`, 400, codeInvalidRequest},
		{`{"new_password":"a new password"}`, 400, codeInvalidRequest},
		{`{"current_password":"alice-password","new_password":"short"}`, 400, codeInvalidRequest},
		{`{"current_password":"alice-password","new_password":"` + strings.Repeat("p", 1025) + `"}`, 400, codeInvalidRequest},
		{`{"current_password":"alice-password","new_password":7}`, 400, codeInvalidRequest},
		{`{"current_password":"wrong password","new_password":"a new password"}`, 400, codeInvalidCredentials},
	} {
		if r := change(tc.body); r.status != tc.status || r.code() != tc.code {
			t.Errorf("%.60s: %d %s, want %d %s", tc.body, r.status, r.raw, tc.status, tc.code)
		}
	}
	if r := e.do(t, request{method: "POST", path: "/auth/refresh/", cookies: []*http.Cookie{otherCookie}}); r.status != 200 {
		t.Fatalf("a refused change revoked another session: %d %s", r.status, r.raw)
	}
	if r := change(`{"current_password":"alice-password","new_password":"a new password"}`); r.status != 200 {
		t.Fatalf("change = %d %s", r.status, r.raw)
	}
	if r := e.do(t, request{method: "POST", path: "/auth/refresh/", cookies: []*http.Cookie{otherCookie}}); r.code() != codeInvalidRefreshToken {
		t.Errorf("another session after the change = %d %s, want invalid_refresh_token", r.status, r.raw)
	}
	if r := e.do(t, request{method: "GET", path: "/auth/me/", bearer: access}); r.status != 200 {
		t.Errorf("the changing session after the change = %d", r.status)
	}
	e.mustLogin(t, "alice", "a new password")

	// Past the reauthentication window: 403, nothing changed.
	e.clock.Advance(11 * time.Minute)
	if r := e.do(t, request{method: "POST", path: "/auth/password/", bearer: access, body: `{"current_password":"a new password","new_password":"yet another one"}`}); r.status != 403 || r.code() != codeReauthRequired || r.body["detail"] != "Log in again to do this." {
		t.Errorf("change from a stale session = %d %s, want 403 reauth_required", r.status, r.raw)
	}
	e.mustLogin(t, "alice", "a new password")
}

func TestUnlinkHTTP(t *testing.T) {
	t.Parallel()
	e := newIntraEnv(t, nil)
	e.mustUser(t, "alice", "alice-password")
	access, _ := e.mustLogin(t, "alice", "alice-password")
	unlink := func(tok string) response {
		return e.do(t, request{method: "DELETE", path: "/oauth2/intra/link/", bearer: tok})
	}
	if r := unlink(access); r.status != 400 || r.code() != codeNotLinked {
		t.Errorf("unlink, nothing linked = %d %s", r.status, r.raw)
	}
	api := e.mustIdentity(t, "jdoe")
	if r := e.do(t, request{method: "POST", path: "/oauth2/intra/link/", bearer: access, cookies: []*http.Cookie{api}}); r.status != 200 {
		t.Fatalf("link = %d %s", r.status, r.raw)
	}
	// The api_token is spent: linking or logging in with it again fails.
	if r := e.do(t, request{method: "POST", path: "/oauth2/intra/link/", bearer: access, cookies: []*http.Cookie{api}}); r.code() != codeInvalidAPIToken {
		t.Errorf("link with a spent api_token = %d %s", r.status, r.raw)
	}
	if r := e.do(t, request{method: "POST", path: "/oauth2/intra/login/", cookies: []*http.Cookie{api}}); r.code() != codeInvalidAPIToken {
		t.Errorf("intra login with a spent api_token = %d %s", r.status, r.raw)
	}
	if r := unlink(access); r.status != 200 {
		t.Fatalf("unlink = %d %s", r.status, r.raw)
	}
	if r := unlink(access); r.status != 400 || r.code() != codeNotLinked {
		t.Errorf("unlink twice = %d %s", r.status, r.raw)
	}

	// An Intra-only user cannot unlink.
	r := e.do(t, request{method: "POST", path: "/oauth2/intra/login/", cookies: []*http.Cookie{e.mustIdentity(t, "gfavre")}})
	if r.status != 200 {
		t.Fatalf("intra login = %d %s", r.status, r.raw)
	}
	intraAccess, _ := r.body["access_token"].(string)
	if r := unlink(intraAccess); r.status != 400 || r.code() != codeNoOtherLogin {
		t.Errorf("unlink without a password = %d %s, want no_other_login", r.status, r.raw)
	}
	if r := e.do(t, request{method: "GET", path: "/auth/me/", bearer: intraAccess}); r.body["intra_login"] != "gfavre" {
		t.Errorf("after the refused unlink, me = %s", r.raw)
	}

	// Linking and unlinking need a fresh session.
	e.clock.Advance(11 * time.Minute)
	stale, _ := e.mustLogin(t, "alice", "alice-password")
	e.clock.Advance(11 * time.Minute)
	if r := e.do(t, request{method: "POST", path: "/oauth2/intra/link/", bearer: stale, cookies: []*http.Cookie{e.mustIdentity(t, "jdoe")}}); r.status != 403 || r.code() != codeReauthRequired {
		t.Errorf("link from a stale session = %d %s, want 403 reauth_required", r.status, r.raw)
	}
	if r := unlink(stale); r.status != 403 || r.code() != codeReauthRequired {
		t.Errorf("unlink from a stale session = %d %s, want 403 reauth_required", r.status, r.raw)
	}
}

func TestRefreshRotationHTTP(t *testing.T) {
	t.Parallel()
	off := newTestEnv(t, generous)
	off.mustUser(t, "alice", "alice-password")
	_, cookie := off.mustLogin(t, "alice", "alice-password")
	if r := off.do(t, request{method: "POST", path: "/auth/refresh/", cookies: []*http.Cookie{cookie}}); r.status != 200 || len(r.setRaw) != 0 {
		t.Errorf("refresh without rotation = %d, Set-Cookie %q; want 200 and none", r.status, r.setRaw)
	}

	e := newTestEnv(t, func(c *config.Config) {
		generous(c)
		c.RefreshRotation = true
		c.RefreshReuseInterval = 10 * time.Second
	})
	e.mustUser(t, "alice", "alice-password")
	_, old := e.mustLogin(t, "alice", "alice-password")
	e.clock.Advance(time.Minute)
	r := e.do(t, request{method: "POST", path: "/auth/refresh/", cookies: []*http.Cookie{old}})
	next := r.cookies[cookieRefresh]
	if r.status != 200 || next == nil || next.Value == old.Value || !next.HttpOnly || next.MaxAge != int((24*time.Hour-time.Minute)/time.Second) {
		t.Fatalf("refresh with rotation = %d, Set-Cookie %q", r.status, r.setRaw)
	}

	// Two tabs at once, with the newest cookie: both 200, the same newest
	// cookie.
	var (
		wg      sync.WaitGroup
		answers [2]response
	)
	for i := range answers {
		wg.Go(func() {
			answers[i] = e.do(t, request{method: "POST", path: "/auth/refresh/", cookies: []*http.Cookie{next}})
		})
	}
	wg.Wait()
	for i, a := range answers {
		if a.status != 200 || a.cookies[cookieRefresh] == nil {
			t.Fatalf("tab %d = %d %s", i, a.status, a.raw)
		}
	}
	newest := answers[0].cookies[cookieRefresh]
	if c, _ := e.tokens.Verify(answers[1].cookies[cookieRefresh].Value, "refresh"); c.ID != jti(t, e, newest.Value) {
		t.Errorf("the tabs got different refresh tokens")
	}
	// The oldest cookie is a reuse: the session is revoked, the cookie
	// cleared.
	r = e.do(t, request{method: "POST", path: "/auth/refresh/", cookies: []*http.Cookie{old}})
	if r.status != 400 || r.code() != codeInvalidRefreshToken || r.cookies[cookieRefresh] == nil || r.cookies[cookieRefresh].MaxAge >= 0 {
		t.Errorf("reused cookie = %d %s, Set-Cookie %q; want 400 invalid_refresh_token clearing it", r.status, r.raw, r.setRaw)
	}
	if r := e.do(t, request{method: "POST", path: "/auth/refresh/", cookies: []*http.Cookie{newest}}); r.status != 400 {
		t.Errorf("the newest cookie after a reuse = %d, want 400", r.status)
	}
}

func jti(t *testing.T, e *testEnv, refresh string) string {
	t.Helper()
	c, err := e.tokens.Verify(refresh, "refresh")
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

func mustRate(t *testing.T, s string) throttle.Rate {
	t.Helper()
	r, err := throttle.ParseRate(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
