package throttle

import (
	"context"
	"testing"
	"time"

	"authd/internal/clock"
)

func mustPeek(t testing.TB, l Limiter, key string, r Rate) Decision {
	t.Helper()
	d, err := l.Peek(context.Background(), key, r)
	if err != nil {
		t.Fatalf("Peek(%q, %v): %v", key, r, err)
	}
	return d
}

// TestMemoryPeekTracksNothing checks that Peek adds no key to a Memory,
// and forgets one whose requests have all left the window. What Peek
// decides is checked by limitertest.
func TestMemoryPeekTracksNothing(t *testing.T) {
	t.Parallel()
	c := clock.NewFake(t0)
	m := NewMemory(MemoryOptions{Now: c.Now})
	r := Rate{3, 10 * time.Second}
	mustPeek(t, m, "k", r)
	if n := m.Len(); n != 0 {
		t.Errorf("Peek of an unknown key made Len() = %d, want 0", n)
	}
	for i := range 4 {
		c.Set(t0.Add(time.Duration(i) * time.Second))
		mustPeek(t, m, "k", r)
		mustAllow(t, m, "k", r)
	}
	c.Set(t0.Add(10 * time.Second))
	mustPeek(t, m, "k", r)
	if n := m.Len(); n != 1 {
		t.Fatalf("Len() = %d with one request in the window, want 1", n)
	}
	// Once every request has left the window, Peek forgets the key.
	c.Set(t0.Add(12 * time.Second))
	if d := mustPeek(t, m, "k", r); d != allowed(3) {
		t.Errorf("Peek once all left = %+v, want %+v", d, allowed(3))
	}
	if n := m.Len(); n != 0 {
		t.Errorf("Len() = %d after the key's log left its window, want 0", n)
	}
}

func TestFailoverPeek(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	primary := &switchable{inner: NewMemory(MemoryOptions{Now: clk.Now})}
	fallback := NewMemory(MemoryOptions{Now: clk.Now})
	f := NewFailover(primary, fallback, FailoverOptions{Now: clk.Now})
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
