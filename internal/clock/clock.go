// Package clock is the fake clock of authd's tests. Code whose behaviour
// depends on time (throttles, expiry) takes a func() time.Time, which is
// time.Now in production; tests give it a Fake's Now and move the Fake by
// hand, so that they never sleep.
package clock

import (
	"sync/atomic"
	"time"
)

// Fake is a clock that moves only when told to. It is safe for concurrent
// use, and reading or moving it neither blocks nor allocates, so it does not
// disturb the benchmarks that use it.
//
// Its times are those of start, the time given to NewFake, moved by an
// offset of up to about 292 years either way; they are in start's location.
// The zero Fake starts at the zero time.Time.
type Fake struct {
	start  time.Time
	offset atomic.Int64 // nanoseconds from start
}

// NewFake returns a Fake that reads start until it is moved.
func NewFake(start time.Time) *Fake {
	return &Fake{start: start}
}

// Now returns the clock's time. Its method value is what code under test
// takes as its clock: NewMemory(MemoryOptions{Now: c.Now}).
func (c *Fake) Now() time.Time {
	return c.start.Add(time.Duration(c.offset.Load()))
}

// Advance moves the clock by d, forwards or, with d negative, back, and
// returns the new time.
func (c *Fake) Advance(d time.Duration) time.Time {
	return c.start.Add(time.Duration(c.offset.Add(int64(d))))
}

// Set moves the clock to t, forwards or back.
func (c *Fake) Set(t time.Time) {
	c.offset.Store(int64(t.Sub(c.start)))
}
