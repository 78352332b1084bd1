//go:build e2e

package e2e

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// The 42 application that every authd of the suite is, registered with
// the fake provider. The values open nothing real.
const (
	clientID     = "u-s4t2ud-e2e0000000000000000000000000000000000000000000000000000000000"
	clientSecret = "s-s4t2ud-e2e1111111111111111111111111111111111111111111111111111111111"
)

// Host names under which authd is reached. The fake provider sends the
// browser back to a redirect URI it knows before any authd has a port, so
// the URIs name these hosts: the Go clients dial authd.test to the authd
// of their test, and Chromium maps demo.test to the demo page's port.
const (
	authdHost = "authd.test"
	demoHost  = "demo.test"
)

var (
	redirectURI     = "http://" + authdHost + "/oauth2/intra/callback/"
	demoRedirectURI = "http://" + demoHost + "/oauth2/intra/callback/"
)

// plainHTTP turns the Secure attribute of authd's cookies off. The suite
// speaks plain HTTP on loopback, and neither Go's cookie jar nor a browser
// sends a Secure cookie back over plain HTTP to a host such as authd.test.
// TestSeedTable checks that the default, Secure on, sets every cookie
// Secure.
const plainHTTP = "AUTHD_COOKIE_SECURE=false"

// scopes are the throttle scopes of the contract, as in AUTHD_THROTTLE_<SCOPE>.
var scopes = []string{"LOGIN", "LOGOUT", "REFRESH", "REGISTER", "INTRA_URL", "INTRA_CALLBACK", "INTRA_LOGIN", "INTRA_LINK"}

// generousThrottles lifts every rate far above what a journey uses, so
// that only the test about throttling meets a 429.
func generousThrottles() []string {
	var env []string
	for _, s := range scopes {
		env = append(env, "AUTHD_THROTTLE_"+s+"=10000/minute")
	}
	return env
}

// fakeProvider is a running cmd/fakeintra.
type fakeProvider struct {
	*proc
	base string
}

func providerSpec(name string) procSpec {
	return procSpec{
		name: name,
		path: bins.fakeintra,
		args: []string{
			"-addr", "127.0.0.1:0",
			"-client-id", clientID,
			"-client-secret", clientSecret,
			"-redirect-uri", redirectURI + "," + demoRedirectURI,
			"-users", filepath.Join(repoRoot, "testdata", "intra", "users.json"),
			// Tests run in parallel against one provider; its per-second
			// limit is not what they are about.
			"-rate-limit=false",
		},
		addrIn: addrLine,
		ready:  "/_fake/faults",
	}
}

// startProvider starts the provider the whole suite shares.
func startProvider(name string) (*fakeProvider, error) {
	p, err := start(providerSpec(name))
	if err != nil {
		return nil, err
	}
	return &fakeProvider{proc: p, base: "http://" + p.addr}, nil
}

// mustProvider starts a provider of the test's own, for faults that must
// not touch the other tests.
func mustProvider(t *testing.T) *fakeProvider {
	t.Helper()
	p := mustStart(t, providerSpec("fakeintra"))
	return &fakeProvider{proc: p, base: "http://" + p.addr}
}

// mustFault sets a fault through the provider's control endpoint, e.g.
// {"endpoint":"token","kind":"status","status":503}.
func (f *fakeProvider) mustFault(t *testing.T, fault string) {
	t.Helper()
	resp, err := http.Post(f.base+"/_fake/faults", "application/json", strings.NewReader(fault))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /_fake/faults %s = %d", fault, resp.StatusCode)
	}
}

// mustClearFaults clears every fault, releasing calls that hang.
func (f *fakeProvider) mustClearFaults(t *testing.T) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, f.base+"/_fake/faults", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE /_fake/faults = %d", resp.StatusCode)
	}
}

// authd is a running authd serve.
type authd struct {
	*proc
	base string // http://127.0.0.1:port
	db   string
}

// intraSettings configure Log in with 42 against provider p, with the
// browser sent back to redirect.
func intraSettings(p *fakeProvider, redirect string) []string {
	return []string{
		"AUTHD_INTRA_CLIENT_ID=" + clientID,
		"AUTHD_INTRA_CLIENT_SECRET=" + clientSecret,
		"AUTHD_INTRA_REDIRECT_URI=" + redirect,
		"AUTHD_INTRA_BASE_URL=" + p.base,
	}
}

// journeySettings are those of an authd for whole journeys: plain HTTP,
// Intra at the shared provider, throttles out of the way.
func journeySettings() []string {
	return append(append([]string{plainHTTP}, intraSettings(provider, redirectURI)...), generousThrottles()...)
}

// mustAuthd starts authd on the SQLite database db (a fresh one when db
// is empty) with settings added to the defaults, and waits for /readyz.
func mustAuthd(t *testing.T, name, db string, settings ...string) *authd {
	t.Helper()
	if db == "" {
		db = filepath.Join(t.TempDir(), "authd.db")
	}
	env := append([]string{
		"AUTHD_ADDR=127.0.0.1:0",
		"AUTHD_DB=" + db,
		// Hashes one at a time: the suite shares two cores.
		"AUTHD_HASH_CONCURRENCY=1",
	}, settings...)
	p := mustStart(t, procSpec{name: name, path: bins.authd, args: []string{"serve"}, env: env, addrIn: listeningLog, ready: "/readyz"})
	return &authd{proc: p, base: "http://" + p.addr, db: db}
}

// mustDemo starts the demo page in front of a.
func mustDemo(t *testing.T, a *authd) *proc {
	t.Helper()
	return mustStart(t, procSpec{
		name:   "authd-demo",
		path:   bins.demo,
		args:   []string{"-addr", "127.0.0.1:0", "-authd", a.base},
		addrIn: addrLine,
		ready:  "/",
	})
}
