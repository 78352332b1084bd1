package throttle

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	"authd/internal/clock"
)

// TestMemoryMillionClients drives the in-process limiter, at its default
// bound of keys, with one million distinct client IPs, as a flood from a
// botnet or spoofed addresses would: its heap stays under a fixed bound,
// and the most recent clients are still counted exactly.
func TestMemoryMillionClients(t *testing.T) {
	// Not parallel: the heap is measured, and parallel tests wait until
	// this one is done.
	if testing.Short() {
		t.Skip("a million requests")
	}
	const (
		clients = 1_000_000
		recent  = 10_000
		// The bound asserted.
		perKey = KeyBytes
	)
	r := Rate{6, time.Minute}
	key := func(i int) string {
		return "login|ip:" + strconv.Itoa(10+i>>24) + "." + strconv.Itoa(i>>16&255) + "." + strconv.Itoa(i>>8&255) + "." + strconv.Itoa(i&255)
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ctx := context.Background()
	c := clock.NewFake(t0)
	m := NewMemory(MemoryOptions{Now: c.Now})
	start := time.Now()
	for i := range clients {
		// A million requests in ten seconds: every log is still in its
		// window, so only recency decides what is evicted.
		c.Advance(10 * time.Microsecond)
		if d, err := m.Allow(ctx, key(i), r); err != nil || !d.Allowed || d.Remaining != r.N-1 {
			t.Fatalf("first request of client %d: %+v, %v", i, d, err)
		}
	}
	elapsed := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	n := m.Len()
	t.Logf("%d clients in %v: %d keys tracked, heap %.1f MiB (%d bytes a key)", clients, elapsed.Round(time.Millisecond), n, float64(heap)/(1<<20), heap/int64(max(n, 1)))
	if n > DefaultMaxKeys {
		t.Errorf("Len() = %d, over the bound of %d", n, DefaultMaxKeys)
	}
	if limit := int64(perKey * DefaultMaxKeys); heap > limit {
		t.Errorf("the limiter's heap is %d bytes, over the bound of %d (%d a key)", heap, limit, perKey)
	}

	// The most recent clients are still tracked with their one request:
	// five more are accepted, then they are refused until it leaves.
	for i := clients - recent; i < clients; i++ {
		k := key(i)
		for j := range r.N - 1 {
			if d := mustAllow(t, m, k, r); !d.Allowed || d.Remaining != r.N-2-j {
				t.Fatalf("client %d, request %d: %+v; its first request was forgotten", i, j+2, d)
			}
		}
		firstAt := time.Duration(i+1) * 10 * time.Microsecond
		if d := mustAllow(t, m, k, r); d.Allowed || d.RetryAfter != r.Period-(c.Now().Sub(t0)-firstAt) {
			t.Fatalf("client %d, request %d: %+v, want refused until its first request leaves", i, r.N+1, d)
		}
	}
	runtime.KeepAlive(m)
}
