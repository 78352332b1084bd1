package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authd/internal/config"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// sampleReport is a full-mode report with one failure of each kind.
func sampleReport() *report {
	ok := windowCheck{Requests: 76, FirstPeriod: 60, FirstAnswered: 6, FirstMaybe: 6, Reaccepted: 6, ReaccExpected: 6,
		RetryChecked: 64, Statuses: map[int]int{200: 12, 429: 64}}
	bad := ok
	bad.FirstAnswered, bad.Statuses = 7, map[int]int{200: 13, 429: 63}
	bad.Problems = []string{"7 requests were answered in the first period, want exactly 6"}
	cookies := []cookieRow{
		{Rule: "login 200 sets refresh_token", Responses: 100},
		{Rule: "logout 200 clears refresh_token", Responses: 12, Exceptions: 1, Example: `POST logout answered 200 with Set-Cookie []`},
	}
	return &report{
		Mode: "full", Started: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC), Elapsed: 200 * time.Second,
		GoVersion: "go1.26.0", GOMAXPROCS: 2, CPU: "Test CPU", LoadStart: "0.52, 0.40, 0.31", LoadEnd: "1.90, 1.10, 0.62",
		Rates: []rateRow{{Scope: config.ScopeLogin, Rate: "6/minute", Default: true}, {Scope: config.ScopeLogout, Rate: "6/minute", Default: true}},
		Sections: []section{
			&scopeSection{
				Scopes: []throttleRow{
					{Scope: config.ScopeLogin, Client: "A", Rate: "6/minute", N: 6, Attack: "1/s for 1m15s", Check: ok},
					{Scope: config.ScopeLogout, Client: "A", Rate: "6/minute", N: 6, Attack: "1/s for 1m15s", Check: bad},
				},
				Keying: []keyingRow{{Scope: config.ScopeLogin, Rate: "6/minute", N: 6, A: ok, B: ok}, {Scope: config.ScopeLogout, Rate: "6/minute", N: 6, A: bad, B: ok}},
				Charts: []chart{throttleChartFile(config.ScopeLogin), throttleChartFile(config.ScopeLogout)},
			},
			&burstSection{Rounds: []burstRow{
				{Round: 1, Requests: 500, Passed: 6, Want: 6, SendSpread: 3 * time.Millisecond, AnswerSpread: 150 * time.Millisecond, Statuses: map[int]int{200: 6, 429: 494}},
			}},
			&cookieSection{rows: func() []cookieRow { return cookies }},
			&perfReport{
				HashRate: 61.5, HashWorkers: 2, Pool: 2, HashCPU: &cpuShare{CPUs: 2, Authd: 0.98, Harness: 0.95, Others: 0.05},
				Saturation: saturation{InFlight: 4, Throughput: 58.2, P50: 68 * time.Millisecond, P99: 90 * time.Millisecond, Codes: map[string]int{"200": 233}}, RSSBase: 30 << 20, RSSPeak: 70 << 20, RSSLimit: 2*argon2Memory + rssHeadroom,
				RSSStatuses: map[int]int{200: 200}, Chart: &throughputChartFile,
				MemoryLimit: "70 MiB (auto: 2 hashes × 19 MiB + 32 MiB)", RSSIdle: 24 << 20, MemoryChart: &memoryChartFile,
				Memory: &memoryRun{BurstStart: time.Second, BurstEnd: 8 * time.Second, IdleAt: 68 * time.Second},
				Steady: &steadyLogins{Rate: 18, For: 20 * time.Second, Requests: 360, P50: 70 * time.Millisecond, P99: 120 * time.Millisecond,
					Max: 130 * time.Millisecond, Codes: map[string]int{"200": 360}},
				SteadyCPU:          &cpuShare{CPUs: 2, Authd: 1.21, Harness: 0.12, Others: 0.4},
				BaselineLimit:      "off (no limit, the collector left alone)",
				BaselineSaturation: saturation{InFlight: 4, Throughput: 59.9, P50: 66 * time.Millisecond, P99: 88 * time.Millisecond, Codes: map[string]int{"200": 240}},
				BaselineSteady: &steadyLogins{Rate: 18, For: 20 * time.Second, Requests: 360, P50: 68 * time.Millisecond, P99: 110 * time.Millisecond,
					Max: 125 * time.Millisecond, Codes: map[string]int{"200": 360}},
				RawSteady: &steadyLogins{Rate: 18, For: 20 * time.Second, Requests: 360, P50: 60 * time.Millisecond, P99: 95 * time.Millisecond, Max: 101 * time.Millisecond},
				Me: &meComparison{MeasuredLimit: "70 MiB", BaselineLimit: "off", LoginRate: 18, Rounds: []meRound{
					{Measured: true, Throughput: 3000, CPU: 290 * time.Microsecond}, {Measured: false, Throughput: 3100, CPU: 300 * time.Microsecond},
					{Measured: true, Throughput: 3050, CPU: 310 * time.Microsecond}, {Measured: false, Throughput: 3000, CPU: 300 * time.Microsecond},
					{Measured: true, Logins: true, Throughput: 2000}, {Measured: false, Logins: true, Throughput: 2200},
				}},
				Sweeps: []sweepResult{
					{Target: "bare net/http handler", Backend: backendSQLite, Plot: "perf-bare.html", Best: 8000, BestP99: 3 * time.Millisecond, Peak: 9000, Steps: []stepRow{
						{Rate: 8000, Attempt: 1, Sent: 8000, Throughput: 8000, P50: time.Millisecond, P99: 3 * time.Millisecond, Max: 9 * time.Millisecond, Codes: map[string]int{"200": 16000}, OK: true},
						{Rate: 16000, Attempt: 1, Sent: 11000, Throughput: 9000, P50: 20 * time.Millisecond, P99: 80 * time.Millisecond, Max: 200 * time.Millisecond, Codes: map[string]int{"200": 22000}, Why: "p99 80ms; sent only 11000/s"},
					}},
					{Target: "GET /auth/me/", Backend: backendSQLite, Plot: "perf-me.html", Best: 4000, BestP99: 20 * time.Millisecond, Peak: 5000},
					{Target: "POST /auth/login/", Backend: backendSQLite, Plot: "perf-login.html", Best: 40, BestP99: 45 * time.Millisecond, Peak: 58},
					{Target: "bare net/http handler", Backend: backendPostgres, Plot: "perf-postgres-bare.html", Best: 7000, BestP99: 4 * time.Millisecond, Peak: 8000},
					{Target: "GET /auth/me/", Backend: backendPostgres, Plot: "perf-postgres-me.html", Best: 5000, BestP99: 30 * time.Millisecond, Peak: 5500},
					{Target: "bare net/http handler", Backend: backendCluster, Plot: "perf-cluster-bare.html", Best: 6000, BestP99: 5 * time.Millisecond, Peak: 6500},
					{Target: "GET /auth/me/", Backend: backendCluster, Plot: "perf-cluster-me.html", Best: 3000, BestP99: 40 * time.Millisecond, Peak: 6000},
				},
				readPath: readPath{
					Backends: []backendRun{
						{Name: backendSQLite, Setup: "one authd", Cache: `"following" after the sweeps`},
						{Name: backendPostgres, Setup: "one authd on database authd_load_0", Cache: `"following" before the sweeps, "following" after`},
						{Name: backendCluster, Setup: "3 authd on database authd_load_0", Cache: `"following" on all 3 before the sweeps, "following" on all 3 after`},
					},
					Revocation: &revocationRun{Logouts: 40, Answers: 80, P50: 3 * time.Millisecond, P99: 120 * time.Millisecond, Max: 150 * time.Millisecond,
						Load: loadRun{Rate: 3600, Throughput: 3590, P99: 35 * time.Millisecond, Codes: map[string]int{"200": 72000}}},
				},
			},
		},
		Timings: []timing{{Phase: "build", Took: 12 * time.Second}},
	}
}

func TestReportGolden(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	sampleReport().render(&b)
	golden := filepath.Join("testdata", "report.golden.md")
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./loadtest -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), b.String()); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
}

func TestReportFailed(t *testing.T) {
	t.Parallel()
	r := sampleReport()
	scopes := r.Sections[0].(*scopeSection)
	bursts := r.Sections[1].(*burstSection)
	cookies := r.Sections[2].(*cookieSection).rows()
	perf := r.Sections[3].(*perfReport)
	if !r.failed() {
		t.Error("a report with failures passes")
	}
	scopes.Scopes[1].Check = scopes.Scopes[0].Check
	scopes.Keying[1].A = scopes.Keying[0].A
	cookies[1].Exceptions = 0
	if r.failed() {
		t.Error("a report without failures fails")
	}
	bursts.Rounds[0].Problems = []string{"7 requests passed the throttle, want exactly 6"}
	if !r.failed() {
		t.Error("a failed burst passes")
	}
	if (&report{}).failed() != true {
		t.Error("a report of scenarios that did not run passes")
	}
	bursts.Rounds[0].Problems = nil
	perf.Sweeps[1].Best = 1 // a missed throughput target is not a failure
	if r.failed() {
		t.Error("a missed throughput target fails the run")
	}
	for _, s := range []section{&scopeSection{}, &scopeSection{Scopes: scopes.Scopes}, &burstSection{},
		&cookieSection{rows: func() []cookieRow { return nil }}, notRun{"scenario 9"}} {
		if !(&report{Sections: []section{s}}).failed() {
			t.Errorf("a report with %#v passes: it made no assertion", s)
		}
	}
}
