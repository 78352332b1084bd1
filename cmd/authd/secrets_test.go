package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"authd/fakeintra"
)

// recordingProvider is a fake 42 provider that keeps the access tokens it
// hands out, which authd must never log.
type recordingProvider struct {
	fake *fakeintra.Server
	mu   sync.Mutex
	sent []string
}

var accessTokenField = regexp.MustCompile(`"access_token":"([^"]+)"`)

func (p *recordingProvider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	p.fake.ServeHTTP(rec, r)
	if m := accessTokenField.FindSubmatch(rec.Body.Bytes()); m != nil {
		p.mu.Lock()
		p.sent = append(p.sent, string(m[1]))
		p.mu.Unlock()
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// TestLogsHoldNoSecrets runs every flow, the failing ones too, with debug
// logging, and checks that no password, token, cookie value, code, client
// secret or signing key reaches the logs or the output of the commands.
func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	const (
		signingKey   = "a-signing-key-that-must-never-be-logged-0123456789"
		clientID     = "u-s4t2ud-logs-test-client"
		clientSecret = "s-s4t2ud-this-client-secret-must-never-be-logged"
		redirectURI  = "http://authd.test/oauth2/intra/callback/"
	)
	users, err := fakeintra.LoadUsers("../../testdata/intra/users.json")
	if err != nil {
		t.Fatal(err)
	}
	provider := &recordingProvider{fake: fakeintra.New(fakeintra.Options{
		Clients: []fakeintra.Client{{ID: clientID, Secret: clientSecret, RedirectURIs: []string{redirectURI}}},
		Users:   users,
	})}
	fake := httptest.NewServer(provider)
	defer fake.Close()

	env := map[string]string{
		"AUTHD_DB":                  filepath.Join(t.TempDir(), "authd.db"),
		"AUTHD_COOKIE_SECURE":       "false",
		"AUTHD_LOG_LEVEL":           "debug",
		"AUTHD_JWT_SECRET":          signingKey,
		"AUTHD_INTRA_CLIENT_ID":     clientID,
		"AUTHD_INTRA_CLIENT_SECRET": clientSecret,
		"AUTHD_INTRA_REDIRECT_URI":  redirectURI,
		"AUTHD_INTRA_BASE_URL":      fake.URL,
	}
	base, logs, stop := mustRun(t, env)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	baseURL, _ := url.Parse(base)
	secrets := []string{signingKey, clientSecret}
	keep := func(s ...string) {
		for _, v := range s {
			if v == "" {
				t.Fatalf("an empty secret: a step of the flow failed")
			}
			secrets = append(secrets, v)
		}
	}
	cookie := func(name string) string {
		for _, ck := range jar.Cookies(baseURL) {
			if ck.Name == name {
				return ck.Value
			}
		}
		return ""
	}
	expect := func(r apiResult, status int, what string) {
		t.Helper()
		if r.status != status {
			t.Fatalf("%s = %d %v, want %d", what, r.status, r.body, status)
		}
	}
	token := func(r apiResult) string { s, _ := r.body["access_token"].(string); return s }

	// Passwords: registration, a wrong guess, a login.
	alice := map[string]string{"username": "alice", "password": "alice's secret passphrase"}
	keep(alice["password"], "a wrong guess at alice's")
	expect(call(t, c, "POST", base+"/auth/register/", "", map[string]string{"username": "alice", "password": alice["password"], "email": "alice@example.com"}), 201, "register")
	expect(call(t, c, "POST", base+"/auth/register/", "", map[string]string{"username": "ALICE", "password": alice["password"]}), 409, "register again")
	expect(call(t, c, "POST", base+"/auth/login/", "", map[string]string{"username": "alice", "password": "a wrong guess at alice's"}), 400, "wrong password")
	expect(call(t, c, "POST", base+"/auth/login/", "", map[string]string{"username": "nobody", "password": "a guess at nobody's"}), 400, "unknown user")
	r := call(t, c, "POST", base+"/auth/login/", "", alice)
	expect(r, 200, "login")
	access := token(r)
	keep(access, cookie("refresh_token"))

	expect(call(t, c, "GET", base+"/auth/me/", access, nil), 200, "me")
	r = call(t, c, "POST", base+"/auth/refresh/", "", nil)
	expect(r, 200, "refresh")
	keep(token(r))

	// Log in with 42: the state, the code, the provider's token and our
	// api_token; then link, and log in with it.
	intraRound := func() {
		t.Helper()
		r := call(t, c, "GET", base+"/oauth2/intra/url/", "", nil)
		expect(r, 200, "intra url")
		keep(cookie("state_token"))
		u, _ := r.body["url"].(string)
		noRedirect := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := noRedirect.Get(u + "&login=jdoe&consent=authorize")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil {
			t.Fatalf("consent: %d: %v", resp.StatusCode, err)
		}
		keep(loc.Query().Get("code"))
		expect(call(t, c, "GET", base+"/oauth2/intra/callback/?"+loc.RawQuery, "", nil), 200, "callback")
		keep(cookie("api_token"))
	}
	intraRound()
	expect(call(t, c, "POST", base+"/oauth2/intra/link/", access, nil), 200, "intra link")
	intraRound()
	r = call(t, c, "POST", base+"/oauth2/intra/login/", "", nil)
	expect(r, 200, "intra login")
	keep(token(r), cookie("refresh_token"))

	// Failures, whose causes are logged: a callback whose provider fails,
	// tokens of the wrong type, a revoked session.
	provider.fake.SetFault(fakeintra.Token, fakeintra.Fault{Kind: fakeintra.Status})
	expect(call(t, c, "GET", base+"/oauth2/intra/url/", "", nil), 200, "intra url")
	keep(cookie("state_token"))
	expect(call(t, c, "GET", base+"/oauth2/intra/callback/?code=a-code-the-provider-fails-on&state="+url.QueryEscape(cookie("state_token")), "", nil), 502, "callback, provider failing")
	keep("a-code-the-provider-fails-on")
	expect(call(t, c, "GET", base+"/auth/me/", cookie("refresh_token"), nil), 401, "refresh token as access token")
	expect(call(t, c, "POST", base+"/auth/logout/", access, nil), 200, "logout")
	expect(call(t, c, "GET", base+"/auth/me/", access, nil), 401, "me after logout")
	jar.SetCookies(baseURL, []*http.Cookie{{Name: "refresh_token", Value: access, Path: "/"}})
	expect(call(t, c, "POST", base+"/auth/refresh/", "", nil), 400, "access token as refresh token")

	// The user commands, which take a password on standard input.
	var out, errOut bytes.Buffer
	keep("carol's secret passphrase", "carol's new passphrase")
	getenv := func(k string) string { return env[k] }
	if err := run(context.Background(), []string{"user", "add", "--password-stdin", "carol"}, getenv, strings.NewReader("carol's secret passphrase\n"), &out, &errOut); err != nil {
		t.Fatalf("user add: %v\n%s", err, errOut.String())
	}
	if err := run(context.Background(), []string{"user", "passwd", "--password-stdin", "carol"}, getenv, strings.NewReader("carol's new passphrase\n"), &out, &errOut); err != nil {
		t.Fatalf("user passwd: %v\n%s", err, errOut.String())
	}
	expect(call(t, c, "POST", base+"/auth/login/", "", map[string]string{"username": "carol", "password": "carol's new passphrase"}), 200, "carol's login")
	keep(cookie("refresh_token"))
	stop()

	provider.mu.Lock()
	keep(provider.sent...)
	provider.mu.Unlock()
	all := logs.String() + out.String() + errOut.String()
	if n := strings.Count(all, `"msg":"request"`); n < 20 {
		t.Fatalf("%d requests logged, want every one:\n%s", n, all)
	}
	for _, s := range secrets {
		// A token's signature alone would do as much harm as the token.
		for _, part := range append([]string{s}, signatureOf(s)...) {
			if strings.Contains(all, part) || strings.Contains(all, jsonEscaped(part)) {
				t.Errorf("the logs or output hold a secret, %.10q...", part)
			}
		}
	}
	lines := strings.Count(logs.String(), "\n")
	t.Logf("%d log lines checked against %d secrets", lines, len(secrets))
}

// signatureOf returns the signature of a JWT, or nothing.
func signatureOf(s string) []string {
	if p := strings.Split(s, "."); len(p) == 3 && len(p[2]) >= 16 {
		return []string{p[2]}
	}
	return nil
}

// jsonEscaped is s as a JSON string's content.
func jsonEscaped(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}
