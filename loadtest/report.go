package main

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"github.com/tsenart/vegeta/v12/lib/plot"

	"authd/internal/password"
)

// report is everything a run found; render writes it as markdown.
type report struct {
	Mode       string
	Started    time.Time
	Elapsed    time.Duration
	GoVersion  string
	GOMAXPROCS int
	CPU        string
	// LoadStart and LoadEnd are the machine's load averages when the run
	// started and ended.
	LoadStart, LoadEnd string

	Rates    []rateRow
	Sections []section // one for each scenario, in the run's order
	Timings  []timing
}

// section is a scenario's part of the report.
type section interface {
	// render writes it as markdown.
	render(w io.Writer)
	// failed reports whether one of its correctness assertions failed,
	// or it has none to show.
	failed() bool
	// plots names the latency plots it wrote beside the report.
	plots() []string
}

type rateRow struct {
	Scope   string
	Rate    string
	Default bool // authd's own default, not set by the harness
}

type throttleRow struct {
	Scope  string
	Client string
	Rate   string
	N      int // the rate's requests a period
	Attack string
	Check  windowCheck
}

type keyingRow struct {
	Scope string
	Rate  string
	N     int
	A, B  windowCheck
}

type timing struct {
	Phase string
	Took  time.Duration
}

// failed reports whether a correctness assertion failed, or a scenario
// that makes them did not run.
func (r *report) failed() bool {
	if len(r.Sections) == 0 {
		return true
	}
	for _, s := range r.Sections {
		if s.failed() {
			return true
		}
	}
	return false
}

func writeReport(path string, r *report) error {
	var b bytes.Buffer
	r.render(&b)
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// render writes the report as markdown.
func (r *report) render(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	result := "PASS"
	if r.failed() {
		result = "FAIL"
	}
	p("# authd load test: %s mode, %s", r.Mode, result)
	p("")
	p("Started %s, took %s. %s, %s, GOMAXPROCS %d.", r.Started.Format(time.RFC3339), r.Elapsed.Round(time.Second), r.GoVersion, r.CPU, r.GOMAXPROCS)
	p("")
	if r.LoadStart != "" {
		p("Load average of the machine (1, 5 and 15 minutes), which other programs share: %s at the start, %s at the end.", r.LoadStart, r.LoadEnd)
		p("")
	}
	if len(r.Rates) > 0 {
		var rates []string
		for _, rr := range r.Rates {
			rates = append(rates, fmt.Sprintf("%s %s", rr.Scope, rr.Rate))
		}
		how := "set through AUTHD_THROTTLE_*"
		if r.Rates[0].Default {
			how = "authd's defaults, nothing set"
		}
		p("Rates (%s): %s.", how, strings.Join(rates, ", "))
		p("")
	}

	var plots []string
	for _, s := range r.Sections {
		s.render(w)
		plots = append(plots, s.plots()...)
	}

	p("## Timings")
	p("")
	p("| phase | took |")
	p("|---|---:|")
	for _, t := range r.Timings {
		p("| %s | %s |", t.Phase, t.Took.Round(100*time.Millisecond))
	}
	p("| whole run | %s |", r.Elapsed.Round(100*time.Millisecond))
	if len(plots) > 0 {
		p("")
		p("Latency plots (vegeta's HTML), beside this report: %s.", strings.Join(plots, ", "))
	}
}

// scopeSection is scenarios 1 and 2: client A's attack on every scope,
// and client B's at the same time.
type scopeSection struct {
	Scopes []throttleRow // client A's
	Keying []keyingRow   // clients A and B
	Charts []chart       // a scope's attacks each, beside the report
}

func (s *scopeSection) failed() bool {
	if len(s.Scopes) == 0 || len(s.Keying) == 0 {
		return true
	}
	for _, r := range s.Scopes {
		if !r.Check.OK() {
			return true
		}
	}
	for _, k := range s.Keying {
		if !k.A.OK() || !k.B.OK() {
			return true
		}
	}
	return false
}

func (s *scopeSection) plots() []string {
	return []string{"`throttle-<scope>.html` (answered and refused requests of clients A and B)"}
}

func (s *scopeSection) render(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("## Scenario 1: every scope from one client, all scopes at once")
	p("")
	p("Client A (one X-Forwarded-For address through the trusted proxy; one user on the Bearer endpoints) attacks every endpoint above its rate for a little over one period, all at once. Exactly N must be answered by the endpoint itself (whatever the status) in the first period and the rest refused with 429; once the first N leave the window, each must be replaced by one answer, no sooner and no later than the next request sent; every 429's Retry-After must say when the next request was accepted, to the second it is rounded up to. The server decides on a request between its sending and its answer, and every bound is taken on the side that holds whatever the delay in between.")
	p("")
	p("| scope | rate | attack | requests | answered in the 1st period | 429 in the 1st period | answered after the first N (at least) | 429s whose Retry-After was checked | statuses | result |")
	p("|---|---|---|---:|---:|---:|---:|---:|---|---|")
	for _, r := range s.Scopes {
		c := r.Check
		p("| %s | %s | %s | %d | %s | %d | %d (%d) | %d | %s | %s |", r.Scope, r.Rate, r.Attack, c.Requests,
			firstAnswered(c, r.N), c.FirstPeriod-c.FirstAnswered, c.Reaccepted, c.ReaccExpected, c.RetryChecked,
			statuses(c.Statuses), verdict(c.OK()))
	}
	p("")
	problems(w, "Scenario 1", s.Scopes)

	p("## Scenario 2: two clients attacked at once each get their own N")
	p("")
	p("Client B (another address; another user on the Bearer endpoints) attacks every scope at the same time as A, with the same checks.")
	p("")
	p("| scope | rate | A answered in 1st period | B answered in 1st period | want each | result |")
	p("|---|---|---:|---:|---:|---|")
	var bRows []throttleRow
	for _, k := range s.Keying {
		p("| %s | %s | %d | %d | %d | %s |", k.Scope, k.Rate, k.A.FirstAnswered, k.B.FirstAnswered, k.N, verdict(k.A.OK() && k.B.OK()))
		bRows = append(bRows, throttleRow{Scope: k.Scope, Client: "B", Check: k.B})
	}
	p("")
	problems(w, "Scenario 2", bRows)
	if len(s.Charts) > 0 {
		p("Each scope's attacks as they went: the requests answered, counted up, against the most the sliding window allows (N, plus one a period after each answered request was sent), and the 429s beneath. An answered request is counted when it was sent or, if later, when the window can first have had room for it, and no later than its answer; a light line runs from its sending to its answer.")
		p("")
		for _, c := range s.Charts {
			p("%s", c.markdown())
			p("")
		}
	}
}

// problems lists what failed in a scenario's attacks.
func problems(w io.Writer, scenario string, rows []throttleRow) {
	listed := false
	for _, s := range rows {
		for _, pr := range s.Check.Problems {
			if !listed {
				fmt.Fprintf(w, "%s problems:\n\n", scenario)
				listed = true
			}
			fmt.Fprintf(w, "- %s, client %s: %s\n", s.Scope, s.Client, pr)
		}
	}
	if listed {
		fmt.Fprintln(w)
	}
}

// burstSection is scenario 3: the rounds of concurrent logins.
type burstSection struct {
	Rounds []burstRow
}

func (s *burstSection) failed() bool {
	if len(s.Rounds) == 0 {
		return true
	}
	for _, b := range s.Rounds {
		if !b.OK() {
			return true
		}
	}
	return false
}

func (s *burstSection) plots() []string { return []string{"`concurrency.html`"} }

func (s *burstSection) render(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("## Scenario 3: concurrent logins of one client")
	p("")
	p("%d login requests of one client fired at once, each round from a fresh client: exactly the rate's N may pass the throttle.", burstRequests)
	p("")
	p("| round | requests | all sent within | all answered within | passed the throttle | want | statuses | result |")
	p("|---:|---:|---:|---:|---:|---:|---|---|")
	for _, b := range s.Rounds {
		p("| %d | %d | %s | %s | %d | %d | %s | %s |", b.Round, b.Requests, b.SendSpread.Round(10*time.Microsecond),
			b.AnswerSpread.Round(time.Millisecond), b.Passed, b.Want, statuses(b.Statuses), verdict(b.OK()))
	}
	p("")
	listed := false
	for _, b := range s.Rounds {
		for _, pr := range b.Problems {
			p("- round %d: %s", b.Round, pr)
			listed = true
		}
	}
	if listed {
		p("")
	}
}

// cookieSection is scenario 4: the cookie audit's tally, read when the
// report is written so that it covers the whole run.
type cookieSection struct {
	rows func() []cookieRow
}

func (s *cookieSection) failed() bool {
	rows := s.rows()
	if len(rows) == 0 {
		return true
	}
	for _, c := range rows {
		if c.Exceptions > 0 {
			return true
		}
	}
	return false
}

func (s *cookieSection) plots() []string { return nil }

func (s *cookieSection) render(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	rows := s.rows()
	p("## Scenario 4: cookie transitions over the whole run")
	p("")
	p("Every response of authd the harness received (attacks and preparation alike) is checked.")
	p("")
	p("| transition | responses | exceptions | result |")
	p("|---|---:|---:|---|")
	for _, c := range rows {
		p("| %s | %d | %d | %s |", c.Rule, c.Responses, c.Exceptions, verdict(c.Exceptions == 0 && c.Responses > 0))
	}
	p("")
	listed := false
	for _, c := range rows {
		if c.Example != "" {
			p("- %s, first exception: %s", c.Rule, c.Example)
			listed = true
		}
	}
	if listed {
		p("")
	}
}

// notRun stands for a scenario the run stopped before or during: it fails
// the report.
type notRun struct{ name string }

func (n notRun) failed() bool    { return true }
func (n notRun) plots() []string { return nil }
func (n notRun) render(w io.Writer) {
	fmt.Fprintf(w, "## Did not run: %s\n\nThe run stopped before it could finish; see the error the harness printed.\n\n", n.name)
}

// The throughput measurements are reported, never failed on.
func (pr *perfReport) failed() bool { return false }

func (pr *perfReport) plots() []string {
	var out []string
	for _, s := range pr.Sweeps {
		if s.Plot != "" {
			out = append(out, "`"+s.Plot+"`")
		}
	}
	return out
}

func (pr *perfReport) render(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("## Scenario 5: throughput, latency and memory, throttles raised out of the way")
	p("")
	if len(pr.AuthdEnv) > 0 {
		p("Settings added to the measured authd (-authd-env): `%s`.", strings.Join(pr.AuthdEnv, " "))
		p("")
	}
	if len(pr.Sweeps) > 0 {
		pr.renderSweeps(w)
	}
	p("Raw argon2id hashing with authd's parameters, in the harness's process, and logins at saturation (a fixed number in flight, the hashing pool kept busy) take turns, %d rounds of %s each, so that all see the same machine: the logins of the authd measured, then those of a baseline authd with Go's defaults (AUTHD_MEMORY_LIMIT=off, no -authd-env), which tells what authd's memory handling costs from what a login costs anyway. The authd measured's login rate is the one compared with raw hashing; a rate counts the answers from the first to the last request sent, the pool full all along. Logins at a steady rate below saturation, %d turns of %s each against each authd, then show the spread of their latency, beside raw hashes at the same rate in the harness, which show what spread the machine allows without authd.", hashRounds, hashRound, steadyTurns, steadyFor/steadyTurns)
	p("")
	p("| argon2id (m=%d KiB, t=%d, p=%d) | value |", argon2Memory/1024, password.DefaultParams.Time, password.DefaultParams.Threads)
	p("|---|---:|")
	p("| raw hashes/s, %d goroutines (GOMAXPROCS), in the harness | %.1f |", pr.HashWorkers, pr.HashRate)
	if pr.HashRate > 0 {
		for _, sat := range []struct {
			who string
			s   saturation
		}{{"", pr.Saturation}, {", baseline with Go's defaults", pr.BaselineSaturation}} {
			if sat.s.InFlight == 0 {
				continue
			}
			p("| logins/s at saturation%s, %d in flight (p50 %s, p99 %s; %s) | %.1f (%.2f× raw) |", sat.who, sat.s.InFlight,
				sat.s.P50.Round(100*time.Microsecond), sat.s.P99.Round(100*time.Microsecond), codes(sat.s.Codes), sat.s.Throughput, sat.s.Throughput/pr.HashRate)
		}
		if pr.HashCPU != nil {
			p("| CPUs used meanwhile (the harness's include the raw hashing) | %s |", pr.HashCPU)
		}
		if s, ok := pr.sweep("POST /auth/login/"); ok {
			p("| logins/s sustained with p99 under %s | %d (%.2f× raw) |", latencyBudget, s.Best, float64(s.Best)/pr.HashRate)
		}
	}
	for _, st := range []struct {
		who string
		s   *steadyLogins
	}{{"", pr.Steady}, {", baseline with Go's defaults", pr.BaselineSteady}} {
		if s := st.s; s != nil {
			p("| logins at a steady %d/s%s (%.0f%% of saturation), %s in all, %d sent (%s): p50, p99, max | %s, %s, %s |", s.Rate, st.who, steadyShare*100, s.For, s.Requests, codes(s.Codes),
				s.P50.Round(100*time.Microsecond), s.P99.Round(100*time.Microsecond), s.Max.Round(100*time.Microsecond))
		}
	}
	if s := pr.RawSteady; s != nil && s.Requests > 0 {
		p("| raw argon2id hashes in the harness instead, %d/s, %d at once, first come first served, %s in all, %d: p50, p99, max | %s, %s, %s |", s.Rate, pr.Pool, s.For, s.Requests,
			s.P50.Round(100*time.Microsecond), s.P99.Round(100*time.Microsecond), s.Max.Round(100*time.Microsecond))
	}
	if pr.SteadyCPU != nil {
		p("| CPUs used meanwhile | %s |", pr.SteadyCPU)
	}
	p("")
	p("| authd memory | value |")
	p("|---|---:|")
	limit := pr.MemoryLimit
	if limit == "" {
		limit = "not logged"
	}
	p("| Go memory limit, as authd logged it | %s |", limit)
	p("| peak RSS (VmHWM) before the burst | %s |", mib(pr.RSSBase))
	p("| peak RSS (VmHWM) after %d concurrent logins (%s) | %s |", concurrentLogins, statuses(pr.RSSStatuses), mib(pr.RSSPeak))
	p("| goal: hashing pool %d × %s + %s | %s |", pr.Pool, mib(argon2Memory), mib(rssHeadroom), mib(pr.RSSLimit))
	if m := pr.Memory; m != nil {
		p("| RSS (VmRSS) %s after the last answer, authd idle | %s |", (m.IdleAt - m.BurstEnd).Round(time.Second), mib(pr.RSSIdle))
		p("| the burst, from the first request sent to the last answer | %s |", (m.BurstEnd - m.BurstStart).Round(10*time.Millisecond))
	}
	p("")
	if pr.MemoryChart != nil {
		p("%s", pr.MemoryChart.markdown())
		p("")
	}
	if c := pr.Me; c != nil {
		p("GET /auth/me/ at saturation (%d in flight, %s a round) against the authd measured (memory limit %s) and the baseline (%s), in turns, %d rounds each; alone, then beside logins at %d/s. On a shared machine the CPU time a request is steadier than the throughput:", meInFlight, meFor, orUnlogged(c.MeasuredLimit), orUnlogged(c.BaselineLimit), meRounds, c.LoginRate)
		p("")
		p("| GET /auth/me/, medians | authd measured | baseline | ratio |")
		p("|---|---:|---:|---:|")
		for _, logins := range []bool{false, true} {
			what := "alone"
			if logins {
				what = fmt.Sprintf("beside logins at %d/s", c.LoginRate)
			}
			p("| %s: answers 200 a second | %.0f | %.0f | %.2f× |", what, c.median(true, logins), c.median(false, logins), c.ratio(logins))
			on, off := c.medianCPU(true, logins), c.medianCPU(false, logins)
			if on > 0 && off > 0 {
				if logins {
					what += ", the logins' CPU included"
				}
				p("| %s: authd's CPU time a request | %s | %s | %.2f× |", what,
					on.Round(100*time.Nanosecond), off.Round(100*time.Nanosecond), float64(on)/float64(off))
			}
		}
		p("")
	}
	p("| target | measured | result |")
	p("|---|---|---|")
	for _, t := range pr.targets() {
		p("| %s | %s | %s |", t.What, t.Got, t.result())
	}
	p("")
	p("Targets are reported, never failed on: this machine is shared.")
	p("")
}

func orUnlogged(s string) string {
	if s == "" {
		return "not logged"
	}
	return s
}

// renderSweeps writes the throughput sweeps.
func (pr *perfReport) renderSweeps(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("vegeta at increasing rates, %s a step (logins %s): doubling, then bisecting %d times. A rate is sustained when every answer is 200, p99 stays under %s and the client sent at least %.0f%% of it; a rate fails when two attempts fail. The bare handler runs in the harness's process and answers a body of the same size as GET /auth/me/'s. Targets are reported, not failed on.", stepDuration, loginStep, refineSteps, latencyBudget, sentRatio*100)
	p("")
	p("| target | highest rate sustained | p99 there | ratio to the bare handler | peak throughput |")
	p("|---|---:|---:|---:|---:|")
	for _, s := range pr.Sweeps {
		bare, _ := pr.bareFor(s.Backend)
		ratio := "-"
		if bare.Best > 0 {
			ratio = fmt.Sprintf("%.2f×", float64(s.Best)/float64(bare.Best))
		}
		p("| %s | %d/s | %s | %s | %.0f/s |", s.label(), s.Best, s.BestP99.Round(10*time.Microsecond), ratio, s.Peak)
	}
	p("")
	pr.renderReadPath(w)
	if pr.Chart != nil {
		p("%s", pr.Chart.markdown())
		p("")
	}
	for _, s := range pr.Sweeps {
		p("<details><summary>%s: every step</summary>", s.label())
		p("")
		p("| rate | attempt | sent/s | ok/s | p50 | p99 | max | statuses | sustained |")
		p("|---:|---:|---:|---:|---:|---:|---:|---|---|")
		for _, st := range s.Steps {
			ok := "yes"
			if !st.OK {
				ok = "no: " + st.Why
			}
			p("| %d | %d | %.0f | %.0f | %s | %s | %s | %s | %s |", st.Rate, st.Attempt, st.Sent, st.Throughput,
				st.P50.Round(10*time.Microsecond), st.P99.Round(10*time.Microsecond), st.Max.Round(10*time.Microsecond), codes(st.Codes), ok)
		}
		p("")
		p("</details>")
		p("")
	}
}

// firstAnswered writes the answers of the first period, "6 of 6", with
// those that may lie just after it when some are missing.
func firstAnswered(c windowCheck, n int) string {
	if c.FirstAnswered < n && c.FirstMaybe > c.FirstAnswered {
		return fmt.Sprintf("%d (+%d at its end) of %d", c.FirstAnswered, c.FirstMaybe-c.FirstAnswered, n)
	}
	return fmt.Sprintf("%d of %d", c.FirstAnswered, n)
}

// statuses writes a status histogram as "200×6, 429×140"; 0 is "none".
func statuses(m map[int]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		label := strconv.Itoa(k)
		if k == 0 {
			label = "no answer"
		}
		parts = append(parts, fmt.Sprintf("%s×%d", label, m[k]))
	}
	return strings.Join(parts, ", ")
}

func codes(m map[string]int) string {
	n := make(map[int]int, len(m))
	for k, v := range m {
		c, _ := strconv.Atoi(k)
		n[c] += v
	}
	return statuses(n)
}

// throttleLabel splits a throttle plot into answered and refused requests.
func throttleLabel(r *vegeta.Result) string {
	switch r.Code {
	case 0:
		return "ERROR"
	case 429:
		return "429"
	default:
		return "answered"
	}
}

// writeThrottlePlot plots the latencies of attacks, answered and refused
// requests apart.
func writeThrottlePlot(path, title string, attacks ...[]vegeta.Result) error {
	pl := plot.New(plot.Title(title), plot.Label(throttleLabel), plot.Downsample(4000))
	for _, rs := range attacks {
		sorted := slices.Clone(rs)
		slices.SortFunc(sorted, func(a, b vegeta.Result) int { return int(a.Seq) - int(b.Seq) })
		for i := range sorted {
			if err := pl.Add(&sorted[i]); err != nil {
				return err
			}
		}
	}
	pl.Close()
	return writePlot(path, pl)
}

func writePlot(path string, pl *plot.Plot) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := pl.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return f.Close()
}
