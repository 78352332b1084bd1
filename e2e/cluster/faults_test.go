//go:build e2e && linux

package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"authd/internal/authdtest"
)

// The faults here stop a server that replicas depend on while they are
// under load, so each test runs a PostgreSQL or Redis of its own (see
// servers_test.go); the shared ones stay up for every other test.

const (
	loadPassword = "load test password"
	// loadRequests bounds the requests of one worker of a load.
	loadRequests = 2000
	// recoveryBound is how long replicas may take to serve normally again
	// once their dependency is back.
	recoveryBound = 20 * time.Second
)

// mustReplicas starts one authd per name on the same settings, at once.
func mustReplicas(t *testing.T, bin string, names []string, settings ...string) []*authdtest.Server {
	t.Helper()
	var commands []authdtest.Command
	for _, name := range names {
		c := authdtest.AuthdCommand(bin, settings...)
		c.Name = "replica-" + name
		commands = append(commands, c)
	}
	return authdtest.MustStartAll(t, commands...)
}

// wantRunning fails the test for each replica that has exited.
func wantRunning(t *testing.T, replicas []*authdtest.Server) {
	t.Helper()
	for _, r := range replicas {
		select {
		case <-r.Exited():
			t.Errorf("%s exited: %v", r.Name, r.ExitErr())
		default:
		}
	}
}

// readiness is an answer of GET /readyz.
type readiness struct {
	status int
	body   map[string]string
}

func mustReadyz(t *testing.T, r *authdtest.Server) readiness {
	t.Helper()
	u := newClient(t)
	defer u.CloseIdleConnections()
	resp := u.Via(r.Addr).Call("GET", "/readyz", "", nil)
	out := readiness{status: resp.Status}
	resp.MustDecode(t, &out.body)
	return out
}

// load runs workers until stopped, or until each has made loadRequests
// requests, and keeps every answer.
type load struct {
	stop    chan struct{}
	stopped sync.Once
	wg      sync.WaitGroup

	mu      sync.Mutex
	answers []answer
}

// answer is one answer of a load: to which request, from which replica,
// when it was asked and when answered.
type answer struct {
	op         string
	replica    int
	sent, got  time.Time
	status     int
	code       string // of an error answer
	retryAfter string
	body       []byte
	err        error  // the transport's
	username   string // of a registration
	id         int64  // of a registration acknowledged
}

// ok reports whether the request did what it asked.
func (a answer) ok() bool {
	return a.err == nil && (a.status == 200 || a.status == 201)
}

func (a answer) String() string {
	if a.err != nil {
		return fmt.Sprintf("%s on replica %d at %s: %v", a.op, a.replica, a.sent.Format("15:04:05.000"), a.err)
	}
	return fmt.Sprintf("%s on replica %d at %s = %d %s (Retry-After %q)", a.op, a.replica, a.sent.Format("15:04:05.000"), a.status, a.code, a.retryAfter)
}

// startLoad runs workers until the load is stopped; the test stops it when
// it ends, if it has not already.
func startLoad(t *testing.T, workers ...func(i int) answer) *load {
	l := &load{stop: make(chan struct{})}
	t.Cleanup(l.end)
	for _, work := range workers {
		l.wg.Go(func() {
			for i := range loadRequests {
				select {
				case <-l.stop:
					return
				default:
				}
				a := work(i)
				l.mu.Lock()
				l.answers = append(l.answers, a)
				l.mu.Unlock()
				select {
				case <-l.stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		})
	}
	return l
}

// end stops the load and waits for its workers.
func (l *load) end() {
	l.stopped.Do(func() { close(l.stop) })
	l.wg.Wait()
}

// snapshot returns the answers so far.
func (l *load) snapshot() []answer {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]answer(nil), l.answers...)
}

// send makes one request of a load to replica k and reads its answer.
func send(u *authdtest.Client, r *authdtest.Server, k int, op, method, path string, body any) answer {
	a := answer{op: op, replica: k, sent: time.Now()}
	resp, err := u.Via(r.Addr).Send(u.NewRequest(method, path, "", body))
	a.got = time.Now()
	if err != nil {
		a.err = err
		return a
	}
	a.status, a.code, a.retryAfter, a.body = resp.Status, resp.Error.Code, resp.Header.Get("Retry-After"), resp.Body
	return a
}

// tally counts problems of one kind, keeping a few examples.
type tally struct {
	what     string
	n        int
	examples []string
}

func (p *tally) add(a answer) {
	p.n++
	if len(p.examples) < 5 {
		p.examples = append(p.examples, a.String())
	}
}

func (p *tally) report(t *testing.T) {
	t.Helper()
	if p.n > 0 {
		t.Errorf("%d answers %s, e.g.:\n\t%s", p.n, p.what, strings.Join(p.examples, "\n\t"))
	}
}

// wantUnavailable reports whether a is the contract's answer to a request
// made while a dependency is away: 503 unavailable with a Retry-After of
// whole seconds.
func wantUnavailable(a answer) bool {
	secs, err := strconv.Atoi(a.retryAfter)
	return a.err == nil && a.status == 503 && a.code == "unavailable" && err == nil && secs > 0
}

// mustListUsers returns the users `authd user list` finds in the
// database, by username, with their ids.
func mustListUsers(t *testing.T, bin, db string) map[string]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "user", "list")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "AUTHD_DB=" + db}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("authd user list: %v\n%s", err, stderr.String())
	}
	users := map[string]int64{}
	for i, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 2 {
			continue // the heading
		}
		id, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			t.Fatalf("authd user list: line %q", line)
		}
		users[f[1]] = id
	}
	return users
}

// TestPostgresOutage: two replicas on a PostgreSQL of their own take a load
// of registrations and refreshes; PostgreSQL is stopped at once, as a crash
// would stop it (pg_ctl stop -m immediate), and started again a few
// seconds later. While it is away every request that needs it gets 503
// unavailable with Retry-After and /readyz 503 naming the database; once
// it is back, both replicas serve again without a restart; no answer is
// ever a 500, no replica exits, and every registration acknowledged with a
// 201 is in the database afterwards, its password accepted.
func TestPostgresOutage(t *testing.T) {
	t.Parallel()
	pg := mustPrivatePostgres(t)
	bin := authdBin(t)
	replicas := mustReplicas(t, bin, []string{"A", "B"},
		"AUTHD_DB="+pg.URL(),
		"AUTHD_COOKIE_SECURE=false", // plain HTTP on loopback
		"AUTHD_TRUSTED_PROXIES=127.0.0.1/32",
		"AUTHD_THROTTLE_REGISTER=100000/minute",
		"AUTHD_THROTTLE_LOGIN=100000/minute",
		"AUTHD_THROTTLE_REFRESH=100000/minute",
		"AUTHD_HASH_CONCURRENCY=1",
	)
	const outage = 4 * time.Second

	// Two users with a session each refresh it, through either replica.
	var sessions []*authdtest.Client
	for k := range replicas {
		u := newClient(t)
		name := fmt.Sprintf("refresher%d", k)
		u.Via(replicas[k].Addr).MustRegister(name, loadPassword)
		u.Via(replicas[k].Addr).MustLogin(name, loadPassword)
		sessions = append(sessions, u)
	}
	var seq atomic.Int64
	register := func() func(int) answer {
		u := newClient(t)
		return func(int) answer {
			n := seq.Add(1)
			name := fmt.Sprintf("pgload%05d", n)
			k := int(n) % len(replicas)
			a := send(u, replicas[k], k, "register", "POST", "/auth/register/",
				authdtest.RegisterRequest{Username: name, Password: loadPassword})
			a.username = name
			if a.status == 201 {
				var reg authdtest.RegisterResponse
				if err := json.Unmarshal(a.body, &reg); err != nil || reg.Username != name {
					a.err = fmt.Errorf("201 %q: not the registration of %s", a.body, name)
				}
				a.id = reg.ID
			}
			return a
		}
	}
	refresh := func(u *authdtest.Client) func(int) answer {
		return func(i int) answer {
			k := i % len(replicas)
			return send(u, replicas[k], k, "refresh", "POST", "/auth/refresh/", nil)
		}
	}
	l := startLoad(t, register(), register(), register(), refresh(sessions[0]), refresh(sessions[1]))

	time.Sleep(3 * time.Second)
	crashing := time.Now()
	if err := pg.crash(); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	t.Logf("PostgreSQL stopped (immediate) in %s", down.Sub(crashing).Round(time.Millisecond))

	time.Sleep(outage / 2)
	for _, r := range replicas {
		ready := mustReadyz(t, r)
		if ready.status != 503 || ready.body["error"] != "not_ready" || !strings.Contains(ready.body["detail"], "database") {
			t.Errorf("/readyz of %s with PostgreSQL down = %d %v, want 503 not_ready naming the database", r.Name, ready.status, ready.body)
		}
	}
	time.Sleep(time.Until(down.Add(outage)))

	restarting := time.Now()
	if err := pg.start(); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	t.Logf("PostgreSQL down for %s, started again (crash recovery included) in %s",
		restarting.Sub(down).Round(time.Millisecond), up.Sub(restarting).Round(time.Millisecond))

	// Each replica recovers when a request sent after PostgreSQL is back
	// succeeds on it, and /readyz answers 200.
	recovered := make([]time.Time, len(replicas))
	readyAgain := make([]time.Time, len(replicas))
	for deadline := up.Add(recoveryBound); ; {
		for _, a := range l.snapshot() {
			if a.ok() && !a.sent.Before(up) && (recovered[a.replica].IsZero() || a.got.Before(recovered[a.replica])) {
				recovered[a.replica] = a.got
			}
		}
		all := true
		for k, r := range replicas {
			if readyAgain[k].IsZero() && mustReadyz(t, r).status == 200 {
				readyAgain[k] = time.Now()
			}
			all = all && !recovered[k].IsZero() && !readyAgain[k].IsZero()
		}
		if all {
			break
		}
		if time.Now().After(deadline) {
			l.end()
			t.Fatalf("the replicas did not recover within %s of PostgreSQL's return: served again at %v, ready again at %v",
				recoveryBound, recovered, readyAgain)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for k, r := range replicas {
		t.Logf("%s served again %s after PostgreSQL was back, /readyz 200 after %s", r.Name,
			recovered[k].Sub(up).Round(time.Millisecond), readyAgain[k].Sub(up).Round(time.Millisecond))
	}
	// A little more load, to see that the replicas stay recovered.
	const settle = time.Second
	time.Sleep(settle + 2*time.Second)
	l.end()
	wantRunning(t, replicas)

	answers := l.snapshot()
	wrong := tally{what: "neither a success nor 503 unavailable with Retry-After (a 500, say)"}
	failedBefore := tally{what: "failed before PostgreSQL was stopped"}
	succeededDown := tally{what: "succeeded while PostgreSQL was down"}
	failedAfter := tally{what: fmt.Sprintf("failed more than %s after their replica had recovered", settle)}
	var acked []answer
	var (
		unavailable  = make([]int, len(replicas)) // while PostgreSQL was down
		ackedByPhase [3]int                       // before, during, after the outage
	)
	for _, a := range answers {
		if !a.ok() && !wantUnavailable(a) {
			wrong.add(a)
			continue
		}
		if a.op == "register" && a.ok() {
			acked = append(acked, a)
			switch {
			case a.got.Before(crashing):
				ackedByPhase[0]++
			case a.sent.Before(up):
				ackedByPhase[1]++
			default:
				ackedByPhase[2]++
			}
		}
		switch {
		case a.got.Before(crashing):
			if !a.ok() {
				failedBefore.add(a)
			}
		case !a.sent.Before(down) && a.got.Before(restarting):
			if a.ok() {
				succeededDown.add(a)
			} else {
				unavailable[a.replica]++
			}
		case a.sent.After(recovered[a.replica].Add(settle)):
			if !a.ok() {
				failedAfter.add(a)
			}
		}
	}
	for _, p := range []*tally{&wrong, &failedBefore, &succeededDown, &failedAfter} {
		p.report(t)
	}
	for k, r := range replicas {
		if unavailable[k] == 0 {
			t.Errorf("no request to %s was answered while PostgreSQL was down: the load did not reach it", r.Name)
		}
	}
	if ackedByPhase[0] == 0 || ackedByPhase[2] == 0 {
		t.Errorf("registrations acknowledged before the outage, during it and after: %v; want some before and after", ackedByPhase)
	}
	t.Logf("%d answers; %d registrations acknowledged (%d before the outage, %d across its edges, %d after); 503 unavailable while PostgreSQL was down: %v per replica",
		len(answers), len(acked), ackedByPhase[0], ackedByPhase[1], ackedByPhase[2], unavailable)

	// Every acknowledged registration is in the database, under its id.
	users := mustListUsers(t, bin, pg.URL())
	missing := 0
	for _, a := range acked {
		if id, ok := users[a.username]; !ok || id != a.id {
			missing++
			if missing <= 5 {
				t.Errorf("acknowledged registration %s (id %d) not in the database after the outage (found id %d)", a.username, a.id, id)
			}
		}
	}
	extra := 0
	for name := range users {
		if strings.HasPrefix(name, "pgload") {
			extra++
		}
	}
	extra -= len(acked) - missing
	t.Logf("authd user list: all %d acknowledged registrations there but %d; %d more committed though not acknowledged", len(acked), missing, extra)

	// The registrations acknowledged last before the crash and first after
	// the return log in, on either replica.
	slices.SortFunc(acked, func(a, b answer) int { return a.got.Compare(b.got) })
	before := slices.IndexFunc(acked, func(a answer) bool { return !a.got.Before(crashing) })
	after := slices.IndexFunc(acked, func(a answer) bool { return !a.sent.Before(up) })
	if before < 0 || after < 0 {
		t.Fatalf("no registration acknowledged before the outage or after it")
	}
	edge := append(acked[max(0, before-3):before:before], acked[after:min(len(acked), after+3)]...)
	for i, a := range edge {
		r := newClient(t).Via(replicas[i%len(replicas)].Addr).Login(a.username, loadPassword)
		if r.Status != 200 {
			t.Errorf("acknowledged user %s cannot log in after the outage: %s", a.username, r)
		}
	}
}

// TestRedisOutage: two replicas count their throttles in a Redis of their
// own under a load of logins; Redis is killed (SIGKILL), the load goes on,
// and Redis is started again, empty, on the same port. The login throttle
// (5 a minute per client address) stays exact in each phase: with Redis, 5
// across both replicas together; while it is away, 5 on each replica, each
// counting on its own; once both are back on Redis, 5 together again. A
// fresh client address per phase keeps the phases apart. /readyz stays 200
// and says "degraded" while Redis is away and "redis" once it is back; no
// login of the load fails, no answer is a 500, no replica exits.
func TestRedisOutage(t *testing.T) {
	t.Parallel()
	rs := mustPrivateRedis(t)
	db := mustDatabase(t)
	const rate = 5
	replicas := mustReplicas(t, authdBin(t), []string{"A", "B"},
		"AUTHD_DB="+db,
		"AUTHD_REDIS_URL="+rs.URL(),
		"AUTHD_COOKIE_SECURE=false", // plain HTTP on loopback
		"AUTHD_TRUSTED_PROXIES=127.0.0.1/32",
		fmt.Sprintf("AUTHD_THROTTLE_LOGIN=%d/minute", rate),
		"AUTHD_HASH_CONCURRENCY=1",
	)
	const loader = "loader"
	newClient(t).Via(replicas[0].Addr).MustRegister(loader, loadPassword)

	// throttle waits until /readyz of every replica is 200 and names a
	// throttle that passes want, and returns how long that took.
	throttle := func(what string, want func(string) bool) time.Duration {
		t.Helper()
		began := time.Now()
		for deadline := began.Add(recoveryBound); ; {
			all := true
			var got []string
			for _, r := range replicas {
				ready := mustReadyz(t, r)
				if ready.status != 200 {
					t.Fatalf("/readyz of %s = %d %v, want 200: Redis is no readiness check", r.Name, ready.status, ready.body)
				}
				got = append(got, ready.body["throttle"])
				all = all && want(ready.body["throttle"])
			}
			if all {
				return time.Since(began)
			}
			if time.Now().After(deadline) {
				t.Fatalf("/readyz of the replicas says the throttle is %q after %s, want it %s", got, recoveryBound, what)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	shared := func(s string) bool { return s == "redis" }
	degraded := func(s string) bool { return strings.HasPrefix(s, "degraded") }

	// burst sends perReplica failed logins to each replica at once, all
	// from one new client address, and returns how many passed the
	// throttle on each (400 invalid_credentials); the others must be 429.
	burst := func(phase string, perReplica int) []int {
		t.Helper()
		u := newClient(t)
		defer u.CloseIdleConnections()
		passed := make([]atomic.Int64, len(replicas))
		var wg sync.WaitGroup
		for k, r := range replicas {
			// A username per phase and replica: its failures stay under
			// the lockout's threshold.
			creds := map[string]string{"username": "nobody-" + phase + "-" + r.Name, "password": "not the password"}
			for range perReplica {
				wg.Go(func() {
					a := send(u, r, k, "login ("+phase+")", "POST", "/auth/login/", creds)
					switch {
					case a.err == nil && a.status == 400 && a.code == "invalid_credentials":
						passed[k].Add(1)
					case a.err == nil && a.status == 429 && a.code == "throttled" && a.retryAfter != "":
					default:
						t.Errorf("%s, want 400 invalid_credentials or 429 throttled", a)
					}
				})
			}
		}
		wg.Wait()
		out := make([]int, len(replicas))
		for k := range passed {
			out[k] = int(passed[k].Load())
		}
		return out
	}
	sum := func(n []int) int {
		s := 0
		for _, v := range n {
			s += v
		}
		return s
	}

	// The load logs the same user in from a new client address each
	// time: the throttle never refuses it, so every login must succeed.
	login := func() func(int) answer {
		u := newClient(t)
		return func(i int) answer {
			k := i % len(replicas)
			req := u.NewRequest("POST", "/auth/login/", "", map[string]string{"username": loader, "password": loadPassword})
			req.Header.Set("X-Forwarded-For", clientAddress())
			a := answer{op: "login", replica: k, sent: time.Now()}
			resp, err := u.Via(replicas[k].Addr).Send(req)
			a.got, a.err = time.Now(), err
			a.status, a.code, a.retryAfter = resp.Status, resp.Error.Code, resp.Header.Get("Retry-After")
			return a
		}
	}
	l := startLoad(t, login(), login(), login())

	throttle("shared in Redis", shared)
	if got := burst("shared", rate+1); sum(got) != rate {
		t.Errorf("with Redis, %d logins at once from one address across both replicas: %v passed the throttle, want %d in all", 2*(rate+1), got, rate)
	}

	killed := time.Now()
	if err := rs.kill(); err != nil {
		t.Fatal(err)
	}
	noticed := throttle("degraded", degraded)
	t.Logf("Redis killed; both replicas counting on their own after %s", noticed.Round(time.Millisecond))
	if got := burst("alone", rate+3); got[0] != rate || got[1] != rate {
		t.Errorf("without Redis, %d logins at once from one address to each replica: %v passed the throttle, want %d on each", rate+3, got, rate)
	}
	time.Sleep(time.Until(killed.Add(3 * time.Second)))

	restarting := time.Now()
	if err := rs.start(); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	returned := throttle("back in Redis", shared)
	t.Logf("Redis down for %s; both replicas counting in it again %s after it was back", restarting.Sub(killed).Round(time.Millisecond), returned.Round(time.Millisecond))
	if got := burst("shared-again", rate+1); sum(got) != rate {
		t.Errorf("with Redis back, %d logins at once from one address across both replicas: %v passed the throttle, want %d in all", 2*(rate+1), got, rate)
	}
	l.end()
	wantRunning(t, replicas)

	answers := l.snapshot()
	failed := tally{what: "of the load's logins failed"}
	duringOutage := 0
	var slowest time.Duration
	for _, a := range answers {
		if !a.ok() {
			failed.add(a)
		}
		if !a.sent.Before(killed) && a.got.Before(back) {
			duringOutage++
		}
		slowest = max(slowest, a.got.Sub(a.sent))
	}
	failed.report(t)
	if duringOutage == 0 {
		t.Error("no login of the load was made while Redis was away")
	}
	t.Logf("%d logins of the load, %d of them while Redis was away, %d failed; the slowest took %s",
		len(answers), duringOutage, failed.n, slowest.Round(time.Millisecond))
}
