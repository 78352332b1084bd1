package redislimit

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"authd/internal/throttle"
)

func mustPeek(tb testing.TB, l throttle.Limiter, key string, r throttle.Rate) throttle.Decision {
	tb.Helper()
	d, err := l.Peek(context.Background(), key, r)
	if err != nil {
		tb.Fatalf("Peek(%q, %v): %v", key, r, err)
	}
	return d
}

// TestPeekOnlyReads checks that Peek creates no log, and leaves one as it
// is: its entries and its expiry. What Peek decides is checked by
// limitertest.
func TestPeekOnlyReads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	r := throttle.Rate{N: 3, Period: 10 * time.Second}
	mustPeek(t, f, "k", r)
	if n := f.client.Exists(ctx, f.prefix+"k").Val(); n != 0 {
		t.Errorf("Peek of an unknown key created it")
	}
	for i := range 4 {
		f.clock.Set(t0.Add(time.Duration(i) * time.Second))
		mustPeek(t, f, "k", r)
		mustAllow(t, f, "k", r)
	}
	ttl := f.client.PTTL(ctx, f.prefix+"k").Val()
	f.clock.Set(t0.Add(10 * time.Second))
	mustPeek(t, f, "k", r)
	// The log is only read: Peek removes nothing and keeps the expiry.
	if n := f.client.ZCard(ctx, f.prefix+"k").Val(); n != 3 {
		t.Errorf("after Peek the log holds %d entries, want the 3 Allow wrote", n)
	}
	if after := f.client.PTTL(ctx, f.prefix+"k").Val(); after > ttl {
		t.Errorf("Peek extended the log's expiry from %v to %v", ttl, after)
	}
}

func TestPeekFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	defer down.Close()
	bad := New(down, Options{})
	d, err := bad.Peek(ctx, "k", throttle.Rate{N: 6, Period: time.Minute})
	if err == nil || !strings.HasPrefix(err.Error(), "redislimit: peek: ") {
		t.Errorf("Peek with no server = %+v, %v; want an error saying where it comes from", d, err)
	}

	f := newFixture(t)
	f.client.Set(ctx, f.prefix+"string", "x", time.Minute)
	f.client.ZAdd(ctx, f.prefix+"zset", redis.Z{Score: 1, Member: "x"})
	for _, key := range []string{"string", "zset"} {
		if d, err := f.Peek(ctx, key, throttle.Rate{N: 6, Period: time.Minute}); err == nil {
			t.Errorf("Peek of a key holding something else = %+v, want an error", d)
		}
	}
}

// TestPeekServerClock leaves the time to the Redis server.
func TestPeekServerClock(t *testing.T) {
	t.Parallel()
	c := mustClient(t)
	l := New(c, Options{Prefix: mustPrefix(t, c)})
	r := throttle.Rate{N: 1, Period: time.Hour}
	if d := mustPeek(t, l, "k", r); !d.Allowed {
		t.Fatalf("Peek of an empty log = %+v", d)
	}
	mustAllow(t, l, "k", r)
	if d := mustPeek(t, l, "k", r); d.Allowed || d.RetryAfter <= r.Period-time.Minute || d.RetryAfter > r.Period {
		t.Errorf("Peek after the one request = %+v, want refused for about an hour", d)
	}
}
