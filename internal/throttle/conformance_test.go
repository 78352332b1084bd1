package throttle_test

import (
	"testing"
	"time"

	"authd/internal/throttle"
	"authd/internal/throttle/limitertest"
)

// TestMemoryExactness runs the suite every Limiter passes, plus a case of
// the in-process limiter's own: it keeps nanoseconds.
func TestMemoryExactness(t *testing.T) {
	t.Parallel()
	limitertest.Run(t, func(t *testing.T, now func() time.Time) throttle.Limiter {
		return throttle.NewMemory(throttle.MemoryOptions{Now: now})
	}, limitertest.Case{
		Name: "times are kept to the nanosecond",
		Rate: throttle.Rate{N: 1, Period: time.Minute},
		Steps: []limitertest.Step{
			{At: 0, Want: limitertest.Allowed(0)},
			{At: time.Minute - time.Nanosecond, Want: limitertest.Refused(time.Nanosecond)},
			{At: time.Minute, Want: limitertest.Allowed(0)},
		},
	})
}
