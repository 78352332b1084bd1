package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"github.com/tsenart/vegeta/v12/lib/plot"
	"golang.org/x/crypto/argon2"

	"authd/internal/authdtest"
	"authd/internal/config"
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
	// hashFor is how long raw hashing is timed, saturateFor logins at
	// saturation, whose rate is capped at saturateCap a second.
	hashFor     = 3 * time.Second
	saturateFor = 4 * time.Second
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

// performance runs scenario 5.
func (h *harness) performance(ctx context.Context) (_ *perfReport, err error) {
	pr := &perfReport{HashWorkers: runtime.GOMAXPROCS(0), Pool: runtime.GOMAXPROCS(0)}

	done := h.phase("scenario 5: start authd with raised throttles")
	dir := filepath.Join(h.tmp, "throughput")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	settings := []string{
		"AUTHD_DB=" + filepath.Join(dir, "authd.db"),
		"AUTHD_COOKIE_SECURE=false",
		"AUTHD_HASH_CONCURRENCY=" + strconv.Itoa(pr.Pool),
	}
	for _, scope := range config.Scopes {
		settings = append(settings, "AUTHD_THROTTLE_"+strings.ToUpper(scope)+"="+raisedRate)
	}
	ac := authdtest.AuthdCommand(h.authdBin, settings...)
	ac.LogDir = dir
	authd, err := authdtest.Start(ac)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, authd.Stop()) }()
	p := newPrep(authd, h.audit)
	const user = "load-perf"
	if err := p.register(ctx, user); err != nil {
		return nil, err
	}
	s, err := p.login(ctx, user)
	if err != nil {
		return nil, err
	}
	meBody, err := p.me(ctx, s)
	if err != nil {
		return nil, err
	}
	done()

	done = h.phase(fmt.Sprintf("scenario 5: peak RSS under %d concurrent logins", concurrentLogins))
	if err := h.peakMemory(ctx, authd, pr, user); err != nil {
		return nil, err
	}
	done()
	h.progress("scenario 5 memory: authd peak RSS %s under %d concurrent logins (limit %d × %s + %s = %s): %s",
		mib(pr.RSSPeak), concurrentLogins, pr.Pool, mib(argon2Memory), mib(rssHeadroom), mib(pr.RSSLimit), metLabel(pr.RSSPeak <= pr.RSSLimit))

	bare, err := serveBare(meBody)
	if err != nil {
		return nil, err
	}
	defer bare.Close()
	login := vegeta.Target{Method: http.MethodPost, URL: authd.URL + "/auth/login/",
		Header: http.Header{"Content-Type": {"application/json"}}, Body: mustJSON(credentials{user, userPassword})}
	bareURL := "http://" + bare.Addr().String() + "/"
	sweeps := []sweepSpec{bareSweep(backendSQLite, "", bareURL, stepDuration, sqliteStart(bareName))}
	sweeps = append(sweeps, readSweeps(backendSQLite, "", []string{authd.URL}, s, stepDuration, sqliteStart)...)
	sweeps = append(sweeps, sweepSpec{name: "POST /auth/login/", backend: backendSQLite, targets: []vegeta.Target{login},
		start: 2, ceil: 4000, step: loginStep, file: "perf-login.html", caption: "POST /auth/login/"})
	if err := h.runSweeps(ctx, pr, sweeps); err != nil {
		return nil, err
	}
	if err := h.readPathBackends(ctx, pr, authd, bareURL); err != nil {
		return nil, err
	}

	if c, ok := pr.throughputChart(); ok {
		if err := writeChart(filepath.Join(h.out, throughputChartFile.File), c.writeSVG); err != nil {
			return nil, err
		}
		pr.Chart = &throughputChartFile
	}

	// Raw hashing, then logins at saturation, back to back so that both
	// see the same machine.
	done = h.phase("scenario 5: raw argon2id hashing and logins at saturation")
	pr.HashRate = hashRate(ctx, hashFor, pr.HashWorkers)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pr.Saturation = h.saturate(ctx, login, 2*pr.Pool)
	done()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h.progress("scenario 5 argon2id: %.1f raw hashes/s on %d goroutines; %.1f logins/s with %d in flight (%s)",
		pr.HashRate, pr.HashWorkers, pr.Saturation.Throughput, pr.Saturation.InFlight, codes(pr.Saturation.Codes))
	for _, row := range pr.targets() {
		h.progress("scenario 5 target %s: %s (%s)", row.What, row.result(), row.Got)
	}
	return pr, nil
}

// hashRate is how many argon2id hashes with authd's parameters workers
// goroutines compute a second, timed over d.
func hashRate(ctx context.Context, d time.Duration, workers int) float64 {
	p := password.DefaultParams
	start := time.Now()
	deadline := start.Add(d)
	var n atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			salt := make([]byte, p.SaltLen)
			salt[0] = byte(w)
			for time.Now().Before(deadline) && ctx.Err() == nil {
				argon2.IDKey([]byte(userPassword), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}

// saturation is a closed-loop measurement: as many requests as the
// workers allow, always inFlight at once.
type saturation struct {
	InFlight   int
	Throughput float64 // successful answers a second
	P50, P99   time.Duration
	Codes      map[string]int
}

// saturate keeps inFlight logins in flight for saturateFor, and measures
// the logins a second authd completes: its hashing pool kept busy. The
// rate is capped at saturateCap, far above what hashing allows.
func (h *harness) saturate(ctx context.Context, login vegeta.Target, inFlight int) saturation {
	c := newClient(5*time.Second, 0)
	defer c.CloseIdleConnections()
	var m vegeta.Metrics
	fire(ctx, c, "logins at saturation", repeat(login, saturateCap*int(saturateFor/time.Second)),
		vegeta.ConstantPacer{Freq: saturateCap, Per: time.Second}, saturateFor,
		func(r *vegeta.Result) {
			m.Add(r)
			h.audit.observe(r.Method, r.URL, int(r.Code), r.Headers)
		},
		vegeta.Workers(uint64(inFlight)), vegeta.MaxWorkers(uint64(inFlight)))
	m.Close()
	return saturation{InFlight: inFlight, Throughput: m.Throughput, P50: m.Latencies.P50, P99: m.Latencies.P99, Codes: m.StatusCodes}
}

// peakMemory reads authd's resident high-water mark before and after
// concurrentLogins logins sent at once.
func (h *harness) peakMemory(ctx context.Context, authd *authdtest.Server, pr *perfReport, user string) error {
	pid := authd.Pid()
	var err error
	if pr.RSSBase, err = peakRSS(pid); err != nil {
		return fmt.Errorf("peak RSS of authd: %w", err)
	}
	target := vegeta.Target{Method: http.MethodPost, URL: authd.URL + "/auth/login/",
		Header: http.Header{"Content-Type": {"application/json"}}, Body: mustJSON(credentials{user, userPassword})}
	pr.RSSStatuses = map[int]int{}
	for _, r := range burst(ctx, "concurrent logins", target, concurrentLogins, authd.URL+"/healthz", h.mode.timeout) {
		pr.RSSStatuses[int(r.Code)]++
		h.audit.observe(r.Method, r.URL, int(r.Code), r.Headers)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if pr.RSSPeak, err = peakRSS(pid); err != nil {
		return fmt.Errorf("peak RSS of authd: %w", err)
	}
	pr.RSSLimit = int64(pr.Pool)*argon2Memory + rssHeadroom
	return nil
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
	HashRate    float64
	HashWorkers int
	Saturation  saturation // logins with the hashing pool kept busy
	Pool        int        // authd's hashing pool
	RSSBase     int64
	RSSPeak     int64
	RSSLimit    int64
	RSSStatuses map[int]int
	Sweeps      []sweepResult
	Chart       *chart // of the sweeps, when written
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

// targetRow is one throughput target: met or not, reported only.
type targetRow struct {
	What string
	Got  string
	Met  bool
	Skip bool // not measured; Got says why
}

// targets compares the measurements with the targets.
func (p *perfReport) targets() []targetRow {
	rows := p.readTargetRows()
	ratio := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	if p.HashRate > 0 {
		r := ratio(p.Saturation.Throughput, p.HashRate)
		rows = append(rows, targetRow{
			What: fmt.Sprintf("POST /auth/login/ ≥ %.1f× raw argon2id hashes/s", loginTarget),
			Got:  fmt.Sprintf("%.1f/s at saturation vs %.1f/s = %.2f×", p.Saturation.Throughput, p.HashRate, r),
			Met:  r >= loginTarget,
		})
	}
	if p.RSSLimit > 0 {
		rows = append(rows, targetRow{
			What: fmt.Sprintf("peak RSS under %d concurrent logins ≤ pool %d × %s + %s", concurrentLogins, p.Pool, mib(argon2Memory), mib(rssHeadroom)),
			Got:  fmt.Sprintf("%s ≤ %s", mib(p.RSSPeak), mib(p.RSSLimit)),
			Met:  p.RSSPeak <= p.RSSLimit,
		})
	}
	return rows
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func metLabel(ok bool) string {
	if ok {
		return "met"
	}
	return "not met"
}
