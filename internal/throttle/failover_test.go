package throttle

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"authd/internal/clock"
)

// switchable is a primary that fails while down is set.
type switchable struct {
	mu    sync.Mutex
	down  bool
	calls int
	inner Limiter
}

func (s *switchable) Allow(ctx context.Context, key string, r Rate) (Decision, error) {
	s.mu.Lock()
	s.calls++
	down := s.down
	s.mu.Unlock()
	if down {
		return Decision{}, errors.New("connection refused")
	}
	return s.inner.Allow(ctx, key, r)
}

// Peek fails while down is set, as Allow does.
func (s *switchable) Peek(ctx context.Context, key string, r Rate) (Decision, error) {
	s.mu.Lock()
	down := s.down
	s.mu.Unlock()
	if down {
		return Decision{}, errors.New("connection refused")
	}
	return s.inner.Peek(ctx, key, r)
}

func (s *switchable) set(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

func TestFailoverDegradesAndReturns(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var logs bytes.Buffer
	primary := &switchable{inner: NewMemory(MemoryOptions{Now: clk.Now})}
	fallback := NewMemory(MemoryOptions{Now: clk.Now})
	f := NewFailover(primary, fallback, FailoverOptions{
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: clk.Now, RetryEvery: 5 * time.Second,
	})
	ctx := context.Background()
	rate := Rate{N: 2, Period: time.Minute}

	allow := func() bool {
		d, err := f.Allow(ctx, "k", rate)
		if err != nil {
			t.Fatalf("Allow: %v", err)
		}
		return d.Allowed
	}
	// twoThenRefused is what three requests at the rate get from a fresh
	// counter.
	twoThenRefused := []bool{true, true, false}
	if got := []bool{allow(), allow(), allow()}; !slices.Equal(got, twoThenRefused) {
		t.Fatalf("primary up: three requests accepted %v, want %v", got, twoThenRefused)
	}
	primary.set(true)
	// The fallback has its own, fresh counters: it throttles on its own.
	if got := []bool{allow(), allow(), allow()}; !slices.Equal(got, twoThenRefused) {
		t.Fatalf("primary down: the fallback accepted %v, want %v", got, twoThenRefused)
	}
	if !f.Degraded() {
		t.Error("Degraded() = false while the primary is down")
	}
	callsWhileDown := primary.calls
	allow()
	if primary.calls != callsWhileDown {
		t.Errorf("primary called %d more times before RetryEvery passed, want 0", primary.calls-callsWhileDown)
	}
	if n := strings.Count(logs.String(), "unreachable"); n != 1 {
		t.Errorf("degradation logged %d times, want once:\n%s", n, logs.String())
	}
	primary.set(false)
	clk.Advance(5 * time.Second)
	if allow() {
		t.Error("back on the primary its counter (2 of 2) must refuse")
	}
	if f.Degraded() {
		t.Error("still degraded after the primary answered")
	}
	if n := strings.Count(logs.String(), "is back"); n != 1 {
		t.Errorf("recovery logged %d times, want once", n)
	}
}
