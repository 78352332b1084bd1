package cache

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"authd/internal/clock"
	"authd/internal/store"
	"authd/internal/store/sqlite"
	"authd/internal/store/storetest"
)

// counting counts the reads that reach the store beneath the cache, and
// can hold SessionAndUser reads until released.
type counting struct {
	store.Store
	joins, totps atomic.Int64
	hold         chan chan struct{} // when set, SessionAndUser sends a channel and waits on it
}

func (c *counting) SessionAndUser(ctx context.Context, id string) (store.Session, store.User, error) {
	c.joins.Add(1)
	s, u, err := c.Store.SessionAndUser(ctx, id)
	if c.hold != nil {
		release := make(chan struct{})
		c.hold <- release
		<-release
	}
	return s, u, err
}

func (c *counting) TOTP(ctx context.Context, id int64) (store.TOTP, error) {
	c.totps.Add(1)
	return c.Store.TOTP(ctx, id)
}

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

type fixture struct {
	db    *sqlite.DB
	under *counting
	c     *Store
	clock *clock.Fake
	user  store.User
}

// newFixture opens a SQLite store with a user and live sessions s1..s3
// beneath a cache that follows (told so by hand: no feed runs).
func newFixture(t *testing.T, o Options) *fixture {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "authd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &fixture{db: db, under: &counting{Store: db}, clock: clock.NewFake(t0)}
	if o.Now == nil {
		o.Now = f.clock.Now
	}
	f.c = New(f.under, o)
	f.user, err = db.CreateUser(t.Context(), store.NewUser{Username: "alice", PasswordHash: "h"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"s1", "s2", "s3"} {
		if err := db.CreateSession(t.Context(), store.Session{ID: id, UserID: f.user.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), RefreshID: "r0"}); err != nil {
			t.Fatal(err)
		}
	}
	f.c.Following()
	return f
}

func (f *fixture) session(t *testing.T, id string) store.Session {
	t.Helper()
	s, _, err := f.c.SessionAndUser(t.Context(), id)
	if err != nil {
		t.Fatalf("SessionAndUser(%s): %v", id, err)
	}
	return s
}

func (f *fixture) userByID(t *testing.T) store.User {
	t.Helper()
	_, u, err := f.c.SessionAndUser(t.Context(), "s1")
	if err != nil {
		t.Fatalf("SessionAndUser(s1): %v", err)
	}
	return u
}

func TestReadsAreAnsweredFromMemory(t *testing.T) {
	f := newFixture(t, Options{})
	for range 3 {
		f.session(t, "s1")
		f.userByID(t)
		if _, err := f.c.TOTP(t.Context(), f.user.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("TOTP of a user without = %v, want ErrNotFound", err)
		}
	}
	if j, tt := f.under.joins.Load(), f.under.totps.Load(); j != 1 || tt != 1 {
		t.Errorf("reads beneath after 3 of each: sessions and users %d, totp %d; want 1 each", j, tt)
	}
	if _, _, err := f.c.SessionAndUser(t.Context(), "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown session: %v, want ErrNotFound", err)
	}
	if _, _, err := f.c.SessionAndUser(t.Context(), "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown session again: %v, want ErrNotFound", err)
	}
	if got := f.under.joins.Load(); got != 3 {
		t.Errorf("an unknown session read twice reached the store %d times, want 2 (not cached)", got-1)
	}
}

func TestSessionAndUserFromMemory(t *testing.T) {
	f := newFixture(t, Options{})
	for range 3 {
		s, u, err := f.c.SessionAndUser(t.Context(), "s1")
		if err != nil || s.ID != "s1" || u.ID != f.user.ID {
			t.Fatalf("SessionAndUser = %+v, %+v, %v", s, u, err)
		}
	}
	if got := f.under.joins.Load(); got != 1 {
		t.Errorf("3 reads reached the store %d times, want 1", got)
	}
	// Another session of the user is read once, then from memory.
	for range 2 {
		if _, _, err := f.c.SessionAndUser(t.Context(), "s2"); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.under.joins.Load(); got != 2 {
		t.Errorf("reads beneath after s1 and s2: %d, want 2", got)
	}
	f.c.Changed(store.Change{UserID: f.user.ID})
	if err := f.db.SetDisabled(t.Context(), f.user.ID, true, t0); err != nil {
		t.Fatal(err)
	}
	if _, u, _ := f.c.SessionAndUser(t.Context(), "s2"); !u.Disabled {
		t.Error("the user of a cached session, told changed, is still answered from memory")
	}
}

func TestNothingFromMemoryUnlessFollowing(t *testing.T) {
	f := newFixture(t, Options{})
	fresh := New(f.under, Options{Now: f.clock.Now})
	if got := fresh.Status(); got == "following" {
		t.Fatalf("a new cache's Status = %q, want a reason", got)
	}
	for range 2 {
		if _, _, err := fresh.SessionAndUser(t.Context(), "s1"); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.under.joins.Load(); got != 2 {
		t.Errorf("a cache not yet following read beneath %d times for 2 reads", got)
	}

	f.session(t, "s1") // kept
	f.c.Lost(errors.New("connection reset"))
	if got := f.c.Status(); got != "database: the feed of changes is lost: connection reset" {
		t.Errorf("Status after Lost = %q", got)
	}
	before := f.under.joins.Load()
	if err := f.db.RevokeSession(t.Context(), "s1", t0); err != nil { // beneath the cache, untold
		t.Fatal(err)
	}
	if s := f.session(t, "s1"); s.RevokedAt.IsZero() {
		t.Error("while lost, a session revoked beneath the cache is answered live")
	}
	f.session(t, "s1")
	if got := f.under.joins.Load() - before; got != 2 {
		t.Errorf("while lost, 2 reads reached the store %d times", got)
	}
	if n, _ := f.c.Len(); n != 0 {
		t.Errorf("while lost, %d sessions kept", n)
	}
	f.c.Following()
	if got := f.c.Status(); got != "following" {
		t.Errorf("Status after Following = %q", got)
	}
	f.session(t, "s1")
	f.session(t, "s1")
	if got := f.under.joins.Load() - before; got != 3 {
		t.Errorf("following again, 2 more reads reached the store %d times, want 1", got-2)
	}
}

func TestChangedForgets(t *testing.T) {
	f := newFixture(t, Options{})
	f.session(t, "s1")
	f.userByID(t)
	if err := f.db.RevokeSession(t.Context(), "s1", t0); err != nil {
		t.Fatal(err)
	}
	if err := f.db.SetDisabled(t.Context(), f.user.ID, true, t0); err != nil {
		t.Fatal(err)
	}
	if s := f.session(t, "s1"); !s.RevokedAt.IsZero() {
		t.Fatal("a change made beneath the cache was seen before it was told: the test proves nothing")
	}
	f.c.Changed(store.Change{SessionID: "s1"})
	f.c.Changed(store.Change{UserID: f.user.ID})
	if s := f.session(t, "s1"); s.RevokedAt.IsZero() {
		t.Error("a session told changed is still answered from memory")
	}
	if u := f.userByID(t); !u.Disabled {
		t.Error("a user told changed is still answered from memory")
	}
}

// TestOwnWritesForget: after each write through the cache, what it
// changed is read from the database.
func TestOwnWritesForget(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		write func(f *fixture) error
		check func(f *fixture, s1 store.Session, u store.User, tf store.TOTP, tfErr error) string
	}{
		{"RevokeSession", func(f *fixture) error { return f.c.RevokeSession(ctx, "s1", t0) },
			func(f *fixture, s1 store.Session, _ store.User, _ store.TOTP, _ error) string {
				return ifTrue(s1.RevokedAt.IsZero(), "s1 not revoked")
			}},
		{"RevokeUserSessions", func(f *fixture) error {
			_, err := f.c.RevokeUserSessions(ctx, f.user.ID, "", t0)
			return err
		}, func(f *fixture, s1 store.Session, _ store.User, _ store.TOTP, _ error) string {
			return ifTrue(s1.RevokedAt.IsZero(), "s1 not revoked")
		}},
		{"ChangePassword", func(f *fixture) error {
			_, err := f.c.ChangePassword(ctx, f.user.ID, "new", "s2", t0)
			return err
		}, func(f *fixture, s1 store.Session, u store.User, _ store.TOTP, _ error) string {
			return ifTrue(s1.RevokedAt.IsZero() || u.PasswordHash != "new", "s1 not revoked or password unchanged")
		}},
		{"SetDisabled", func(f *fixture) error { return f.c.SetDisabled(ctx, f.user.ID, true, t0) },
			func(f *fixture, s1 store.Session, u store.User, _ store.TOTP, _ error) string {
				return ifTrue(s1.RevokedAt.IsZero() || !u.Disabled, "s1 not revoked or user enabled")
			}},
		{"SetPassword", func(f *fixture) error { return f.c.SetPassword(ctx, f.user.ID, "new") },
			func(f *fixture, _ store.Session, u store.User, _ store.TOTP, _ error) string {
				return ifTrue(u.PasswordHash != "new", "password unchanged")
			}},
		{"LinkIntra", func(f *fixture) error {
			return f.c.LinkIntra(ctx, f.user.ID, store.IntraAccount{ID: 7, Login: "al"}, t0)
		}, func(f *fixture, _ store.Session, u store.User, _ store.TOTP, _ error) string {
			return ifTrue(u.Intra == nil, "not linked")
		}},
		{"RotateRefresh", func(f *fixture) error {
			_, err := f.c.RotateRefresh(ctx, "s1", "r0", "r1", t0)
			return err
		}, func(f *fixture, s1 store.Session, _ store.User, _ store.TOTP, _ error) string {
			return ifTrue(s1.RefreshID != "r1", "refresh id "+s1.RefreshID)
		}},
		{"SetPendingTOTP", func(f *fixture) error { return f.c.SetPendingTOTP(ctx, f.user.ID, "p") },
			func(f *fixture, _ store.Session, _ store.User, tf store.TOTP, err error) string {
				return ifTrue(err != nil || tf.Pending != "p", fmt.Sprintf("TOTP %+v, %v", tf, err))
			}},
		{"TouchSession", func(f *fixture) error { return f.c.TouchSession(ctx, "s1", t0.Add(time.Minute)) },
			func(f *fixture, s1 store.Session, _ store.User, _ store.TOTP, _ error) string {
				return ifTrue(!s1.LastUsedAt.Equal(t0.Add(time.Minute)), "last use "+s1.LastUsedAt.String())
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Options{})
			f.session(t, "s1")
			f.userByID(t)
			f.c.TOTP(ctx, f.user.ID)
			if err := tc.write(f); err != nil {
				t.Fatal(err)
			}
			tf, err := f.c.TOTP(ctx, f.user.ID)
			if msg := tc.check(f, f.session(t, "s1"), f.userByID(t), tf, err); msg != "" {
				t.Error(msg)
			}
		})
	}
}

func ifTrue(b bool, msg string) string {
	if b {
		return msg
	}
	return ""
}

// TestFillRacingAChangeIsNotKept: a read that began before a change was
// told, and so may have read the row as it was, is answered but not
// kept.
func TestFillRacingAChangeIsNotKept(t *testing.T) {
	f := newFixture(t, Options{})
	f.under.hold = make(chan chan struct{})
	done := make(chan store.Session)
	go func() {
		s, _, _ := f.c.SessionAndUser(context.Background(), "s1")
		done <- s
	}()
	release := <-f.under.hold // the read has happened: s1 live
	if err := f.db.RevokeSession(t.Context(), "s1", t0); err != nil {
		t.Fatal(err)
	}
	f.c.Changed(store.Change{SessionID: "s1"})
	close(release)
	if s := <-done; !s.RevokedAt.IsZero() {
		t.Fatal("the racing read saw the revocation: the test proves nothing")
	}
	f.under.hold = nil
	if n, _ := f.c.Len(); n != 0 {
		t.Errorf("the racing read was kept: %d sessions cached", n)
	}
	if s := f.session(t, "s1"); s.RevokedAt.IsZero() {
		t.Error("the session revoked is answered live")
	}
}

func TestEntriesAgeOut(t *testing.T) {
	f := newFixture(t, Options{MaxAge: time.Second})
	f.session(t, "s1")
	f.clock.Advance(999 * time.Millisecond)
	f.session(t, "s1")
	if got := f.under.joins.Load(); got != 1 {
		t.Fatalf("reads beneath within MaxAge = %d, want 1", got)
	}
	f.clock.Advance(time.Millisecond)
	f.session(t, "s1")
	if got := f.under.joins.Load(); got != 2 {
		t.Errorf("reads beneath once MaxAge passed = %d, want 2", got)
	}
}

func TestBounded(t *testing.T) {
	f := newFixture(t, Options{MaxEntries: 2})
	for _, id := range []string{"s1", "s2", "s3", "s1", "s2", "s3"} {
		f.session(t, id)
	}
	if n, _ := f.c.Len(); n != 2 {
		t.Errorf("%d sessions kept with MaxEntries 2", n)
	}
	f.c.mu.RLock()
	indexed := 0
	for _, ids := range f.c.byUser {
		indexed += len(ids)
	}
	f.c.mu.RUnlock()
	if indexed != 2 {
		t.Errorf("the index by user holds %d sessions, the cache 2", indexed)
	}
}

// TestConcurrentReadsAndChanges runs reads, writes and changes at once
// (for the race detector), then checks that, once quiet, every session
// is answered as the database has it.
func TestConcurrentReadsAndChanges(t *testing.T) {
	f := newFixture(t, Options{MaxEntries: 2})
	ctx := t.Context()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				id := fmt.Sprintf("s%d", 1+(g+i)%3)
				switch i % 10 {
				case 3:
					f.c.Changed(store.Change{SessionID: id})
				case 5:
					f.c.TouchSession(ctx, id, t0.Add(time.Duration(i)*time.Second))
				case 7:
					f.c.Changed(store.Change{UserID: f.user.ID})
				default:
					f.c.SessionAndUser(ctx, id)
					f.c.TOTP(ctx, f.user.ID)
				}
			}
		})
	}
	wg.Go(func() {
		f.c.RevokeSession(ctx, "s2", t0)
	})
	wg.Wait()
	if s := f.session(t, "s2"); s.RevokedAt.IsZero() {
		t.Error("s2, revoked through the cache, is answered live")
	}
}

// TestFeedTellsAnotherProcessesWrites: a cache fed by a SQLite store's
// feed sees, within a second, a revocation made by another store on the
// same file (as the authd user commands would).
func TestFeedTellsAnotherProcessesWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authd.db")
	mine, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer mine.Close()
	theirs, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer theirs.Close()
	u, err := theirs.CreateUser(t.Context(), store.NewUser{Username: "bob"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := theirs.CreateSession(t.Context(), store.Session{ID: "s", UserID: u.ID, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	c := New(mine, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); mine.WatchChanges(ctx, c) }()
	defer func() { cancel(); <-done }()
	for c.Status() != "following" {
		time.Sleep(5 * time.Millisecond)
	}
	if s, _, err := c.SessionAndUser(t.Context(), "s"); err != nil || !s.RevokedAt.IsZero() {
		t.Fatalf("Session = %+v, %v", s, err)
	}
	revoked := time.Now()
	if err := theirs.SetDisabled(t.Context(), u.ID, true, revoked); err != nil {
		t.Fatal(err)
	}
	for {
		s, _, err := c.SessionAndUser(t.Context(), "s")
		if err != nil {
			t.Fatal(err)
		}
		if !s.RevokedAt.IsZero() {
			t.Logf("seen revoked after %v", time.Since(revoked).Round(time.Millisecond))
			break
		}
		if time.Since(revoked) > 10*time.Second {
			t.Fatal("after 10 s the cache still answers the session live")
		}
		time.Sleep(time.Millisecond)
	}
	if _, uu, err := c.SessionAndUser(t.Context(), "s"); err != nil || !uu.Disabled {
		t.Errorf("SessionAndUser's user = %+v, %v; want disabled", uu, err)
	}
}

// TestStore runs the conformance suite on the cache in front of SQLite:
// the cache is a store.Store like any other for a process that writes
// through it. (Its tests of several stores on one file pass as well: none
// reads, through one store, a row that store cached before another changed
// it, which only the feed would tell.)
func TestStore(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		NewDatabase: func(t *testing.T) string { return filepath.Join(t.TempDir(), "authd.db") },
		Open: func(ctx context.Context, path string) (store.Store, error) {
			db, err := sqlite.Open(ctx, path)
			if err != nil {
				return nil, err
			}
			c := New(db, Options{})
			c.Following()
			return c, nil
		},
	})
}

// BenchmarkSessionHit is a cached read of a session and its user, from
// every core at once: what GET /auth/me/ pays instead of a query.
func BenchmarkSessionHit(b *testing.B) {
	db, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "authd.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	u, err := db.CreateUser(b.Context(), store.NewUser{Username: "alice"}, t0)
	if err != nil {
		b.Fatal(err)
	}
	if err := db.CreateSession(b.Context(), store.Session{ID: "s1", UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
		b.Fatal(err)
	}
	c := New(db, Options{})
	c.Following()
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := c.SessionAndUser(ctx, "s1"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
