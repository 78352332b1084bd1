package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"authd/internal/accesskeys"
	"authd/internal/account"
	"authd/internal/clock"
	"authd/internal/config"
	"authd/internal/datakey"
	"authd/internal/intra"
	"authd/internal/password"
	"authd/internal/store"
	"authd/internal/store/sqlite"
	"authd/internal/throttle"
	"authd/internal/token"
)

// testParams make hashing cheap in tests; production uses DefaultParams.
var testParams = password.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}

const testSecret = "test-signing-key-of-at-least-32-bytes!!"

// testConfig is the configuration of a freshly started authd, as config
// resolves it with no settings at all.
func testConfig(t testing.TB) config.Config {
	t.Helper()
	cfg, err := config.Load(nil, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

type testEnv struct {
	handler http.Handler
	clock   *clock.Fake
	store   store.Store
	tokens  *token.Keyring
	keys    *accesskeys.Manager // under EdDSA
	cfg     config.Config
	hasher  *password.Hasher
}

// newTestEnv builds the server over a fresh SQLite database, a fake clock
// and cheap hashing; edit changes the configuration first.
func newTestEnv(t testing.TB, edit func(*config.Config)) *testEnv {
	t.Helper()
	return newTestEnvDeps(t, edit, nil)
}

// testDeps are what a test server is made of: the server's own
// dependencies and those of the account service under it.
type testDeps struct {
	Deps
	Store     store.Store
	Passwords *password.Hasher
	// Lockouts counts the failed logins of usernames, as serve's own
	// table does.
	Lockouts throttle.Limiter
}

// newTestEnvDeps is newTestEnv, with editDeps changing the dependencies
// (wrapping the store or the limiter, say) last; the env's store stays the
// SQLite database itself.
func newTestEnvDeps(t testing.TB, edit func(*config.Config), editDeps func(*testDeps)) *testEnv {
	t.Helper()
	cfg := testConfig(t)
	if edit != nil {
		edit(&cfg)
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "authd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := clock.NewFake(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
	issuer, err := token.NewKeyring(token.Options{Issuer: cfg.Issuer, Secrets: [][]byte{[]byte(testSecret)}, Audience: cfg.Audience,
		EdDSA: cfg.AccessAlg == config.AlgEdDSA, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	var keys *accesskeys.Manager
	if cfg.AccessAlg == config.AlgEdDSA {
		if _, err := accesskeys.Ensure(context.Background(), db, clk.Now()); err != nil {
			t.Fatal(err)
		}
		keys = accesskeys.NewManager(accesskeys.Options{Store: db, Keyring: issuer, AccessTTL: cfg.AccessTTL, Now: clk.Now})
		if err := keys.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	e := &testEnv{
		clock:  clk,
		store:  db,
		tokens: issuer,
		keys:   keys,
		cfg:    cfg,
		hasher: password.NewHasher(password.Options{Params: testParams, Concurrency: 2}),
	}
	deps := testDeps{
		Deps: Deps{
			Config:  cfg,
			Limiter: throttle.NewMemory(throttle.MemoryOptions{Now: clk.Now, MaxKeys: cfg.ThrottleMaxKey}),
			Ready:   map[string]func(context.Context) error{"database": db.Ping},
		},
		Store:     db,
		Passwords: e.hasher,
		Lockouts:  throttle.NewMemory(throttle.MemoryOptions{Now: clk.Now, MaxKeys: cfg.ThrottleMaxKey, KeepLive: true}),
	}
	if cfg.IntraConfigured() {
		deps.Intra = intra.New(intra.Config{
			BaseURL: cfg.IntraBaseURL, ClientID: cfg.IntraClientID,
			ClientSecret: cfg.IntraClientSecret, RedirectURI: cfg.IntraRedirectURI,
			UserAgent: "authd-test",
		})
		deps.ProviderTimeout = 500 * time.Millisecond
	}
	if keys != nil {
		deps.JWKS = keys.JWKS
	}
	if editDeps != nil {
		editDeps(&deps)
	}
	secrets, err := datakey.New(cfg.DataKey)
	if err != nil {
		t.Fatal(err)
	}
	opts := account.Configured(cfg)
	opts.Store, opts.Tokens, opts.Passwords, opts.Secrets = deps.Store, issuer, deps.Passwords, secrets
	opts.Limiter, opts.Logger, opts.Now = deps.Lockouts, deps.Logger, clk.Now
	deps.Accounts = account.New(opts)
	h, err := NewServer(deps.Deps)
	if err != nil {
		t.Fatal(err)
	}
	e.handler = h
	return e
}

// request describes one call.
type request struct {
	method  string
	path    string
	body    string // sent as JSON unless header sets Content-Type
	bearer  string
	cookies []*http.Cookie
	header  map[string]string
	remote  string // default 192.0.2.1:1234
}

type response struct {
	status  int
	header  http.Header
	body    map[string]any
	raw     string
	cookies map[string]*http.Cookie
	setRaw  []string
}

func (e *testEnv) do(t testing.TB, rq request) response {
	t.Helper()
	var body io.Reader
	if rq.body != "" {
		body = strings.NewReader(rq.body)
	}
	req := httptest.NewRequest(rq.method, rq.path, body)
	if rq.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range rq.header {
		req.Header.Set(k, v)
	}
	if rq.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+rq.bearer)
	}
	for _, c := range rq.cookies {
		req.AddCookie(c)
	}
	req.RemoteAddr = "192.0.2.1:1234"
	if rq.remote != "" {
		req.RemoteAddr = rq.remote
	}
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	res := rec.Result()
	out := response{status: res.StatusCode, header: res.Header, raw: rec.Body.String(), cookies: map[string]*http.Cookie{}, setRaw: res.Header.Values("Set-Cookie")}
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &out.body); err != nil {
			t.Fatalf("%s %s: body is not a JSON object: %q", rq.method, rq.path, rec.Body.String())
		}
	}
	for _, c := range res.Cookies() {
		out.cookies[c.Name] = c
	}
	checkAgainstAPIDoc(t, req, rq.body, res.StatusCode, res.Header, rec.Body.Bytes())
	return out
}

func (r response) code() string {
	s, _ := r.body["error"].(string)
	return s
}

// mustUser creates a user with a password directly in the store.
func (e *testEnv) mustUser(t testing.TB, name, pw string) store.User {
	t.Helper()
	h, err := e.hasher.Hash(context.Background(), pw)
	if err != nil {
		t.Fatal(err)
	}
	u, err := e.store.CreateUser(context.Background(), store.NewUser{Username: name, Email: name + "@example.com", PasswordHash: h}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// mustLogin logs in and returns the access token and the refresh cookie.
func (e *testEnv) mustLogin(t testing.TB, name, pw string) (string, *http.Cookie) {
	t.Helper()
	r := e.do(t, request{method: "POST", path: "/auth/login/", body: jsonBody(t, map[string]any{"username": name, "password": pw}), remote: "198.51.100.77:5555"})
	if r.status != 200 {
		t.Fatalf("login %s = %d %s", name, r.status, r.raw)
	}
	tok, _ := r.body["access_token"].(string)
	return tok, r.cookies[cookieRefresh]
}

func jsonBody(t testing.TB, v any) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
