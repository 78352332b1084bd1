package redislimit

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"math/rand/v2"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"authd/internal/clock"
	"authd/internal/throttle"
	"authd/internal/throttle/limitertest"
)

// The tests need a Redis server they may write keys beginning with
// "authd-test:" to. Without one they are skipped, except under CI or
// when AUTHD_TEST_REDIS_URL names one.
const defaultTestURL = "redis://127.0.0.1:6379/0"

func testURL() string {
	if u := os.Getenv("AUTHD_TEST_REDIS_URL"); u != "" {
		return u
	}
	return defaultTestURL
}

// mustClient returns a client of the test server, closed when the test
// ends, or skips the test when no server answers within 2 s.
func mustClient(tb testing.TB) *redis.Client {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := Open(ctx, testURL())
	if err != nil && (os.Getenv("AUTHD_TEST_REDIS_URL") != "" || os.Getenv("CI") != "") {
		// Where a server was promised, its absence is a failure, not a skip.
		tb.Fatalf("Redis at AUTHD_TEST_REDIS_URL (or the default, under CI) does not answer: %v", err)
	}
	if err != nil {
		tb.Skipf("no Redis server to test against: %v; start one on 127.0.0.1:6379, or set AUTHD_TEST_REDIS_URL (e.g. redis://host:6379/15) to a server where keys beginning with authd-test: may be written", err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// mustPrefix returns a key prefix of the test's own, and deletes every key
// that begins with it when the test ends.
func mustPrefix(tb testing.TB, c *redis.Client) string {
	tb.Helper()
	prefix := "authd-test:" + randomHex() + ":"
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, prefix+"*", 1000).Result()
			if err != nil {
				tb.Errorf("deleting the test keys: %v", err)
				return
			}
			if len(keys) > 0 {
				if err := c.Del(ctx, keys...).Err(); err != nil {
					tb.Errorf("deleting the test keys: %v", err)
					return
				}
			}
			if cursor = next; cursor == 0 {
				return
			}
		}
	})
	return prefix
}

// randomHex returns 16 random hexadecimal digits.
func randomHex() string {
	b := make([]byte, 8)
	crand.Read(b)
	return hex.EncodeToString(b)
}

// t0 is the time the tests' clocks start at.
var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// fixture is a Limiter on the test server with a fake clock and keys of
// the test's own.
type fixture struct {
	*Limiter
	client *redis.Client
	clock  *clock.Fake
	prefix string
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	c := mustClient(tb)
	f := &fixture{client: c, clock: clock.NewFake(t0), prefix: mustPrefix(tb, c)}
	f.Limiter = New(c, Options{Prefix: f.prefix, Now: f.clock.Now})
	return f
}

func mustAllow(tb testing.TB, l throttle.Limiter, key string, r throttle.Rate) throttle.Decision {
	tb.Helper()
	d, err := l.Allow(context.Background(), key, r)
	if err != nil {
		tb.Fatalf("Allow(%q, %v): %v", key, r, err)
	}
	return d
}

func allowed(remaining int) throttle.Decision {
	return throttle.Decision{Allowed: true, Remaining: remaining}
}

func refused(retry time.Duration) throttle.Decision {
	return throttle.Decision{RetryAfter: retry}
}

// TestConformance runs the suite every Limiter passes, plus a case of the
// Redis limiter's own: it keeps microseconds.
func TestConformance(t *testing.T) {
	t.Parallel()
	us := time.Microsecond
	limitertest.Run(t, func(t *testing.T, now func() time.Time) throttle.Limiter {
		c := mustClient(t)
		return New(c, Options{Prefix: mustPrefix(t, c), Now: now})
	}, limitertest.Case{
		Name: "times are kept to the microsecond",
		Rate: throttle.Rate{N: 1, Period: time.Minute},
		Steps: []limitertest.Step{
			{At: 999 * time.Nanosecond, Want: limitertest.Allowed(0)},            // t0
			{At: 60*time.Second - 1, Want: limitertest.Refused(us)},              // t0+60s-1µs
			{At: 60*time.Second - 1, Peek: true, Want: limitertest.Refused(us)},  // t0+60s-1µs
			{At: 60*time.Second + 999, Peek: true, Want: limitertest.Allowed(1)}, // t0+60s
			{At: 60 * time.Second, Want: limitertest.Allowed(0)},
		},
	})
}

// TestAllowMatchesMemory makes the same random calls of the Redis limiter
// and of throttle.Memory, and checks that they decide alike every time.
func TestAllowMatchesMemory(t *testing.T) {
	t.Parallel()
	for _, r := range []throttle.Rate{
		{N: 1, Period: time.Minute},
		{N: 3, Period: 10 * time.Second},
		{N: 6, Period: time.Minute},
		{N: 60, Period: time.Hour},
		{N: 512, Period: time.Hour},
		// Above the exact log size: slots of one second, which begin at
		// whole seconds for both limiters, since t0 is one.
		{N: 700, Period: 512 * time.Second},
	} {
		t.Run(r.String(), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			mem := throttle.NewMemory(throttle.MemoryOptions{Now: f.clock.Now})
			rng := rand.New(rand.NewPCG(uint64(r.N), uint64(r.Period)))
			mean := r.Period / time.Duration(r.N) // the pace the rate allows
			pause := min(r.Period, 20*mean)
			accepted, refusals := 0, 0
			for i := range 3 * r.N {
				var d time.Duration
				switch p := rng.IntN(100); {
				case p < 10: // the same instant
				case p < 12: // back, as another replica's clock may be
					d = -time.Duration(rng.Int64N(int64(mean)))
				case p < 14: // a pause
					d = time.Duration(rng.Int64N(int64(pause)))
				default: // on average faster than the rate allows
					d = time.Duration(rng.Int64N(int64(mean)))
				}
				f.clock.Advance(d.Truncate(time.Microsecond))
				want := mustAllow(t, mem, "k", r)
				got := mustAllow(t, f, "k", r)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("call %d at t0+%v (-memory +redis):\n%s", i, f.clock.Now().Sub(t0), diff)
				}
				if got.Allowed {
					accepted++
				} else {
					refusals++
				}
			}
			if accepted < r.N || refusals == 0 {
				t.Errorf("%d accepted and %d refused: the log never filled", accepted, refusals)
			}
		})
	}
}

func TestAllowTwoReplicasShareOneCounter(t *testing.T) {
	t.Parallel()
	a := newFixture(t)
	// Another process: its own connection, its own clock, the same keys.
	b := &fixture{client: mustClient(t), clock: clock.NewFake(t0), prefix: a.prefix}
	b.Limiter = New(b.client, Options{Prefix: b.prefix, Now: b.clock.Now})

	r := throttle.Rate{N: 4, Period: time.Minute}
	var got []throttle.Decision
	for i, l := range []*fixture{a, b, b, a, b, a} {
		a.clock.Set(t0.Add(time.Duration(i) * time.Second))
		b.clock.Set(t0.Add(time.Duration(i) * time.Second))
		got = append(got, mustAllow(t, l, "login|192.0.2.1", r))
	}
	want := []throttle.Decision{allowed(3), allowed(2), allowed(1), allowed(0), refused(56 * time.Second), refused(55 * time.Second)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestAllowIsAtomic has many requests of one client decided at once, by
// two replicas: exactly N are accepted.
func TestAllowIsAtomic(t *testing.T) {
	t.Parallel()
	a := newFixture(t)
	b := New(mustClient(t), Options{Prefix: a.prefix, Now: a.clock.Now})
	r := throttle.Rate{N: 10, Period: time.Minute}
	const requests = 50
	decisions := make([]throttle.Decision, requests)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range requests {
		l := throttle.Limiter(a)
		if i%2 == 1 {
			l = b
		}
		wg.Go(func() {
			<-start
			d, err := l.Allow(context.Background(), "login|192.0.2.1", r)
			if err != nil {
				t.Error(err)
			}
			decisions[i] = d
		})
	}
	close(start)
	wg.Wait()

	var remaining []int
	for _, d := range decisions {
		switch {
		case d.Allowed:
			remaining = append(remaining, d.Remaining)
		case d != refused(r.Period):
			t.Errorf("refused request: %+v, want RetryAfter %v", d, r.Period)
		}
	}
	// Each accepted request saw the ones before it: N-1, ..., 0 remaining.
	slices.Sort(remaining)
	want := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	if diff := cmp.Diff(want, remaining); diff != "" {
		t.Errorf("Remaining of the accepted requests (-want +got):\n%s", diff)
	}
	if n := a.client.ZCard(context.Background(), a.prefix+"login|192.0.2.1").Val(); n != int64(r.N) {
		t.Errorf("the log holds %d entries, want %d: one per accepted request, even of the same microsecond", n, r.N)
	}
}

func TestAllowExpiresLogs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	for _, r := range []throttle.Rate{{N: 1, Period: 10 * time.Second}, {N: 2, Period: time.Minute}, {N: 1000, Period: 24 * time.Hour}} {
		key := "k" + r.String()
		for range 3 { // accepted or refused, the log has an expiry
			mustAllow(t, f, key, r)
			ttl, err := f.client.PTTL(ctx, f.prefix+key).Result()
			if err != nil {
				t.Fatal(err)
			}
			// A TTL of -2 means no key, -1 a key without expiry.
			if ttl <= 0 || ttl > r.Period {
				t.Errorf("rate %v: PTTL = %v, want in (0, %v]", r, ttl, r.Period)
			}
		}
	}
}

// TestAllowServerClock leaves the time to the Redis server.
func TestAllowServerClock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := mustClient(t)
	prefix := mustPrefix(t, c)
	l := New(c, Options{Prefix: prefix})
	r := throttle.Rate{N: 2, Period: time.Hour}

	before, err := c.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	got := []throttle.Decision{mustAllow(t, l, "k", r), mustAllow(t, l, "k", r)}
	if diff := cmp.Diff([]throttle.Decision{allowed(1), allowed(0)}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	d := mustAllow(t, l, "k", r)
	after, err := c.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	// The first request was made at or after before, the third at or
	// before after.
	if lo := r.Period - after.Sub(before); d.Allowed || d.RetryAfter < lo || d.RetryAfter > r.Period {
		t.Errorf("third request: %+v, want refused with RetryAfter in [%v, %v]", d, lo, r.Period)
	}
	if ttl := c.PTTL(ctx, prefix+"k").Val(); ttl <= 0 || ttl > r.Period {
		t.Errorf("PTTL = %v, want in (0, %v]", ttl, r.Period)
	}
	// Another replica, with its own connection, shares the window.
	other := New(mustClient(t), Options{Prefix: prefix})
	if d := mustAllow(t, other, "k", r); d.Allowed {
		t.Errorf("other replica: %+v, want refused", d)
	}
}

func TestAllowLargeRate(t *testing.T) {
	t.Parallel()
	// 2000 per 512 s is above the exact log size: requests are counted in
	// slots of one second, and a refused client may wait up to one slot
	// longer than with an exact log, never less.
	r := throttle.Rate{N: 2000, Period: 512 * time.Second}
	const width = time.Second
	f := newFixture(t)
	every := 250 * time.Millisecond
	for i := range r.N {
		f.clock.Set(t0.Add(time.Duration(i) * every))
		if d := mustAllow(t, f, "k", r); !d.Allowed || d.Remaining != r.N-i-1 {
			t.Fatalf("request %d: %+v, want accepted with %d remaining", i, d, r.N-i-1)
		}
	}
	n, err := f.client.ZCard(context.Background(), f.prefix+"k").Result()
	if err != nil {
		t.Fatal(err)
	}
	if n > maxSlots+1 {
		t.Errorf("the log holds %d entries, want at most %d", n, maxSlots+1)
	}
	f.clock.Advance(time.Second)
	exact := r.Period - time.Second - time.Duration(r.N-1)*every
	d := mustAllow(t, f, "k", r)
	if d.Allowed || d.RetryAfter < exact || d.RetryAfter > exact+width {
		t.Fatalf("request %d: %+v, want refused with RetryAfter in [%v, %v]", r.N, d, exact, exact+width)
	}
	f.clock.Advance(d.RetryAfter - time.Microsecond)
	if d := mustAllow(t, f, "k", r); d.Allowed {
		t.Fatalf("just before RetryAfter: %+v, want refused", d)
	}
	f.clock.Advance(time.Microsecond)
	if d := mustAllow(t, f, "k", r); !d.Allowed {
		t.Fatalf("at RetryAfter: %+v, want accepted", d)
	}
}

func TestAllowRateChange(t *testing.T) {
	t.Parallel()
	s := time.Second
	f := newFixture(t)
	for i := range 5 {
		f.clock.Set(t0.Add(time.Duration(i) * s))
		mustAllow(t, f, "k", throttle.Rate{N: 5, Period: time.Minute})
	}
	f.clock.Set(t0.Add(10 * s))
	got := []throttle.Decision{
		mustAllow(t, f, "k", throttle.Rate{N: 2, Period: time.Minute}),  // five counted: refused until four have left
		mustAllow(t, f, "k", throttle.Rate{N: 10, Period: time.Minute}), // the five still counted
		mustAllow(t, f, "k", throttle.Rate{N: 6, Period: 3 * s}),        // only the last one is still in a 3s window
	}
	want := []throttle.Decision{refused(53 * s), allowed(4), allowed(4)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestAllowInvalidRate(t *testing.T) {
	t.Parallel()
	// No server is needed: the rate is refused before any is asked.
	l := New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), Options{})
	for _, r := range []throttle.Rate{{}, {N: 0, Period: time.Minute}, {N: -1, Period: time.Minute}, {N: 1}, {N: 1, Period: -time.Second}} {
		if d, err := l.Allow(context.Background(), "k", r); err == nil {
			t.Errorf("Allow at %v = %+v, want an error", r, d)
		}
	}
}

func TestAllowServerDown(t *testing.T) {
	t.Parallel()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	l := New(c, Options{})
	d, err := l.Allow(context.Background(), "k", throttle.Rate{N: 6, Period: time.Minute})
	if err == nil {
		t.Fatalf("Allow with no server = %+v, want an error", d)
	}
	if !strings.HasPrefix(err.Error(), "redislimit: allow: ") {
		t.Errorf("error %q, want it to say where it comes from", err)
	}
}

func TestAllowNotAThrottleLog(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.client.Set(ctx, f.prefix+"string", "x", time.Minute)
	f.client.ZAdd(ctx, f.prefix+"zset", redis.Z{Score: 1, Member: "x"})
	for _, key := range []string{"string", "zset"} {
		if d, err := f.Allow(ctx, key, throttle.Rate{N: 6, Period: time.Minute}); err == nil {
			t.Errorf("Allow of a key holding something else = %+v, want an error", d)
		}
	}
}

func TestDefaultPrefix(t *testing.T) {
	t.Parallel()
	if l := New(nil, Options{}); l.prefix != DefaultPrefix || DefaultPrefix != "authd:throttle:" {
		t.Errorf("prefix = %q, want %q", l.prefix, "authd:throttle:")
	}
}

func TestOpenNeverShowsThePassword(t *testing.T) {
	t.Parallel()
	const secret = "hunter%32" // "hunter2", escaped
	for _, tc := range []struct {
		name, url, want string
	}{
		{"not a URL", "redis://:" + secret + "@127.0.0.1:port/0", "does not parse"},
		{"wrong scheme", "http://:" + secret + "@127.0.0.1/0", `scheme "http"`},
		{"unix socket", "unix://:" + secret + "@/tmp/redis.sock", `scheme "unix"`},
		{"bad database", "redis://:" + secret + "@127.0.0.1:1/x", "redis://127.0.0.1:1/x: redis: invalid database number"},
		{"bad option", "redis://:" + secret + "@127.0.0.1:1/0?dial_timeout=soon", "redis://127.0.0.1:1/0: redis: invalid dial_timeout duration"},
		{"no server", "redis://:" + secret + "@127.0.0.1:1/0", "redislimit: ping redis://127.0.0.1:1/0: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := Open(ctx, tc.url)
			if err == nil {
				c.Close()
				t.Fatalf("Open(%q) succeeded, want an error", tc.url)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q, want it to contain %q", msg, tc.want)
			}
			if strings.Contains(msg, "hunter") {
				t.Errorf("error %q shows the password", msg)
			}
		})
	}
}

func TestOpenWrongPassword(t *testing.T) {
	t.Parallel()
	mustClient(t) // skips without a server
	u, err := url.Parse(testURL())
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("authd-test-"+randomHex(), "not-the-password")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := Open(ctx, u.String())
	if err == nil {
		c.Close()
		t.Fatal("Open with a wrong user and password succeeded")
	}
	if strings.Contains(err.Error(), "not-the-password") {
		t.Errorf("error %q shows the password", err)
	}
}

func TestOpenTimeouts(t *testing.T) {
	t.Parallel()
	mustClient(t)
	u, err := url.Parse(testURL())
	if err != nil {
		t.Fatal(err)
	}
	type timeouts struct{ Dial, Read, Write time.Duration }
	for _, tc := range []struct {
		query string
		want  timeouts
	}{
		{"", timeouts{2 * time.Second, time.Second, time.Second}},
		{"dial_timeout=3s&read_timeout=4s&write_timeout=5s", timeouts{3 * time.Second, 4 * time.Second, 5 * time.Second}},
	} {
		q := u.Query()
		for _, k := range []string{"dial_timeout", "read_timeout", "write_timeout"} {
			delete(q, k)
		}
		extra, _ := url.ParseQuery(tc.query)
		for k, v := range extra {
			q[k] = v
		}
		v := *u
		v.RawQuery = q.Encode()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := Open(ctx, v.String())
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		o := c.Options()
		got := timeouts{o.DialTimeout, o.ReadTimeout, o.WriteTimeout}
		c.Close()
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("query %q (-want +got):\n%s", tc.query, diff)
		}
		if !o.ContextTimeoutEnabled {
			t.Errorf("query %q: the context does not bound calls", tc.query)
		}
	}
}
