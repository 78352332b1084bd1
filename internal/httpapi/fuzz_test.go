package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"authd/internal/config"
	"authd/internal/throttle"
)

// The fuzz targets send what a client may send to the handlers, through
// the whole middleware, and check the contract's promise: a JSON answer,
// never a 5xx but the 502 of a failing provider, never a panic. Their
// seed corpora are in testdata/fuzz/<target>/ and run with every go test.

// newFuzzEnv is a server configured for Log in with 42 against a fake
// provider, with rates no input reaches and no username lockout, so that
// every input gets to the handlers, and with alice as a user.
func newFuzzEnv(f *testing.F) *intraEnv {
	e := newIntraEnv(f, func(c *config.Config) {
		for _, s := range config.Scopes {
			c.Rates[s] = throttle.Rate{N: 1 << 30, Period: time.Second}
		}
		c.Lockout.N = 0
	})
	e.mustUser(f, "alice", "alice-password")
	return e
}

// checkAnswer fails t unless r is one of the contract's answers: a 2xx,
// or a 4xx with its JSON error; with provider set, a 502 provider_error
// too.
func checkAnswer(t *testing.T, what string, r response, provider bool) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" && r.status != http.StatusNoContent {
		t.Fatalf("%s: %d with Content-Type %q, want JSON", what, r.status, ct)
	}
	switch {
	case r.status >= 200 && r.status < 300:
		return
	case r.status == http.StatusBadGateway && provider && r.code() == codeProviderError:
		return
	case r.status < 400 || r.status >= 500:
		t.Fatalf("%s: status %d %s", what, r.status, r.raw)
	}
	if want, ok := statusOf[r.code()]; !ok || want != r.status {
		t.Fatalf("%s: %d with error %q, which the contract answers with %d", what, r.status, r.code(), want)
	}
	if d, _ := r.body["detail"].(string); d == "" {
		t.Fatalf("%s: error %q without a detail", what, r.code())
	}
}

// FuzzLoginRequest sends any body, with any content type, to the login.
func FuzzLoginRequest(f *testing.F) {
	e := newFuzzEnv(f)
	f.Add("application/json", `{"username":"alice","password":"alice-password"}`)
	f.Add("application/json; charset=utf-8", `{"username":"alice","password":"wrong-password"}`)
	f.Fuzz(func(t *testing.T, contentType, body string) {
		r := e.do(t, request{method: "POST", path: "/auth/login/", body: body, header: map[string]string{"Content-Type": contentType}})
		checkAnswer(t, "login", r, false)
		if r.status/100 == 2 && r.status != http.StatusOK {
			t.Fatalf("login answered %d", r.status)
		}
	})
}

// FuzzRegisterRequest sends any body, with any content type, to the
// registration.
func FuzzRegisterRequest(f *testing.F) {
	e := newFuzzEnv(f)
	f.Add("application/json", `{"username":"bob","password":"bob-password","email":"bob@example.com"}`)
	f.Add("application/json", `{"username":"alice","password":"alice-password"}`)
	f.Fuzz(func(t *testing.T, contentType, body string) {
		r := e.do(t, request{method: "POST", path: "/auth/register/", body: body, header: map[string]string{"Content-Type": contentType}})
		checkAnswer(t, "register", r, false)
		if r.status/100 == 2 && r.status != http.StatusCreated {
			t.Fatalf("register answered %d", r.status)
		}
	})
}

// credentialed are the endpoints that read a Bearer token or a cookie.
var credentialed = []struct{ method, path string }{
	{"POST", "/auth/refresh/"},
	{"POST", "/auth/logout/"},
	{"GET", "/auth/me/"},
	{"POST", "/oauth2/intra/login/"},
	{"POST", "/oauth2/intra/link/"},
	{"GET", "/oauth2/intra/callback/"},
}

// FuzzCredentials sends any Authorization and Cookie header, and any
// query, to every endpoint that reads a token or a cookie. The seeds
// include a live session's tokens and a valid api_token and state, so
// that the fuzzer mutates real ones too.
func FuzzCredentials(f *testing.F) {
	e := newFuzzEnv(f)
	access, refresh := e.mustLogin(f, "alice", "alice-password")
	api := e.mustIdentity(f, "jdoe")
	state, _ := e.start(f)
	f.Add("Bearer "+access, "refresh_token="+refresh.Value+"; api_token="+api.Value, "code=x&state="+state.Value)
	f.Add("bearer  "+access+" ", "api_token="+access+"; refresh_token="+api.Value+"; state_token="+state.Value, "state="+state.Value)
	f.Add("Bearer "+refresh.Value, "refresh_token="+access+"; refresh_token="+refresh.Value, "error=access_denied&state=s")
	f.Fuzz(func(t *testing.T, authorization, cookie, query string) {
		for _, ep := range credentialed {
			path := ep.path
			if ep.method == "GET" && query != "" {
				path += "?" + query
			}
			// A target that does not parse is answered 400 by net/http
			// before any handler runs.
			if !validTarget(path) {
				continue
			}
			rq := request{method: ep.method, path: path, header: map[string]string{"Authorization": authorization, "Cookie": cookie}}
			checkAnswer(t, ep.method+" "+ep.path, e.do(t, rq), ep.path == "/oauth2/intra/callback/")
		}
	})
}

// FuzzForwardedFor sends any peer address and X-Forwarded-For header to
// an endpoint counted by client IP, behind trusted proxies.
func FuzzForwardedFor(f *testing.F) {
	e := newIntraEnv(f, func(c *config.Config) {
		for _, s := range config.Scopes {
			c.Rates[s] = throttle.Rate{N: 1 << 30, Period: time.Second}
		}
		p, err := throttle.ParseProxies("10.0.0.0/8, 2001:db8::/32, 127.0.0.1")
		if err != nil {
			f.Fatal(err)
		}
		c.TrustedProxies = p
	})
	f.Add("10.0.0.1:443", "198.51.100.7, 10.1.2.3")
	f.Add("[2001:db8::1]:443", "[2001:db8:1::5]:80, 2001:db8::9")
	f.Add("@", "x")
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := e.do(t, request{method: "POST", path: "/auth/refresh/", remote: remote, header: map[string]string{"X-Forwarded-For": xff}})
		checkAnswer(t, "refresh", r, false)
	})
}

// validTarget reports whether httptest.NewRequest accepts target, which
// it parses as a server reads a request line.
func validTarget(target string) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	httptest.NewRequest("GET", target, nil)
	return true
}
