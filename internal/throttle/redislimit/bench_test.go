package redislimit

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"authd/internal/throttle"
)

// BenchmarkAllow measures one decision on the production path: the Redis
// server's clock, and one round trip to the server per call.
func BenchmarkAllow(b *testing.B) {
	ctx := context.Background()
	c := mustClient(b)
	l := New(c, Options{Prefix: mustPrefix(b, c)})
	r := throttle.Rate{N: 6, Period: time.Minute}
	// A client hammering a 6/minute endpoint: after six, every call is
	// refused.
	b.Run("refused", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := l.Allow(ctx, "refused|203.0.113.7", r); err != nil {
				b.Fatal(err)
			}
		}
	})
	// A new client every call: every call accepted, and a log written.
	b.Run("accepted", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if d, err := l.Allow(ctx, "accepted|"+strconv.Itoa(i), r); err != nil || !d.Allowed {
				b.Fatal(d, err)
			}
		}
	})
	// Many clients at once over the client's connection pool.
	b.Run("parallel", func(b *testing.B) {
		var clients atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			key := "parallel|" + strconv.FormatInt(clients.Add(1), 10)
			for pb.Next() {
				if _, err := l.Allow(ctx, key, r); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
