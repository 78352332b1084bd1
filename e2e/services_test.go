//go:build e2e

package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"authd/internal/apidoc/apidoctest"
	"authd/internal/authdtest"
	"authd/internal/config"
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

// generousThrottles lifts the rate of every throttle scope authd has far
// above what a journey uses, so that only the test about throttling meets
// a 429.
func generousThrottles() []string {
	var env []string
	for _, s := range config.Scopes {
		env = append(env, "AUTHD_THROTTLE_"+strings.ToUpper(s)+"=10000/minute")
	}
	return env
}

// providerCommand is the fake provider of the suite: the redirect URIs of
// the Go clients and of the browser, the users of testdata/intra.
func providerCommand() authdtest.Command {
	return authdtest.FakeintraCommand(bins.fakeintra,
		"-client-id", clientID,
		"-client-secret", clientSecret,
		"-redirect-uri", redirectURI+","+demoRedirectURI,
		"-users", filepath.Join(repoRoot, "testdata", "intra", "users.json"),
		// Tests run in parallel against one provider; its per-second
		// limit is not what they are about.
		"-rate-limit=false",
	)
}

// mustProvider starts a provider of the test's own, for faults that must
// not touch the other tests.
func mustProvider(t *testing.T) authdtest.Fakeintra {
	t.Helper()
	c := providerCommand()
	c.LogDir = outDir
	return authdtest.Fakeintra{Server: authdtest.MustStart(t, c)}
}

// authd is a running authd serve.
type authd struct {
	*authdtest.Server
	db string
}

// intraSettings configure Log in with 42 against provider p, with the
// browser sent back to redirect.
func intraSettings(p authdtest.Fakeintra, redirect string) []string {
	return []string{
		"AUTHD_INTRA_CLIENT_ID=" + clientID,
		"AUTHD_INTRA_CLIENT_SECRET=" + clientSecret,
		"AUTHD_INTRA_REDIRECT_URI=" + redirect,
		"AUTHD_INTRA_BASE_URL=" + p.URL,
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
	c := authdtest.AuthdCommand(bins.authd, append([]string{
		"AUTHD_DB=" + db,
		// Hashes one at a time: the suite shares two cores.
		"AUTHD_HASH_CONCURRENCY=1",
	}, settings...)...)
	c.Name, c.LogDir = name, outDir
	return &authd{Server: authdtest.MustStart(t, c), db: db}
}

// mustDemo starts the demo page in front of a.
func mustDemo(t *testing.T, a *authd) *authdtest.Server {
	t.Helper()
	return authdtest.MustStart(t, authdtest.Command{
		Name:   "authd-demo",
		Path:   bins.demo,
		Args:   []string{"-addr", "127.0.0.1:0", "-authd", a.URL},
		Ready:  "/",
		LogDir: outDir,
	})
}

// clientOf returns a user agent that reaches a as http://authd.test, the
// host of the redirect URI registered with the provider.
func clientOf(t *testing.T, a *authd, opts ...authdtest.ClientOption) *authdtest.Client {
	return clientTo(t, func() string { return a.Addr }, opts...)
}

// clientTo returns a user agent whose authd.test is the address target
// returns at each new connection (it changes when authd restarts). Every
// exchange it has with authd must be one the OpenAPI document describes.
func clientTo(t *testing.T, target func() string, opts ...authdtest.ClientOption) *authdtest.Client {
	return authdtest.NewClient(t, "http://"+authdHost, append([]authdtest.ClientOption{
		authdtest.Resolve(authdHost, target), apidoctest.CheckClient(t, authdHost),
	}, opts...)...)
}
