package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authd/internal/store"
)

// The tests of whole databases: reopening one, opening one from several
// stores at once, and migrating one.

// testReopenKeepsData closes a store and opens its database again.
func testReopenKeepsData(t *testing.T, b Backend) {
	ctx := t.Context()
	name := b.NewDatabase(t)
	now := time.Date(2030, time.June, 1, 12, 0, 0, 123_456_000, time.UTC)

	s, closeStore := mustOpenToClose(t, b.Open, name)
	u, err := s.CreateUser(ctx, store.NewUser{
		Username: "Alice", Email: "alice@example.com", PasswordHash: "hash",
		Intra: &store.IntraAccount{ID: 42, Login: "alice42", Email: "a@42.fr", DisplayName: "Alice", ImageLink: "https://x/a.jpg", LinkedAt: now},
	}, time.Now())
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	sess := store.Session{ID: "sid", UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	key, err := s.SigningKey(ctx, func() ([]byte, error) { return []byte("0123456789abcdef0123456789abcdef"), nil }, time.Now())
	if err != nil {
		t.Fatalf("SigningKey: %v", err)
	}
	if err := closeStore(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = mustOpen(t, b.Open, name)
	got, err := s.UserByUsername(ctx, "alice")
	if err != nil {
		t.Fatalf("UserByUsername after reopening: %v", err)
	}
	if diff := cmp.Diff(u, got); diff != "" {
		t.Errorf("user after reopening (-want +got):\n%s", diff)
	}
	gotSess, err := s.Session(ctx, "sid")
	if err != nil {
		t.Fatalf("Session after reopening: %v", err)
	}
	if diff := cmp.Diff(sess, gotSess); diff != "" {
		t.Errorf("session after reopening (-want +got):\n%s", diff)
	}
	gotKey, err := s.SigningKey(ctx, func() ([]byte, error) {
		t.Error("generate called after reopening")
		return nil, errors.New("unexpected")
	}, time.Now())
	if err != nil || !bytes.Equal(gotKey, key) {
		t.Errorf("SigningKey after reopening = %q, %v; want %q", gotKey, err, key)
	}
	// Another user gets a new id, never one given before.
	v := mustCreateUser(t, s, store.NewUser{Username: "bob"})
	if v.ID <= u.ID {
		t.Errorf("new user id %d, want more than %d", v.ID, u.ID)
	}
}

// testConcurrentOpen opens a new database from several stores at once, as
// replicas starting together would, each then writing.
func testConcurrentOpen(t *testing.T, b Backend) {
	ctx := t.Context()
	name := b.NewDatabase(t)
	const replicas = 4
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  [replicas]error
	)
	for i := range replicas {
		wg.Go(func() {
			<-start
			s, err := b.Open(ctx, name)
			if err != nil {
				errs[i] = err
				return
			}
			defer s.Close()
			if _, err := s.CreateUser(ctx, store.NewUser{Username: fmt.Sprintf("replica%d", i)}, time.Now()); err != nil {
				errs[i] = err
			}
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}
	users, err := mustOpen(t, b.Open, name).ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != replicas {
		t.Errorf("ListUsers returned %d users, want %d", len(users), replicas)
	}
}

// mustOpenToClose opens a store as mustOpen does, for a test that closes
// it itself with the function returned; if the test ends first, the store
// is closed then.
func mustOpenToClose(t *testing.T, open func(context.Context, string) (store.Store, error), name string) (store.Store, func() error) {
	t.Helper()
	s, err := open(t.Context(), name)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	closeStore := sync.OnceValue(s.Close)
	t.Cleanup(func() { closeStore() })
	return s, closeStore
}

// migrations returns the migrations of a backend whose stores are
// store.Migrators, checked to be numbered 1 to n and to start with
// 0001_init.
func migrations(t *testing.T, b Backend) []store.Migration {
	t.Helper()
	if b.OpenNoMigrate == nil || b.Migrations == nil || b.MigrationsRecorded == nil {
		t.Fatal("the backend's stores are store.Migrators, but the Backend lacks OpenNoMigrate, Migrations or MigrationsRecorded")
	}
	ms, err := b.Migrations()
	if err != nil {
		t.Fatalf("Migrations: %v", err)
	}
	if len(ms) == 0 || ms[0].Name != "0001_init" {
		t.Fatalf("migrations start with %+v, want 0001_init", ms)
	}
	for i, m := range ms {
		if m.Version != i+1 || strings.TrimSpace(m.SQL) == "" {
			t.Errorf("migration %d (%s): version %d, %d bytes of SQL; want version %d and some SQL", i, m.Name, m.Version, len(m.SQL), i+1)
		}
	}
	return ms
}

// mustMigrator returns s as a store.Migrator.
func mustMigrator(t *testing.T, s store.Store) store.Migrator {
	t.Helper()
	m, ok := s.(store.Migrator)
	if !ok {
		t.Fatalf("OpenNoMigrate returned a %T, not a store.Migrator as Open does", s)
	}
	return m
}

func testMigrations(t *testing.T, b Backend) {
	migrations(t, b)
}

func testMigrateIsIdempotent(t *testing.T, b Backend) {
	ctx := t.Context()
	latest := len(migrations(t, b))
	name := b.NewDatabase(t)

	s, closeStore := mustOpenToClose(t, b.OpenNoMigrate, name)
	m := mustMigrator(t, s)
	if v, err := m.Version(ctx); err != nil || v != 0 {
		t.Fatalf("Version of a new database = %d, %v; want 0", v, err)
	}
	if n, err := m.Migrate(ctx); err != nil || n != latest {
		t.Errorf("Migrate of a new database = %d, %v; want %d", n, err, latest)
	}
	for i := range 2 {
		if n, err := m.Migrate(ctx); err != nil || n != 0 {
			t.Errorf("Migrate #%d again = %d, %v; want 0", i+2, n, err)
		}
	}
	if v, err := m.Version(ctx); err != nil || v != latest {
		t.Errorf("Version = %d, %v; want %d", v, err, latest)
	}
	if n := b.MigrationsRecorded(t, s); n != latest {
		t.Errorf("%d migrations recorded, want %d", n, latest)
	}
	mustCreateUser(t, s, store.NewUser{Username: "alice"})
	if err := closeStore(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// Open migrates, finding nothing to do, as often as it runs, and keeps
	// the data.
	for i := range 2 {
		s := mustOpen(t, b.Open, name)
		m := mustMigrator(t, s)
		if v, err := m.Version(ctx); err != nil || v != latest {
			t.Errorf("open %d: Version = %d, %v; want %d", i+1, v, err, latest)
		}
		if n, err := m.Migrate(ctx); err != nil || n != 0 {
			t.Errorf("open %d: Migrate = %d, %v; want 0", i+1, n, err)
		}
		if _, err := s.UserByUsername(ctx, "alice"); err != nil {
			t.Errorf("open %d: UserByUsername: %v", i+1, err)
		}
	}
}

// testConcurrentMigrate migrates one new database from several stores at
// once, as replicas starting together would, and checks that each
// migration ran once.
func testConcurrentMigrate(t *testing.T, b Backend) {
	ctx := t.Context()
	latest := len(migrations(t, b))
	name := b.NewDatabase(t)
	const replicas = 4
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		applied [replicas]int
		errs    [replicas]error
	)
	for i := range replicas {
		wg.Go(func() {
			<-start
			s, err := b.OpenNoMigrate(ctx, name)
			if err != nil {
				errs[i] = err
				return
			}
			defer s.Close()
			m, ok := s.(store.Migrator)
			if !ok {
				errs[i] = fmt.Errorf("OpenNoMigrate returned a %T, not a store.Migrator", s)
				return
			}
			applied[i], errs[i] = m.Migrate(ctx)
		})
	}
	close(start)
	wg.Wait()
	total := 0
	for i := range replicas {
		if errs[i] != nil {
			t.Errorf("replica %d: %v", i, errs[i])
		}
		total += applied[i]
	}
	if total != latest {
		t.Errorf("replicas applied %v migrations, %d in all; want %d in all (each once)", applied, total, latest)
	}
	s := mustOpen(t, b.OpenNoMigrate, name)
	if v, err := mustMigrator(t, s).Version(ctx); err != nil || v != latest {
		t.Errorf("Version = %d, %v; want %d", v, err, latest)
	}
	if n := b.MigrationsRecorded(t, s); n != latest {
		t.Errorf("%d migrations recorded, want %d", n, latest)
	}
}
