package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"github.com/tsenart/vegeta/v12/lib/plot"
	"golang.org/x/crypto/argon2"

	"authd/internal/password"
)

// Throughput measurement: each rate is held for stepDuration (logins,
// a few a second, for loginStep, to have enough of them for a p99),
// with stepPause of quiet before the next.
const (
	stepDuration = 2 * time.Second
	loginStep    = 5 * time.Second
	stepPause    = time.Second
	// refineSteps bisect between the last rate sustained and the first
	// not, once doubling has found them.
	refineSteps = 3
	// latencyBudget is the p99 a sustained rate must stay under.
	latencyBudget = 50 * time.Millisecond
	// sentRatio is how much of the asked rate must have been sent: a
	// client that cannot keep up has not shown the server sustains it.
	sentRatio = 0.95
	// Raw hashing and logins at saturation take turns, hashRounds of
	// hashRound each, so that both see the same machine however busy it
	// is; the logins' rate is capped at saturateCap a second.
	hashRounds  = 4
	hashRound   = 2 * time.Second
	saturateCap = 1000
	// concurrentLogins is the burst under which authd's memory is read.
	concurrentLogins = 200
	// raisedRate takes the throttles out of the way.
	raisedRate = "1000000/second"
)

// argon2Memory is the memory one hash takes, in bytes.
var argon2Memory = int64(password.DefaultParams.Memory) * 1024

// rssHeadroom is what authd may use beside its hashing pool.
const rssHeadroom = 64 << 20

// Throughput targets, reported but never failed on; those of the read
// path are readTargets.
const (
	loginTarget = 0.9 // of the raw argon2id hash rate
)

// perfScenario is scenario 5: throughput, latency, hashing and memory,
// measured against a fresh authd whose throttles are raised out of the
// way, and reported against their targets without failing the run.
type perfScenario struct{}

func (perfScenario) name() string { return "scenario 5, throughput and latency" }

func (perfScenario) run(ctx context.Context, h *harness) (section, error) {
	// It measures this machine: the authd of the throttle scenarios and
	// its provider stop first.
	if err := h.stopThrottled(); err != nil {
		return nil, err
	}
	pr, err := h.performance(ctx)
	if err != nil {
		return nil, err
	}
	return pr, nil
}

// performance runs scenario 5; with -only memory, its memory and login
// measurements alone.
func (h *harness) performance(ctx context.Context) (_ *perfReport, err error) {
	pr := &perfReport{HashWorkers: runtime.GOMAXPROCS(0), Pool: runtime.GOMAXPROCS(0), AuthdEnv: h.opts.authdEnv}

	done := h.phase("scenario 5: start authd with raised throttles")
	m, err := h.startMeasured(ctx, "throughput", pr.Pool, h.opts.authdEnv...)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, m.authd.Stop()) }()
	pr.MemoryLimit = m.memoryLimit
	done()

	done = h.phase(fmt.Sprintf("scenario 5: RSS under %d concurrent logins and %s after", concurrentLogins, idleAfter))
	if err := h.peakMemory(ctx, m, pr); err != nil {
		return nil, err
	}
	done()
	for _, row := range pr.memoryTargets() {
		h.progress("scenario 5 memory: %s: %s (%s)", row.What, row.result(), row.Got)
	}
	if c, ok := pr.memoryChart(); ok {
		if err := writeChart(filepath.Join(h.out, memoryChartFile.File), c.writeSVG); err != nil {
			return nil, err
		}
		pr.MemoryChart = &memoryChartFile
	}

	if !h.memoryOnly() {
		if err := h.sweeps(ctx, m, pr); err != nil {
			return nil, err
		}
	}

	// Logins against raw hashing, at a steady rate and beside GET
	// /auth/me/ are measured against this authd and, in turns, against
	// the baseline: one with Go's defaults, to tell what authd's own
	// memory handling costs from what a login costs anyway.
	done = h.phase("scenario 5: start a baseline authd with Go's defaults")
	baseline, err := h.startMeasured(ctx, "baseline", pr.Pool, "AUTHD_MEMORY_LIMIT=off")
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, baseline.authd.Stop()) }()
	pr.BaselineLimit = baseline.memoryLimit
	done()

	done = h.phase("scenario 5: raw argon2id hashing and logins at saturation, in turns")
	w := watchCPU(m.authd.Pid(), baseline.authd.Pid())
	pr.HashRate, pr.Saturation, pr.BaselineSaturation = h.hashAndLogins(ctx, pr.HashWorkers, 2*pr.Pool, m.login, baseline.login)
	if share, ok := w.stop(); ok {
		pr.HashCPU = &share
	}
	done()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h.progress("scenario 5 argon2id: %.1f raw hashes/s on %d goroutines; %.1f logins/s with %d in flight (%s), %.1f with Go's defaults",
		pr.HashRate, pr.HashWorkers, pr.Saturation.Throughput, pr.Saturation.InFlight, codes(pr.Saturation.Codes), pr.BaselineSaturation.Throughput)

	rate := max(1, int(steadyShare*pr.Saturation.Throughput))
	done = h.phase(fmt.Sprintf("scenario 5: logins at a steady %d/s", rate))
	w = watchCPU(m.authd.Pid(), baseline.authd.Pid())
	steady, steadyBaseline, steadyRaw := h.steadyInTurns(ctx, rate, pr.Pool, m, baseline)
	share, cpuOK := w.stop()
	done()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pr.Steady, pr.BaselineSteady, pr.RawSteady = &steady, &steadyBaseline, &steadyRaw
	if cpuOK {
		pr.SteadyCPU = &share
	}
	for _, st := range []struct {
		who string
		s   *steadyLogins
	}{{"", pr.Steady}, {" with Go's defaults", pr.BaselineSteady}, {", raw argon2id hashes in the harness instead", pr.RawSteady}} {
		h.progress("scenario 5 steady logins%s: %d/s for %s: p50 %s, p99 %s (%s)", st.who, st.s.Rate, st.s.For,
			st.s.P50.Round(100*time.Microsecond), st.s.P99.Round(100*time.Microsecond), codes(st.s.Codes))
	}
	if cpuOK {
		h.progress("scenario 5 steady logins: CPUs used meanwhile: %s", share)
	}

	done = h.phase("scenario 5: GET /auth/me/ against the baseline")
	pr.Me = h.compareMe(ctx, m, baseline, rate)
	done()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, row := range pr.targets() {
		h.progress("scenario 5 target %s: %s (%s)", row.What, row.result(), row.Got)
	}
	return pr, nil
}

// sweeps finds the highest rate sustained by a bare handler and by
// authd's GET /auth/me/, POST /auth/refresh/ and POST /auth/login/, and
// charts them.
func (h *harness) sweeps(ctx context.Context, m *measuredAuthd, pr *perfReport) error {
	bare, err := serveBare(m.meBody)
	if err != nil {
		return err
	}
	defer bare.Close()
	bareURL := "http://" + bare.Addr().String() + "/"
	sweeps := []sweepSpec{bareSweep(backendSQLite, "", bareURL, stepDuration, sqliteStart(bareName))}
	sweeps = append(sweeps, readSweeps(backendSQLite, "", []string{m.authd.URL}, m.session, stepDuration, sqliteStart)...)
	sweeps = append(sweeps, sweepSpec{name: "POST /auth/login/", backend: backendSQLite, targets: []vegeta.Target{m.login},
		start: 2, ceil: 4000, step: loginStep, file: "perf-login.html", caption: "POST /auth/login/"})
	if err := h.runSweeps(ctx, pr, sweeps); err != nil {
		return err
	}
	if err := h.readPathBackends(ctx, pr, m.authd, bareURL); err != nil {
		return err
	}
	if c, ok := pr.throughputChart(); ok {
		if err := writeChart(filepath.Join(h.out, throughputChartFile.File), c.writeSVG); err != nil {
			return err
		}
		pr.Chart = &throughputChartFile
	}
	return nil
}

// hashAndLogins measures raw argon2id hashing with authd's parameters in
// workers goroutines of this process, and logins of the authd measured
// and of the baseline with inFlight always in flight, in turns for
// hashRounds rounds: raw hashing first, then the two in the order
// compareMe gives them. It returns hashes a second and the figures of
// each authd, every rate the mean of its rounds'.
func (h *harness) hashAndLogins(ctx context.Context, workers, inFlight int, measured, baseline vegeta.Target) (float64, saturation, saturation) {
	var (
		hashes, rm, rb float64
		mm, mb         vegeta.Metrics
		rounds         int
	)
	turns := inTurns(2*hashRounds, true, false)
	for r := range hashRounds {
		hashes += hashRate(ctx, hashRound, workers)
		for _, isMeasured := range turns[2*r : 2*r+2] {
			if isMeasured {
				rm += h.saturate(ctx, measured, inFlight, &mm)
			} else {
				rb += h.saturate(ctx, baseline, inFlight, &mb)
			}
		}
		rounds++
		if ctx.Err() != nil {
			break
		}
	}
	figures := func(m *vegeta.Metrics, rate float64) saturation {
		m.Close()
		return saturation{InFlight: inFlight, Throughput: rate / float64(rounds),
			P50: m.Latencies.P50, P99: m.Latencies.P99, Codes: m.StatusCodes}
	}
	return hashes / float64(rounds), figures(&mm, rm), figures(&mb, rb)
}

// hashRate is how many argon2id hashes with authd's parameters workers
// goroutines compute a second, for about d: the sum of each one's hashes
// over the time to its last, so that the hash a worker is in when d ends
// counts whole.
func hashRate(ctx context.Context, d time.Duration, workers int) float64 {
	p := password.DefaultParams
	start := time.Now()
	deadline := start.Add(d)
	rates := make([]float64, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			salt := make([]byte, p.SaltLen)
			salt[0] = byte(w)
			n := 0
			for time.Now().Before(deadline) && ctx.Err() == nil {
				argon2.IDKey([]byte(userPassword), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
				n++
			}
			rates[w] = float64(n) / time.Since(start).Seconds()
		}()
	}
	wg.Wait()
	var sum float64
	for _, r := range rates {
		sum += r
	}
	return sum
}

// saturation is a closed-loop measurement: as many requests as the
// workers allow, always inFlight at once.
type saturation struct {
	InFlight   int
	Throughput float64 // successful answers a second
	P50, P99   time.Duration
	Codes      map[string]int
}

// saturate keeps inFlight logins in flight for hashRound, adding them to
// m: authd's hashing pool kept busy. It returns the logins answered 200
// a second while the pool was full: between the first answer and the
// last request sent, not while the first ones start or the last ones
// drain. The rate is capped at saturateCap, far above what hashing
// allows.
func (h *harness) saturate(ctx context.Context, login vegeta.Target, inFlight int, m *vegeta.Metrics) float64 {
	c := newClient(5*time.Second, 0)
	defer c.CloseIdleConnections()
	var (
		answered []time.Time
		lastSent time.Time
	)
	fire(ctx, c, "logins at saturation", repeat(login, saturateCap*int(hashRound/time.Second)),
		vegeta.ConstantPacer{Freq: saturateCap, Per: time.Second}, hashRound,
		func(r *vegeta.Result) {
			m.Add(r)
			h.audit.observe(r.Method, r.URL, int(r.Code), r.Headers)
			if r.Code == http.StatusOK {
				answered = append(answered, r.End())
			}
			if r.Timestamp.After(lastSent) {
				lastSent = r.Timestamp
			}
		},
		vegeta.Workers(uint64(inFlight)), vegeta.MaxWorkers(uint64(inFlight)))
	return steadyRate(answered, lastSent)
}

// steadyRate is the rate of the events at times, counted from the first
// to the last before until: n events span n-1 intervals.
func steadyRate(times []time.Time, until time.Time) float64 {
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	var in []time.Time
	for _, t := range times {
		if !t.After(until) {
			in = append(in, t)
		}
	}
	if len(in) < 2 {
		return 0
	}
	return float64(len(in)-1) / in[len(in)-1].Sub(in[0]).Seconds()
}

// serveBare serves body as a JSON answer to every request, in this
// process: the ceiling of an HTTP request on this machine.
func serveBare(body []byte) (*bareServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write(body)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go srv.Serve(ln) // returns when Close is called
	return &bareServer{srv: srv, ln: ln}, nil
}

type bareServer struct {
	srv *http.Server
	ln  net.Listener
}

func (b *bareServer) Addr() net.Addr { return b.ln.Addr() }
func (b *bareServer) Close() error   { return b.srv.Close() }

// sweep finds the highest rate target sustains: doubling from start up to
// ceiling, then bisecting. Every step is a new attack of du.
// Several targets are sent in turn.
func (h *harness) sweep(ctx context.Context, name string, targets []vegeta.Target, start, ceiling int, du time.Duration, plotFile, caption string) (sweepResult, error) {
	res := sweepResult{Target: name}
	pl := plot.New(plot.Title(caption+": latency at increasing rates"), plot.Downsample(500))
	step := func(rate, attempt int) stepRow {
		var m vegeta.Metrics
		hits := rate * int(du/time.Second)
		c := newClient(5*time.Second, 512)
		fire(ctx, c, fmt.Sprintf("%d/s #%d", rate, attempt), roundRobin(targets, hits), vegeta.ConstantPacer{Freq: rate, Per: time.Second}, du,
			func(r *vegeta.Result) {
				m.Add(r)
				_ = pl.Add(r)
				h.audit.observe(r.Method, r.URL, int(r.Code), r.Headers)
			},
			vegeta.Workers(32))
		c.CloseIdleConnections()
		m.Close()
		st := judgeStep(rate, &m, http.StatusOK)
		st.Attempt = attempt
		res.Steps = append(res.Steps, st)
		res.Peak = max(res.Peak, st.Throughput)
		select {
		case <-ctx.Done():
		case <-time.After(stepPause):
		}
		return st
	}
	// A rate fails when two attempts at it fail: a shared machine has
	// its hiccups.
	try := func(rate int) bool {
		for attempt := 1; attempt <= 2 && ctx.Err() == nil; attempt++ {
			if step(rate, attempt).OK {
				return true
			}
		}
		return false
	}
	res.Best = findMax(start, ceiling, refineSteps, try)
	if err := ctx.Err(); err != nil {
		return res, err
	}
	for _, st := range res.Steps {
		if st.Rate == res.Best && st.OK {
			res.BestP99 = st.P99
		}
	}
	sort.SliceStable(res.Steps, func(i, j int) bool { return res.Steps[i].Rate < res.Steps[j].Rate })
	pl.Close()
	return res, writePlot(plotFile, pl)
}

// findMax returns the highest rate at which try succeeds: it doubles from
// start while try succeeds and the rate stays within ceiling, halves
// instead when start itself fails, then bisects refine times between the
// highest success and the lowest failure. It returns 0 when no rate it
// tried succeeded.
func findMax(start, ceiling, refine int, try func(rate int) bool) int {
	lo, hi := 0, 0 // highest success, lowest failure
	for r := start; r <= ceiling; r *= 2 {
		if !try(r) {
			hi = r
			break
		}
		lo = r
	}
	for r := start / 2; lo == 0 && r >= 1; r /= 2 {
		if try(r) {
			lo = r
		} else {
			hi = r
		}
	}
	if lo == 0 || hi == 0 {
		return lo
	}
	for range refine {
		mid := (lo + hi) / 2
		if mid == lo {
			break
		}
		if try(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// stepRow is one attempt at a rate of a sweep.
type stepRow struct {
	Rate       int
	Attempt    int
	Sent       float64 // requests sent a second
	Throughput float64 // successful answers a second
	P50, P99   time.Duration
	Max        time.Duration
	Codes      map[string]int
	OK         bool
	Why        string // why the rate was not sustained
}

// judgeStep decides whether a step sustained its rate: every answer has
// the wanted status, p99 is under latencyBudget, and the client sent at
// least sentRatio of the rate.
func judgeStep(rate int, m *vegeta.Metrics, want int) stepRow {
	st := stepRow{Rate: rate, Sent: m.Rate, Throughput: m.Throughput, P50: m.Latencies.P50, P99: m.Latencies.P99,
		Max: m.Latencies.Max, Codes: m.StatusCodes, OK: true}
	var why []string
	if m.Requests == 0 {
		why = append(why, "nothing sent")
	}
	if bad := int(m.Requests) - m.StatusCodes[strconv.Itoa(want)]; bad > 0 {
		why = append(why, fmt.Sprintf("%d answers not %d", bad, want))
	}
	if m.Latencies.P99 >= latencyBudget {
		why = append(why, "p99 "+m.Latencies.P99.Round(100*time.Microsecond).String())
	}
	if m.Rate < sentRatio*float64(rate) {
		why = append(why, fmt.Sprintf("sent only %.0f/s", m.Rate))
	}
	if len(why) > 0 {
		st.OK, st.Why = false, strings.Join(why, "; ")
	}
	return st
}

// sweepResult is the search of one target's highest sustained rate.
type sweepResult struct {
	Target  string
	Backend string // where authd kept its data; empty: none
	Plot    string // vegeta's latency plot, beside the report
	Best    int
	BestP99 time.Duration
	Peak    float64 // highest throughput of any step, latency aside
	Steps   []stepRow
}

// perfReport is scenario 5's findings.
type perfReport struct {
	// AuthdEnv are the settings -authd-env added to the measured authd.
	AuthdEnv []string
	// MemoryLimit is the Go memory limit the measured authd logged.
	MemoryLimit string

	HashRate    float64
	HashWorkers int
	Saturation  saturation // logins with the hashing pool kept busy
	HashCPU     *cpuShare  // how the CPUs were used meanwhile, when read
	Pool        int        // authd's hashing pool
	RSSBase     int64
	RSSPeak     int64
	RSSLimit    int64
	RSSIdle     int64 // VmRSS idleAfter the burst
	RSSStatuses map[int]int
	Memory      *memoryRun    // the resident set around the burst
	MemoryChart *chart        // of Memory, when written
	Steady      *steadyLogins // logins below saturation
	SteadyCPU   *cpuShare     // how the CPUs were used meanwhile, when read
	// The baseline authd, with Go's defaults (AUTHD_MEMORY_LIMIT=off):
	// the memory limit it logged, its logins at saturation and at the
	// steady rate, measured in turns with the authd measured.
	BaselineLimit      string
	BaselineSaturation saturation
	BaselineSteady     *steadyLogins
	// RawSteady is raw argon2id hashes in the harness at the steady rate,
	// a pool of Pool: the spread of latency the machine allows.
	RawSteady *steadyLogins
	Me        *meComparison // GET /auth/me/, against a baseline authd
	Sweeps    []sweepResult
	Chart     *chart // of the sweeps, when written
	readPath
}

func (p *perfReport) sweep(prefix string) (sweepResult, bool) {
	for _, s := range p.Sweeps {
		if strings.HasPrefix(s.Target, prefix) {
			return s, true
		}
	}
	return sweepResult{}, false
}

// targetRow is one target: met or not, reported only.
type targetRow struct {
	What string
	Got  string
	Met  bool
	Skip bool // not measured; Got says why
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// targets compares the measurements with the targets.
func (p *perfReport) targets() []targetRow {
	rows := p.readTargetRows()
	if p.HashRate > 0 {
		r := ratio(p.Saturation.Throughput, p.HashRate)
		got := fmt.Sprintf("%.1f/s at saturation vs %.1f/s = %.2f×", p.Saturation.Throughput, p.HashRate, r)
		if b := p.BaselineSaturation; b.InFlight > 0 {
			got += fmt.Sprintf(" (Go's defaults: %.2f×)", ratio(b.Throughput, p.HashRate))
		}
		rows = append(rows, targetRow{
			What: fmt.Sprintf("POST /auth/login/ ≥ %.1f× raw argon2id hashes/s", loginTarget),
			Got:  got,
			Met:  r >= loginTarget,
		})
	}
	if s := p.Steady; s != nil && s.P50 > 0 {
		got := fmt.Sprintf("p99 %s, median %s = %.2f×", s.P99.Round(100*time.Microsecond), s.P50.Round(100*time.Microsecond), s.spread())
		var others []string
		if b := p.BaselineSteady; b != nil && b.P50 > 0 {
			others = append(others, fmt.Sprintf("Go's defaults: %.2f×", b.spread()))
		}
		if r := p.RawSteady; r != nil && r.P50 > 0 {
			others = append(others, fmt.Sprintf("raw argon2id in the harness: %.2f×", r.spread()))
		}
		if len(others) > 0 {
			got += " (" + strings.Join(others, "; ") + ")"
		}
		rows = append(rows, targetRow{
			What: fmt.Sprintf("POST /auth/login/ p99 ≤ %.1f× the median at a steady %d/s", steadySpread, s.Rate),
			Got:  got,
			Met:  s.spread() <= steadySpread,
		})
	}
	rows = append(rows, p.memoryTargets()...)
	if c := p.Me; c != nil && c.median(false, false) > 0 {
		for _, logins := range []bool{false, true} {
			what := ""
			if logins {
				what = fmt.Sprintf(" beside logins at %d/s", c.LoginRate)
			}
			r := c.ratio(logins)
			rows = append(rows, targetRow{
				What: fmt.Sprintf("GET /auth/me/%s ≥ %.2f× an authd with Go's defaults (AUTHD_MEMORY_LIMIT=off)", what, 1-meTolerance),
				Got:  fmt.Sprintf("%.0f/s vs %.0f/s = %.2f×", c.median(true, logins), c.median(false, logins), r),
				Met:  r >= 1-meTolerance,
			})
		}
	}
	return rows
}

// memoryTargets compares the resident set with its targets.
func (p *perfReport) memoryTargets() []targetRow {
	var rows []targetRow
	if p.RSSLimit > 0 {
		rows = append(rows, targetRow{
			What: fmt.Sprintf("peak RSS under %d concurrent logins ≤ pool %d × %s + %s", concurrentLogins, p.Pool, mib(argon2Memory), mib(rssHeadroom)),
			Got:  fmt.Sprintf("%s vs %s", mib(p.RSSPeak), mib(p.RSSLimit)),
			Met:  p.RSSPeak <= p.RSSLimit,
		})
	}
	if p.Memory != nil {
		rows = append(rows, targetRow{
			What: fmt.Sprintf("RSS %s after the last of those logins ≤ %s", idleAfter, mib(idleGoal)),
			Got:  fmt.Sprintf("%s vs %s", mib(p.RSSIdle), mib(idleGoal)),
			Met:  p.RSSIdle <= idleGoal,
		})
	}
	return rows
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
