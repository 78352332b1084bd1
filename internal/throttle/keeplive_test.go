package throttle

import (
	"context"
	"fmt"
	"testing"
	"time"

	"authd/internal/clock"
)

// TestKeepLiveNeverForgetsALiveCount: a flood of twice as many new keys
// as a Memory holds evicts a live count from a plain Memory, but not from
// one that keeps live keys; there the newcomers share the overflow log,
// and once their requests leave the window they get logs of their own.
func TestKeepLiveNeverForgetsALiveCount(t *testing.T) {
	t.Parallel()
	const maxKeys = 8
	r := Rate{N: 3, Period: 10 * time.Minute}
	for _, keepLive := range []bool{false, true} {
		t.Run(fmt.Sprintf("KeepLive=%v", keepLive), func(t *testing.T) {
			t.Parallel()
			clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			m := newMemory(MemoryOptions{Now: clk.Now, MaxKeys: maxKeys, KeepLive: keepLive}, 1)
			ctx := context.Background()
			allow := func(key string) Decision {
				t.Helper()
				d, err := m.Allow(ctx, key, r)
				if err != nil {
					t.Fatal(err)
				}
				return d
			}
			peek := func(key string) Decision {
				t.Helper()
				d, err := m.Peek(ctx, key, r)
				if err != nil {
					t.Fatal(err)
				}
				return d
			}
			for range r.N {
				allow("victim")
			}
			if d := peek("victim"); d.Allowed {
				t.Fatalf("victim after %d requests: %+v, want refused", r.N, d)
			}
			overflowed := 0
			for i := range 2 * maxKeys {
				clk.Advance(time.Second)
				if !allow(fmt.Sprintf("newcomer-%d", i)).Allowed {
					overflowed++
				}
			}
			d := peek("victim")
			if !keepLive {
				if !d.Allowed {
					t.Errorf("a plain Memory kept the victim's count through the flood: %+v", d)
				}
				return
			}
			if d.Allowed {
				t.Fatalf("the flood of new keys lifted the victim's count: %+v", d)
			}
			if m.Len() != maxKeys {
				t.Errorf("Len = %d, want the bound %d", m.Len(), maxKeys)
			}
			// maxKeys-1 newcomers got logs of their own; the rest share the
			// overflow, which refuses after N of them.
			if want := 2*maxKeys - (maxKeys - 1) - r.N; overflowed != want {
				t.Errorf("%d newcomers refused, want %d (the overflow's N=%d passed)", overflowed, want, r.N)
			}
			if d := peek("yet-another"); d.Allowed {
				t.Errorf("Peek of a key that would overflow = %+v, want the overflow's refusal", d)
			}
			clk.Advance(r.Period)
			if d := allow("after-the-window"); !d.Allowed || d.Remaining != r.N-1 {
				t.Errorf("a new key once the window passed = %+v, want its own log", d)
			}
		})
	}
}
