package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"authd/internal/authdtest"
	"authd/internal/config"
)

// The read path (GET /auth/me/, GET /auth/verify/, POST /auth/refresh/)
// is measured in scenario 5 on each backend: on SQLite, by the authd of
// the other sweeps; on PostgreSQL, by one authd on a database created for
// the run; and by three replicas on that database, the load spread over
// them, with how long a logout on one takes to reach the others under
// that load. Each backend's sweeps come right after one of the bare
// handler, of the same steps, which they are compared with: on a shared
// machine, what else runs changes from one minute to the next.

// The backends of the read path.
const (
	backendSQLite   = "SQLite"
	backendPostgres = "PostgreSQL"
	backendCluster  = "PostgreSQL, 3 replicas"
)

// The servers of -postgres and -redis: those the tests use.
const (
	postgresVar     = "AUTHD_TEST_POSTGRES_URL"
	redisVar        = "AUTHD_TEST_REDIS_URL"
	defaultPostgres = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	defaultRedis    = "redis://127.0.0.1:6379/0"
)

const (
	// backendStep is a step of the sweeps on PostgreSQL, shorter than
	// stepDuration: they are four more sweeps on a machine of few cores.
	backendStep = time.Second
	// clusterSize is the number of replicas of the cluster run.
	clusterSize = 3
	// revocations are the logouts timed under load, each on one replica
	// in turn, and waited for on the others for at most
	// revocationDeadline: as many answers as the cluster test's.
	revocations        = 100
	revocationDeadline = 5 * time.Second
	// revocationLoad is the share of the replicas' highest sustained
	// rate sent to them while the revocations are timed, from
	// revocationWarmUp before the first, for at most revocationLoadFor.
	revocationLoad    = 0.8
	revocationLoadFor = 90 * time.Second
	revocationWarmUp  = time.Second
	// revocationPromise is the README's bound on a revocation's p99.
	revocationPromise = 100 * time.Millisecond
	// cacheWait bounds the wait for an authd's cache to follow the
	// database's changes.
	cacheWait = 10 * time.Second
	// cacheFollowing is /readyz's word for a cache that follows them.
	cacheFollowing = "following"
)

// readTarget is a target of the read path: a share of the bare handler's
// highest rate sustained.
type readTarget struct {
	backend string
	path    string // the sweep's target
	ratio   float64
}

// readTargets are the read path's targets. Three replicas on one machine
// share its cores: they are held to one PostgreSQL process's target.
var readTargets = []readTarget{
	{backendSQLite, "GET /auth/me/", 0.8},
	{backendSQLite, "GET /auth/verify/", 0.8},
	{backendSQLite, "POST /auth/refresh/", 0.5},
	{backendPostgres, "GET /auth/me/", 0.6},
	{backendPostgres, "GET /auth/verify/", 0.6},
	{backendPostgres, "POST /auth/refresh/", 0.3},
	{backendCluster, "GET /auth/me/", 0.6},
}

// targetOf returns the target of a sweep, if it has one.
func targetOf(backend, path string) (readTarget, bool) {
	for _, t := range readTargets {
		if t.backend == backend && t.path == path {
			return t, true
		}
	}
	return readTarget{}, false
}

// sweepSpec is one sweep of scenario 5.
type sweepSpec struct {
	name    string          // its target, as the report names it
	backend string          // where authd keeps its data; empty: none
	targets []vegeta.Target // sent in turn: several spread the load
	start   int             // the first rate tried
	ceil    int             // the highest rate tried
	step    time.Duration
	file    string // vegeta's latency plot
	caption string
}

// readPaths are the read path's requests, by their targets' names, and
// the word their plots are named with.
var readPaths = []struct {
	name, slug string
	target     func(base string, s session) vegeta.Target
}{
	{"GET /auth/me/", "me", func(base string, s session) vegeta.Target {
		return vegeta.Target{Method: http.MethodGet, URL: base + "/auth/me/", Header: http.Header{"Authorization": {"Bearer " + s.access}}}
	}},
	{"GET /auth/verify/", "verify", func(base string, s session) vegeta.Target {
		return vegeta.Target{Method: http.MethodGet, URL: base + "/auth/verify/", Header: http.Header{"Authorization": {"Bearer " + s.access}}}
	}},
	{"POST /auth/refresh/", "refresh", func(base string, s session) vegeta.Target {
		return vegeta.Target{Method: http.MethodPost, URL: base + "/auth/refresh/", Header: http.Header{"Cookie": {cookieRefresh + "=" + s.refresh}}}
	}},
}

// readSweeps are the sweeps of the read path on backend, whose authd
// answer at bases, in turn, with session s: each of paths (all of them
// when none is named) from the rate start returns for it, steps of step.
// Their plots are perf-<prefix><slug>.html.
func readSweeps(backend, prefix string, bases []string, s session, step time.Duration, start func(path string) int, paths ...string) []sweepSpec {
	var specs []sweepSpec
	for _, p := range readPaths {
		if len(paths) > 0 && !slices.Contains(paths, p.name) {
			continue
		}
		var targets []vegeta.Target
		for _, b := range bases {
			targets = append(targets, p.target(b, s))
		}
		caption := p.name + " on " + backend
		specs = append(specs, sweepSpec{name: p.name, backend: backend, targets: targets, start: start(p.name), ceil: 64000,
			step: step, file: "perf-" + prefix + p.slug + ".html", caption: caption})
	}
	return specs
}

// bareName is the bare handler's sweeps' target.
const bareName = "bare net/http handler"

// bareSweep is the sweep of the bare handler at url that the sweeps on
// backend are compared with, its plot perf-<prefix>bare.html.
func bareSweep(backend, prefix, url string, step time.Duration, start int) sweepSpec {
	return sweepSpec{name: bareName, backend: backend, targets: []vegeta.Target{{Method: http.MethodGet, URL: url}},
		start: start, ceil: 64000, step: step, file: "perf-" + prefix + "bare.html",
		caption: "a bare handler, same body size, before the sweeps on " + backend}
}

// sqliteStart is where the sweeps on SQLite start: a refresh writes.
func sqliteStart(path string) int {
	if path == "POST /auth/refresh/" {
		return 250
	}
	return 500
}

// roundRobin is n targets, ts in turn.
func roundRobin(ts []vegeta.Target, n int) []vegeta.Target {
	out := make([]vegeta.Target, n)
	for i := range out {
		out[i] = ts[i%len(ts)]
	}
	return out
}

// runSweeps runs each sweep in turn and adds its findings to pr.
func (h *harness) runSweeps(ctx context.Context, pr *perfReport, specs []sweepSpec) error {
	for _, sw := range specs {
		label := sweepResult{Target: sw.name, Backend: sw.backend}.label()
		done := h.phase("scenario 5: sweep " + label)
		res, err := h.sweep(ctx, sw.name, sw.targets, sw.start, sw.ceil, sw.step, filepath.Join(h.out, sw.file), sw.caption)
		if err != nil {
			return err
		}
		done()
		res.Backend, res.Plot = sw.backend, sw.file
		pr.Sweeps = append(pr.Sweeps, res)
		h.progress("scenario 5 throughput %s: %d/s with p99 under %s and no errors (peak %.0f/s)", label, res.Best, latencyBudget, res.Peak)
	}
	return nil
}

// label names the sweep in the report: its target, and its backend.
func (s sweepResult) label() string {
	switch {
	case s.Backend == "":
		return s.Target
	case s.bare():
		return s.Target + ", before the sweeps on " + s.Backend
	default:
		return s.Target + " on " + s.Backend
	}
}

// bare reports whether the sweep is of the bare handler.
func (s sweepResult) bare() bool { return strings.HasPrefix(s.Target, "bare") }

// bareFor returns the bare handler's sweep that those on backend are
// compared with: the one made for them, else the first.
func (p *perfReport) bareFor(backend string) (sweepResult, bool) {
	for _, s := range p.Sweeps {
		if s.bare() && s.Backend == backend && backend != "" {
			return s, true
		}
	}
	return p.sweep("bare")
}

// readPath is what scenario 5 found of the read path beside its sweeps:
// how each backend was run, or why it was not, and the revocations.
type readPath struct {
	Backends   []backendRun
	Revocation *revocationRun // nil when not timed
}

// backendRun is how the read path was measured on one backend.
type backendRun struct {
	Name    string
	Setup   string // how authd ran, in words
	Cache   string // what /readyz said of the cache before and after the sweeps
	Skipped string // why it was not measured; empty: it was
}

// revocationRun is the revocations timed under load.
type revocationRun struct {
	Logouts  int           // logouts timed, each on one replica
	Answers  int           // other replicas seen refusing the token
	Lost     int           // other replicas still answering after revocationDeadline
	P50, P99 time.Duration // from a logout's answer to another replica's refusal
	Max      time.Duration
	Load     loadRun // what the replicas answered meanwhile
}

// loadRun is a background attack.
type loadRun struct {
	Rate       int     // asked, a second
	Throughput float64 // successful answers a second
	P99        time.Duration
	Codes      map[string]int
}

func (p *readPath) backend(name string) (backendRun, bool) {
	for _, b := range p.Backends {
		if b.Name == name {
			return b, true
		}
	}
	return backendRun{}, false
}

// sweepOn returns the sweep of path on backend.
func (p *perfReport) sweepOn(backend, path string) (sweepResult, bool) {
	for _, s := range p.Sweeps {
		if s.Backend == backend && s.Target == path {
			return s, true
		}
	}
	return sweepResult{}, false
}

// readTargetRows compares the read path's sweeps with their targets; a
// backend not measured has its targets' rows say why.
func (p *perfReport) readTargetRows() []targetRow {
	var rows []targetRow
	for _, t := range readTargets {
		what := fmt.Sprintf("%s on %s ≥ %.1f× the bare handler", t.path, t.backend, t.ratio)
		if b, ok := p.backend(t.backend); ok && b.Skipped != "" {
			rows = append(rows, targetRow{What: what, Got: "not measured: " + b.Skipped, Skip: true})
			continue
		}
		s, ok := p.sweepOn(t.backend, t.path)
		bare, okBare := p.bareFor(t.backend)
		if !ok || !okBare {
			continue
		}
		r := 0.0
		if bare.Best > 0 {
			r = float64(s.Best) / float64(bare.Best)
		}
		rows = append(rows, targetRow{
			What: what,
			Got:  fmt.Sprintf("%d/s vs %d/s = %.2f×", s.Best, bare.Best, r),
			Met:  r >= t.ratio,
		})
	}
	what := fmt.Sprintf("a logout on one of %d replicas refused by the others under load, p99 ≤ %s", clusterSize, revocationPromise)
	if rv := p.Revocation; rv != nil {
		got := fmt.Sprintf("p99 %s (p50 %s) over %d answers", rv.P99.Round(100*time.Microsecond), rv.P50.Round(100*time.Microsecond), rv.Answers)
		if rv.Lost > 0 {
			got += fmt.Sprintf(", %d still answering after %s", rv.Lost, revocationDeadline)
		}
		rows = append(rows, targetRow{What: what, Got: got, Met: rv.Lost == 0 && rv.Answers > 0 && rv.P99 <= revocationPromise})
	} else if b, ok := p.backend(backendCluster); ok && b.Skipped != "" {
		rows = append(rows, targetRow{What: what, Got: "not measured: " + b.Skipped, Skip: true})
	}
	return rows
}

// result is a target's verdict in the report: informational only.
func (t targetRow) result() string {
	switch {
	case t.Skip:
		return "SKIP"
	case t.Met:
		return "PASS"
	default:
		return "FAIL"
	}
}

// renderReadPath writes how the read path was measured on each backend,
// and the revocations.
func (p *readPath) renderReadPath(w io.Writer) {
	if len(p.Backends) == 0 {
		return
	}
	pf := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	pf("The read path on each backend, against the bare handler's sweep made just before its own, of the same steps (GET /auth/verify/ answers no body; the bare handler answers GET /auth/me/'s):")
	pf("")
	for _, b := range p.Backends {
		switch {
		case b.Skipped != "":
			pf("- %s: **not measured**: %s.", b.Name, b.Skipped)
		case b.Cache != "":
			pf("- %s: %s; cache: %s.", b.Name, b.Setup, b.Cache)
		default:
			pf("- %s: %s.", b.Name, b.Setup)
		}
	}
	pf("")
	if rv := p.Revocation; rv != nil {
		pf("| revocation under load, %d replicas | value |", clusterSize)
		pf("|---|---:|")
		pf("| logouts, each on one replica in turn, of sessions started before the load | %d |", rv.Logouts)
		pf("| from the logout's answer to another replica's 401: p50 | %s |", rv.P50.Round(10*time.Microsecond))
		pf("| p99 | %s |", rv.P99.Round(10*time.Microsecond))
		pf("| max (%d answers; %d still 200 after %s) | %s |", rv.Answers, rv.Lost, revocationDeadline, rv.Max.Round(10*time.Microsecond))
		pf("| meanwhile, GET /auth/me/ spread over the replicas, asked | %d/s |", rv.Load.Rate)
		pf("| answered 200 (p99 %s; %s) | %.0f/s |", rv.Load.P99.Round(10*time.Microsecond), codes(rv.Load.Codes), rv.Load.Throughput)
		pf("")
	}
}

// readPathBackends notes how the read path ran on SQLite, by sqlite,
// whose sweeps are done, then measures it on PostgreSQL, against the bare
// handler at bareURL.
func (h *harness) readPathBackends(ctx context.Context, pr *perfReport, sqlite *authdtest.Server, bareURL string) error {
	cache, err := cachesOf(ctx, []*authdtest.Server{sqlite}, false)
	if err != nil {
		return err
	}
	pr.Backends = append(pr.Backends, backendRun{Name: backendSQLite,
		Setup: "one authd, the one of the other measurements, on a file of its own; steps of " + stepDuration.String(), Cache: cache + " after the sweeps"})
	return h.postgresReadPath(ctx, pr, bareURL)
}

// postgresReadPath measures the read path on PostgreSQL: one authd, then
// clusterSize replicas, on a database created for the run and dropped
// after. Without a server to create it on, it says why in the report and
// measures nothing there; a failure once the database exists is the
// run's.
func (h *harness) postgresReadPath(ctx context.Context, pr *perfReport, bareURL string) (err error) {
	skip := func(why string) {
		h.progress("scenario 5 PostgreSQL: not measured: %s", why)
		pr.Backends = append(pr.Backends, backendRun{Name: backendPostgres, Skipped: why}, backendRun{Name: backendCluster, Skipped: why})
	}
	if h.opts.postgres == "" {
		skip("-postgres is empty")
		return nil
	}
	done := h.phase("scenario 5: create the PostgreSQL database")
	db, err := createDatabase(ctx, h.opts.postgres)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		skip(fmt.Sprintf("no database could be created on %s (%v); set %s or -postgres", redact(h.opts.postgres), err, postgresVar))
		return nil
	}
	defer func() { err = errors.Join(err, db.drop()) }()
	done()
	h.progress("scenario 5 PostgreSQL: database %s on %s", db.name, redact(h.opts.postgres))

	const user = "load-perf"
	single, err := h.startBackend(ctx, pr, backendRun{Name: backendPostgres,
		Setup: fmt.Sprintf("one authd on database %s, created for the run on %s and dropped after; steps of %s", db.name, redact(h.opts.postgres), backendStep)},
		"postgres", 1, perfSettings(db.url, h.hashPool(1)))
	if err != nil {
		return err
	}
	err = h.measureBackend(ctx, pr, single, user, true, func(bases []string, s session) []sweepSpec {
		start := h.startFrom(pr, backendSQLite)
		return append([]sweepSpec{bareSweep(backendPostgres, "postgres-", bareURL, backendStep, start(bareName))},
			readSweeps(backendPostgres, "postgres-", bases, s, backendStep, start)...)
	})
	if err := errors.Join(err, single.stop()); err != nil {
		return err
	}
	return h.clusterReadPath(ctx, pr, db, user, bareURL)
}

// clusterReadPath measures GET /auth/me/ on clusterSize replicas on db,
// sharing the Redis of -redis when it answers, the load spread over them,
// then times revocations under that load.
func (h *harness) clusterReadPath(ctx context.Context, pr *perfReport, db *database, user, bareURL string) (err error) {
	settings := perfSettings(db.url, h.hashPool(clusterSize))
	var shared string
	if rd, why := sharedRedis(ctx, h.opts.redis); rd != nil {
		defer func() { err = errors.Join(err, rd.clean()) }()
		settings = append(settings, "AUTHD_REDIS_URL="+rd.url, "AUTHD_REDIS_PREFIX="+rd.prefix)
		shared = fmt.Sprintf("their throttles in the Redis at %s, under the prefix %s (deleted after)", redact(rd.url), rd.prefix)
	} else {
		shared = "no Redis (" + why + "): each replica counts its throttles in-process"
		h.progress("scenario 5 replicas: %s", shared)
	}
	run := backendRun{Name: backendCluster, Setup: fmt.Sprintf("%d authd on database %s, %s; vegeta sends to each in turn; steps of %s",
		clusterSize, db.name, shared, backendStep)}
	cl, err := h.startBackend(ctx, pr, run, "cluster", clusterSize, settings)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, cl.stop()) }()
	var s session
	err = h.measureBackend(ctx, pr, cl, user, false, func(bases []string, sess session) []sweepSpec {
		s = sess
		start := h.startFrom(pr, backendPostgres)
		return append([]sweepSpec{bareSweep(backendCluster, "cluster-", bareURL, backendStep, start(bareName))},
			readSweeps(backendCluster, "cluster-", bases, sess, backendStep, start, "GET /auth/me/")...)
	})
	if err != nil {
		return err
	}
	sw, ok := pr.sweepOn(backendCluster, "GET /auth/me/")
	if !ok || sw.Best == 0 {
		return nil
	}
	done := h.phase(fmt.Sprintf("scenario 5: %d sessions, then their revocations under load", revocations))
	var load []vegeta.Target
	for _, a := range cl.servers {
		load = append(load, readPaths[0].target(a.URL, s))
	}
	rv, err := h.revocationLatency(ctx, cl.servers, user, load, max(1, int(revocationLoad*float64(sw.Best))))
	if err != nil {
		return err
	}
	done()
	pr.Revocation = rv
	h.progress("scenario 5 revocation under %d/s of GET /auth/me/: p50 %s, p99 %s, max %s over %d answers, %d lost",
		rv.Load.Rate, rv.P50.Round(10*time.Microsecond), rv.P99.Round(10*time.Microsecond), rv.Max.Round(10*time.Microsecond), rv.Answers, rv.Lost)
	return nil
}

// hashPool is each of n replicas' share of this machine's cores for
// hashing, at least one.
func (h *harness) hashPool(n int) int { return max(1, runtime.GOMAXPROCS(0)/n) }

// startFrom returns where a sweep starts: at half of what the same target
// sustained on backend, which the one measured now is not expected to
// beat by much.
func (h *harness) startFrom(pr *perfReport, backend string) func(string) int {
	return func(path string) int {
		if s, ok := pr.sweepOn(backend, path); ok && s.Best > 0 {
			return max(50, s.Best/2)
		}
		return sqliteStart(path)
	}
}

// perfSettings are the settings of an authd of scenario 5 on db:
// throttles raised out of the way, pool hashing goroutines.
func perfSettings(db string, pool int) []string {
	settings := []string{
		"AUTHD_DB=" + db,
		"AUTHD_COOKIE_SECURE=false",
		"AUTHD_HASH_CONCURRENCY=" + strconv.Itoa(pool),
	}
	for _, scope := range config.Scopes {
		settings = append(settings, "AUTHD_THROTTLE_"+strings.ToUpper(scope)+"="+raisedRate)
	}
	return settings
}

// backend is the authd processes of one backend of the read path.
type backend struct {
	run     backendRun
	servers []*authdtest.Server
}

// startBackend starts n authd with settings at once, their logs in a
// folder of the temporary one named dir.
func (h *harness) startBackend(ctx context.Context, pr *perfReport, run backendRun, dir string, n int, settings []string) (*backend, error) {
	done := h.phase("scenario 5: start authd on " + run.Name)
	logs := filepath.Join(h.tmp, dir)
	if err := os.Mkdir(logs, 0o755); err != nil {
		return nil, err
	}
	b := &backend{run: run, servers: make([]*authdtest.Server, n)}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		c := authdtest.AuthdCommand(h.authdBin, settings...)
		if n > 1 {
			c.Name = fmt.Sprintf("replica-%c", 'A'+i)
		}
		c.LogDir = logs
		wg.Go(func() { b.servers[i], errs[i] = authdtest.Start(c) })
	}
	wg.Wait()
	if err := errors.Join(append(errs, ctx.Err())...); err != nil {
		return nil, errors.Join(err, b.stop())
	}
	done()
	return b, nil
}

// stop stops every process of the backend.
func (b *backend) stop() error {
	var errs []error
	for _, s := range b.servers {
		if s != nil {
			errs = append(errs, s.Stop())
		}
	}
	b.servers = nil
	return errors.Join(errs...)
}

func (b *backend) bases() []string {
	var out []string
	for _, s := range b.servers {
		out = append(out, s.URL)
	}
	return out
}

// measureBackend waits until the caches of b follow the database, logs
// user in (registering it first when register is set), runs the sweeps
// specs returns, and notes b's run in pr.
func (h *harness) measureBackend(ctx context.Context, pr *perfReport, b *backend, user string, register bool,
	specs func(bases []string, s session) []sweepSpec) error {
	before, err := cachesOf(ctx, b.servers, true)
	if err != nil {
		return err
	}
	p := newPrep(b.servers[0], h.audit)
	if register {
		if err := p.register(ctx, user); err != nil {
			return err
		}
	}
	s, err := p.login(ctx, user)
	if err != nil {
		return err
	}
	if err := h.runSweeps(ctx, pr, specs(b.bases(), s)); err != nil {
		return err
	}
	after, err := cachesOf(ctx, b.servers, false)
	if err != nil {
		return err
	}
	b.run.Cache = before + " before the sweeps, " + after + " after"
	pr.Backends = append(pr.Backends, b.run)
	return nil
}

// cachesOf says what /readyz of each server says of its cache, "following"
// when all agree; with wait, it first waits up to cacheWait for each to
// follow the database's changes.
func cachesOf(ctx context.Context, servers []*authdtest.Server, wait bool) (string, error) {
	c := newClient(2*time.Second, 0)
	defer c.CloseIdleConnections()
	var states []string
	for _, s := range servers {
		deadline := time.Now().Add(cacheWait)
		for {
			state, err := cacheState(ctx, c, s.URL)
			if err != nil {
				return "", fmt.Errorf("%s: %w", s.Name, err)
			}
			if !wait || state == cacheFollowing || time.Now().After(deadline) {
				states = append(states, state)
				break
			}
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	if slices.ContainsFunc(states, func(s string) bool { return s != states[0] }) {
		return strings.Join(states, " / "), nil
	}
	if len(states) > 1 {
		return fmt.Sprintf("%q on all %d", states[0], len(states)), nil
	}
	return fmt.Sprintf("%q", states[0]), nil
}

// cacheState is the "cache" of authd's /readyz at base.
func cacheState(ctx context.Context, c *http.Client, base string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		Cache string `json:"cache"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /readyz: %d, %v", resp.StatusCode, err)
	}
	if body.Cache == "" {
		return "no cache", nil
	}
	return body.Cache, nil
}

// revocationLatency times revocations under load: GET /auth/me/ sent to
// the replicas at rate, in turn, while logouts, each on one replica in
// turn, of a session every replica has just answered with, are waited
// for on the others until each refuses the session's token. The sessions
// are started before the load, so that their logins' hashing does not
// weigh on it.
func (h *harness) revocationLatency(ctx context.Context, replicas []*authdtest.Server, user string, load []vegeta.Target, rate int) (*revocationRun, error) {
	sessions, err := prepareEach(ctx, revocations, func(ctx context.Context, i int) (session, error) {
		return newPrep(replicas[i%len(replicas)], h.audit).login(ctx, user)
	})
	if err != nil {
		return nil, err
	}
	rv := &revocationRun{Load: loadRun{Rate: rate}}
	loadCtx, stopLoad := context.WithCancel(ctx)
	var lm vegeta.Metrics
	loaded := make(chan struct{})
	go func() {
		defer close(loaded)
		c := newClient(5*time.Second, 512)
		defer c.CloseIdleConnections()
		fire(loadCtx, c, "load during revocations", roundRobin(load, rate*int(revocationLoadFor/time.Second)),
			vegeta.ConstantPacer{Freq: rate, Per: time.Second}, revocationLoadFor,
			func(r *vegeta.Result) {
				lm.Add(r)
				h.audit.observe(r.Method, r.URL, int(r.Code), r.Headers)
			}, vegeta.Workers(32))
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopLoad()
			<-loaded
			lm.Close()
			stopped = true
		}
	}
	defer stop()

	// The load reaches its rate before the first logout.
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-loaded:
	case <-time.After(revocationWarmUp):
	}
	probe := newClient(2*time.Second, 0)
	defer probe.CloseIdleConnections()
	p := newPrep(replicas[0], h.audit)
	var took []time.Duration
	for i, s := range sessions {
		if loadEnded(loaded) {
			break // what was timed under load stands
		}
		via := replicas[i%len(replicas)]
		access := s.access
		var at time.Time
		err := authdtest.Try(ctx, func(t testing.TB) {
			c := p.agent(t).Via(via.Addr)
			c.PutCookie(cookieRefresh, s.refresh)
			for _, r := range replicas {
				if st, err := meStatus(ctx, probe, r.URL, access); err != nil || st != http.StatusOK {
					t.Fatalf("GET /auth/me/ on %s before the logout: %d, %v", r.Name, st, err)
				}
			}
			c.MustLogout(access)
			at = time.Now()
		})
		if err != nil {
			return nil, err
		}
		rv.Logouts++
		var mu sync.Mutex
		var wg sync.WaitGroup
		var errs []error
		for _, r := range replicas {
			if r == via {
				continue
			}
			wg.Go(func() {
				d, err := untilRefused(ctx, probe, r.URL, access, at, revocationDeadline)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case errors.Is(err, errStillAnswers):
					rv.Lost++
				case err != nil:
					errs = append(errs, fmt.Errorf("%s: %w", r.Name, err))
				default:
					took = append(took, d)
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
	}
	stop()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rv.Answers = len(took)
	rv.P50, rv.P99, rv.Max = percentiles(took)
	rv.Load.Throughput, rv.Load.P99, rv.Load.Codes = lm.Throughput, lm.Latencies.P99, lm.StatusCodes
	return rv, nil
}

// loadEnded reports whether the load, which closes loaded, has ended.
func loadEnded(loaded <-chan struct{}) bool {
	select {
	case <-loaded:
		return true
	default:
		return false
	}
}

// errStillAnswers is a revoked token some replica still answers.
var errStillAnswers = errors.New("still answers the revoked token")

// untilRefused asks GET /auth/me/ of base with access until it answers
// 401, and returns how long that took since since; errStillAnswers once
// deadline has passed since then.
func untilRefused(ctx context.Context, c *http.Client, base, access string, since time.Time, deadline time.Duration) (time.Duration, error) {
	for {
		st, err := meStatus(ctx, c, base, access)
		if err != nil {
			return 0, err
		}
		switch {
		case st == http.StatusUnauthorized:
			return time.Since(since), nil
		case st != http.StatusOK:
			return 0, fmt.Errorf("GET /auth/me/ after the logout: %d", st)
		case time.Since(since) > deadline:
			return 0, errStillAnswers
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

// meStatus is the status of GET /auth/me/ of base with access.
func meStatus(ctx context.Context, c *http.Client, base, access string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/auth/me/", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+access)
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// percentiles returns the median, the 99th percentile and the maximum of
// d, zeros when it is empty.
func percentiles(d []time.Duration) (p50, p99, maxi time.Duration) {
	if len(d) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return at(0.50), at(0.99), s[len(s)-1]
}

// database is a PostgreSQL database created for the run.
type database struct {
	admin string // the server's URL, as the role that created it
	name  string
	url   string // authd's AUTHD_DB
}

// createDatabase creates a database of a fresh name on the server of
// admin, a role that may create databases.
func createDatabase(ctx context.Context, admin string) (*database, error) {
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, errors.New("not a postgres:// URL")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	name := "authd_load_" + randomHex(6)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return nil, err
	}
	u.Path = "/" + name
	return &database{admin: admin, name: name, url: u.String()}, nil
}

// drop drops the database, its connections closed by force.
func (d *database) drop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, d.admin)
	if err != nil {
		return fmt.Errorf("drop database %s: %w", d.name, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "DROP DATABASE "+d.name+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", d.name, err)
	}
	return nil
}

// redisPrefix is a key prefix of the run's own on a Redis server.
type redisPrefix struct {
	url, prefix string
	client      *redis.Client
}

// sharedRedis returns a prefix of the run's own on the Redis at raw, or
// nil and why not.
func sharedRedis(ctx context.Context, raw string) (*redisPrefix, string) {
	if raw == "" {
		return nil, "-redis is empty"
	}
	opts, err := redis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Sprintf("%s is not a Redis URL", redact(raw))
	}
	c := redis.NewClient(opts)
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Sprintf("none answered at %s: %v; set %s or -redis", redact(raw), err, redisVar)
	}
	return &redisPrefix{url: raw, prefix: "authd-load:" + randomHex(6) + ":", client: c}, ""
}

// clean deletes the prefix's keys.
func (r *redisPrefix) clean() error {
	defer r.client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	iter := r.client.Scan(ctx, 0, r.prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		errs = append(errs, r.client.Del(ctx, iter.Val()).Err())
	}
	errs = append(errs, iter.Err())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("delete the Redis keys under %s: %w", r.prefix, err)
	}
	return nil
}

// redact hides the password of a URL.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unreadable URL)"
	}
	return u.Redacted()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
