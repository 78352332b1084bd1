package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"authd/internal/store"
)

// ChangeRecorder is a store.ChangeWatcher that keeps what it is told, as
// "following", "lost" and "s:<id>" or "u:<id>", for the tests of feeds.
type ChangeRecorder struct {
	mu     sync.Mutex
	events []string
}

func (r *ChangeRecorder) add(e string) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *ChangeRecorder) Following() { r.add("following") }
func (r *ChangeRecorder) Lost(error) { r.add("lost") }
func (r *ChangeRecorder) Changed(c store.Change) {
	if c.SessionID != "" {
		r.add("s:" + c.SessionID)
	} else {
		r.add(fmt.Sprintf("u:%d", c.UserID))
	}
}

// Since returns the events told from the index from on.
func (r *ChangeRecorder) Since(from int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events[from:])
}

// Len returns how many events were told.
func (r *ChangeRecorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// WaitFor waits until the events told since from include every one of
// want, and returns them; it fails the test after 10 seconds.
func (r *ChangeRecorder) WaitFor(t *testing.T, from int, want ...string) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := r.Since(from)
		missing := slices.DeleteFunc(slices.Clone(want), func(w string) bool { return slices.Contains(got, w) })
		if len(missing) == 0 {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s, told %q; never %q", got, missing)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// WatchFeed starts s's feed of changes with a recorder, waits until it
// follows, and stops it when the test ends.
func watchFeed(t *testing.T, s store.Store) *ChangeRecorder {
	t.Helper()
	feed, ok := s.(store.ChangeFeed)
	if !ok {
		t.Fatalf("%T is not a store.ChangeFeed", s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	r := &ChangeRecorder{}
	go func() {
		defer close(done)
		feed.WatchChanges(ctx, r)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	r.WaitFor(t, 0, "following")
	return r
}

// testChangeFeed: every write that changes what a cache of sessions and
// users decides on, made by another store on the database as another
// process would, is told by the feed, naming the rows; a session's last
// use alone is not.
func testChangeFeed(t *testing.T, b Backend) {
	name := b.NewDatabase(t)
	watcher, other := mustOpen(t, b.Open, name), mustOpen(t, b.Open, name)
	if _, ok := watcher.(store.ChangeFeed); !ok {
		t.Skip("the backend's stores are not store.ChangeFeeds")
	}
	ctx := t.Context()
	alice := mustCreateUser(t, other, store.NewUser{Username: "alice", PasswordHash: "h"})
	bob := mustCreateUser(t, other, store.NewUser{Username: "bob", PasswordHash: "h"})
	for _, id := range []string{"a1", "a2", "a3", "a4", "a5", "marker"} {
		mustCreateSession(t, other, store.Session{ID: id, UserID: alice.ID, CreatedAt: base, ExpiresAt: base.Add(time.Hour), RefreshID: "r0"})
	}
	mustCreateSession(t, other, store.Session{ID: "b1", UserID: bob.ID, CreatedAt: base, ExpiresAt: base.Add(time.Hour)})
	r := watchFeed(t, watcher)
	a, bb := fmt.Sprintf("u:%d", alice.ID), fmt.Sprintf("u:%d", bob.ID)

	for _, tc := range []struct {
		name  string
		write func() error
		want  []string
	}{
		{"RevokeSession", func() error { return other.RevokeSession(ctx, "a1", base) }, []string{"s:a1"}},
		{"RotateRefresh", func() error {
			_, err := other.RotateRefresh(ctx, "a2", "r0", "r1", base)
			return err
		}, []string{"s:a2"}},
		{"SetPassword", func() error { return other.SetPassword(ctx, alice.ID, "h2") }, []string{a}},
		{"LinkIntra", func() error {
			return other.LinkIntra(ctx, alice.ID, store.IntraAccount{ID: 42, Login: "alice42"}, base)
		}, []string{a}},
		{"UnlinkIntra", func() error { return other.UnlinkIntra(ctx, alice.ID) }, []string{a}},
		{"SetPendingTOTP", func() error { return other.SetPendingTOTP(ctx, alice.ID, "p") }, []string{a}},
		{"EnableTOTP", func() error {
			_, err := other.EnableTOTP(ctx, alice.ID, "p", 1, []string{"c"}, "a5", base)
			return err
		}, []string{a, "s:a3", "s:a4"}},
		{"UseTOTPStep", func() error {
			_, err := other.UseTOTPStep(ctx, alice.ID, "p", 2)
			return err
		}, []string{a}},
		{"DisableTOTP", func() error {
			_, err := other.DisableTOTP(ctx, alice.ID)
			return err
		}, []string{a}},
		{"ChangePassword", func() error {
			_, err := other.ChangePassword(ctx, alice.ID, "h3", "marker", base)
			return err
		}, []string{a, "s:a5"}},
		{"SetDisabled", func() error { return other.SetDisabled(ctx, bob.ID, true, base) }, []string{bb, "s:b1"}},
	} {
		from := r.Len()
		if err := tc.write(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		r.WaitFor(t, from, tc.want...)
	}

	// A touch alone tells nothing: the marker's revocation, made after it,
	// is told first.
	from := r.Len()
	if err := other.TouchSession(ctx, "marker", base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	mustCreateSession(t, other, store.Session{ID: "marker2", UserID: alice.ID, CreatedAt: base, ExpiresAt: base.Add(time.Hour)})
	if err := other.RevokeSession(ctx, "marker2", base); err != nil {
		t.Fatal(err)
	}
	got := r.WaitFor(t, from, "s:marker2")
	if slices.Contains(got, "s:marker") {
		t.Errorf("a touch was told as a change: %q", got)
	}
	if slices.Contains(r.Since(0), "lost") {
		t.Errorf("the feed was lost: %q", r.Since(0))
	}
}
