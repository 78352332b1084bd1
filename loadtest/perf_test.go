package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func TestFindMax(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                  string
		start, ceiling, limit int // try succeeds up to limit
		want                  int
		tries                 []int
	}{
		{name: "doubles then bisects", start: 100, ceiling: 10000, limit: 1000, want: 1000,
			tries: []int{100, 200, 400, 800, 1600, 1200, 1000, 1100}},
		{name: "stops at the ceiling", start: 100, ceiling: 500, limit: 1e9, want: 400,
			tries: []int{100, 200, 400}},
		{name: "halves when the start fails", start: 64, ceiling: 1000, limit: 10, want: 10,
			tries: []int{64, 32, 16, 8, 12, 10, 11}},
		{name: "nothing sustained", start: 4, ceiling: 1000, limit: 0, want: 0,
			tries: []int{4, 2, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var tries []int
			got := findMax(tt.start, tt.ceiling, 3, func(rate int) bool {
				tries = append(tries, rate)
				return rate <= tt.limit
			})
			if got != tt.want {
				t.Errorf("findMax = %d, want %d (tries %v)", got, tt.want, tries)
			}
			if !slices.Equal(tries, tt.tries) {
				t.Errorf("tries %v, want %v", tries, tt.tries)
			}
		})
	}
}

func TestJudgeStep(t *testing.T) {
	t.Parallel()
	metrics := func(codes map[uint16]int, latency, spread time.Duration) *vegeta.Metrics {
		var m vegeta.Metrics
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		n := 0
		for _, c := range []uint16{200, 500, 0} {
			n += codes[c]
		}
		i := 0
		for _, c := range []uint16{200, 500, 0} {
			for range codes[c] {
				r := vegeta.Result{Code: c, Timestamp: t0.Add(spread * time.Duration(i) / time.Duration(n)), Latency: latency}
				if c != 200 {
					r.Error = "failed"
				}
				m.Add(&r)
				i++
			}
		}
		m.Close()
		return &m
	}
	tests := []struct {
		name string
		m    *vegeta.Metrics
		rate int
		why  string // empty: sustained
	}{
		{"sustained", metrics(map[uint16]int{200: 200}, 5*time.Millisecond, 2*time.Second), 100, ""},
		{"errors", metrics(map[uint16]int{200: 198, 500: 1, 0: 1}, 5*time.Millisecond, 2*time.Second), 100, "2 answers not 200"},
		{"slow", metrics(map[uint16]int{200: 200}, 60*time.Millisecond, 2*time.Second), 100, "p99 60ms"},
		{"client behind", metrics(map[uint16]int{200: 100}, 5*time.Millisecond, 2*time.Second), 100, "sent only 5"},
	}
	for _, tt := range tests {
		st := judgeStep(tt.rate, tt.m, 200)
		if st.OK != (tt.why == "") || !strings.Contains(st.Why, tt.why) {
			t.Errorf("%s: OK %v, why %q; want why %q", tt.name, st.OK, st.Why, tt.why)
		}
	}
}

func TestPerfTargets(t *testing.T) {
	t.Parallel()
	skipped := "no database could be created on postgres://127.0.0.1:5432/postgres (connection refused)"
	p := &perfReport{
		HashRate: 100, Saturation: saturation{InFlight: 4, Throughput: 95}, Pool: 2, RSSPeak: 90 << 20, RSSLimit: 2*argon2Memory + rssHeadroom,
		Sweeps: []sweepResult{
			{Target: "bare net/http handler", Best: 10000},
			{Target: "GET /auth/me/", Backend: backendSQLite, Best: 8500},
			{Target: "GET /auth/verify/", Backend: backendSQLite, Best: 7000},
			{Target: "POST /auth/refresh/", Backend: backendSQLite, Best: 5000},
			{Target: "POST /auth/login/", Backend: backendSQLite, Best: 95, Peak: 99},
		},
		readPath: readPath{Backends: []backendRun{{Name: backendSQLite}, {Name: backendPostgres, Skipped: skipped}, {Name: backendCluster, Skipped: skipped}}},
	}
	var got []string
	for _, r := range p.targets() {
		got = append(got, r.result())
		if r.Skip && !strings.Contains(r.Got, skipped) {
			t.Errorf("%s: not measured, and says %q, not why", r.What, r.Got)
		}
	}
	// SQLite's me, verify and refresh; PostgreSQL's three, the replicas'
	// GET /auth/me/ and their revocations, none measured; logins, memory.
	want := []string{"PASS", "FAIL", "PASS", "SKIP", "SKIP", "SKIP", "SKIP", "SKIP", "PASS", "PASS"}
	if !slices.Equal(got, want) {
		t.Errorf("results %v, want %v: %+v", got, want, p.targets())
	}
}
