package main

import (
	"bytes"
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"authd/internal/account"
	"authd/internal/config"
	"authd/internal/throttle"
	"authd/internal/totp"
)

func TestPlan(t *testing.T) {
	t.Parallel()
	perMinute := func(n int) endpoint { return endpoint{rate: throttle.Rate{N: n, Period: time.Minute}} }
	tests := []struct {
		mode      mode
		ep        endpoint
		perSecond string
		du        time.Duration
		hits      int
	}{
		{fullMode, perMinute(6), "1/s", 75 * time.Second, 76},
		{fullMode, perMinute(60), "2.5/s", 75 * time.Second, 189},
		{fullMode, perMinute(20), "1/s", 75 * time.Second, 76},
		{quickMode, perMinute(6), "15/s", 1500 * time.Millisecond, 24},
		{quickMode, perMinute(60), "150/s", 1500 * time.Millisecond, 226},
		{quickMode, perMinute(20), "50/s", 1500 * time.Millisecond, 76},
	}
	for _, tt := range tests {
		n := tt.ep.rate.N
		p := tt.mode.plan(tt.ep)
		if got := perSecond(p.rate); got != tt.perSecond || p.du != tt.du || p.hits != tt.hits {
			t.Errorf("%s %d/minute: %s for %s, %d hits; want %s for %s, %d hits", tt.mode.name, n, got, p.du, p.hits, tt.perSecond, tt.du, tt.hits)
		}
		if burst := time.Duration(n) * p.rate.Per / time.Duration(p.rate.Freq); burst >= tt.mode.period/2 {
			t.Errorf("%s %d/minute: the first %d requests take %s, want well within a period", tt.mode.name, n, n, burst)
		}
		if p.spec.n != n || p.spec.period != tt.mode.period {
			t.Errorf("%s %d/minute: spec %+v", tt.mode.name, n, p.spec)
		}
	}
	if r := quickMode.rate(perMinute(20)); r != "20/second" {
		t.Errorf("quick rate = %q, want 20/second", r)
	}
	if r := fullMode.rate(perMinute(20)); r != "20/minute" {
		t.Errorf("full rate = %q, want 20/minute", r)
	}
	// Every endpoint is attacked above its rate, within the period, in
	// both modes.
	for _, m := range []mode{fullMode, quickMode} {
		for _, ep := range endpoints {
			p := m.plan(ep)
			if burst := time.Duration(ep.rate.N) * p.rate.Per / time.Duration(p.rate.Freq); burst >= m.period/2 {
				t.Errorf("%s %s: the first %d requests take %s, want well within a period", m.name, ep.scope, ep.rate.N, burst)
			}
		}
	}
}

func TestEndpoints(t *testing.T) {
	t.Parallel()
	for _, m := range []mode{fullMode, quickMode} {
		if err := checkEndpoints(endpoints, m); err != nil {
			t.Errorf("%s mode: %v", m.name, err)
		}
	}
	// The rates are authd's own defaults.
	defaults, err := config.Load(nil, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	r := routesOf(endpoints)
	for _, ep := range endpoints {
		if want := defaults.Rates[ep.scope]; ep.rate != want {
			t.Errorf("%s: rate %v, want authd's default %v", ep.scope, ep.rate, want)
		}
		if got := r.endpointOf(ep.method, "http://127.0.0.1:8000"+ep.path+"?x=1"); got != ep.scope {
			t.Errorf("endpointOf(%s %s) = %q, want %q", ep.method, ep.path, got, ep.scope)
		}
	}

	broken := func(edit func([]endpoint) []endpoint) []endpoint { return edit(slices.Clone(endpoints)) }
	tests := []struct {
		name string
		eps  []endpoint
		mode mode
		want string
	}{
		{"a scope left out", broken(func(eps []endpoint) []endpoint { return eps[1:] }), quickMode,
			"throttle scope " + endpoints[0].scope + " has no endpoint"},
		{"a scope twice", broken(func(eps []endpoint) []endpoint { return append(eps, eps[0]) }), quickMode,
			"attacked twice"},
		{"an unknown scope", broken(func(eps []endpoint) []endpoint { eps[0].scope = "nope"; return eps }), quickMode,
			`"nope" is not a throttle scope`},
		{"no rate", broken(func(eps []endpoint) []endpoint { eps[0].rate = throttle.Rate{}; return eps }), quickMode,
			"no rate"},
		{"a default per hour", broken(func(eps []endpoint) []endpoint { eps[0].rate.Period = time.Hour; return eps }), fullMode,
			"full mode attacks over 1m0s"},
	}
	for _, tt := range tests {
		err := checkEndpoints(tt.eps, tt.mode)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one with %q", tt.name, err, tt.want)
		}
	}
	// Quick mode sets every rate per second, whatever the default's period.
	hourly := broken(func(eps []endpoint) []endpoint { eps[0].rate.Period = time.Hour; return eps })
	if err := checkEndpoints(hourly, quickMode); err != nil {
		t.Errorf("quick mode, a default per hour: %v", err)
	}
}

func TestTargets(t *testing.T) {
	t.Parallel()
	const base = "http://127.0.0.1:1"
	c := attackedClients()[0]
	a := ammo{
		sessions: []session{{access: fakeAccess("s0"), refresh: "r0"}, {access: fakeAccess("s1"), refresh: "r1"}},
		grants:   []grant{{state: "s0", code: "c0"}, {state: "s1", code: "c1"}},
		apiToken: "ak",
	}
	for _, ep := range endpoints {
		ts := ep.targets(base, c, a, 2)
		if len(ts) != 2 {
			t.Fatalf("%s: %d targets, want 2", ep.scope, len(ts))
		}
		for _, tg := range ts {
			ok := tg.Method == ep.method && strings.HasPrefix(tg.URL, base+ep.path)
			for _, route := range ep.also {
				method, path, _ := strings.Cut(route, " ")
				ok = ok || tg.Method == method && strings.HasPrefix(tg.URL, base+path)
			}
			if !ok {
				t.Errorf("%s: target %s %s", ep.scope, tg.Method, tg.URL)
			}
			if got := tg.Header.Get("X-Forwarded-For"); got != c.addr {
				t.Errorf("%s: X-Forwarded-For %q, want %q", ep.scope, got, c.addr)
			}
			if ep.byUser && !strings.HasPrefix(tg.Header.Get("Authorization"), "Bearer ") {
				t.Errorf("%s: no Bearer token", ep.scope)
			}
		}
	}
	target := func(scope string, i int) vegeta.Target { return endpointNamed(scope).targets(base, c, a, 2)[i] }
	if target(config.ScopeLogout, 0).Header.Get("Authorization") == target(config.ScopeLogout, 1).Header.Get("Authorization") {
		t.Error("two logouts share a session")
	}
	if end := target(config.ScopeLogout, 1); end.Method != "DELETE" || end.URL != base+"/auth/sessions/s1/" {
		t.Errorf("the second logout = %s %s, want DELETE of its own session, s1", end.Method, end.URL)
	}
	if cb := target(config.ScopeIntraCallback, 1); !strings.Contains(cb.URL, "code=c1") || !strings.Contains(cb.URL, "state=s1") || cb.Header.Get("Cookie") != "state_token=s1" {
		t.Errorf("callback target %s with Cookie %q", cb.URL, cb.Header.Get("Cookie"))
	}
	if bytes.Equal(target(config.ScopeRegister, 0).Body, target(config.ScopeRegister, 1).Body) {
		t.Error("two registrations share a username")
	}
	if got := target(config.ScopeLogin, 1); got.Header.Get("Content-Type") != "application/json" || !bytes.Contains(got.Body, []byte(c.user)) {
		t.Errorf("login target with Content-Type %q and body %s", got.Header.Get("Content-Type"), got.Body)
	}
	if got := target(config.ScopeRefresh, 1).Header.Get("Cookie"); got != "refresh_token=r0" {
		t.Errorf("refresh target with Cookie %q, want refresh_token=r0", got)
	}
	if got := target(config.ScopeIntraLink, 1); got.Header.Get("Cookie") != "api_token=ak" || got.Header.Get("Authorization") != "Bearer "+fakeAccess("s0") {
		t.Errorf("link target with Cookie %q and Authorization %q", got.Header.Get("Cookie"), got.Header.Get("Authorization"))
	}
	if got := target(config.ScopePassword, 1); got.Header.Get("Authorization") != "Bearer "+fakeAccess("s0") || bytes.Contains(got.Body, []byte("new_password")) {
		t.Errorf("password target with Authorization %q and body %s; want the session's Bearer and no new_password", got.Header.Get("Authorization"), got.Body)
	}
	// The totp scope's attack goes to its four endpoints in turn, with a
	// code that cannot match and so counts toward no lockout.
	var totpPaths []string
	for _, tg := range endpointNamed(config.ScopeTOTP).targets(base, c, a, 4) {
		totpPaths = append(totpPaths, tg.Method+" "+strings.TrimPrefix(tg.URL, base))
		if bytes.Contains(tg.Body, []byte(`"code"`)) && !bytes.Contains(tg.Body, []byte(`"`+notACode+`"`)) {
			t.Errorf("totp target %s with body %s, want the code %q", tg.URL, tg.Body, notACode)
		}
	}
	slices.Sort(totpPaths)
	wantPaths := []string{"POST /auth/2fa/recovery-codes/", "POST /auth/2fa/totp/confirm/", "POST /auth/2fa/totp/disable/", "POST /auth/2fa/totp/setup/"}
	if !slices.Equal(totpPaths, wantPaths) {
		t.Errorf("four totp targets go to %q, want %q", totpPaths, wantPaths)
	}
	if totp.WellFormed(notACode) || len(notACode) == account.RecoveryCodeLen {
		t.Errorf("the totp attacks' code %q has the shape of a code", notACode)
	}
}

func TestCheckBurst(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	results := func(passed, refused, failed int, spread time.Duration) []vegeta.Result {
		var rs []vegeta.Result
		n := passed + refused + failed
		for i := range n {
			code := uint16(200)
			switch {
			case i >= passed+refused:
				code = 0
			case i >= passed:
				code = 429
			}
			rs = append(rs, vegeta.Result{Code: code, Timestamp: t0.Add(spread * time.Duration(i) / time.Duration(n)), Latency: time.Millisecond})
		}
		return rs
	}
	tests := []struct {
		name string
		rs   []vegeta.Result
		want string // empty: no problem
	}{
		{"exactly n", results(6, 494, 0, 3*time.Millisecond), ""},
		{"one more", results(7, 493, 0, 3*time.Millisecond), "7 requests passed the throttle, want exactly 6"},
		{"no answer", results(6, 493, 1, 3*time.Millisecond), "1 requests got no answer"},
		{"too slow to tell", results(6, 494, 0, 2*time.Second), "inconclusive"},
	}
	for _, tt := range tests {
		b := checkBurst(tt.rs, 6, time.Second)
		if tt.want == "" {
			if !b.OK() {
				t.Errorf("%s: problems %v", tt.name, b.Problems)
			}
			continue
		}
		if b.OK() || !strings.Contains(strings.Join(b.Problems, "\n"), tt.want) {
			t.Errorf("%s: problems %v, want one with %q", tt.name, b.Problems, tt.want)
		}
	}
}

// fakeAccess is an access token as far as the load test reads one: its
// sid claim.
func fakeAccess(sid string) string {
	return "h." + base64.RawURLEncoding.EncodeToString([]byte(`{"sid":"`+sid+`"}`)) + ".sig"
}
