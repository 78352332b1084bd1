package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"golang.org/x/crypto/argon2"

	"authd/internal/authdtest"
	"authd/internal/config"
	"authd/internal/password"
)

// Memory and login latency: what scenario 5 measures of authd's memory
// around a burst of concurrent logins, of logins at a steady rate, and of
// GET /auth/me/ against a baseline authd that leaves the Go runtime as it
// is (AUTHD_MEMORY_LIMIT=off, no -authd-env).
const (
	// rssEvery is how often the resident set is read during the burst
	// and the idle time after it, from rssLead before it.
	rssEvery = 100 * time.Millisecond
	rssLead  = time.Second
	// idleAfter is how long after the burst's last answer the resident
	// set is read again, authd idle meanwhile.
	idleAfter = time.Minute
	// idleGoal is the most authd may keep resident idleAfter a burst.
	idleGoal = 50 << 20
	// steadyShare of the logins a second at saturation are sent at a
	// constant rate for steadyFor to each authd, in steadyTurns turns, to
	// read the latency of logins that do not saturate the hashing pool.
	steadyShare = 0.6
	steadyFor   = 20 * time.Second
	steadyTurns = 4
	// steadySpread is the most a steady rate's p99 may be of its median.
	steadySpread = 1.5
	// GET /auth/me/ is measured at saturation, meInFlight requests always
	// in flight for meFor, meRounds times against each authd in turn
	// (the one measured and the baseline), alone and beside logins at
	// the steady rate; the rate is capped at meCap a second.
	meInFlight = 32
	meFor      = 2 * time.Second
	meRounds   = 5
	meCap      = 40000
	// meTolerance is the share of its throughput GET /auth/me/ may lose
	// to what authd does of its memory.
	meTolerance = 0.05
)

// rssSample is a reading of the resident set, At from the first reading.
type rssSample struct {
	At  time.Duration
	RSS int64 // bytes
}

// rssWatch reads a process's resident set (VmRSS) every rssEvery until
// stopped.
type rssWatch struct {
	start   time.Time
	stopped chan struct{}
	done    chan struct{}
	mu      sync.Mutex
	samples []rssSample
}

func watchRSS(pid int) *rssWatch {
	w := &rssWatch{start: time.Now(), stopped: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(rssEvery)
		defer t.Stop()
		for {
			w.read(pid)
			select {
			case <-w.stopped:
				return
			case <-t.C:
			}
		}
	}()
	return w
}

func (w *rssWatch) read(pid int) {
	at := time.Since(w.start)
	if rss, err := residentSet(pid); err == nil {
		w.mu.Lock()
		w.samples = append(w.samples, rssSample{At: at, RSS: rss})
		w.mu.Unlock()
	}
}

// since is how long t is after the first reading.
func (w *rssWatch) since(t time.Time) time.Duration { return t.Sub(w.start) }

// stop ends the readings and returns them.
func (w *rssWatch) stop() []rssSample {
	close(w.stopped)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.samples)
}

// memoryRun is what scenario 5 found of authd's memory around the burst
// of concurrent logins.
type memoryRun struct {
	Samples              []rssSample
	BurstStart, BurstEnd time.Duration // first request sent, last answered, from the first sample
	IdleAt               time.Duration // when RSSIdle was read
}

// peakMemory reads authd's resident high-water mark before and after
// concurrentLogins logins sent at once, its resident set all along, and
// again idleAfter the last answer, authd idle meanwhile.
func (h *harness) peakMemory(ctx context.Context, m *measuredAuthd, pr *perfReport) error {
	pid := m.authd.Pid()
	var err error
	if pr.RSSBase, err = peakRSS(pid); err != nil {
		return fmt.Errorf("peak RSS of authd: %w", err)
	}
	pr.RSSStatuses = map[int]int{}
	w := watchRSS(pid)
	select {
	case <-ctx.Done():
		w.stop()
		return ctx.Err()
	case <-time.After(rssLead):
	}
	results := burst(ctx, "concurrent logins", m.login, concurrentLogins, m.authd.URL+"/healthz", h.mode.timeout)
	if err := ctx.Err(); err != nil {
		w.stop()
		return err
	}
	mem := &memoryRun{}
	first, last := time.Time{}, time.Time{}
	for _, r := range results {
		pr.RSSStatuses[int(r.Code)]++
		h.audit.observe(r.Method, r.URL, int(r.Code), r.Headers)
		if first.IsZero() || r.Timestamp.Before(first) {
			first = r.Timestamp
		}
		if r.End().After(last) {
			last = r.End()
		}
	}
	if pr.RSSPeak, err = peakRSS(pid); err != nil {
		w.stop()
		return fmt.Errorf("peak RSS of authd: %w", err)
	}
	pr.RSSLimit = int64(pr.Pool)*argon2Memory + rssHeadroom
	h.progress("scenario 5 memory: peak RSS %s under %d concurrent logins; waiting %s for the idle reading", mib(pr.RSSPeak), concurrentLogins, idleAfter)
	select {
	case <-ctx.Done():
		w.stop()
		return ctx.Err()
	case <-time.After(time.Until(last.Add(idleAfter))):
	}
	idleAt := time.Now()
	pr.RSSIdle, err = residentSet(pid)
	mem.Samples = w.stop()
	if err != nil {
		return fmt.Errorf("RSS of authd: %w", err)
	}
	mem.BurstStart, mem.BurstEnd, mem.IdleAt = w.since(first), w.since(last), w.since(idleAt)
	pr.Memory = mem
	return nil
}

// residentSet is the VmRSS of a process in bytes, from /proc.
func residentSet(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return statusField(b, "VmRSS")
}

// steadyLogins is logins sent at a constant rate below saturation.
type steadyLogins struct {
	Rate     int // a second
	For      time.Duration
	Requests uint64
	P50, P99 time.Duration
	Max      time.Duration
	Codes    map[string]int
}

// spread is p99 over the median.
func (s steadyLogins) spread() float64 {
	if s.P50 <= 0 {
		return 0
	}
	return float64(s.P99) / float64(s.P50)
}

// steadyInTurns sends logins at rate to the authd measured and the
// baseline in turns (as compareMe orders them), steadyTurns times
// steadyFor/steadyTurns each, so that both see the same machine; after
// each pair of turns, it hashes at the same rate in this process, pool
// hashes at most at once, first come first served: what the machine
// allows a login's latency without authd. It returns the figures of each.
func (h *harness) steadyInTurns(ctx context.Context, rate, pool int, measured, baseline *measuredAuthd) (m, b, raw steadyLogins) {
	var mm, mb vegeta.Metrics
	var hashes []time.Duration
	du := steadyFor / steadyTurns
	for i, a := range inTurns(2*steadyTurns, measured, baseline) {
		into := &mm
		if a == baseline {
			into = &mb
		}
		h.steady(ctx, a.login, rate, du, into)
		if i%2 == 1 {
			hashes = append(hashes, hashSteadily(ctx, rate, pool, du)...)
		}
	}
	figures := func(m *vegeta.Metrics) steadyLogins {
		m.Close()
		return steadyLogins{Rate: rate, For: steadyFor, Requests: m.Requests, P50: m.Latencies.P50, P99: m.Latencies.P99,
			Max: m.Latencies.Max, Codes: m.StatusCodes}
	}
	raw = steadyLogins{Rate: rate, For: steadyFor, Requests: uint64(len(hashes))}
	if len(hashes) > 0 {
		slices.Sort(hashes)
		raw.P50, raw.P99, raw.Max = hashes[len(hashes)/2], hashes[len(hashes)*99/100], hashes[len(hashes)-1]
	}
	return figures(&mm), figures(&mb), raw
}

// hashSteadily starts an argon2id hash of authd's parameters rate times a
// second for du, each waiting for one of pool slots, which are served
// first come first served, and returns how long each took from its start
// to its end, wait included.
func hashSteadily(ctx context.Context, rate, pool int, du time.Duration) []time.Duration {
	p := password.DefaultParams
	slots := make(chan struct{}, pool)
	var (
		mu    sync.Mutex
		took  []time.Duration
		wg    sync.WaitGroup
		start = time.Now()
	)
	for i := 0; ctx.Err() == nil; i++ {
		at := start.Add(time.Duration(i) * time.Second / time.Duration(rate))
		if at.Sub(start) >= du {
			break
		}
		time.Sleep(time.Until(at))
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.Now()
			slots <- struct{}{}
			salt := make([]byte, p.SaltLen)
			argon2.IDKey([]byte(userPassword), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
			<-slots
			mu.Lock()
			took = append(took, time.Since(t))
			mu.Unlock()
		}()
	}
	wg.Wait()
	return took
}

// steady sends logins at rate for du, adding them to m.
func (h *harness) steady(ctx context.Context, login vegeta.Target, rate int, du time.Duration, m *vegeta.Metrics) {
	c := newClient(h.mode.timeout, 0)
	defer c.CloseIdleConnections()
	fire(ctx, c, fmt.Sprintf("logins at %d/s", rate), repeat(login, rate*int(du/time.Second)),
		vegeta.ConstantPacer{Freq: rate, Per: time.Second}, du,
		func(r *vegeta.Result) {
			m.Add(r)
			h.audit.observe(r.Method, r.URL, int(r.Code), r.Headers)
		})
}

// meRound is GET /auth/me/ at saturation for meFor against one authd.
type meRound struct {
	Measured   bool    // against the authd measured, not the baseline
	Logins     bool    // beside logins at the steady rate
	Throughput float64 // answers 200 a second
	Codes      map[string]int
	// CPU is the CPU time authd used a request, logins beside
	// included: steadier than the throughput on a busy machine.
	CPU time.Duration
}

// meComparison is GET /auth/me/ at saturation against the authd measured
// and the baseline, in turns.
type meComparison struct {
	MeasuredLimit, BaselineLimit string // the memory limits the two logged
	LoginRate                    int    // of the logins beside, a second
	Rounds                       []meRound
}

// median is the median throughput of the rounds against the authd
// measured or the baseline, alone or beside logins.
func (c *meComparison) median(measured, logins bool) float64 {
	return c.medianOf(measured, logins, func(r meRound) float64 { return r.Throughput })
}

// medianCPU is the median CPU time a request of the rounds against the
// authd measured or the baseline, alone or beside logins.
func (c *meComparison) medianCPU(measured, logins bool) time.Duration {
	return time.Duration(c.medianOf(measured, logins, func(r meRound) float64 { return float64(r.CPU) }))
}

func (c *meComparison) medianOf(measured, logins bool, of func(meRound) float64) float64 {
	var v []float64
	for _, r := range c.Rounds {
		if r.Measured == measured && r.Logins == logins {
			v = append(v, of(r))
		}
	}
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// ratio is the median of the authd measured over the baseline's.
func (c *meComparison) ratio(logins bool) float64 {
	off := c.median(false, logins)
	if off == 0 {
		return 0
	}
	return c.median(true, logins) / off
}

// compareMe measures GET /auth/me/ of the authd measured and of the
// baseline in turns, alone and beside logins at loginRate. A round of
// each comes first, not counted: the first requests of a process cost
// more. Then the turns go measured, baseline, baseline, measured, and so
// on, so that a machine getting busier or quieter weighs on both alike.
func (h *harness) compareMe(ctx context.Context, measured, baseline *measuredAuthd, loginRate int) *meComparison {
	c := &meComparison{MeasuredLimit: measured.memoryLimit, BaselineLimit: baseline.memoryLimit, LoginRate: loginRate}
	h.meRound(ctx, measured, true, false, loginRate)
	h.meRound(ctx, baseline, false, false, loginRate)
	for _, logins := range []bool{false, true} {
		for _, m := range inTurns(2*meRounds, measured, baseline) {
			if ctx.Err() != nil {
				return c
			}
			c.Rounds = append(c.Rounds, h.meRound(ctx, m, m == measured, logins, loginRate))
		}
	}
	return c
}

// inTurns is n turns of a and b: a, b, b, a, a, b, b, a...
func inTurns[T any](n int, a, b T) []T {
	out := make([]T, n)
	for i := range out {
		if (i+1)/2%2 == 0 {
			out[i] = a
		} else {
			out[i] = b
		}
	}
	return out
}

// meRound keeps meInFlight GET /auth/me/ in flight for meFor, with
// logins at loginRate beside when logins is set.
func (h *harness) meRound(ctx context.Context, m *measuredAuthd, measured, logins bool, loginRate int) meRound {
	var wg sync.WaitGroup
	if logins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.steady(ctx, m.login, loginRate, meFor, new(vegeta.Metrics))
		}()
	}
	c := newClient(5*time.Second, 0)
	var mt vegeta.Metrics
	cpu0, errCPU := cpuTime(m.authd.Pid())
	fire(ctx, c, "GET /auth/me/ at saturation", repeat(m.me, meCap*int(meFor/time.Second)),
		vegeta.ConstantPacer{Freq: meCap, Per: time.Second}, meFor,
		func(r *vegeta.Result) { mt.Add(r) },
		vegeta.Workers(meInFlight), vegeta.MaxWorkers(meInFlight))
	mt.Close()
	c.CloseIdleConnections()
	wg.Wait()
	r := meRound{Measured: measured, Logins: logins, Throughput: mt.Throughput, Codes: mt.StatusCodes}
	if cpu1, err := cpuTime(m.authd.Pid()); err == nil && errCPU == nil && mt.Requests > 0 {
		r.CPU = (cpu1 - cpu0) / time.Duration(mt.Requests)
	}
	select {
	case <-ctx.Done():
	case <-time.After(stepPause):
	}
	return r
}

// loggedField returns a field of authd's "listening" log line, or "" when
// it logged none.
func loggedField(log, field string) string {
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) != nil || rec["msg"] != "listening" {
			continue
		}
		if v, ok := rec[field]; ok {
			return fmt.Sprint(v)
		}
		return ""
	}
	return ""
}

// measuredAuthd is an authd whose performance scenario 5 measures, with a
// session of its user.
type measuredAuthd struct {
	authd  *authdtest.Server
	user   string
	login  vegeta.Target
	me     vegeta.Target
	meBody []byte
	// session is its user's session.
	session session
	// memoryLimit is the Go memory limit authd logged.
	memoryLimit string
}

// startMeasured starts an authd with raised throttles, a hashing pool of
// pool and the settings extra (KEY=VALUE); it registers a user and logs
// it in. Its files are under tmp/name.
func (h *harness) startMeasured(ctx context.Context, name string, pool int, extra ...string) (_ *measuredAuthd, err error) {
	dir := filepath.Join(h.tmp, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	settings := []string{
		"AUTHD_DB=" + filepath.Join(dir, "authd.db"),
		"AUTHD_COOKIE_SECURE=false",
		"AUTHD_HASH_CONCURRENCY=" + strconv.Itoa(pool),
	}
	for _, scope := range config.Scopes {
		settings = append(settings, "AUTHD_THROTTLE_"+strings.ToUpper(scope)+"="+raisedRate)
	}
	settings = withSettings(settings, extra...)
	ac := authdtest.AuthdCommand(h.authdBin, settings...)
	ac.LogDir = dir
	authd, err := authdtest.Start(ac)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			authd.Stop()
		}
	}()
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
	return &measuredAuthd{
		authd: authd,
		user:  user,
		login: vegeta.Target{Method: http.MethodPost, URL: authd.URL + "/auth/login/",
			Header: http.Header{"Content-Type": {"application/json"}}, Body: mustJSON(credentials{user, userPassword})},
		me: vegeta.Target{Method: http.MethodGet, URL: authd.URL + "/auth/me/",
			Header: http.Header{"Authorization": {"Bearer " + s.access}}},
		meBody:      meBody,
		session:     s,
		memoryLimit: loggedField(authd.Log(), "memory_limit"),
	}, nil
}

// withSettings returns settings (KEY=VALUE) with each of more in place of
// the one of the same KEY, or added.
func withSettings(settings []string, more ...string) []string {
	out := slices.Clone(settings)
	for _, m := range more {
		k, _, _ := strings.Cut(m, "=")
		out = slices.DeleteFunc(out, func(s string) bool { return strings.HasPrefix(s, k+"=") })
		out = append(out, m)
	}
	return out
}
