package main

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

func TestPrepareEach(t *testing.T) {
	t.Parallel()
	t.Run("in order, bounded", func(t *testing.T) {
		t.Parallel()
		var inFlight, most atomic.Int32
		got, err := prepareEach(t.Context(), 20, func(ctx context.Context, i int) (int, error) {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(time.Millisecond)
			return i * i, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := make([]int, 20)
		for i := range want {
			want[i] = i * i
		}
		if !slices.Equal(got, want) {
			t.Errorf("results %v, want %v", got, want)
		}
		if m := most.Load(); m > prepConcurrency {
			t.Errorf("%d in flight at once, want at most %d", m, prepConcurrency)
		}
	})
	t.Run("the first error cancels the rest", func(t *testing.T) {
		t.Parallel()
		boom := errors.New("boom")
		var started atomic.Int32
		_, err := prepareEach(t.Context(), 1000, func(ctx context.Context, i int) (int, error) {
			started.Add(1)
			if i == 0 {
				return 0, boom
			}
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(10 * time.Second):
				return 0, errors.New("not cancelled")
			}
		})
		if !errors.Is(err, boom) {
			t.Errorf("error %v, want %v", err, boom)
		}
		if n := started.Load(); n > 2*prepConcurrency {
			t.Errorf("%d preparations started after the first failed, want a few at most", n)
		}
	})
	t.Run("a done context", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		var called atomic.Bool
		if _, err := prepareEach(ctx, 3, func(context.Context, int) (int, error) { called.Store(true); return 0, nil }); !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want %v", err, context.Canceled)
		}
		if called.Load() {
			t.Error("prepared with a done context")
		}
	})
}
