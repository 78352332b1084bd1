package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authd/fakeintra"
	"authd/internal/config"
	"authd/internal/throttle"
	"authd/internal/token"
)

const (
	testClientID    = "u-s4t2ud-test-client"
	testClientSec   = "s-s4t2ud-test-secret"
	testRedirectURI = "http://authd.test/oauth2/intra/callback/"
)

// intraEnv is a server configured for Log in with 42 against a fake
// provider served on loopback.
type intraEnv struct {
	*testEnv
	fake    *fakeintra.Server
	fakeURL string
}

func newIntraEnv(t testing.TB, edit func(*config.Config)) *intraEnv {
	t.Helper()
	return newIntraEnvDeps(t, edit, nil)
}

// newIntraEnvDeps is newIntraEnv, with editDeps changing the server's
// dependencies as for newTestEnvDeps.
func newIntraEnvDeps(t testing.TB, edit func(*config.Config), editDeps func(*testDeps)) *intraEnv {
	t.Helper()
	users, err := fakeintra.LoadUsers("../../testdata/intra/users.json")
	if err != nil {
		t.Fatal(err)
	}
	fake := fakeintra.New(fakeintra.Options{
		Clients: []fakeintra.Client{{ID: testClientID, Secret: testClientSec, RedirectURIs: []string{testRedirectURI}}},
		Users:   users,
	})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	e := newTestEnvDeps(t, func(c *config.Config) {
		generous(c)
		c.IntraClientID, c.IntraClientSecret, c.IntraRedirectURI = testClientID, testClientSec, testRedirectURI
		c.IntraBaseURL = srv.URL
		if edit != nil {
			edit(c)
		}
	}, editDeps)
	return &intraEnv{testEnv: e, fake: fake, fakeURL: srv.URL}
}

// start calls /oauth2/intra/url/ and returns the state cookie and URL.
func (e *intraEnv) start(t testing.TB) (*http.Cookie, string) {
	t.Helper()
	r := e.do(t, request{method: "GET", path: "/oauth2/intra/url/"})
	if r.status != 200 {
		t.Fatalf("intra url = %d %s", r.status, r.raw)
	}
	u, _ := r.body["url"].(string)
	return r.cookies[cookieState], u
}

// consent plays the browser at the provider: the user (login) answers the
// consent page, and the provider redirects back; it returns that
// redirect's query.
func (e *intraEnv) consent(t testing.TB, authorizeURL, login, answer string) url.Values {
	t.Helper()
	c := &http.Client{
		Timeout:       5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := c.Get(authorizeURL + "&login=" + url.QueryEscape(login) + "&consent=" + answer)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), testRedirectURI) {
		t.Fatalf("provider answered %d Location %q, want a redirect to the callback", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query()
}

// callback calls our callback with query and the state cookie (if any).
func (e *intraEnv) callback(t testing.TB, query url.Values, state *http.Cookie) response {
	t.Helper()
	rq := request{method: "GET", path: "/oauth2/intra/callback/?" + query.Encode()}
	if state != nil {
		rq.cookies = []*http.Cookie{state}
	}
	return e.do(t, rq)
}

// mustIdentity runs a whole successful 42 round trip for login and
// returns the api_token cookie.
func (e *intraEnv) mustIdentity(t testing.TB, login string) *http.Cookie {
	t.Helper()
	state, u := e.start(t)
	r := e.callback(t, e.consent(t, u, login, "authorize"), state)
	if r.status != 200 || r.cookies[cookieAPI] == nil {
		t.Fatalf("callback = %d %s (Set-Cookie %q)", r.status, r.raw, r.setRaw)
	}
	return r.cookies[cookieAPI]
}

func TestIntraURL(t *testing.T) {
	t.Parallel()
	e := newIntraEnv(t, nil)
	r := e.do(t, request{method: "GET", path: "/oauth2/intra/url/"})
	state := r.cookies[cookieState]
	if r.status != 200 || state == nil {
		t.Fatalf("intra url = %d %s", r.status, r.raw)
	}
	if diff := cmp.Diff([]string{"state_token=" + state.Value + "; Path=/; Max-Age=600; HttpOnly; Secure; SameSite=Lax"}, r.setRaw); diff != "" {
		t.Errorf("Set-Cookie (-want +got):\n%s", diff)
	}
	if len(state.Value) < 43 { // 32 bytes, base64url
		t.Errorf("state %q is under 32 random bytes", state.Value)
	}
	u, err := url.Parse(r.body["url"].(string))
	if err != nil {
		t.Fatal(err)
	}
	// The PKCE challenge is the S256 of a verifier of ours: 43 characters
	// of base64url (the fake checks the verifier against it).
	challenge := u.Query().Get("code_challenge")
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`).MatchString(challenge) {
		t.Errorf("code_challenge %q is no S256 challenge", challenge)
	}
	want := url.Values{"client_id": {testClientID}, "redirect_uri": {testRedirectURI}, "response_type": {"code"}, "scope": {"public"}, "state": {state.Value},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	if diff := cmp.Diff(want, u.Query()); diff != "" || u.Path != "/oauth/authorize" {
		t.Errorf("authorize URL %s (-want +got):\n%s", u, diff)
	}
	// Each call starts a new flow with a new state and a new challenge.
	again := e.do(t, request{method: "GET", path: "/oauth2/intra/url/"})
	if again.cookies[cookieState].Value == state.Value {
		t.Error("two flows got the same state")
	}
	if strings.Contains(again.body["url"].(string), challenge) {
		t.Error("two flows got the same code challenge")
	}
}

func TestIntraCallbackSuccess(t *testing.T) {
	t.Parallel()
	e := newIntraEnv(t, nil)
	state, u := e.start(t)
	r := e.callback(t, e.consent(t, u, "jdoe", "authorize"), state)
	if r.status != 200 {
		t.Fatalf("callback = %d %s", r.status, r.raw)
	}
	api := r.cookies[cookieAPI]
	// A cookie is cleared after the other is set (see clearingCookiesLast).
	want := []string{
		"api_token=" + api.Value + "; Path=/; Max-Age=300; HttpOnly; Secure; SameSite=Lax",
		"state_token=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax",
	}
	if diff := cmp.Diff(want, r.setRaw); diff != "" {
		t.Errorf("Set-Cookie (-want +got):\n%s", diff)
	}
	c, err := e.tokens.Verify(api.Value, token.Intra)
	if err != nil {
		t.Fatalf("api_token is not our intra token: %v", err)
	}
	got := []any{c.IntraID, c.IntraLogin, c.Email, c.ExpiresAt.Sub(e.clock.Now())}
	if diff := cmp.Diff([]any{int64(110423), "jdoe", "jdoe@student.42.fr", 5 * time.Minute}, got); diff != "" {
		t.Errorf("api_token claims (-want +got):\n%s", diff)
	}
	if users, _ := e.store.ListUsers(context.Background()); len(users) != 0 {
		t.Errorf("the callback created %d users; only intra login may", len(users))
	}
}

func TestIntraCallbackFailures(t *testing.T) {
	t.Parallel()
	e := newIntraEnv(t, nil)
	type setup func(t *testing.T) (url.Values, *http.Cookie)
	flow := func(login string) setup {
		return func(t *testing.T) (url.Values, *http.Cookie) {
			state, u := e.start(t)
			return e.consent(t, u, login, "authorize"), state
		}
	}
	withFault := func(ep fakeintra.Endpoint, f fakeintra.Fault) setup {
		return func(t *testing.T) (url.Values, *http.Cookie) {
			q, c := flow("jdoe")(t)
			e.fake.SetFault(ep, f)
			return q, c
		}
	}
	tests := []struct {
		name     string
		setup    setup
		wantCode string
	}{
		{"state missing", func(t *testing.T) (url.Values, *http.Cookie) {
			q, c := flow("jdoe")(t)
			q.Del("state")
			return q, c
		}, codeInvalidState},
		{"state cookie missing", func(t *testing.T) (url.Values, *http.Cookie) {
			q, _ := flow("jdoe")(t)
			return q, nil
		}, codeInvalidState},
		{"state from another flow", func(t *testing.T) (url.Values, *http.Cookie) {
			q, _ := flow("jdoe")(t)
			other, _ := e.start(t)
			return q, other
		}, codeInvalidState},
		{"user cancelled", func(t *testing.T) (url.Values, *http.Cookie) {
			state, u := e.start(t)
			return e.consent(t, u, "jdoe", "cancel"), state
		}, codeAccessDenied},
		{"code missing", func(t *testing.T) (url.Values, *http.Cookie) {
			q, c := flow("jdoe")(t)
			q.Del("code")
			return q, c
		}, codeAccessDenied},
		{"code made up", func(t *testing.T) (url.Values, *http.Cookie) {
			q, c := flow("jdoe")(t)
			q.Set("code", "not-a-code")
			return q, c
		}, codeInvalidGrant},
		{"code reused", func(t *testing.T) (url.Values, *http.Cookie) {
			q, c := flow("jdoe")(t)
			if r := e.callback(t, q, c); r.status != 200 {
				t.Fatalf("first use = %d", r.status)
			}
			fresh, _ := e.start(t)
			q.Set("state", fresh.Value)
			return q, fresh
		}, codeInvalidGrant},
		{"token endpoint 503", withFault(fakeintra.Token, fakeintra.Fault{Kind: fakeintra.Status, Status: 503}), codeProviderError},
		{"token endpoint 429", withFault(fakeintra.Token, fakeintra.Fault{Kind: fakeintra.RateLimited}), codeProviderError},
		{"token endpoint malformed JSON", withFault(fakeintra.Token, fakeintra.Fault{Kind: fakeintra.MalformedJSON}), codeProviderError},
		{"token endpoint hangs", withFault(fakeintra.Token, fakeintra.Fault{Kind: fakeintra.Hang, Delay: 5 * time.Second}), codeProviderError},
		{"me 500", withFault(fakeintra.Me, fakeintra.Fault{Kind: fakeintra.Status, Status: 500}), codeProviderError},
		{"me truncated", withFault(fakeintra.Me, fakeintra.Fault{Kind: fakeintra.TruncatedJSON}), codeProviderError},
		{"me without id", withFault(fakeintra.Me, fakeintra.Fault{Kind: fakeintra.MeMissingID}), codeProviderError},
		{"me without login", withFault(fakeintra.Me, fakeintra.Fault{Kind: fakeintra.MeMissingLogin}), codeProviderError},
		{"me hangs", withFault(fakeintra.Me, fakeintra.Fault{Kind: fakeintra.Hang, Delay: 5 * time.Second}), codeProviderError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.fake.ClearFaults()
			q, c := tc.setup(t)
			start := time.Now()
			r := e.callback(t, q, c)
			e.fake.ClearFaults()
			if elapsed := time.Since(start); elapsed > 3*time.Second {
				t.Errorf("callback took %v; the provider bound is 500ms here", elapsed)
			}
			if r.code() != tc.wantCode || r.status != statusOf[tc.wantCode] {
				t.Errorf("callback = %d %s, want %d %s", r.status, r.raw, statusOf[tc.wantCode], tc.wantCode)
			}
			if diff := cmp.Diff([]string{"state_token=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax"}, r.setRaw); diff != "" {
				t.Errorf("Set-Cookie: want only state_token cleared (-want +got):\n%s", diff)
			}
			if strings.Contains(r.raw, testClientSec) {
				t.Error("the client secret reached the response")
			}
		})
	}
	if users, _ := e.store.ListUsers(context.Background()); len(users) != 0 {
		t.Errorf("failed callbacks created %d users", len(users))
	}
}

func TestIntraLoginProvisionsAndFindsTheUser(t *testing.T) {
	t.Parallel()
	e := newIntraEnv(t, nil)
	e.mustUser(t, "jdoe", "a password of jdoe") // a different person holds the name
	api := e.mustIdentity(t, "jdoe")

	r := e.do(t, request{method: "POST", path: "/oauth2/intra/login/", cookies: []*http.Cookie{api}})
	if r.status != 200 || r.body["token_type"] != "Bearer" {
		t.Fatalf("intra login = %d %s", r.status, r.raw)
	}
	refresh := r.cookies[cookieRefresh]
	want := []string{
		"refresh_token=" + refresh.Value + "; Path=/; Max-Age=86400; HttpOnly; Secure; SameSite=Strict",
		"api_token=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax",
	}
	if diff := cmp.Diff(want, r.setRaw); diff != "" {
		t.Errorf("Set-Cookie (-want +got):\n%s", diff)
	}
	me := e.do(t, request{method: "GET", path: "/auth/me/", bearer: r.body["access_token"].(string)})
	got := []any{me.body["username"], me.body["intra_login"], me.body["email"]}
	if diff := cmp.Diff([]any{"jdoe-2", "jdoe", "jdoe@student.42.fr"}, got); diff != "" {
		t.Errorf("provisioned user (-want +got):\n%s", diff)
	}
	// The user has no password: the name cannot log in with one.
	if r := e.do(t, request{method: "POST", path: "/auth/login/", body: `{"username":"jdoe-2","password":"anything-goes"}`}); r.code() != codeInvalidCredentials {
		t.Errorf("password login of an Intra-only user = %s", r.raw)
	}
	// A second 42 login finds the same user.
	r = e.do(t, request{method: "POST", path: "/oauth2/intra/login/", cookies: []*http.Cookie{e.mustIdentity(t, "jdoe")}})
	me = e.do(t, request{method: "GET", path: "/auth/me/", bearer: r.body["access_token"].(string)})
	if me.body["username"] != "jdoe-2" {
		t.Errorf("second intra login landed on %v", me.body["username"])
	}
	if users, _ := e.store.ListUsers(context.Background()); len(users) != 2 {
		t.Errorf("%d users, want 2 (the password jdoe and the Intra jdoe-2)", len(users))
	}
}

func TestIntraLoginWithoutAutoProvisioning(t *testing.T) {
	t.Parallel()
	e := newIntraEnv(t, func(c *config.Config) { c.IntraAutoProvision = false })
	api := e.mustIdentity(t, "gfavre")
	r := e.do(t, request{method: "POST", path: "/oauth2/intra/login/", cookies: []*http.Cookie{api}})
	if r.status != 400 || r.code() != codeNotLinked {
		t.Errorf("intra login = %d %s, want 400 not_linked", r.status, r.raw)
	}
	if users, _ := e.store.ListUsers(context.Background()); len(users) != 0 {
		t.Errorf("%d users created with auto-provisioning off", len(users))
	}
}

func TestIntraLink(t *testing.T) {
	t.Parallel()
	e := newIntraEnv(t, nil)
	e.mustUser(t, "alice", "alice-password")
	e.mustUser(t, "bob", "bob-password")
	alice, _ := e.mustLogin(t, "alice", "alice-password")
	bob, _ := e.mustLogin(t, "bob", "bob-password")
	link := func(bearer string, api *http.Cookie) response {
		return e.do(t, request{method: "POST", path: "/oauth2/intra/link/", bearer: bearer, cookies: []*http.Cookie{api}})
	}

	r := link(alice, e.mustIdentity(t, "gfavre"))
	if r.status != 200 {
		t.Fatalf("link = %d %s", r.status, r.raw)
	}
	if diff := cmp.Diff([]string{"api_token=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax"}, r.setRaw); diff != "" {
		t.Errorf("link Set-Cookie (-want +got):\n%s", diff)
	}
	if me := e.do(t, request{method: "GET", path: "/auth/me/", bearer: alice}); me.body["intra_login"] != "gfavre" {
		t.Errorf("me after link = %s", me.raw)
	}
	// The same pair again is fine.
	if r := link(alice, e.mustIdentity(t, "gfavre")); r.status != 200 {
		t.Errorf("linking the same pair again = %d %s", r.status, r.raw)
	}
	// A 42 login now lands on alice.
	r = e.do(t, request{method: "POST", path: "/oauth2/intra/login/", cookies: []*http.Cookie{e.mustIdentity(t, "gfavre")}})
	if me := e.do(t, request{method: "GET", path: "/auth/me/", bearer: r.body["access_token"].(string)}); me.body["username"] != "alice" {
		t.Errorf("42 login after link landed on %s", me.raw)
	}
	// Both kinds of conflict.
	if r := link(bob, e.mustIdentity(t, "gfavre")); r.code() != codeAlreadyLinked {
		t.Errorf("linking alice's Intra account to bob = %s, want already_linked", r.raw)
	}
	if r := link(alice, e.mustIdentity(t, "tnguyen")); r.code() != codeAlreadyLinked {
		t.Errorf("linking a second Intra account to alice = %s, want already_linked", r.raw)
	}
	// Bearer problems are 401s, cookie problems 400s.
	if r := link("garbage", e.mustIdentity(t, "tnguyen")); r.status != 401 {
		t.Errorf("link without a valid Bearer = %d", r.status)
	}
	if r := e.do(t, request{method: "POST", path: "/oauth2/intra/link/", bearer: bob}); r.code() != codeInvalidAPIToken {
		t.Errorf("link without api_token = %s", r.raw)
	}
}

func TestAPITokenIsRefusedWhenNotOurs(t *testing.T) {
	t.Parallel()
	e := newIntraEnv(t, nil)
	e.mustUser(t, "alice", "alice-password")
	access, refresh := e.mustLogin(t, "alice", "alice-password")
	api := e.mustIdentity(t, "jdoe")
	expired := *api
	for _, tc := range []struct {
		name  string
		value string
		after time.Duration
	}{
		{"garbage", "garbage", 0},
		{"an access token", access, 0},
		{"a refresh token", refresh.Value, 0},
		{"expired", expired.Value, 5*time.Minute + 31*time.Second},
	} {
		e.clock.Advance(tc.after)
		r := e.do(t, request{method: "POST", path: "/oauth2/intra/login/", cookies: []*http.Cookie{{Name: cookieAPI, Value: tc.value}}})
		if r.status != 400 || r.code() != codeInvalidAPIToken {
			t.Errorf("%s: %d %s, want 400 invalid_api_token", tc.name, r.status, r.raw)
		}
	}
	// An api_token is no access or refresh token either.
	if r := e.do(t, request{method: "GET", path: "/auth/me/", bearer: api.Value}); r.status != 401 {
		t.Errorf("api_token as Bearer = %d", r.status)
	}
}

// TestHeadChangesNothing: HEAD of the two GET endpoints that change
// something is a 405 with Allow: GET that sets no cookie, counts no
// request and spends no code; HEAD elsewhere is served.
func TestHeadChangesNothing(t *testing.T) {
	t.Parallel()
	e := newIntraEnv(t, func(c *config.Config) { c.Rates[config.ScopeIntraURL] = throttle.Rate{N: 2, Period: time.Minute} })
	state, u := e.start(t)
	query := e.consent(t, u, "jdoe", "authorize")
	for _, path := range []string{"/oauth2/intra/url/", "/oauth2/intra/callback/?" + query.Encode()} {
		for range 3 {
			r := e.do(t, request{method: "HEAD", path: path, cookies: []*http.Cookie{state}})
			if r.status != 405 || r.header.Get("Allow") != "GET" || len(r.setRaw) != 0 {
				t.Errorf("HEAD %s = %d, Allow %q, Set-Cookie %q; want 405, GET, none", path, r.status, r.header.Get("Allow"), r.setRaw)
			}
		}
	}
	// The code is still good, and one url request of the two is left.
	if r := e.callback(t, query, state); r.status != 200 || r.cookies[cookieAPI] == nil {
		t.Errorf("callback after the HEADs = %d %s, want the identity", r.status, r.raw)
	}
	if r := e.do(t, request{method: "GET", path: "/oauth2/intra/url/"}); r.status != 200 {
		t.Errorf("second url request = %d %s, want 200: a HEAD was counted", r.status, r.raw)
	}
	if r := e.do(t, request{method: "POST", path: "/oauth2/intra/url/"}); r.status != 405 || r.header.Get("Allow") != "GET" {
		t.Errorf("POST url = %d, Allow %q; want 405, GET", r.status, r.header.Get("Allow"))
	}
	for _, path := range []string{"/healthz", "/auth/me/"} {
		if r := e.do(t, request{method: "DELETE", path: path}); r.header.Get("Allow") != "GET, HEAD" {
			t.Errorf("DELETE %s: Allow %q, want GET, HEAD", path, r.header.Get("Allow"))
		}
	}
	e.mustUser(t, "alice", "alice-password")
	access, _ := e.mustLogin(t, "alice", "alice-password")
	// net/http's server drops the body of a HEAD answer; the recorder here
	// does not, so only the status is checked.
	if r := e.do(t, request{method: "HEAD", path: "/auth/me/", bearer: access}); r.status != 200 {
		t.Errorf("HEAD /auth/me/ = %d %s, want 200", r.status, r.raw)
	}
}
