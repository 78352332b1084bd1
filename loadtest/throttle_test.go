package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func TestPlan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode      mode
		scope     string
		perSecond string
		du        time.Duration
		hits      int
	}{
		{fullMode, epLogin, "1/s", 75 * time.Second, 76},
		{fullMode, epIntraURL, "2.5/s", 75 * time.Second, 189},
		{fullMode, epIntraCallback, "1/s", 75 * time.Second, 76},
		{quickMode, epLogin, "15/s", 1500 * time.Millisecond, 24},
		{quickMode, epIntraURL, "150/s", 1500 * time.Millisecond, 226},
		{quickMode, epIntraCallback, "50/s", 1500 * time.Millisecond, 76},
	}
	for _, tt := range tests {
		sc := scopeNamed(tt.scope)
		p := tt.mode.plan(sc)
		if got := perSecond(p.rate); got != tt.perSecond || p.du != tt.du || p.hits != tt.hits {
			t.Errorf("%s %s: %s for %s, %d hits; want %s for %s, %d hits", tt.mode.name, tt.scope, got, p.du, p.hits, tt.perSecond, tt.du, tt.hits)
		}
		if burst := time.Duration(sc.n) * p.rate.Per / time.Duration(p.rate.Freq); burst >= tt.mode.period/2 {
			t.Errorf("%s %s: the first %d requests take %s, want well within a period", tt.mode.name, tt.scope, sc.n, burst)
		}
		if p.spec.n != sc.n || p.spec.period != tt.mode.period {
			t.Errorf("%s %s: spec %+v", tt.mode.name, tt.scope, p.spec)
		}
	}
	if r := quickMode.rate(scopeNamed(epIntraCallback)); r != "20/second" {
		t.Errorf("quick rate = %q, want 20/second", r)
	}
}

func TestTargets(t *testing.T) {
	t.Parallel()
	p := &prep{authd: "http://127.0.0.1:1"}
	c := attackedClients()[0]
	c.logout = []session{{access: "t0"}, {access: "t1"}}
	c.grants = []grant{{state: "s0", code: "c0"}, {state: "s1", code: "c1"}}
	c.refresh, c.link, c.apiLogin, c.apiLink = session{refresh: "r"}, session{access: "l"}, "al", "ak"
	for _, sc := range scopes {
		ts := targets(p, sc, c, 2)
		if len(ts) != 2 {
			t.Fatalf("%s: %d targets, want 2", sc.name, len(ts))
		}
		for _, tg := range ts {
			if tg.Method != sc.method || !strings.HasPrefix(tg.URL, p.authd+sc.path) {
				t.Errorf("%s: target %s %s", sc.name, tg.Method, tg.URL)
			}
			if got := tg.Header.Get("X-Forwarded-For"); got != c.addr {
				t.Errorf("%s: X-Forwarded-For %q, want %q", sc.name, got, c.addr)
			}
			if sc.byUser && !strings.HasPrefix(tg.Header.Get("Authorization"), "Bearer ") {
				t.Errorf("%s: no Bearer token", sc.name)
			}
		}
	}
	if ts := targets(p, scopeNamed(epLogout), c, 2); ts[0].Header.Get("Authorization") == ts[1].Header.Get("Authorization") {
		t.Error("two logouts share a session")
	}
	cb := targets(p, scopeNamed(epIntraCallback), c, 2)
	if !strings.Contains(cb[1].URL, "code=c1") || !strings.Contains(cb[1].URL, "state=s1") || cb[1].Header.Get("Cookie") != "state_token=s1" {
		t.Errorf("callback target %s with Cookie %q", cb[1].URL, cb[1].Header.Get("Cookie"))
	}
	if reg := targets(p, scopeNamed(epRegister), c, 2); bytes.Equal(reg[0].Body, reg[1].Body) {
		t.Error("two registrations share a username")
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
