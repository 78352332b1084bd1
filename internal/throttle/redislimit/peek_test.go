package redislimit

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"authd/internal/throttle"
)

func mustPeek(tb testing.TB, p throttle.Limiter, key string, r throttle.Rate) throttle.Decision {
	tb.Helper()
	d, err := p.Peek(context.Background(), key, r)
	if err != nil {
		tb.Fatalf("Peek(%q, %v): %v", key, r, err)
	}
	return d
}

func TestPeekCountsNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	r := throttle.Rate{N: 3, Period: 10 * time.Second}
	if diff := cmp.Diff(allowed(3), mustPeek(t, f, "k", r)); diff != "" {
		t.Errorf("Peek of an unknown key (-want +got):\n%s", diff)
	}
	if n := f.client.Exists(ctx, f.prefix+"k").Val(); n != 0 {
		t.Errorf("Peek of an unknown key created it")
	}
	for range 20 {
		mustPeek(t, f, "k", r)
	}
	var got []throttle.Decision
	for i := range 4 {
		f.clock.Set(time.Duration(i) * time.Second)
		got = append(got, mustPeek(t, f, "k", r), mustAllow(t, f, "k", r))
	}
	want := []throttle.Decision{
		allowed(3), allowed(2),
		allowed(2), allowed(1),
		allowed(1), allowed(0),
		refused(7 * time.Second), refused(7 * time.Second),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Peek, Allow, ... (-want +got):\n%s", diff)
	}
	ttl := f.client.PTTL(ctx, f.prefix+"k").Val()
	f.clock.Set(10 * time.Second)
	if diff := cmp.Diff(allowed(1), mustPeek(t, f, "k", r)); diff != "" {
		t.Errorf("once the oldest left (-want +got):\n%s", diff)
	}
	// The log is only read: Peek removes nothing and keeps the expiry.
	if n := f.client.ZCard(ctx, f.prefix+"k").Val(); n != 3 {
		t.Errorf("after Peek the log holds %d entries, want the 3 Allow wrote", n)
	}
	if after := f.client.PTTL(ctx, f.prefix+"k").Val(); after > ttl {
		t.Errorf("Peek extended the log's expiry from %v to %v", ttl, after)
	}
}

// TestPeekMatchesMemory checks, over random traffic, that Peek decides as
// throttle.Memory's Peek does, and as the Allow that follows it.
func TestPeekMatchesMemory(t *testing.T) {
	t.Parallel()
	for _, r := range []throttle.Rate{
		{N: 1, Period: time.Minute},
		{N: 10, Period: 15 * time.Minute},
		{N: 60, Period: time.Hour},
		{N: 700, Period: 512 * time.Second},
	} {
		t.Run(r.String(), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			mem := throttle.NewMemory(throttle.MemoryOptions{Now: f.clock.Now})
			rng := rand.New(rand.NewPCG(uint64(r.N), 11))
			mean := r.Period / time.Duration(r.N)
			for i := range 3 * r.N {
				var d time.Duration
				switch p := rng.IntN(100); {
				case p < 10:
				case p < 12:
					d = -time.Duration(rng.Int64N(int64(mean)))
				case p < 15:
					d = time.Duration(rng.Int64N(int64(r.Period)))
				default:
					d = time.Duration(rng.Int64N(int64(mean)))
				}
				f.clock.Advance(d.Truncate(time.Microsecond))
				want := mustPeek(t, mem, "k", r)
				got := mustPeek(t, f, "k", r)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("call %d at t0+%v (-memory +redis):\n%s", i, f.clock.Now().Sub(t0), diff)
				}
				a := mustAllow(t, f, "k", r)
				mustAllow(t, mem, "k", r)
				if got.Allowed {
					got.Remaining--
				}
				if diff := cmp.Diff(a, got); diff != "" {
					t.Fatalf("call %d: Peek differs from the Allow after it (-allow +peek):\n%s", i, diff)
				}
			}
		})
	}
}

func TestPeekFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	defer down.Close()
	bad := New(down, Options{})
	for _, r := range []throttle.Rate{{}, {N: 0, Period: time.Minute}, {N: 1}} {
		if d, err := bad.Peek(ctx, "k", r); err == nil {
			t.Errorf("Peek at %v = %+v, want an error", r, d)
		}
	}
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
