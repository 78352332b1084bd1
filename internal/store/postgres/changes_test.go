package postgres

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"authd/internal/store"
)

// events is a store.ChangeWatcher that keeps what it is told.
type events struct {
	mu  sync.Mutex
	got []string
}

func (e *events) add(s string) {
	e.mu.Lock()
	e.got = append(e.got, s)
	e.mu.Unlock()
}

func (e *events) Following() { e.add("following") }
func (e *events) Lost(error) { e.add("lost") }
func (e *events) Changed(c store.Change) {
	e.add(fmt.Sprintf("s:%s u:%d", c.SessionID, c.UserID))
}

// waitFor waits up to 10 s for the events since from to hold want, in
// order, and returns all of them.
func (e *events) waitFor(t *testing.T, from int, want ...string) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.mu.Lock()
		got := slices.Clone(e.got[from:])
		e.mu.Unlock()
		i := 0
		for _, g := range got {
			if i < len(want) && g == want[i] {
				i++
			}
		}
		if i == len(want) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s: %q, want %q in order", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestWatchChangesReconnects: when its connection is terminated, the feed
// says it is lost, connects again, says it follows, and tells of the
// changes made after.
func TestWatchChangesReconnects(t *testing.T) {
	u := mustCreateDatabase(t)
	db := mustOpenURL(t, u)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	e := &events{}
	go func() { defer close(done); db.WatchChanges(ctx, e) }()
	defer func() { cancel(); <-done }()
	e.waitFor(t, 0, "following")

	var terminated int
	err := db.pool.QueryRow(t.Context(),
		"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'authd-changes' AND datname = current_database()").Scan(&terminated)
	if err != nil || terminated != 1 {
		t.Fatalf("terminated %d listening connections, %v; want 1", terminated, err)
	}
	e.waitFor(t, 1, "lost", "following")
	e.mu.Lock()
	n := len(e.got)
	e.mu.Unlock()
	if err := db.RevokeSession(t.Context(), "s1", time.Now()); err != nil { // no such session: no row, no change
		t.Fatal(err)
	}
	alice, err := db.CreateUser(t.Context(), store.NewUser{Username: "alice"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetDisabled(t.Context(), alice.ID, true, time.Now()); err != nil {
		t.Fatal(err)
	}
	e.waitFor(t, n, fmt.Sprintf("s: u:%d", alice.ID))
}

// TestWatchChangesEndsWithItsContext: WatchChanges returns once its
// context ends, whether it is connected or retrying.
func TestWatchChangesEndsWithItsContext(t *testing.T) {
	db := mustOpen(t)
	for _, wait := range []time.Duration{0, 200 * time.Millisecond} {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); db.WatchChanges(ctx, &events{}) }()
		time.Sleep(wait)
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("WatchChanges still running 10 s after its context ended (after %v)", wait)
		}
	}
}
