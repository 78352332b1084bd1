package password

import (
	"sync"
	"testing"
	"time"
)

// TestInFlightAndOnHash checks the readings metrics take: InFlight counts
// the computations holding a slot, and OnHash hears of each one.
func TestInFlightAndOnHash(t *testing.T) {
	t.Parallel()
	var (
		mu    sync.Mutex
		times []time.Duration
	)
	h := NewHasher(Options{Params: fastParams, Concurrency: 2, OnHash: func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		times = append(times, d)
	}})
	if got := h.InFlight(); got != 0 {
		t.Fatalf("InFlight of an idle pool = %d, want 0", got)
	}
	entered, release, _ := holdSlots(h)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := h.Hash(t.Context(), "password1")
			errs <- err
		}()
	}
	<-entered
	<-entered
	if got := h.InFlight(); got != 2 {
		t.Errorf("InFlight with both slots held = %d, want 2", got)
	}
	release()
	release()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := h.InFlight(); got != 0 {
		t.Errorf("InFlight once both returned = %d, want 0", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(times) != 2 {
		t.Errorf("OnHash called %d times, want 2", len(times))
	}
}
