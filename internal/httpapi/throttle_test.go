package httpapi

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authd/internal/config"
	"authd/internal/throttle"
)

type throttleResult struct {
	Status     int
	RetryAfter string
	Detail     string
}

func throttleOf(r response) throttleResult {
	d, _ := r.body["detail"].(string)
	if r.status != 429 {
		d = ""
	}
	return throttleResult{r.status, r.header.Get("Retry-After"), d}
}

func refused(secs int) throttleResult {
	return throttleResult{429, fmt.Sprint(secs), fmt.Sprintf("Request was throttled. Expected available in %d seconds.", secs)}
}

// badLogin is a login the throttle must count although it fails to parse.
var badLogin = request{method: "POST", path: "/auth/login/", body: "not json"}

func TestThrottleIsExact(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil) // login: 6/minute
	for i := 0; i < 6; i++ {
		if r := e.do(t, badLogin); r.status != 400 {
			t.Fatalf("request %d = %d, want 400 (counted, not throttled)", i+1, r.status)
		}
		e.clock.Advance(time.Second)
	}
	// The oldest counted request was 6 s ago: it leaves the window in 54 s.
	r := e.do(t, badLogin)
	if diff := cmp.Diff(refused(54), throttleOf(r)); diff != "" {
		t.Fatalf("7th request (-want +got):\n%s", diff)
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("429 Cache-Control = %q", got)
	}
	// Refused requests are not counted: hammering changes nothing.
	for i := 0; i < 20; i++ {
		e.do(t, badLogin)
	}
	e.clock.Advance(53*time.Second + 500*time.Millisecond)
	if diff := cmp.Diff(refused(1), throttleOf(e.do(t, badLogin))); diff != "" {
		t.Errorf("half a second before the window slides (-want +got):\n%s", diff)
	}
	e.clock.Advance(500 * time.Millisecond)
	if r := e.do(t, badLogin); r.status != 400 {
		t.Errorf("once the oldest request left the window: %d, want 400", r.status)
	}
	// Exactly one slot freed: the next one is refused until the second oldest leaves.
	if diff := cmp.Diff(refused(1), throttleOf(e.do(t, badLogin))); diff != "" {
		t.Errorf("after using the freed slot (-want +got):\n%s", diff)
	}
}

func TestThrottleScopesAreIndependent(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, func(c *config.Config) {
		c.Rates[config.ScopeLogin] = throttle.Rate{N: 2, Period: time.Minute}
		c.Rates[config.ScopeRefresh] = throttle.Rate{N: 2, Period: time.Minute}
		c.Rates[config.ScopeRegister] = throttle.Rate{N: 2, Period: time.Minute}
	})
	for i := 0; i < 3; i++ {
		e.do(t, badLogin)
	}
	if r := e.do(t, badLogin); r.status != 429 {
		t.Fatalf("login after 3 = %d, want 429", r.status)
	}
	if r := e.do(t, request{method: "POST", path: "/auth/refresh/"}); r.status != 400 {
		t.Errorf("refresh with login exhausted = %d, want 400", r.status)
	}
	if r := e.do(t, request{method: "POST", path: "/auth/register/", body: "x"}); r.status != 400 {
		t.Errorf("register with login exhausted = %d, want 400", r.status)
	}
}

func TestThrottleKeying(t *testing.T) {
	t.Parallel()
	one := func(c *config.Config) { c.Rates[config.ScopeLogin] = throttle.Rate{N: 1, Period: time.Minute} }
	from := func(remote, xff string) request {
		r := badLogin
		r.remote = remote
		if xff != "" {
			r.header = map[string]string{"X-Forwarded-For": xff}
		}
		return r
	}
	for _, tc := range []struct {
		name          string
		trusted       string
		first, second request
		wantSecond    int
	}{
		{"same IP", "", from("192.0.2.1:1", ""), from("192.0.2.1:2", ""), 429},
		{"two IPs", "", from("192.0.2.1:1", ""), from("192.0.2.2:1", ""), 400},
		{"XFF ignored without trusted proxies", "", from("10.0.0.1:1", "203.0.113.1"), from("10.0.0.1:1", "203.0.113.2"), 429},
		{"XFF from a trusted proxy", "10.0.0.0/8", from("10.0.0.1:1", "203.0.113.1"), from("10.0.0.1:1", "203.0.113.2"), 400},
		{"XFF from an untrusted peer", "10.0.0.0/8", from("192.0.2.9:1", "203.0.113.1"), from("192.0.2.9:1", "203.0.113.2"), 429},
		{"spoofed left XFF entry", "10.0.0.0/8", from("10.0.0.1:1", "1.1.1.1, 203.0.113.1"), from("10.0.0.1:1", "2.2.2.2, 203.0.113.1"), 429},
		{"same IPv6 /64", "", from("[2001:db8:1:2::1]:1", ""), from("[2001:db8:1:2::ffff]:1", ""), 429},
		{"two IPv6 /64s", "", from("[2001:db8:1:2::1]:1", ""), from("[2001:db8:1:3::1]:1", ""), 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, func(c *config.Config) {
				one(c)
				p, err := throttle.ParseProxies(tc.trusted)
				if err != nil {
					t.Fatal(err)
				}
				c.TrustedProxies = p
			})
			if r := e.do(t, tc.first); r.status != 400 {
				t.Fatalf("first = %d, want 400", r.status)
			}
			if r := e.do(t, tc.second); r.status != tc.wantSecond {
				t.Errorf("second = %d, want %d", r.status, tc.wantSecond)
			}
		})
	}
}

func TestBearerEndpointsCountTheUserAfterAuthentication(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, func(c *config.Config) {
		generous(c)
		c.Rates[config.ScopeLogout] = throttle.Rate{N: 1, Period: time.Minute}
	})
	e.mustUser(t, "alice", "alice-password")
	e.mustUser(t, "bob", "bob-password")
	// 401s are not counted.
	for i := 0; i < 3; i++ {
		if r := e.do(t, request{method: "POST", path: "/auth/logout/", bearer: "nope"}); r.status != 401 {
			t.Fatalf("unauthenticated logout = %d, want 401", r.status)
		}
	}
	a1, _ := e.mustLogin(t, "alice", "alice-password")
	a2, _ := e.mustLogin(t, "alice", "alice-password")
	b1, _ := e.mustLogin(t, "bob", "bob-password")
	// Same IP for all three: only the user counts.
	if r := e.do(t, request{method: "POST", path: "/auth/logout/", bearer: a1}); r.status != 200 {
		t.Fatalf("alice's first logout = %d", r.status)
	}
	if r := e.do(t, request{method: "POST", path: "/auth/logout/", bearer: b1}); r.status != 200 {
		t.Errorf("bob's logout after alice's = %d, want 200", r.status)
	}
	if r := e.do(t, request{method: "POST", path: "/auth/logout/", bearer: a2, remote: "203.0.113.50:9"}); r.status != 429 {
		t.Errorf("alice's second logout from another IP = %d, want 429", r.status)
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, func(c *config.Config) {
		generous(c)
		c.CORSOrigins = []string{"https://app.example.com"}
	})
	get := func(origin string) response {
		return e.do(t, request{method: "GET", path: "/healthz", header: map[string]string{"Origin": origin}})
	}
	r := get("https://app.example.com")
	if diff := cmp.Diff([]string{"https://app.example.com", "true"},
		[]string{r.header.Get("Access-Control-Allow-Origin"), r.header.Get("Access-Control-Allow-Credentials")}); diff != "" {
		t.Errorf("allowed origin headers (-want +got):\n%s", diff)
	}
	r = get("https://evil.example.net")
	if got := r.header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("unlisted origin got Access-Control-Allow-Origin %q", got)
	}
	pre := e.do(t, request{method: "OPTIONS", path: "/auth/login/", header: map[string]string{
		"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}})
	if pre.status != 204 || pre.header.Get("Access-Control-Allow-Methods") == "" || pre.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Errorf("preflight = %d %v", pre.status, pre.header)
	}
	pre = e.do(t, request{method: "OPTIONS", path: "/auth/login/", header: map[string]string{
		"Origin": "https://evil.example.net", "Access-Control-Request-Method": "POST"}})
	if pre.status != 403 || pre.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from an unlisted origin = %d %v", pre.status, pre.header)
	}
}

func TestCookieEndpointsRefuseCrossSiteRequests(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, func(c *config.Config) {
		generous(c)
		c.CORSOrigins = []string{"https://app.example.com"}
	})
	e.mustUser(t, "alice", "alice-password")
	_, refresh := e.mustLogin(t, "alice", "alice-password")
	for _, tc := range []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"cross-site from an unlisted origin", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example.net"}, 403},
		{"origin differs from host, no fetch metadata", map[string]string{"Origin": "https://evil.example.net"}, 403},
		{"cross-site from a listed origin", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://app.example.com"}, 200},
		{"same-origin", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://example.com"}, 200},
		{"no browser headers", nil, 200},
	} {
		r := e.do(t, request{method: "POST", path: "/auth/refresh/", cookies: []*http.Cookie{refresh}, header: tc.header})
		if r.status != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, r.status, r.raw, tc.want)
		}
		if tc.want == 403 && r.code() != codeForbiddenOrigin {
			t.Errorf("%s: error %q, want forbidden_origin", tc.name, r.code())
		}
	}
}
