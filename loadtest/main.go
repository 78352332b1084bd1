// Command loadtest starts authd and the fake 42 provider as processes on
// loopback and attacks them with vegeta. It proves that every throttle
// scope of the contract holds its rate from one client, that clients are
// counted apart, that a burst of concurrent logins passes no more than the
// rate, and that every cookie transition holds under load; in full mode it
// also measures throughput and latency against this machine's limits.
//
//	go run ./loadtest         # the contract's default rates, about four minutes
//	go run ./loadtest -quick  # the same counts per second instead, for CI
//	go run ./loadtest -only perf  # scenario 5 alone
//	go run ./loadtest -only memory  # scenario 5's memory and login measurements alone, about four minutes
//
// It writes report.md under loadtest/out/<mode>/ with, beside it, an SVG
// chart per throttle scope that the report shows (the answered requests
// against the most the sliding window allows, and the 429s), in full mode
// one of the throughput sweeps against the bare handler, and vegeta's HTML
// latency plots. It prints a line per scenario as it goes, and exits
// non-zero when a throttle or cookie assertion fails. Throughput targets
// are reported, never failed on: a shared machine is too noisy for that.
//
// Scenario 5 measures the read path (GET /auth/me/, GET /auth/verify/,
// POST /auth/refresh/) on SQLite, then on PostgreSQL: on a database it
// creates on the server of -postgres ($AUTHD_TEST_POSTGRES_URL, else the
// local one) and drops after, one authd, then three replicas sharing the
// Redis of -redis ($AUTHD_TEST_REDIS_URL, else the local one) under a key
// prefix of the run's own, with the load spread over them and the time
// a logout on one takes to reach the others. When no PostgreSQL answers,
// the report says so and the run goes on without it.
//
// Run it from the repository root. Every address is on loopback, every
// attack is bounded in rate, count and time, and the processes it starts
// are stopped on any exit, Ctrl-C included.
//
// Each throttled endpoint is one value of endpoints, whose rate is the
// default authd itself resolves; each scenario is one value of
// harness.scenarios and writes one section of the report.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"authd/internal/authdtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errAssertions):
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	default:
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(2)
	}
}

// errAssertions is returned when the run completed but a throttle or
// cookie assertion failed; any other error means the run itself broke.
var errAssertions = errors.New("correctness assertions failed (see the report)")

// options is the command line, read.
type options struct {
	quick      bool
	perf       bool
	authd      string
	fakeintra  string
	intraUsers string
	out        string
	keep       bool
	// metricsAddr, when set, is the throttled authd's AUTHD_METRICS_ADDR,
	// for watching its metrics during the run.
	metricsAddr string
	// only, when not empty, names the scenarios to run (scenarioKeys).
	only []string
	// postgres is the server scenario 5 creates its database on, redis
	// the one its replicas share; empty: none.
	postgres, redis string
	// authdEnv are settings (KEY=VALUE) added to those of the authd whose
	// performance is measured, to compare runtime settings (GOGC=50).
	authdEnv []string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.quick, "quick", false, "rates of N/second instead of the defaults' N/minute: a run of seconds, for CI")
	fs.BoolVar(&o.perf, "perf", true, "in full mode, also measure throughput, latency, hashing and memory")
	fs.StringVar(&o.authd, "authd", "", "authd `binary` to run (empty: build it)")
	fs.StringVar(&o.fakeintra, "fakeintra", "", "fakeintra `binary` to run (empty: build it)")
	fs.StringVar(&o.intraUsers, "intra-users", "testdata/intra/users.json", "the fake provider's users `file`")
	fs.StringVar(&o.out, "out", filepath.Join("loadtest", "out"), "`directory` of the report and plots (a folder per mode inside)")
	fs.StringVar(&o.metricsAddr, "metrics-addr", "", "AUTHD_METRICS_ADDR of the throttled authd (`host:port`), to watch its /metrics during the run; empty: none")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (programs built, databases, process logs) even when the run passes")
	only := fs.String("only", "", "run only these scenarios, separated by commas: scopes, burst, cookies, perf, memory (scenario 5's memory and login measurements alone, without its sweeps); a partial run")
	fs.StringVar(&o.postgres, "postgres", envOr(postgresVar, defaultPostgres),
		"PostgreSQL `URL` of a role that may create databases, where scenario 5 creates one for the run ($"+postgresVar+" when set); empty: SQLite only")
	fs.StringVar(&o.redis, "redis", envOr(redisVar, defaultRedis),
		"Redis `URL` the replicas of scenario 5 share, under a key prefix of the run's own ($"+redisVar+" when set); empty: none")
	fs.Func("authd-env", "a setting `KEY=VALUE` added to the environment of the authd that scenario 5 measures (GOGC=50, AUTHD_MEMORY_LIMIT=off); repeat it for more", func(v string) error {
		if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
			return errors.New("want KEY=VALUE")
		}
		o.authdEnv = append(o.authdEnv, v)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	o.only, err = parseOnly(*only)
	return o, err
}

// envOr is the environment variable key, or def when it is unset or empty.
func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// mode holds what differs between the quick and the full run.
type mode struct {
	name string
	// unit is the throttle period's name in a rate, "minute" or "second";
	// period its length.
	unit   string
	period time.Duration
	// defaultRates leaves authd's rates unset, so that its own defaults
	// are the ones verified.
	defaultRates bool
	// overrun is how long an attack goes on after one period, to see the
	// window slide.
	overrun time.Duration
	// minPerPeriod is the slowest attack rate, in requests per period.
	minPerPeriod int
	// slack is the timing error tolerated in the throttle checks, beyond
	// what the requests' own send and answer times bound.
	slack time.Duration
	// timeout bounds one request.
	timeout time.Duration
}

var (
	fullMode = mode{name: "full", unit: "minute", period: time.Minute, defaultRates: true,
		overrun: 15 * time.Second, minPerPeriod: 60, slack: 100 * time.Millisecond, timeout: 20 * time.Second}
	quickMode = mode{name: "quick", unit: "second", period: time.Second,
		overrun: 500 * time.Millisecond, minPerPeriod: 0, slack: 25 * time.Millisecond, timeout: 10 * time.Second}
)

// attackFactor is how far above its rate each scope is attacked.
const attackFactor = 2.5

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	m := fullMode
	if opts.quick {
		m = quickMode
	}
	started := time.Now()
	out := filepath.Join(opts.out, m.name)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "authd-load-")
	if err != nil {
		return err
	}
	rep := &report{Mode: m.name, Started: started, GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0), CPU: cpuModel(),
		LoadStart: loadAverage()}
	progress := func(format string, a ...any) {
		fmt.Fprintf(stdout, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
	}

	failed := false
	defer func() {
		if failed || opts.keep {
			fmt.Fprintf(stderr, "loadtest: programs built, databases and process logs kept in %s\n", tmp)
			return
		}
		os.RemoveAll(tmp)
	}()

	h := &harness{mode: m, opts: opts, tmp: tmp, out: out, rep: rep, progress: progress, audit: newCookieAudit()}
	err = h.run(ctx)
	if ctx.Err() != nil {
		// Interrupted: the last complete report stays.
		return fmt.Errorf("interrupted: %w", context.Cause(ctx))
	}
	rep.Elapsed, rep.LoadEnd = time.Since(started), loadAverage()
	if werr := writeReport(filepath.Join(out, "report.md"), rep); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		failed = true
		return err
	}
	if rep.failed() {
		failed = true
		progress("FAIL  report: %s", filepath.Join(out, "report.md"))
		return errAssertions
	}
	progress("PASS  report: %s (%s)", filepath.Join(out, "report.md"), rep.Elapsed.Round(time.Second))
	return nil
}

// harness is one run: its mode, its programs and their files, what the
// scenarios share and its findings.
type harness struct {
	mode     mode
	opts     options
	tmp      string
	out      string
	rep      *report
	progress func(format string, a ...any)
	audit    *cookieAudit

	authdBin, fakeBin string          // the programs run
	sut               *throttledAuthd // started by the first scenario that needs it
}

func (h *harness) run(ctx context.Context) (err error) {
	list := h.scenarios()
	if len(list) == 0 {
		return fmt.Errorf("no scenario to run in %s mode with -only %s", h.mode.name, strings.Join(h.opts.only, ","))
	}
	if err := h.setUp(); err != nil {
		h.notRun(list)
		return err
	}
	defer func() { err = errors.Join(err, h.stopThrottled()) }()
	return h.runScenarios(ctx, list)
}

// setUp checks the endpoint table and finds or builds the programs.
func (h *harness) setUp() error {
	if err := checkEndpoints(endpoints, h.mode); err != nil {
		return err
	}
	phase := h.phase("build")
	var err error
	if h.authdBin, h.fakeBin, err = h.binaries(); err != nil {
		return err
	}
	phase()
	return nil
}

// phase records how long a part of the run took; call the function it
// returns at the end of the part.
func (h *harness) phase(name string) func() {
	start := time.Now()
	return func() {
		h.rep.Timings = append(h.rep.Timings, timing{Phase: name, Took: time.Since(start)})
	}
}

// binaries returns the authd and fakeintra programs to run, building
// those not given into bin/ of the temporary folder.
func (h *harness) binaries() (authd, fake string, err error) {
	authd, fake = h.opts.authd, h.opts.fakeintra
	bin := filepath.Join(h.tmp, "bin")
	for _, b := range []struct {
		path *string
		pkg  string
	}{{&authd, "authd/cmd/authd"}, {&fake, "authd/cmd/fakeintra"}} {
		if *b.path == "" {
			h.progress("building %s", b.pkg)
			if err := authdtest.Build(bin, b.pkg); err != nil {
				return "", "", err
			}
			*b.path = filepath.Join(bin, path.Base(b.pkg))
		}
		abs, err := filepath.Abs(*b.path)
		if err != nil {
			return "", "", err
		}
		*b.path = abs
	}
	return authd, fake, nil
}
