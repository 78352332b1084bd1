package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"authd/internal/store"
	"authd/internal/store/storetest"
)

// TestWatchChangesReconnects: when its connection is terminated, the feed
// says it is lost, connects again, says it follows, and tells of the
// changes made after.
func TestWatchChangesReconnects(t *testing.T) {
	u := mustCreateDatabase(t)
	db := mustOpenURL(t, u)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	e := &storetest.ChangeRecorder{}
	go func() { defer close(done); db.WatchChanges(ctx, e) }()
	defer func() { cancel(); <-done }()
	e.WaitFor(t, 0, "following")

	var terminated int
	err := db.pool.QueryRow(t.Context(),
		"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'authd-changes' AND datname = current_database()").Scan(&terminated)
	if err != nil || terminated != 1 {
		t.Fatalf("terminated %d listening connections, %v; want 1", terminated, err)
	}
	e.WaitFor(t, 1, "lost", "following")
	n := e.Len()
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
	e.WaitFor(t, n, fmt.Sprintf("u:%d", alice.ID))
}

// TestWatchChangesEndsWithItsContext: WatchChanges returns once its
// context ends, whether it is connected or retrying.
func TestWatchChangesEndsWithItsContext(t *testing.T) {
	db := mustOpen(t)
	for _, wait := range []time.Duration{0, 200 * time.Millisecond} {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); db.WatchChanges(ctx, &storetest.ChangeRecorder{}) }()
		time.Sleep(wait)
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("WatchChanges still running 10 s after its context ended (after %v)", wait)
		}
	}
}
