package password

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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

// fakeTimers stands in for time.AfterFunc in an idleWatch: it keeps each
// function scheduled, for the test to run when it likes.
type fakeTimers struct {
	mu     sync.Mutex
	after  []time.Duration
	queued []func()
}

func (f *fakeTimers) afterFunc(d time.Duration, fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.after = append(f.after, d)
	f.queued = append(f.queued, fn)
}

// scheduled returns how many timers were set, and the one set last.
func (f *fakeTimers) scheduled() (int, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.queued) == 0 {
		return 0, nil
	}
	return len(f.queued), f.queued[len(f.queued)-1]
}

// TestOnIdle: OnIdle runs once IdleAfter has passed since the pool fell
// idle, at most once each time it does, and not when a caller came in
// the meantime, computing or waiting.
func TestOnIdle(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	h := NewHasher(Options{Params: fastParams, Concurrency: 1, OnIdle: func() { calls.Add(1) }, IdleAfter: 5 * time.Second})
	timers := &fakeTimers{}
	h.idle.afterFunc = timers.afterFunc

	if n, _ := timers.scheduled(); n != 0 {
		t.Fatalf("%d timers set before any hash, want none", n)
	}
	mustHash(t, h, "password1")
	n, first := timers.scheduled()
	if n != 1 || timers.after[0] != 5*time.Second {
		t.Fatalf("after one hash: timers %v, want one of 5s", timers.after)
	}
	if calls.Load() != 0 {
		t.Fatal("OnIdle called before its timer fired")
	}
	first()
	if got := calls.Load(); got != 1 {
		t.Fatalf("OnIdle called %d times once idle, want 1", got)
	}

	// A hash after that starts a new idle period; the timer of the
	// first, were it to fire again, finds it not over.
	mustHash(t, h, "password1")
	n, second := timers.scheduled()
	if n != 2 {
		t.Fatalf("%d timers set after two hashes, want 2", n)
	}

	// While a caller computes and another waits, no timer is set, and a
	// timer set before finds the pool busy.
	entered, release, _ := holdSlots(h)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := h.Hash(t.Context(), "password1")
			errs <- err
		}()
	}
	<-entered
	waitForWaiting(t, h, 1)
	second()
	if got := calls.Load(); got != 1 {
		t.Errorf("OnIdle called while the pool was busy (%d calls, want 1)", got)
	}
	release()
	<-entered
	if n, _ := timers.scheduled(); n != 2 {
		t.Errorf("%d timers set while a caller was left, want still 2", n)
	}
	release()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	n, third := timers.scheduled()
	if n != 3 {
		t.Fatalf("%d timers set once the pool fell idle again, want 3", n)
	}
	second() // stale: its idle period ended
	first()
	if got := calls.Load(); got != 1 {
		t.Errorf("OnIdle called by the timer of a past idle period (%d calls, want 1)", got)
	}
	third()
	if got := calls.Load(); got != 2 {
		t.Errorf("OnIdle called %d times after the second idle period, want 2", got)
	}
}

// TestOnIdleAfterCancel: a caller that gives up waiting leaves the pool
// as one that computed does.
func TestOnIdleAfterCancel(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	h := NewHasher(Options{Params: fastParams, Concurrency: 1, OnIdle: func() { calls.Add(1) }, IdleAfter: time.Second})
	timers := &fakeTimers{}
	h.idle.afterFunc = timers.afterFunc
	entered, release, _ := holdSlots(h)
	first := make(chan error, 1)
	go func() {
		_, err := h.Hash(t.Context(), "password1")
		first <- err
	}()
	<-entered
	ctx, cancel := context.WithCancel(t.Context())
	waiter := make(chan error, 1)
	go func() {
		_, err := h.Hash(ctx, "password1")
		waiter <- err
	}()
	waitForWaiting(t, h, 1)
	cancel()
	if err := <-waiter; err != context.Canceled {
		t.Fatalf("waiting Hash after cancel: %v", err)
	}
	if n, _ := timers.scheduled(); n != 0 {
		t.Errorf("%d timers set while a hash computes, want none", n)
	}
	release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	n, fire := timers.scheduled()
	if n != 1 {
		t.Fatalf("%d timers set once idle, want 1", n)
	}
	fire()
	if got := calls.Load(); got != 1 {
		t.Errorf("OnIdle called %d times, want 1", got)
	}
}

// TestComputeFIFO: callers get slots in the order they started waiting
// for one, and a caller arriving just as a slot frees does not overtake
// them.
func TestComputeFIFO(t *testing.T) {
	t.Parallel()
	h := NewHasher(Options{Params: fastParams, Concurrency: 1})
	entered, release, _ := holdSlots(h)
	var (
		mu    sync.Mutex
		order []int
	)
	errs := make(chan error, 16)
	call := func(i int) {
		errs <- h.compute(t.Context(), work{}, func() {
			mu.Lock()
			defer mu.Unlock()
			order = append(order, i)
		})
	}
	go call(0)
	<-entered
	const queued = 8
	for i := 1; i <= queued; i++ {
		go call(i)
		waitForWaiting(t, h, int64(i))
	}
	// The holder frees its slot while a newcomer arrives.
	release()
	go call(queued + 1)
	for range queued + 1 {
		<-entered
		release()
	}
	for range queued + 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	want := make([]int, queued+2)
	for i := range want {
		want[i] = i
	}
	if diff := cmp.Diff(want, order); diff != "" {
		t.Errorf("order of the slots (-want +got):\n%s", diff)
	}
}

func TestPoolMemory(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		opts Options
		want int64
	}{
		{Options{Concurrency: 2}, 2 * 19 << 20},
		{Options{Concurrency: 3, Params: Params{Memory: 64 * 1024}}, 3 * 64 << 20},
		{Options{Concurrency: 1, Params: fastParams}, 64 << 10},
		{Options{}, int64(runtime.GOMAXPROCS(0)) * 19 << 20},
	} {
		if got := tt.opts.PoolMemory(); got != tt.want {
			t.Errorf("PoolMemory of %+v = %d, want %d", tt.opts, got, tt.want)
		}
	}
}

// TestReclaim: Reclaim runs after each argon2id hash and not after a
// pbkdf2 one, which allocates next to nothing.
func TestReclaim(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	h := NewHasher(Options{Params: fastParams, Concurrency: 1, Reclaim: func() { calls.Add(1) }})
	argon := mustHash(t, h, "correct horse")
	django := djangoHashOf(t, "correct horse", "salt", 300)
	// Each call's Reclaim has run once the next call has had the slot.
	settled := func() int64 {
		if err := h.compute(t.Context(), work{alg: "none"}, func() {}); err != nil {
			t.Fatal(err)
		}
		return calls.Load()
	}
	for _, tc := range []struct {
		name string
		run  func()
		want int64
	}{
		{"Hash", func() { mustHash(t, h, "correct horse") }, 1},
		{"Verify of an argon2id hash", func() { mustVerify(t, h, "correct horse", argon) }, 1},
		{"Verify of an unknown user", func() { mustVerify(t, h, "correct horse", "") }, 1},
		{"Verify of a Django hash", func() { mustVerify(t, h, "correct horse", django) }, 0},
	} {
		before := settled()
		tc.run()
		if got := settled() - before; got != tc.want {
			t.Errorf("%s: Reclaim called %d times, want %d", tc.name, got, tc.want)
		}
	}
}

// TestReclaimHoldsTheSlot: the caller whose hash is done does not wait
// for Reclaim, and the next caller gets the slot only once it returns.
func TestReclaimHoldsTheSlot(t *testing.T) {
	t.Parallel()
	reclaiming, done := make(chan struct{}), make(chan struct{})
	h := NewHasher(Options{Params: fastParams, Concurrency: 1, Reclaim: func() {
		reclaiming <- struct{}{}
		<-done
	}})
	first := make(chan error, 1)
	go func() {
		_, err := h.Hash(t.Context(), "password1")
		first <- err
	}()
	<-reclaiming
	if err := <-first; err != nil {
		t.Fatalf("first Hash, its Reclaim running: %v", err)
	}
	if got := h.InFlight(); got != 1 {
		t.Errorf("InFlight while Reclaim runs = %d, want 1", got)
	}
	second := make(chan error, 1)
	go func() {
		_, err := h.Hash(t.Context(), "password1")
		second <- err
	}()
	waitForWaiting(t, h, 1)
	done <- struct{}{}
	<-reclaiming
	if err := <-second; err != nil {
		t.Fatalf("second Hash: %v", err)
	}
	done <- struct{}{}
}
