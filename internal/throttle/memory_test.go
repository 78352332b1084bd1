package throttle

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authd/internal/clock"
)

// t0 is the time the tests' clocks start at.
var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func allowed(remaining int) Decision { return Decision{Allowed: true, Remaining: remaining} }
func refused(retry time.Duration) Decision {
	return Decision{RetryAfter: retry}
}

func mustAllow(t testing.TB, m *Memory, key string, r Rate) Decision {
	t.Helper()
	d, err := m.Allow(context.Background(), key, r)
	if err != nil {
		t.Fatalf("Allow(%q, %v): %v", key, r, err)
	}
	return d
}

// TestMemoryHammering checks a client that keeps calling while refused: at
// any time, exactly min(N, accepted in the last period) is in the log, and
// refusals never delay the next acceptance.
func TestMemoryHammering(t *testing.T) {
	t.Parallel()
	r := Rate{6, time.Minute}
	c := clock.NewFake(t0)
	m := NewMemory(MemoryOptions{Now: c.Now})
	var accepted []time.Duration // times of the accepted requests
	for now := time.Duration(0); now < 10*time.Minute; now += 250 * time.Millisecond {
		c.Set(t0.Add(now))
		got := mustAllow(t, m, "k", r)
		inWindow := 0
		for _, a := range accepted {
			if now-a < r.Period {
				inWindow++
			}
		}
		var want Decision
		if inWindow < r.N {
			want = allowed(r.N - inWindow - 1)
			accepted = append(accepted, now)
		} else {
			want = refused(r.Period - (now - accepted[len(accepted)-r.N]))
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("at t0+%v (-want +got):\n%s", now, diff)
		}
	}
	if want := 6 * 10; len(accepted) != want {
		t.Errorf("accepted %d requests in ten minutes, want %d", len(accepted), want)
	}
}

func TestMemoryLargeRate(t *testing.T) {
	t.Parallel()
	// 10000/day is above the exact log size: requests are counted in
	// buckets of Period/maxSlots, and a refused client may wait up to
	// one bucket longer than with an exact log, never less.
	r := Rate{10000, 24 * time.Hour}
	width := (r.Period + maxSlots - 1) / maxSlots
	c := clock.NewFake(t0)
	m := NewMemory(MemoryOptions{Now: c.Now})
	for i := range r.N {
		c.Set(t0.Add(time.Duration(i) * 7 * time.Second))
		if d := mustAllow(t, m, "k", r); !d.Allowed || d.Remaining != r.N-i-1 {
			t.Fatalf("request %d: %+v, want accepted with %d remaining", i, d, r.N-i-1)
		}
	}
	last := time.Duration(r.N-1) * 7 * time.Second
	c.Set(t0.Add(last + time.Second))
	d := mustAllow(t, m, "k", r)
	exact := r.Period - (last + time.Second)
	if d.Allowed || d.RetryAfter < exact || d.RetryAfter > exact+width {
		t.Fatalf("request %d: %+v, want refused with RetryAfter in [%v, %v]", r.N, d, exact, exact+width)
	}
	c.Advance(d.RetryAfter - 1)
	if d := mustAllow(t, m, "k", r); d.Allowed {
		t.Fatalf("just before RetryAfter: %+v, want refused", d)
	}
	c.Advance(1)
	if d := mustAllow(t, m, "k", r); !d.Allowed {
		t.Fatalf("at RetryAfter: %+v, want accepted", d)
	}

	for i := range m.shards {
		for _, e := range m.shards[i].keys {
			if len(e.slots) > maxSlots+1 {
				t.Errorf("log of %d slots, want at most %d", len(e.slots), maxSlots+1)
			}
		}
	}
}

func TestMemoryNeverAcceptsMoreThanN(t *testing.T) {
	t.Parallel()
	// Over any window of one period, at most N requests are accepted,
	// whatever the rate's log layout.
	for _, r := range []Rate{{3, time.Second}, {600, time.Second}, {2000, time.Minute}} {
		t.Run(r.String(), func(t *testing.T) {
			t.Parallel()
			c := clock.NewFake(t0)
			m := NewMemory(MemoryOptions{Now: c.Now})
			var accepted []time.Duration
			step := r.Period / time.Duration(3*r.N)
			for now := time.Duration(0); now < 5*r.Period; now += step + time.Duration(len(accepted)%7) {
				c.Set(t0.Add(now))
				if mustAllow(t, m, "k", r).Allowed {
					accepted = append(accepted, now)
				}
			}
			for i := r.N; i < len(accepted); i++ {
				if accepted[i]-accepted[i-r.N] < r.Period {
					t.Fatalf("requests %d and %d accepted %v apart, under one period", i-r.N, i, accepted[i]-accepted[i-r.N])
				}
			}
			if len(accepted) < 4*r.N {
				t.Errorf("accepted %d in five periods, want at least %d", len(accepted), 4*r.N)
			}
		})
	}
}

func TestMemoryRateChange(t *testing.T) {
	t.Parallel()
	s := time.Second
	c := clock.NewFake(t0)
	m := NewMemory(MemoryOptions{Now: c.Now})
	for i := range 5 {
		c.Set(t0.Add(time.Duration(i) * s))
		mustAllow(t, m, "k", Rate{5, time.Minute})
	}
	c.Set(t0.Add(10 * s))
	got := []Decision{
		mustAllow(t, m, "k", Rate{2, time.Minute}),  // five counted: refused until four have left
		mustAllow(t, m, "k", Rate{10, time.Minute}), // the five still counted
		mustAllow(t, m, "k", Rate{6, 3 * s}),        // only the last one is still in a 3s window
	}
	want := []Decision{refused(53 * s), allowed(4), allowed(4)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestMemoryInvalidRate(t *testing.T) {
	t.Parallel()
	m := NewMemory(MemoryOptions{})
	for _, r := range []Rate{{}, {0, time.Minute}, {-1, time.Minute}, {1, 0}, {1, -time.Second}} {
		if d, err := m.Allow(context.Background(), "k", r); err == nil {
			t.Errorf("Allow at %v = %+v, want an error", r, d)
		}
	}
	if n := m.Len(); n != 0 {
		t.Errorf("Len() = %d after invalid rates, want 0", n)
	}
}

func TestMemoryBoundedKeys(t *testing.T) {
	t.Parallel()
	const maxKeys = 1000
	c := clock.NewFake(t0)
	m := NewMemory(MemoryOptions{Now: c.Now, MaxKeys: maxKeys})
	r := Rate{6, time.Minute}
	for i := range 100_000 {
		c.Advance(time.Millisecond)
		key := fmt.Sprintf("login|10.%d.%d.%d", i>>16, i>>8&255, i&255)
		if d := mustAllow(t, m, key, r); !d.Allowed {
			t.Fatalf("first request of %s refused: %+v", key, d)
		}
		if i%97 == 0 {
			if n := m.Len(); n > maxKeys {
				t.Fatalf("after %d keys, Len() = %d, want at most %d", i+1, n, maxKeys)
			}
		}
	}
	if n := m.Len(); n > maxKeys || n < maxKeys*9/10 {
		t.Errorf("Len() = %d, want at most %d and close to it", n, maxKeys)
	}
	// The most recent keys are still tracked.
	if d := mustAllow(t, m, "login|10.1.134.159", r); d.Remaining != 4 {
		t.Errorf("most recent key: %+v, want its first request still counted", d)
	}
}

func TestMemoryMaxKeysSmall(t *testing.T) {
	t.Parallel()
	for _, maxKeys := range []int{1, 2, 3, 63, 64, 65, 100} {
		m := NewMemory(MemoryOptions{MaxKeys: maxKeys})
		for i := range 10 * maxKeys {
			mustAllow(t, m, fmt.Sprint(i), Rate{1, time.Hour})
			if n := m.Len(); n > maxKeys {
				t.Fatalf("MaxKeys %d: Len() = %d", maxKeys, n)
			}
		}
		if n := m.Len(); n < maxKeys/2 {
			t.Errorf("MaxKeys %d: Len() = %d, want most of it used", maxKeys, n)
		}
	}
	if got := len(NewMemory(MemoryOptions{}).shards); got != maxShards {
		t.Errorf("default shards = %d, want %d", got, maxShards)
	}
}

// tracked returns which of keys m tracks.
func tracked(m *Memory, keys []string) []string {
	var got []string
	for _, k := range keys {
		for i := range m.shards {
			s := &m.shards[i]
			s.mu.Lock()
			_, ok := s.keys[k]
			s.mu.Unlock()
			if ok {
				got = append(got, k)
			}
		}
	}
	return got
}

func TestMemoryEvictsIdleKeysFirst(t *testing.T) {
	t.Parallel()
	c := clock.NewFake(t0)
	// One shard, so that recency and idleness are those of all keys.
	m := newMemory(MemoryOptions{Now: c.Now, MaxKeys: 100}, 1)
	keys := func(prefix string, n int) []string {
		k := make([]string, n)
		for i := range k {
			k[i] = fmt.Sprintf("%s%02d", prefix, i)
		}
		return k
	}
	busy, idle, fresh := keys("busy", 50), keys("idle", 50), keys("new", 50)
	hourly, perSecond := Rate{1, time.Hour}, Rate{1, time.Second}
	for _, k := range busy {
		mustAllow(t, m, k, hourly)
	}
	c.Advance(time.Millisecond)
	// Used after the busy keys: recency alone would evict busy keys first.
	for _, k := range idle {
		mustAllow(t, m, k, perSecond)
	}
	c.Advance(2 * time.Second) // the idle keys' logs are now outside their window
	for _, k := range fresh {
		mustAllow(t, m, k, hourly)
	}
	if n := m.Len(); n != 100 {
		t.Errorf("Len() = %d, want 100", n)
	}
	if got := tracked(m, idle); len(got) != 0 {
		t.Errorf("idle keys still tracked: %v", got)
	}
	if diff := cmp.Diff(busy, tracked(m, busy)); diff != "" {
		t.Errorf("busy keys tracked (-want +got):\n%s", diff)
	}
	for _, k := range busy {
		if d := mustAllow(t, m, k, hourly); d.Allowed {
			t.Fatalf("%s accepted again: its log was lost", k)
		}
	}

	// With no idle key left, the least recently used go. The busy keys
	// were just used, so the fresh ones go.
	more := keys("more", 10)
	for _, k := range more {
		mustAllow(t, m, k, hourly)
	}
	if diff := cmp.Diff(fresh[10:], tracked(m, fresh)); diff != "" {
		t.Errorf("fresh keys tracked (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(busy, tracked(m, busy)); diff != "" {
		t.Errorf("busy keys tracked (-want +got):\n%s", diff)
	}
}

func TestMemoryConcurrent(t *testing.T) {
	t.Parallel()
	c := clock.NewFake(t0)
	// Twenty keys a shard. Every goroutine uses the shared key before each
	// of its own, so at most eight other keys are used between two uses
	// of the shared one: it is never the least recently used of its shard.
	const maxKeys = 20 * maxShards
	m := NewMemory(MemoryOptions{Now: c.Now, MaxKeys: maxKeys})
	r := Rate{50, time.Minute}
	const goroutines, calls = 8, 2000
	var shared atomic.Int64 // accepted requests of the key every goroutine uses
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range calls {
				d, err := m.Allow(context.Background(), "shared", r)
				if err != nil {
					t.Error(err)
					return
				}
				if d.Allowed {
					shared.Add(1)
				} else if d.RetryAfter <= 0 || d.RetryAfter > r.Period {
					t.Errorf("RetryAfter = %v", d.RetryAfter)
				}
				// Own keys, enough to make the shards evict.
				if _, err := m.Allow(context.Background(), fmt.Sprintf("g%d|%d", g, i%300), r); err != nil {
					t.Error(err)
				}
				if i%100 == 0 {
					c.Advance(time.Millisecond)
					if n := m.Len(); n > maxKeys {
						t.Errorf("Len() = %d, want at most %d", n, maxKeys)
					}
				}
			}
		})
	}
	wg.Wait()
	// The clock moved 8*20 ms in all: well within one period, so the
	// shared key took exactly N.
	if got := shared.Load(); got != int64(r.N) {
		t.Errorf("shared key accepted %d requests, want %d", got, r.N)
	}
}

func TestMemoryNoAllocations(t *testing.T) {
	c := clock.NewFake(t0)
	m := NewMemory(MemoryOptions{Now: c.Now})
	ctx := context.Background()
	r := Rate{100, time.Second}
	for range 1000 {
		c.Advance(10 * time.Millisecond)
		m.Allow(ctx, "login|192.0.2.1", r)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		c.Advance(10 * time.Millisecond)
		if d, _ := m.Allow(ctx, "login|192.0.2.1", r); !d.Allowed {
			t.Fatal("refused")
		}
	})
	if allocs != 0 {
		t.Errorf("Allow of a tracked key: %v allocations, want 0", allocs)
	}
}
