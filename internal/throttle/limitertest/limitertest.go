// Package limitertest is the conformance suite of throttle.Limiter: the
// exact decisions of the sliding log that every implementation (in
// process, Redis, the failover between them) must make alike, of Allow and
// of Peek. Times are whole microseconds, the finest resolution every
// implementation keeps.
package limitertest

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authd/internal/clock"
	"authd/internal/throttle"
)

// T0 is the time the suite's fake clock starts at: a whole second, so that
// the slots of large rates begin at the same times in every implementation.
var T0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// Step is one call at T0+At, of Allow or, with Peek set, of Peek, and what
// it must decide.
type Step struct {
	At   time.Duration
	Key  string // "k" when empty
	Peek bool
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
// each on a fresh limiter from newLimiter; then it checks, each time on a
// fresh limiter too, that invalid rates are refused and that Peek decides
// as the Allow after it, and as throttle.Memory, over random traffic.
func Run(t *testing.T, newLimiter New, extra ...Case) {
	for _, tc := range append(Cases(), extra...) {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			c := clock.NewFake(T0)
			l := newLimiter(t, c.Now)
			for i, s := range tc.Steps {
				c.Set(T0.Add(s.At))
				key := s.Key
				if key == "" {
					key = "k"
				}
				call, do := "Allow", l.Allow
				if s.Peek {
					call, do = "Peek", l.Peek
				}
				got, err := do(context.Background(), key, tc.Rate)
				if err != nil {
					t.Fatalf("step %d: %s(%q, %v): %v", i, call, key, tc.Rate, err)
				}
				if diff := cmp.Diff(s.Want, got); diff != "" {
					t.Errorf("step %d: %s at t0+%v of %s (-want +got):\n%s", i, call, s.At, key, diff)
				}
			}
		})
	}
	t.Run("invalid rates are refused", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t, clock.NewFake(T0).Now)
		for _, r := range []throttle.Rate{{}, {N: 0, Period: time.Minute}, {N: -1, Period: time.Minute}, {N: 1}, {N: 1, Period: -time.Second}} {
			if d, err := l.Allow(context.Background(), "k", r); err == nil {
				t.Errorf("Allow at %v = %+v, want an error", r, d)
			}
			if d, err := l.Peek(context.Background(), "k", r); err == nil {
				t.Errorf("Peek at %v = %+v, want an error", r, d)
			}
		}
	})
	for _, r := range []throttle.Rate{
		{N: 1, Period: time.Minute},
		{N: 6, Period: time.Minute},
		{N: 10, Period: 15 * time.Minute},
		{N: 60, Period: time.Hour},
		// Above the exact log size: slots of one second.
		{N: 700, Period: 512 * time.Second},
	} {
		t.Run("Peek foretells Allow at "+r.String(), func(t *testing.T) {
			t.Parallel()
			peekForetellsAllow(t, newLimiter, r)
		})
	}
}

// peekForetellsAllow makes random calls of Peek then Allow, for one key at
// rate r, of a limiter from newLimiter and of a throttle.Memory on the
// same clock. Each Peek must decide as the Memory's Peek, and as the Allow
// after it; each Allow as the Memory's Allow.
func peekForetellsAllow(t *testing.T, newLimiter New, r throttle.Rate) {
	c := clock.NewFake(T0)
	l := newLimiter(t, c.Now)
	mem := throttle.NewMemory(throttle.MemoryOptions{Now: c.Now})
	ctx := context.Background()
	call := func(i int, what string, f func(context.Context, string, throttle.Rate) (throttle.Decision, error)) throttle.Decision {
		t.Helper()
		d, err := f(ctx, "k", r)
		if err != nil {
			t.Fatalf("call %d: %s: %v", i, what, err)
		}
		return d
	}
	rng := rand.New(rand.NewPCG(uint64(r.N), uint64(r.Period)))
	mean := r.Period / time.Duration(r.N) // the pace the rate allows
	pause := min(r.Period, 20*mean)       // long enough to empty the log of small rates
	accepted, refusals := 0, 0
	for i := range 4 * r.N {
		var d time.Duration
		switch p := rng.IntN(100); {
		case p < 10: // the same instant
		case p < 12: // back, as another replica's clock may be
			d = -time.Duration(rng.Int64N(int64(mean)))
		case p < 14: // a pause
			d = time.Duration(rng.Int64N(int64(pause)))
		default: // on average faster than the rate allows
			d = time.Duration(rng.Int64N(int64(mean)))
		}
		c.Advance(d.Truncate(time.Microsecond))

		want, peek := call(i, "Memory.Peek", mem.Peek), call(i, "Peek", l.Peek)
		if diff := cmp.Diff(want, peek); diff != "" {
			t.Fatalf("call %d at t0+%v: Peek (-memory +got):\n%s", i, c.Now().Sub(T0), diff)
		}
		want, allow := call(i, "Memory.Allow", mem.Allow), call(i, "Allow", l.Allow)
		if diff := cmp.Diff(want, allow); diff != "" {
			t.Fatalf("call %d at t0+%v: Allow (-memory +got):\n%s", i, c.Now().Sub(T0), diff)
		}
		if peek.Allowed {
			peek.Remaining-- // what is left after the request Allow counted
		}
		if diff := cmp.Diff(allow, peek); diff != "" {
			t.Fatalf("call %d at t0+%v: Peek differs from the Allow after it (-allow +peek):\n%s", i, c.Now().Sub(T0), diff)
		}
		if allow.Allowed {
			accepted++
		} else {
			refusals++
		}
	}
	if accepted < r.N || refusals == 0 {
		t.Errorf("%d accepted and %d refused: the log never filled", accepted, refusals)
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
		peekCountsNothing(),
	}
}

// peekCountsNothing is the case of Peek: it decides as Allow would, for a
// key never counted too, and counts nothing however often it is called.
func peekCountsNothing() Case {
	s := time.Second
	steps := []Step{{At: 0, Peek: true, Want: Allowed(3)}}
	for range 100 {
		steps = append(steps, Step{At: 0, Peek: true, Want: Allowed(3)})
	}
	steps = append(steps,
		Step{At: 0, Peek: true, Want: Allowed(3)},
		Step{At: 0, Want: Allowed(2)},
		Step{At: 1 * s, Peek: true, Want: Allowed(2)},
		Step{At: 1 * s, Want: Allowed(1)},
		Step{At: 2 * s, Peek: true, Want: Allowed(1)},
		Step{At: 2 * s, Want: Allowed(0)},
		Step{At: 3 * s, Peek: true, Want: Refused(7 * s)},
		Step{At: 3 * s, Want: Refused(7 * s)},
		// Once the oldest has left.
		Step{At: 10 * s, Peek: true, Want: Allowed(1)},
		// Once all have left.
		Step{At: 12 * s, Peek: true, Want: Allowed(3)},
		Step{At: 12 * s, Key: "never counted", Peek: true, Want: Allowed(3)},
	)
	return Case{Name: "Peek counts nothing", Rate: throttle.Rate{N: 3, Period: 10 * s}, Steps: steps}
}
