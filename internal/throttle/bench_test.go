package throttle

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"authd/internal/clock"
)

func BenchmarkAllow(b *testing.B) {
	ctx := context.Background()
	// A client hammering a 6/minute endpoint: after six, every call is
	// refused.
	b.Run("refused", func(b *testing.B) {
		m := NewMemory(MemoryOptions{})
		r := Rate{6, time.Minute}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.Allow(ctx, "login|203.0.113.7", r); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Every call accepted, and one request leaving the window each time.
	b.Run("accepted", func(b *testing.B) {
		c := clock.NewFake(t0)
		m := NewMemory(MemoryOptions{Now: c.Now})
		r := Rate{100, time.Second}
		b.ReportAllocs()
		for b.Loop() {
			c.Advance(10 * time.Millisecond)
			if d, err := m.Allow(ctx, "login|203.0.113.7", r); err != nil || !d.Allowed {
				b.Fatal(d, err)
			}
		}
	})
}

// benchKeys returns n distinct client keys.
func benchKeys(prefix string, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s|10.%d.%d.%d", prefix, i>>16&255, i>>8&255, i&255)
	}
	return keys
}

func BenchmarkAllowManyKeys(b *testing.B) {
	ctx := context.Background()
	keys := benchKeys("login", 1<<16)
	m := NewMemory(MemoryOptions{})
	r := Rate{8, time.Second}
	for _, k := range keys {
		m.Allow(ctx, k, r)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := m.Allow(ctx, keys[i&(len(keys)-1)], r); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkAllowParallel(b *testing.B) {
	ctx := context.Background()
	m := NewMemory(MemoryOptions{})
	r := Rate{8, time.Second}
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		keys := benchKeys(fmt.Sprint("g", next.Add(1)), 256)
		i := 0
		for pb.Next() {
			if _, err := m.Allow(ctx, keys[i&255], r); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

func BenchmarkClientKey(b *testing.B) {
	p, err := ParseProxies("10.0.0.0/8, 192.168.0.0/16")
	if err != nil {
		b.Fatal(err)
	}
	xff := []string{"198.51.100.1, 192.168.3.4"}
	b.ReportAllocs()
	for b.Loop() {
		p.ClientKey("10.0.0.1:5123", xff)
	}
}
