// Package limitertest is the conformance suite of throttle.Limiter: the
// exact decisions of the sliding log that every implementation (in
// process, Redis) must make alike. Times are whole microseconds, the
// finest resolution every implementation keeps.
package limitertest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authd/internal/throttle"
)

// T0 is the time the suite's fake clock starts at.
var T0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// Clock is a fake clock, safe for concurrent use.
type Clock struct{ ns atomic.Int64 }

// Now is T0 plus the offset set last.
func (c *Clock) Now() time.Time { return T0.Add(time.Duration(c.ns.Load())) }

// Set moves the clock to T0+d.
func (c *Clock) Set(d time.Duration) { c.ns.Store(int64(d)) }

// Step is one call of Allow at T0+At, and what it must decide.
type Step struct {
	At   time.Duration
	Key  string // "k" when empty
	Want throttle.Decision
}

// Allowed and Refused are the decisions steps expect.
func Allowed(remaining int) throttle.Decision {
	return throttle.Decision{Allowed: true, Remaining: remaining}
}

func Refused(retry time.Duration) throttle.Decision { return throttle.Decision{RetryAfter: retry} }

// Case is a named sequence of steps at one rate.
type Case struct {
	Name  string
	Rate  throttle.Rate
	Steps []Step
}

// New returns a fresh, empty limiter reading time from now.
type New func(t *testing.T, now func() time.Time) throttle.Limiter

// Run runs the shared cases, then extra ones of the implementation's own,
// each on a fresh limiter from newLimiter.
func Run(t *testing.T, newLimiter New, extra ...Case) {
	for _, tc := range append(Cases(), extra...) {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			c := new(Clock)
			l := newLimiter(t, c.Now)
			for i, s := range tc.Steps {
				c.Set(s.At)
				key := s.Key
				if key == "" {
					key = "k"
				}
				got, err := l.Allow(context.Background(), key, tc.Rate)
				if err != nil {
					t.Fatalf("step %d: Allow(%q, %v): %v", i, key, tc.Rate, err)
				}
				if diff := cmp.Diff(s.Want, got); diff != "" {
					t.Errorf("step %d (t0+%v, %s) (-want +got):\n%s", i, s.At, key, diff)
				}
			}
		})
	}
}

// Cases are the decisions of Django REST Framework's throttles: a request
// is accepted while fewer than N accepted ones lie in the last period,
// refused requests are not counted, and Retry-After is the time until
// the oldest counted request leaves.
func Cases() []Case {
	sixPerMinute := throttle.Rate{N: 6, Period: time.Minute}
	s, us := time.Second, time.Microsecond
	return []Case{
		{
			Name: "six accepted, the seventh refused until the oldest leaves",
			Rate: sixPerMinute,
			Steps: []Step{
				{At: 0, Want: Allowed(5)},
				{At: 1 * s, Want: Allowed(4)},
				{At: 2 * s, Want: Allowed(3)},
				{At: 3 * s, Want: Allowed(2)},
				{At: 4 * s, Want: Allowed(1)},
				{At: 5 * s, Want: Allowed(0)},
				{At: 10 * s, Want: Refused(50 * s)},
				{At: 10*s + 250*time.Millisecond, Want: Refused(49*s + 750*time.Millisecond)},
			},
		},
		{
			Name: "refusals are not counted",
			Rate: sixPerMinute,
			Steps: []Step{
				{At: 0, Want: Allowed(5)},
				{At: 0, Want: Allowed(4)},
				{At: 0, Want: Allowed(3)},
				{At: 0, Want: Allowed(2)},
				{At: 0, Want: Allowed(1)},
				{At: 30 * s, Want: Allowed(0)},
				{At: 31 * s, Want: Refused(29 * s)},
				{At: 40 * s, Want: Refused(20 * s)},
				{At: 50 * s, Want: Refused(10 * s)},
				{At: 59 * s, Want: Refused(1 * s)},
				{At: 60*s - us, Want: Refused(us)},
				// The five of t0 leave together: five more are accepted,
				// exactly as if no refused request had been made.
				{At: 60 * s, Want: Allowed(4)},
				{At: 60 * s, Want: Allowed(3)},
				{At: 60 * s, Want: Allowed(2)},
				{At: 60 * s, Want: Allowed(1)},
				{At: 60 * s, Want: Allowed(0)},
				{At: 60 * s, Want: Refused(30 * s)},
				{At: 89 * s, Want: Refused(1 * s)},
				// Then the one of t0+30s leaves, and exactly one more is
				// accepted.
				{At: 90 * s, Want: Allowed(0)},
				{At: 90 * s, Want: Refused(30 * s)},
				{At: 100 * s, Want: Refused(20 * s)},
			},
		},
		{
			Name: "a request at exactly t+Period no longer counts the one of t",
			Rate: throttle.Rate{N: 1, Period: time.Minute},
			Steps: []Step{
				{At: 0, Want: Allowed(0)},
				{At: 60*s - us, Want: Refused(us)},
				{At: 60 * s, Want: Allowed(0)},
				{At: 60 * s, Want: Refused(60 * s)},
				{At: 120 * s, Want: Allowed(0)},
			},
		},
		{
			Name: "the window slides one request at a time",
			Rate: throttle.Rate{N: 3, Period: 10 * s},
			Steps: []Step{
				{At: 0, Want: Allowed(2)},
				{At: 4 * s, Want: Allowed(1)},
				{At: 8 * s, Want: Allowed(0)},
				{At: 9 * s, Want: Refused(1 * s)},
				{At: 10 * s, Want: Allowed(0)},
				{At: 10 * s, Want: Refused(4 * s)},
				{At: 14 * s, Want: Allowed(0)},
				{At: 17 * s, Want: Refused(1 * s)},
				{At: 18 * s, Want: Allowed(0)},
				// After a whole period of silence the log is as new.
				{At: 28 * s, Want: Allowed(2)},
			},
		},
		{
			Name: "keys are independent",
			Rate: throttle.Rate{N: 2, Period: time.Minute},
			Steps: []Step{
				{At: 0, Key: "login|192.0.2.1", Want: Allowed(1)},
				{At: 1 * s, Key: "login|192.0.2.1", Want: Allowed(0)},
				{At: 2 * s, Key: "login|192.0.2.1", Want: Refused(58 * s)},
				{At: 2 * s, Key: "login|192.0.2.2", Want: Allowed(1)},
				{At: 2 * s, Key: "refresh|192.0.2.1", Want: Allowed(1)},
				{At: 3 * s, Key: "login|192.0.2.2", Want: Allowed(0)},
				{At: 4 * s, Key: "login|192.0.2.2", Want: Refused(58 * s)},
				{At: 4 * s, Key: "login|192.0.2.1", Want: Refused(56 * s)},
				{At: 4 * s, Key: "refresh|192.0.2.1", Want: Allowed(0)},
			},
		},
		{
			Name: "a clock going back does not reorder the log",
			Rate: throttle.Rate{N: 2, Period: time.Minute},
			Steps: []Step{
				{At: 10 * s, Want: Allowed(1)},
				{At: 5 * s, Want: Allowed(0)},
				// Both were recorded at t0+10s.
				{At: 1 * s, Want: Refused(60 * s)},
				{At: 70*s - us, Want: Refused(us)},
				{At: 70 * s, Want: Allowed(1)},
			},
		},
	}
}
