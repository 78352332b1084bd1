package metrics

import (
	"context"
	"strings"

	"authd/internal/throttle"
)

// Limiter returns l counting its decisions in
// authd_throttle_decisions_total. The scope is what a key holds before
// its first "|" (httpapi's keys are "<scope>|<client>", the lockout's
// "login_account|<username>"): a few names fixed in the code, never
// anything a client sends. Peeks decide nothing and are not counted.
func (m *Metrics) Limiter(l throttle.Limiter) throttle.Limiter {
	return countingLimiter{Limiter: l, m: m}
}

type countingLimiter struct {
	throttle.Limiter
	m *Metrics
}

func (c countingLimiter) Allow(ctx context.Context, key string, rate throttle.Rate) (throttle.Decision, error) {
	d, err := c.Limiter.Allow(ctx, key, rate)
	decision := "allowed"
	switch {
	case err != nil:
		decision = "error"
	case !d.Allowed:
		decision = "throttled"
	}
	scope, _, ok := strings.Cut(key, "|")
	if !ok {
		scope = "unknown"
	}
	c.m.throttle.WithLabelValues(scope, decision).Inc()
	return d, err
}
