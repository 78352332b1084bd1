package throttle_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"authd/internal/throttle"
	"authd/internal/throttle/limitertest"
)

// nanosecond is a case of the in-process limiter's own: it keeps
// nanoseconds.
var nanosecond = limitertest.Case{
	Name: "times are kept to the nanosecond",
	Rate: throttle.Rate{N: 1, Period: time.Minute},
	Steps: []limitertest.Step{
		{At: 0, Want: limitertest.Allowed(0)},
		{At: time.Minute - time.Nanosecond, Want: limitertest.Refused(time.Nanosecond)},
		{At: time.Minute - time.Nanosecond, Peek: true, Want: limitertest.Refused(time.Nanosecond)},
		{At: time.Minute, Peek: true, Want: limitertest.Allowed(1)},
		{At: time.Minute, Want: limitertest.Allowed(0)},
	},
}

// TestMemoryConformance runs the suite every Limiter passes.
func TestMemoryConformance(t *testing.T) {
	t.Parallel()
	limitertest.Run(t, func(t *testing.T, now func() time.Time) throttle.Limiter {
		return throttle.NewMemory(throttle.MemoryOptions{Now: now})
	}, nanosecond)
}

// TestFailoverConformance runs the suite on a Failover whose primary
// answers, and on one whose primary always fails: either way it decides
// as every Limiter does.
func TestFailoverConformance(t *testing.T) {
	t.Parallel()
	t.Run("primary up", func(t *testing.T) {
		t.Parallel()
		limitertest.Run(t, func(t *testing.T, now func() time.Time) throttle.Limiter {
			return throttle.NewFailover(throttle.NewMemory(throttle.MemoryOptions{Now: now}),
				throttle.NewMemory(throttle.MemoryOptions{Now: now}), throttle.FailoverOptions{Now: now})
		}, nanosecond)
	})
	t.Run("primary down", func(t *testing.T) {
		t.Parallel()
		limitertest.Run(t, func(t *testing.T, now func() time.Time) throttle.Limiter {
			f := throttle.NewFailover(down{}, throttle.NewMemory(throttle.MemoryOptions{Now: now}), throttle.FailoverOptions{Now: now})
			t.Cleanup(func() {
				if !f.Degraded() {
					t.Error("the Failover answered without degrading, its primary being down")
				}
			})
			return f
		}, nanosecond)
	})
}

// down is a Limiter that always fails, as an unreachable shared store does.
type down struct{}

var errDown = errors.New("connection refused")

func (down) Allow(context.Context, string, throttle.Rate) (throttle.Decision, error) {
	return throttle.Decision{}, errDown
}

func (down) Peek(context.Context, string, throttle.Rate) (throttle.Decision, error) {
	return throttle.Decision{}, errDown
}
