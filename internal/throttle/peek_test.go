package throttle

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func mustPeek(t testing.TB, p Limiter, key string, r Rate) Decision {
	t.Helper()
	d, err := p.Peek(context.Background(), key, r)
	if err != nil {
		t.Fatalf("Peek(%q, %v): %v", key, r, err)
	}
	return d
}

func TestMemoryPeekCountsNothing(t *testing.T) {
	t.Parallel()
	c := newClock()
	m := NewMemory(MemoryOptions{Now: c.Now})
	r := Rate{3, 10 * time.Second}
	if diff := cmp.Diff(allowed(3), mustPeek(t, m, "k", r)); diff != "" {
		t.Errorf("Peek of an unknown key (-want +got):\n%s", diff)
	}
	if n := m.Len(); n != 0 {
		t.Errorf("Peek of an unknown key made Len() = %d, want 0", n)
	}
	for range 100 {
		mustPeek(t, m, "k", r)
	}
	var got []Decision
	for i := range 4 {
		c.Set(time.Duration(i) * time.Second)
		got = append(got, mustPeek(t, m, "k", r), mustAllow(t, m, "k", r))
	}
	want := []Decision{
		allowed(3), allowed(2),
		allowed(2), allowed(1),
		allowed(1), allowed(0),
		refused(7 * time.Second), refused(7 * time.Second),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Peek, Allow, ... (-want +got):\n%s", diff)
	}
	c.Set(10 * time.Second)
	if diff := cmp.Diff(allowed(1), mustPeek(t, m, "k", r)); diff != "" {
		t.Errorf("once the oldest left (-want +got):\n%s", diff)
	}
	// Once every request has left the window, Peek forgets the key.
	c.Set(12 * time.Second)
	if diff := cmp.Diff(allowed(3), mustPeek(t, m, "k", r)); diff != "" {
		t.Errorf("once all left (-want +got):\n%s", diff)
	}
	if n := m.Len(); n != 0 {
		t.Errorf("Len() = %d after the key's log left its window, want 0", n)
	}
}

func TestMemoryPeekInvalidRate(t *testing.T) {
	t.Parallel()
	m := NewMemory(MemoryOptions{})
	for _, r := range []Rate{{}, {0, time.Minute}, {1, 0}} {
		if d, err := m.Peek(context.Background(), "k", r); err == nil {
			t.Errorf("Peek at %v = %+v, want an error", r, d)
		}
	}
}

// TestMemoryPeekForetellsAllow checks, over random traffic, that Peek
// decides as the Allow that follows it does.
func TestMemoryPeekForetellsAllow(t *testing.T) {
	t.Parallel()
	for _, r := range []Rate{{1, time.Minute}, {6, time.Minute}, {10, 15 * time.Minute}, {700, 512 * time.Second}} {
		t.Run(r.String(), func(t *testing.T) {
			t.Parallel()
			c := newClock()
			m := NewMemory(MemoryOptions{Now: c.Now})
			rng := rand.New(rand.NewPCG(uint64(r.N), 7))
			mean := r.Period / time.Duration(r.N)
			for i := range 4 * r.N {
				if rng.IntN(20) == 0 {
					c.Advance(time.Duration(rng.Int64N(int64(r.Period))))
				} else {
					c.Advance(time.Duration(rng.Int64N(int64(mean))))
				}
				p := mustPeek(t, m, "k", r)
				a := mustAllow(t, m, "k", r)
				if p.Allowed {
					p.Remaining-- // what is left after the request Allow counted
				}
				if diff := cmp.Diff(a, p); diff != "" {
					t.Fatalf("call %d: Peek differs from the Allow after it (-allow +peek):\n%s", i, diff)
				}
			}
		})
	}
}

func TestFailoverPeek(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	primary := &switchable{inner: NewMemory(MemoryOptions{Now: clock})}
	fallback := NewMemory(MemoryOptions{Now: clock})
	f := NewFailover(primary, fallback, FailoverOptions{Now: clock})
	ctx := context.Background()
	r := Rate{N: 1, Period: time.Minute}
	if _, err := f.Allow(ctx, "k", r); err != nil {
		t.Fatal(err)
	}
	if d := mustPeek(t, f, "k", r); d.Allowed {
		t.Errorf("primary up: Peek = %+v, want the primary's refusal", d)
	}
	primary.set(true)
	if d := mustPeek(t, f, "k", r); !d.Allowed {
		t.Errorf("primary down: Peek = %+v, want the fallback's empty log", d)
	}
	if !f.Degraded() {
		t.Error("a failing Peek of the primary did not degrade")
	}
}
