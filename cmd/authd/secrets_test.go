package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"authd/fakeintra"
	"authd/internal/authdtest"
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
	s := mustRun(t, env)
	// authd is reached as the host of the redirect URI, so that the
	// provider's redirect leads back to it.
	c := authdtest.NewClient(t, "http://authd.test", authdtest.Resolve("authd.test", func() string { return s.Addr }))
	secrets := []string{signingKey, clientSecret}
	keep := func(values ...string) {
		for _, v := range values {
			if v == "" {
				t.Fatalf("an empty secret: a step of the flow failed")
			}
			secrets = append(secrets, v)
		}
	}

	// Passwords: registration, a wrong guess, a login.
	const alicePassword = "alice's secret passphrase"
	keep(alicePassword, "a wrong guess at alice's")
	c.Register(authdtest.RegisterRequest{Username: "alice", Password: alicePassword, Email: "alice@example.com"}).Want(t, "register", 201, "")
	c.Register(authdtest.RegisterRequest{Username: "ALICE", Password: alicePassword}).Want(t, "register again", 409, "")
	c.Login("alice", "a wrong guess at alice's").Want(t, "wrong password", 400, "")
	c.Login("nobody", "a guess at nobody's").Want(t, "unknown user", 400, "")
	r := c.Login("alice", alicePassword)
	r.Want(t, "login", 200, "")
	access := r.AccessToken
	keep(access, c.Cookie("refresh_token"))

	c.Me(access).Want(t, "me", 200, "")
	r = c.Refresh()
	r.Want(t, "refresh", 200, "")
	keep(r.AccessToken)

	// Log in with 42: the state, the code, the provider's token and our
	// api_token; then link, and log in with it.
	intraRound := func() {
		t.Helper()
		authorize := c.MustIntraURL()
		keep(c.Cookie("state_token"))
		back := c.MustAuthorize(authorize, "jdoe")
		loc, err := url.Parse(back)
		if err != nil {
			t.Fatal(err)
		}
		keep(loc.Query().Get("code"))
		c.Callback(back).Want(t, "callback", 200, "")
		keep(c.Cookie("api_token"))
	}
	intraRound()
	c.IntraLink(access).Want(t, "intra link", 200, "")
	intraRound()
	r = c.IntraLogin()
	r.Want(t, "intra login", 200, "")
	keep(r.AccessToken, c.Cookie("refresh_token"))

	// Failures, whose causes are logged: a callback whose provider fails,
	// tokens of the wrong type, a revoked session.
	provider.fake.SetFault(fakeintra.Token, fakeintra.Fault{Kind: fakeintra.Status})
	c.IntraURL().Want(t, "intra url", 200, "")
	keep(c.Cookie("state_token"))
	c.Callback("http://authd.test/oauth2/intra/callback/?code=a-code-the-provider-fails-on&state="+url.QueryEscape(c.Cookie("state_token"))).Want(t, "callback, provider failing", 502, "")
	keep("a-code-the-provider-fails-on")
	c.Me(c.Cookie("refresh_token")).Want(t, "refresh token as access token", 401, "")
	c.Logout(access).Want(t, "logout", 200, "")
	c.Me(access).Want(t, "me after logout", 401, "")
	c.PutCookie("refresh_token", access)
	c.Refresh().Want(t, "access token as refresh token", 400, "")

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
	c.Login("carol", "carol's new passphrase").Want(t, "carol's login", 200, "")
	keep(c.Cookie("refresh_token"))
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}

	provider.mu.Lock()
	keep(provider.sent...)
	provider.mu.Unlock()
	all := s.Log() + out.String() + errOut.String()
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
	lines := strings.Count(s.Log(), "\n")
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
