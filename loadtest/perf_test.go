package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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

func TestPerfTargetsOfMemory(t *testing.T) {
	t.Parallel()
	p := sampleReport().Sections[3].(*perfReport)
	// The read path's targets come first; the rest are the logins' and
	// the memory's.
	read := len(p.readTargetRows())
	var got []string
	for _, r := range p.targets()[read:] {
		got = append(got, fmt.Sprintf("%s: %s", r.result(), r.What))
	}
	want := []string{
		"PASS: POST /auth/login/ ≥ 0.9× raw argon2id hashes/s",
		"FAIL: POST /auth/login/ p99 ≤ 1.5× the median at a steady 18/s",
		"PASS: peak RSS under 200 concurrent logins ≤ pool 2 × 19.0 MiB + 64.0 MiB",
		"PASS: RSS 1m0s after the last of those logins ≤ 50.0 MiB",
		"PASS: GET /auth/me/ ≥ 0.95× an authd with Go's defaults (AUTHD_MEMORY_LIMIT=off)",
		"FAIL: GET /auth/me/ beside logins at 18/s ≥ 0.95× an authd with Go's defaults (AUTHD_MEMORY_LIMIT=off)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}
	p.RSSIdle = idleGoal + 1
	p.Steady.P99 = 105 * time.Millisecond
	p.Me.Rounds[5].Throughput = 2050
	got = nil
	for _, r := range p.targets()[read:] {
		got = append(got, r.result())
	}
	if diff := cmp.Diff([]string{"PASS", "PASS", "PASS", "FAIL", "PASS", "PASS"}, got); diff != "" {
		t.Errorf("targets after the changes (-want +got):\n%s", diff)
	}
}

func TestMeComparison(t *testing.T) {
	t.Parallel()
	c := &meComparison{Rounds: []meRound{
		{Measured: true, Throughput: 900}, {Measured: false, Throughput: 1000},
		{Measured: true, Throughput: 1100}, {Measured: false, Throughput: 3000},
		{Measured: true, Throughput: 950}, {Measured: false, Throughput: 800},
		{Measured: true, Logins: true, Throughput: 500}, {Measured: false, Logins: true, Throughput: 400},
		{Measured: true, Logins: true, Throughput: 700}, {Measured: false, Logins: true, Throughput: 600},
	}}
	for _, tt := range []struct {
		measured, logins bool
		want             float64
	}{{true, false, 950}, {false, false, 1000}, {true, true, 600}, {false, true, 500}} {
		if got := c.median(tt.measured, tt.logins); got != tt.want {
			t.Errorf("median(measured %v, logins %v) = %v, want %v", tt.measured, tt.logins, got, tt.want)
		}
	}
	if got := c.ratio(true); got != 1.2 {
		t.Errorf("ratio beside logins = %v, want 1.2", got)
	}
	if got := (&meComparison{}).ratio(false); got != 0 {
		t.Errorf("ratio without rounds = %v, want 0", got)
	}
}

func TestWithSettings(t *testing.T) {
	t.Parallel()
	got := withSettings([]string{"AUTHD_DB=a.db", "GOGC=100", "AUTHD_HASH_CONCURRENCY=2"}, "GOGC=50", "AUTHD_MEMORY_LIMIT=off", "GOMEMLIMIT=")
	want := []string{"AUTHD_DB=a.db", "AUTHD_HASH_CONCURRENCY=2", "GOGC=50", "AUTHD_MEMORY_LIMIT=off", "GOMEMLIMIT="}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("withSettings (-want +got):\n%s", diff)
	}
}

func TestLoggedField(t *testing.T) {
	t.Parallel()
	log := `# bin/authd serve
127.0.0.1:4000
{"level":"INFO","msg":"imported Django password hashes weighed","memory_limit":"not this one"}
{"level":"INFO","msg":"listening","addr":"127.0.0.1:4000","memory_limit":"70 MiB (auto: hashing pool 38 MiB + 32 MiB)"}
{"level":"INFO","msg":"listening","memory_limit":"nor this one"}
`
	if got, want := loggedField(log, "memory_limit"), "70 MiB (auto: hashing pool 38 MiB + 32 MiB)"; got != want {
		t.Errorf("loggedField = %q, want %q", got, want)
	}
	if got := loggedField(log, "gogc"); got != "" {
		t.Errorf("loggedField of a field not logged = %q, want empty", got)
	}
	if got := loggedField("127.0.0.1:4000\n", "memory_limit"); got != "" {
		t.Errorf("loggedField without a listening line = %q, want empty", got)
	}
}

func TestSteadyRate(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(ms ...int) []time.Time {
		var out []time.Time
		for _, m := range ms {
			out = append(out, t0.Add(time.Duration(m)*time.Millisecond))
		}
		return out
	}
	for _, tt := range []struct {
		times []time.Time
		until time.Time
		want  float64
	}{
		// Five answers up to until span a second: four intervals. Those
		// after until, as the last requests drain, do not count.
		{at(0, 50, 100, 950, 1000, 1030, 1070), t0.Add(time.Second), 4},
		{at(1000, 0, 500), t0.Add(time.Second), 2},
		{at(0), t0.Add(time.Second), 0},
		{nil, t0, 0},
	} {
		if got := steadyRate(tt.times, tt.until); got != tt.want {
			t.Errorf("steadyRate(%v, %v) = %v, want %v", tt.times, tt.until, got, tt.want)
		}
	}
}

func TestInTurns(t *testing.T) {
	t.Parallel()
	if diff := cmp.Diff([]string{"a", "b", "b", "a", "a", "b", "b"}, inTurns(7, "a", "b")); diff != "" {
		t.Errorf("inTurns (-want +got):\n%s", diff)
	}
}
