package httpapi

import (
	"context"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authd/internal/config"
	"authd/internal/store"
	"authd/internal/throttle"
	"authd/internal/token"
)

// generous lifts every rate so tests of other behaviour are not throttled.
func generous(c *config.Config) {
	for _, s := range config.Scopes {
		c.Rates[s] = throttle.Rate{N: 1000, Period: time.Minute}
	}
}

func TestErrorTable(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, generous)
	ctx := context.Background()
	e.mustUser(t, "alice", "alice-password")
	disabled := e.mustUser(t, "mallory", "mallory-password")
	if err := e.store.SetDisabled(ctx, disabled.ID, true, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.CreateUser(ctx, store.NewUser{Username: "intraonly", Intra: &store.IntraAccount{ID: 7, Login: "intraonly"}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	access, refresh := e.mustLogin(t, "alice", "alice-password")

	// Tokens that must all be refused somewhere.
	expiredAccess, _, _ := mustIssuer(t, e.clock.Now().Add(-time.Hour)).Sign(token.Claims{Subject: "1", Username: "alice", SessionID: "x", Type: token.Access}, time.Minute)
	refreshAsAccess := refresh.Value
	otherKey, err := token.NewKeyring(token.Options{Issuer: "authd", Secrets: [][]byte{[]byte(strings.Repeat("k", 32))}, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	forged, _, _ := otherKey.Sign(token.Claims{Subject: "1", SessionID: "x", Type: token.Refresh}, time.Hour)
	accessAsRefresh := &http.Cookie{Name: cookieRefresh, Value: access}

	long := strings.Repeat("p", 1025)
	tests := []struct {
		name       string
		req        request
		wantStatus int
		wantCode   string
	}{
		{"login not JSON", request{method: "POST", path: "/auth/login/", body: "username=alice"}, 400, codeInvalidRequest},
		{"login wrong content type", request{method: "POST", path: "/auth/login/", body: `{"username":"alice","password":"alice-password"}`, header: map[string]string{"Content-Type": "text/plain"}}, 400, codeInvalidRequest},
		{"login password missing", request{method: "POST", path: "/auth/login/", body: `{"username":"alice"}`}, 400, codeInvalidRequest},
		{"login username a number", request{method: "POST", path: "/auth/login/", body: `{"username":1,"password":"alice-password"}`}, 400, codeInvalidRequest},
		{"login password null", request{method: "POST", path: "/auth/login/", body: `{"username":"alice","password":null}`}, 400, codeInvalidRequest},
		{"login array", request{method: "POST", path: "/auth/login/", body: `[]`}, 400, codeInvalidRequest},
		{"login trailing data", request{method: "POST", path: "/auth/login/", body: `{"username":"alice","password":"alice-password"} {}`}, 400, codeInvalidRequest},
		{"login password over 1024 bytes", request{method: "POST", path: "/auth/login/", body: `{"username":"alice","password":"` + long + `"}`}, 400, codeInvalidRequest},
		{"login username over 32", request{method: "POST", path: "/auth/login/", body: `{"username":"` + strings.Repeat("a", 33) + `","password":"alice-password"}`}, 400, codeInvalidRequest},
		{"login body over 64 KiB", request{method: "POST", path: "/auth/login/", body: `{"username":"` + strings.Repeat("a", 70<<10) + `"}`}, 413, codeRequestTooLarge},
		{"login unknown user", request{method: "POST", path: "/auth/login/", body: `{"username":"nobody","password":"alice-password"}`}, 400, codeInvalidCredentials},
		{"login wrong password", request{method: "POST", path: "/auth/login/", body: `{"username":"alice","password":"wrong-password"}`}, 400, codeInvalidCredentials},
		{"login user without password", request{method: "POST", path: "/auth/login/", body: `{"username":"intraonly","password":"anything-at-all"}`}, 400, codeInvalidCredentials},
		{"login disabled, right password", request{method: "POST", path: "/auth/login/", body: `{"username":"mallory","password":"mallory-password"}`}, 400, codeAccountDisabled},
		{"login disabled, wrong password", request{method: "POST", path: "/auth/login/", body: `{"username":"mallory","password":"not-her-password"}`}, 400, codeInvalidCredentials},

		{"logout no bearer", request{method: "POST", path: "/auth/logout/"}, 401, codeInvalidToken},
		{"logout basic auth", request{method: "POST", path: "/auth/logout/", header: map[string]string{"Authorization": "Basic YTpi"}}, 401, codeInvalidToken},
		{"logout garbage bearer", request{method: "POST", path: "/auth/logout/", bearer: "garbage"}, 401, codeInvalidToken},
		{"logout expired bearer", request{method: "POST", path: "/auth/logout/", bearer: expiredAccess}, 401, codeInvalidToken},
		{"logout refresh token as bearer", request{method: "POST", path: "/auth/logout/", bearer: refreshAsAccess}, 401, codeInvalidToken},

		{"refresh no cookie", request{method: "POST", path: "/auth/refresh/"}, 400, codeInvalidRefreshToken},
		{"refresh malformed cookie", request{method: "POST", path: "/auth/refresh/", cookies: []*http.Cookie{{Name: cookieRefresh, Value: "abc"}}}, 400, codeInvalidRefreshToken},
		{"refresh empty cookie", request{method: "POST", path: "/auth/refresh/", cookies: []*http.Cookie{{Name: cookieRefresh, Value: ""}}}, 400, codeInvalidRefreshToken},
		{"refresh bad signature", request{method: "POST", path: "/auth/refresh/", cookies: []*http.Cookie{{Name: cookieRefresh, Value: forged}}}, 400, codeInvalidRefreshToken},
		{"refresh access token as refresh", request{method: "POST", path: "/auth/refresh/", cookies: []*http.Cookie{accessAsRefresh}}, 400, codeInvalidRefreshToken},

		{"register bad username", request{method: "POST", path: "/auth/register/", body: `{"username":"a b","password":"long enough pw"}`}, 400, codeInvalidRequest},
		{"register short username", request{method: "POST", path: "/auth/register/", body: `{"username":"ab","password":"long enough pw"}`}, 400, codeInvalidRequest},
		{"register short password", request{method: "POST", path: "/auth/register/", body: `{"username":"newbie","password":"short"}`}, 400, codeInvalidRequest},
		{"register long password", request{method: "POST", path: "/auth/register/", body: `{"username":"newbie","password":"` + long + `"}`}, 400, codeInvalidRequest},
		{"register bad email", request{method: "POST", path: "/auth/register/", body: `{"username":"newbie","password":"long enough pw","email":"no-at-sign"}`}, 400, codeInvalidRequest},
		{"register taken other case", request{method: "POST", path: "/auth/register/", body: `{"username":"ALICE","password":"long enough pw"}`}, 409, codeUsernameTaken},

		{"me no bearer", request{method: "GET", path: "/auth/me/"}, 401, codeInvalidToken},
		{"unknown path", request{method: "GET", path: "/auth/nothing/"}, 404, codeNotFound},
		{"login below its path", request{method: "POST", path: "/auth/login/x"}, 404, codeNotFound},
		{"login with GET", request{method: "GET", path: "/auth/login/"}, 405, codeMethodNotAllowed},
		{"me with POST", request{method: "POST", path: "/auth/me/"}, 405, codeMethodNotAllowed},
		{"intra url not configured", request{method: "GET", path: "/oauth2/intra/url/"}, 500, codeIntraNotConfigured},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, tc.req)
			if diff := cmp.Diff([]any{tc.wantStatus, tc.wantCode}, []any{r.status, r.code()}); diff != "" {
				t.Errorf("status and error (-want +got):\n%s\nbody: %s", diff, r.raw)
			}
			if got := r.header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", got)
			}
			if d, _ := r.body["detail"].(string); d == "" {
				t.Errorf("no detail in %s", r.raw)
			}
			if r.status == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("401 without WWW-Authenticate: Bearer, got %q", r.header.Get("WWW-Authenticate"))
			}
			if r.status == 405 && r.header.Get("Allow") == "" {
				t.Errorf("405 without Allow")
			}
			// A refused refresh clears a cookie it was sent, and only then.
			if tc.req.path == "/auth/refresh/" {
				_, cleared := r.cookies[cookieRefresh]
				if sent := len(tc.req.cookies) > 0; cleared != sent {
					t.Errorf("refresh cleared the cookie: %v, want %v (Set-Cookie %q)", cleared, sent, r.setRaw)
				}
			}
		})
	}
}

func TestPathWithoutTrailingSlashIsRedirected(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	// 307 keeps the method and body, so a client that forgot the slash
	// still reaches the endpoint.
	r := e.do(t, request{method: "POST", path: "/auth/login"})
	if r.status != http.StatusTemporaryRedirect || r.header.Get("Location") != "/auth/login/" {
		t.Errorf("POST /auth/login = %d Location %q, want 307 to /auth/login/", r.status, r.header.Get("Location"))
	}
}

func mustIssuer(t testing.TB, at time.Time) *token.Keyring {
	t.Helper()
	i, err := token.NewKeyring(token.Options{Issuer: "authd", Secrets: [][]byte{[]byte(testSecret)}, Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func TestLoginSetsRefreshCookieAndTokens(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	u := e.mustUser(t, "alice", "alice-password")
	r := e.do(t, request{method: "POST", path: "/auth/login/", body: `{"username":"Alice","password":"alice-password"}`})
	if r.status != 200 {
		t.Fatalf("login = %d %s", r.status, r.raw)
	}
	if diff := cmp.Diff(map[string]any{"token_type": "Bearer", "expires_in": float64(900)},
		map[string]any{"token_type": r.body["token_type"], "expires_in": r.body["expires_in"]}); diff != "" {
		t.Errorf("token response (-want +got):\n%s", diff)
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if len(r.setRaw) != 1 {
		t.Fatalf("Set-Cookie = %q, want exactly one", r.setRaw)
	}
	c := r.cookies[cookieRefresh]
	want := "refresh_token=" + c.Value + "; Path=/; Max-Age=86400; HttpOnly; Secure; SameSite=Strict"
	if diff := cmp.Diff(want, r.setRaw[0]); diff != "" {
		t.Errorf("Set-Cookie (-want +got):\n%s", diff)
	}
	access, err := e.tokens.Verify(r.body["access_token"].(string), token.Access)
	if err != nil {
		t.Fatalf("access token does not verify: %v", err)
	}
	ref, err := e.tokens.Verify(c.Value, token.Refresh)
	if err != nil {
		t.Fatalf("refresh token does not verify: %v", err)
	}
	if access.Subject != "1" || access.Username != "alice" || access.SessionID == "" || access.SessionID != ref.SessionID || u.ID != 1 {
		t.Errorf("access %+v, refresh %+v: want sub 1, username alice, one shared sid", access, ref)
	}
	if got := access.ExpiresAt.Sub(e.clock.Now()); got != 15*time.Minute {
		t.Errorf("access lifetime %v, want 15m", got)
	}
	if got := ref.ExpiresAt.Sub(e.clock.Now()); got != 24*time.Hour {
		t.Errorf("refresh lifetime %v, want 24h", got)
	}
}

func TestCookieAttributesFollowConfiguration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		edit func(*config.Config)
		want string
	}{
		{"lax", func(c *config.Config) { c.CookieSameSite = http.SameSiteLaxMode }, "; Path=/; Max-Age=86400; HttpOnly; Secure; SameSite=Lax"},
		{"none", func(c *config.Config) { c.CookieSameSite = http.SameSiteNoneMode }, "; Path=/; Max-Age=86400; HttpOnly; Secure; SameSite=None"},
		{"insecure with domain", func(c *config.Config) { c.CookieSecure = false; c.CookieDomain = "example.com" }, "; Path=/; Domain=example.com; Max-Age=86400; HttpOnly; SameSite=Strict"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, tc.edit)
			e.mustUser(t, "alice", "alice-password")
			access, c := e.mustLogin(t, "alice", "alice-password")
			r := e.do(t, request{method: "POST", path: "/auth/login/", body: `{"username":"alice","password":"alice-password"}`})
			if diff := cmp.Diff([]string{"refresh_token=" + r.cookies[cookieRefresh].Value + tc.want}, r.setRaw); diff != "" {
				t.Errorf("login Set-Cookie (-want +got):\n%s", diff)
			}
			r = e.do(t, request{method: "POST", path: "/auth/logout/", bearer: access, cookies: []*http.Cookie{c}})
			wantClear := "refresh_token=" + strings.Replace(tc.want, "Max-Age=86400", "Max-Age=0", 1)
			if diff := cmp.Diff([]string{wantClear}, r.setRaw); diff != "" {
				t.Errorf("logout Set-Cookie (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSessionLifecycle(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, generous)
	e.mustUser(t, "alice", "alice-password")
	access, refresh := e.mustLogin(t, "alice", "alice-password")

	r := e.do(t, request{method: "GET", path: "/auth/me/", bearer: access})
	want := map[string]any{"id": float64(1), "username": "alice", "email": "alice@example.com", "intra_login": nil, "created_at": "2026-11-28T12:00:00Z", "two_factor": false}
	// created_at comes from the store's clock, not the fake one.
	want["created_at"] = r.body["created_at"]
	if diff := cmp.Diff(want, r.body); diff != "" || r.status != 200 {
		t.Errorf("me = %d (-want +got):\n%s", r.status, diff)
	}

	r = e.do(t, request{method: "POST", path: "/auth/refresh/", cookies: []*http.Cookie{refresh}})
	if r.status != 200 || len(r.setRaw) != 0 || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("refresh = %d, Set-Cookie %q, Cache-Control %q; want 200, no cookie, no-store", r.status, r.setRaw, r.header.Get("Cache-Control"))
	}
	second, _ := r.body["access_token"].(string)

	// A second session survives the first one's logout.
	otherAccess, otherRefresh := e.mustLogin(t, "alice", "alice-password")

	r = e.do(t, request{method: "POST", path: "/auth/logout/", bearer: access, cookies: []*http.Cookie{refresh}})
	if r.status != 200 {
		t.Fatalf("logout = %d %s", r.status, r.raw)
	}
	for _, tc := range []struct {
		name string
		req  request
		want int
	}{
		{"refresh of the ended session", request{method: "POST", path: "/auth/refresh/", cookies: []*http.Cookie{refresh}}, 400},
		{"me with the first access token", request{method: "GET", path: "/auth/me/", bearer: access}, 401},
		{"me with the refreshed access token", request{method: "GET", path: "/auth/me/", bearer: second}, 401},
		{"logout again", request{method: "POST", path: "/auth/logout/", bearer: access}, 401},
		{"the other session's refresh", request{method: "POST", path: "/auth/refresh/", cookies: []*http.Cookie{otherRefresh}}, 200},
		{"the other session's me", request{method: "GET", path: "/auth/me/", bearer: otherAccess}, 200},
	} {
		if r := e.do(t, tc.req); r.status != tc.want {
			t.Errorf("%s = %d %s, want %d", tc.name, r.status, r.raw, tc.want)
		}
	}

	// Expiry: the other session's refresh token outlives nothing.
	e.clock.Advance(24*time.Hour + time.Minute)
	if r := e.do(t, request{method: "POST", path: "/auth/refresh/", cookies: []*http.Cookie{otherRefresh}}); r.status != 400 {
		t.Errorf("refresh after 24h = %d, want 400", r.status)
	}
}

func TestLogoutRevokesTheRefreshCookiesSessionToo(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, generous)
	e.mustUser(t, "alice", "alice-password")
	access, _ := e.mustLogin(t, "alice", "alice-password")
	_, otherRefresh := e.mustLogin(t, "alice", "alice-password")
	if r := e.do(t, request{method: "POST", path: "/auth/logout/", bearer: access, cookies: []*http.Cookie{otherRefresh}}); r.status != 200 {
		t.Fatalf("logout = %d", r.status)
	}
	if r := e.do(t, request{method: "POST", path: "/auth/refresh/", cookies: []*http.Cookie{otherRefresh}}); r.status != 400 {
		t.Errorf("refresh with the cookie sent at logout = %d, want 400", r.status)
	}
}

func TestDisablingAUserEndsTheirSessions(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, generous)
	u := e.mustUser(t, "alice", "alice-password")
	access, refresh := e.mustLogin(t, "alice", "alice-password")
	if err := e.store.SetDisabled(context.Background(), u.ID, true, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if r := e.do(t, request{method: "GET", path: "/auth/me/", bearer: access}); r.status != 401 {
		t.Errorf("me of a disabled user = %d, want 401", r.status)
	}
	if r := e.do(t, request{method: "POST", path: "/auth/refresh/", cookies: []*http.Cookie{refresh}}); r.status != 400 {
		t.Errorf("refresh of a disabled user = %d, want 400", r.status)
	}
}

func TestRegister(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, generous)
	r := e.do(t, request{method: "POST", path: "/auth/register/", body: `{"username":"Bob.the-builder_1","password":"longer than eight","email":"bob@example.com","extra":"ignored"}`})
	if diff := cmp.Diff(map[string]any{"id": float64(1), "username": "Bob.the-builder_1"}, r.body); diff != "" || r.status != 201 {
		t.Fatalf("register = %d (-want +got):\n%s", r.status, diff)
	}
	access, _ := e.mustLogin(t, "bob.THE-builder_1", "longer than eight")
	r = e.do(t, request{method: "GET", path: "/auth/me/", bearer: access})
	if r.body["email"] != "bob@example.com" {
		t.Errorf("me = %s", r.raw)
	}
	e2 := newTestEnv(t, func(c *config.Config) { c.Registration = false })
	if r := e2.do(t, request{method: "POST", path: "/auth/register/", body: `{"username":"bob","password":"longer than eight"}`}); r.status != 404 {
		t.Errorf("register while switched off = %d, want 404", r.status)
	}
}

func TestDjangoHashIsAcceptedAndReplaced(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, generous)
	salt := "seasalt1234"
	key, err := pbkdf2.Key(sha256.New, "django-password", []byte(salt), 1000, 32)
	if err != nil {
		t.Fatal(err)
	}
	hash := "pbkdf2_sha256$1000$" + salt + "$" + base64.StdEncoding.EncodeToString(key)
	u, err := e.store.CreateUser(context.Background(), store.NewUser{Username: "legacy", PasswordHash: hash}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	e.mustLogin(t, "legacy", "django-password")
	got, err := e.store.UserByID(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got.PasswordHash, "$argon2id$") {
		t.Errorf("after login the hash is %.20q..., want argon2id", got.PasswordHash)
	}
	e.mustLogin(t, "legacy", "django-password")
}

func TestPanicIsA500WithoutItsCause(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	s := &Server{Deps: Deps{Logger: e.handler.(*Server).Logger}}
	h := s.withRecover(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("secret detail") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "secret detail") || !strings.Contains(rec.Body.String(), codeInternal) {
		t.Errorf("panic answered %d %s, want 500 internal_error without the cause", rec.Code, rec.Body)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	if r := e.do(t, request{method: "GET", path: "/healthz"}); r.status != 200 || r.body["status"] != "ok" {
		t.Errorf("healthz = %d %s", r.status, r.raw)
	}
	if r := e.do(t, request{method: "GET", path: "/readyz"}); r.status != 200 {
		t.Errorf("readyz = %d %s", r.status, r.raw)
	}
	e.store.Close()
	if r := e.do(t, request{method: "GET", path: "/readyz"}); r.status != 503 || r.code() != codeNotReady {
		t.Errorf("readyz with the database closed = %d %s, want 503 not_ready", r.status, r.raw)
	}
	// A store that fails is a 503 the client may retry, without the cause.
	r := e.do(t, request{method: "POST", path: "/auth/login/", body: `{"username":"alice","password":"alice-password"}`})
	if r.status != 503 || r.code() != codeUnavailable || r.header.Get("Retry-After") == "" || strings.Contains(r.raw, "sql") {
		t.Errorf("login with the database closed = %d %s, want 503 unavailable with Retry-After, without the cause", r.status, r.raw)
	}
}
