package throttle

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Failover is a Limiter that counts in a shared Primary (Redis) and, while
// the primary fails, in a process-local Fallback, so that an outage of the
// shared store degrades throttling to per-replica counting instead of
// refusing every request. The switch is logged once each way, not per
// request. While degraded, the primary is tried again at most once per
// RetryEvery; the first success switches back.
type Failover struct {
	primary    Limiter
	fallback   Limiter
	log        *slog.Logger
	now        func() time.Time
	retryEvery time.Duration

	mu        sync.Mutex
	degraded  bool
	nextProbe time.Time
}

// FailoverOptions configures NewFailover.
type FailoverOptions struct {
	Logger     *slog.Logger     // nil: discard
	Now        func() time.Time // nil: time.Now
	RetryEvery time.Duration    // 0: 5 seconds
}

var _ Limiter = (*Failover)(nil)

// NewFailover returns a Limiter using primary, and fallback while primary fails.
func NewFailover(primary, fallback Limiter, opts FailoverOptions) *Failover {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RetryEvery <= 0 {
		opts.RetryEvery = 5 * time.Second
	}
	return &Failover{primary: primary, fallback: fallback, log: opts.Logger, now: opts.Now, retryEvery: opts.RetryEvery}
}

// Allow implements Limiter. It returns an error only when the fallback does.
func (f *Failover) Allow(ctx context.Context, key string, rate Rate) (Decision, error) {
	return f.ask(ctx, Limiter.Allow, key, rate)
}

// Peek implements Limiter, asking the primary or, while it fails, the
// fallback, as Allow does; a failing Peek of the primary degrades as a
// failing Allow does. It returns an error only when the fallback does.
func (f *Failover) Peek(ctx context.Context, key string, rate Rate) (Decision, error) {
	return f.ask(ctx, Limiter.Peek, key, rate)
}

// ask makes the call (Allow or Peek) of the primary, unless it is taken
// to be down, and of the fallback when the primary fails or is down.
func (f *Failover) ask(ctx context.Context, call func(Limiter, context.Context, string, Rate) (Decision, error), key string, rate Rate) (Decision, error) {
	if f.usePrimary() {
		d, err := call(f.primary, ctx, key, rate)
		if err == nil {
			f.recovered()
			return d, nil
		}
		if ctx.Err() != nil {
			// The caller gave up; that says nothing about the primary.
			return Decision{}, ctx.Err()
		}
		f.failed(err)
	}
	return call(f.fallback, ctx, key, rate)
}

// Degraded reports whether requests are counted by the fallback.
func (f *Failover) Degraded() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.degraded
}

func (f *Failover) usePrimary() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.degraded {
		return true
	}
	if now := f.now(); !now.Before(f.nextProbe) {
		// One caller probes; the others stay on the fallback meanwhile.
		f.nextProbe = now.Add(f.retryEvery)
		return true
	}
	return false
}

func (f *Failover) failed(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextProbe = f.now().Add(f.retryEvery)
	if !f.degraded {
		f.degraded = true
		f.log.Error("shared throttle store unreachable: counting in this process until it returns", "cause", err.Error())
	}
}

func (f *Failover) recovered() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.degraded {
		f.degraded = false
		f.log.Info("shared throttle store is back: counting in it again")
	}
}
