package clock

import (
	"sync"
	"testing"
	"time"
)

var start = time.Date(2031, time.March, 4, 5, 6, 7, 891, time.FixedZone("UTC+05:30", 5*3600+30*60))

func TestFake(t *testing.T) {
	t.Parallel()
	c := NewFake(start)
	steps := []struct {
		name string
		move func() time.Time // returns the time the clock should then read
	}{
		{"at start", func() time.Time { return start }},
		{"Advance", func() time.Time {
			if got, want := c.Advance(90*time.Second), start.Add(90*time.Second); !got.Equal(want) {
				t.Errorf("Advance returned %v, want %v", got, want)
			}
			return start.Add(90 * time.Second)
		}},
		{"Advance by a nanosecond", func() time.Time { c.Advance(1); return start.Add(90*time.Second + 1) }},
		{"Advance back", func() time.Time { c.Advance(-time.Hour); return start.Add(90*time.Second + 1 - time.Hour) }},
		{"Set forwards", func() time.Time {
			at := start.Add(48 * time.Hour)
			c.Set(at)
			return at
		}},
		{"Set back, in another zone", func() time.Time {
			at := start.Add(-time.Minute).UTC()
			c.Set(at)
			return at
		}},
	}
	for _, s := range steps {
		want := s.move()
		got := c.Now()
		if !got.Equal(want) {
			t.Errorf("%s: Now() = %v, want %v", s.name, got, want)
		}
		if got.Location() != start.Location() {
			t.Errorf("%s: Now() is in %v, want the start's location %v", s.name, got.Location(), start.Location())
		}
	}
}

func TestZeroFake(t *testing.T) {
	t.Parallel()
	var c Fake
	if got := c.Now(); !got.IsZero() {
		t.Errorf("the zero Fake reads %v, want the zero time", got)
	}
	c.Advance(time.Second)
	if got, want := c.Now(), (time.Time{}).Add(time.Second); !got.Equal(want) {
		t.Errorf("after Advance: %v, want %v", got, want)
	}
}

// TestFakeConcurrent moves and reads one clock from many goroutines; run
// with -race, and no step may be lost.
func TestFakeConcurrent(t *testing.T) {
	t.Parallel()
	c := NewFake(start)
	const goroutines, steps = 8, 1000
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range steps {
				before := c.Now()
				if after := c.Advance(time.Millisecond); !after.After(before) {
					t.Errorf("Advance returned %v, not after %v", after, before)
					return
				}
			}
		})
	}
	wg.Wait()
	if got, want := c.Now(), start.Add(goroutines*steps*time.Millisecond); !got.Equal(want) {
		t.Errorf("Now() = %v after %d steps of 1ms, want %v", got, goroutines*steps, want)
	}
}

func TestFakeAllocatesNothing(t *testing.T) {
	c := NewFake(start)
	allocs := testing.AllocsPerRun(100, func() {
		c.Advance(time.Second)
		c.Set(c.Now())
	})
	if allocs != 0 {
		t.Errorf("Now, Advance and Set: %v allocations, want 0", allocs)
	}
}
