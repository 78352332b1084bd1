package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authd/internal/store"
	"authd/internal/store/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		NewDatabase: func(t *testing.T) string { return filepath.Join(t.TempDir(), "authd.db") },
		Open: func(ctx context.Context, path string) (store.Store, error) {
			return Open(ctx, path)
		},
		OpenNoMigrate: func(ctx context.Context, path string) (store.Store, error) {
			return OpenNoMigrate(ctx, path)
		},
		Migrations: loadMigrations,
		MigrationsRecorded: func(t *testing.T, s store.Store) int {
			var n int
			if err := s.(*DB).reader.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil {
				t.Fatalf("count schema_migrations: %v", err)
			}
			return n
		},
	})
}

// mustOpen opens a store on a fresh file that is closed when the test ends.
func mustOpen(t testing.TB) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "authd.db")
	return mustOpenPath(t, path), path
}

func mustOpenPath(t testing.TB, path string) *DB {
	t.Helper()
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustCreateUser(t testing.TB, db *DB, nu store.NewUser) store.User {
	t.Helper()
	u, err := db.CreateUser(context.Background(), nu, time.Now())
	if err != nil {
		t.Fatalf("CreateUser(%q): %v", nu.Username, err)
	}
	return u
}

// TestPragmas checks the settings of every connection of both pools.
func TestPragmas(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, _ := mustOpen(t)

	type settings struct {
		JournalMode string
		ForeignKeys int
		BusyTimeout int
		Synchronous int
		QueryOnly   int
	}
	pools := []struct {
		name string
		db   *sql.DB
		n    int
		want settings
	}{
		{"reader", db.reader, readers, settings{JournalMode: "wal", ForeignKeys: 1, BusyTimeout: 5000, Synchronous: 1, QueryOnly: 1}},
		{"writer", db.writer, 1, settings{JournalMode: "wal", ForeignKeys: 1, BusyTimeout: 5000, Synchronous: 1, QueryOnly: 0}},
	}
	for _, p := range pools {
		// Hold n connections at once, so that each is a different one.
		var conns []*sql.Conn
		for range p.n {
			c, err := p.db.Conn(ctx)
			if err != nil {
				t.Fatalf("%s: Conn: %v", p.name, err)
			}
			conns = append(conns, c)
		}
		for i, c := range conns {
			var got settings
			for _, q := range []struct {
				pragma string
				dest   any
			}{
				{"journal_mode", &got.JournalMode},
				{"foreign_keys", &got.ForeignKeys},
				{"busy_timeout", &got.BusyTimeout},
				{"synchronous", &got.Synchronous},
				{"query_only", &got.QueryOnly},
			} {
				if err := c.QueryRowContext(ctx, "PRAGMA "+q.pragma).Scan(q.dest); err != nil {
					t.Fatalf("%s connection %d: PRAGMA %s: %v", p.name, i, q.pragma, err)
				}
			}
			if diff := cmp.Diff(p.want, got); diff != "" {
				t.Errorf("%s connection %d (-want +got):\n%s", p.name, i, diff)
			}
		}
		for _, c := range conns {
			c.Close()
		}
	}
}

func TestReaderCannotWrite(t *testing.T) {
	t.Parallel()
	db, _ := mustOpen(t)
	_, err := db.reader.ExecContext(t.Context(),
		"INSERT INTO users (username, username_key, created_at) VALUES ('x', 'x', 0)")
	if err == nil {
		t.Fatal("a reading connection wrote a row")
	}
}

// TestForeignKeysEnforced checks that sessions cannot name a missing user
// and go when their user goes.
func TestForeignKeysEnforced(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, _ := mustOpen(t)
	u := mustCreateUser(t, db, store.NewUser{Username: "alice", Intra: &store.IntraAccount{ID: 1, Login: "a"}})
	now := time.Now()
	if err := db.CreateSession(ctx, store.Session{ID: "s", UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if _, err := db.writer.ExecContext(ctx, "DELETE FROM users WHERE id = ?", u.ID); err != nil {
		t.Fatalf("delete user: %v", err)
	}
	if _, err := db.Session(ctx, "s"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Session of a deleted user = %v, want ErrNotFound", err)
	}
	if _, err := db.UserByIntraID(ctx, 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByIntraID of a deleted user = %v, want ErrNotFound", err)
	}
}

// TestConcurrentWriters writes from many goroutines through two stores on
// one file, as two processes would, and expects no SQLITE_BUSY: not from
// single statements, nor from transactions that read before they write.
func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db1, path := mustOpen(t)
	db2 := mustOpenPath(t, path)
	dbs := []*DB{db1, db2}

	const (
		goroutines = 50
		perG       = 10
	)
	now := time.Now()
	errs := make(chan error, goroutines*perG*4)
	var wg sync.WaitGroup
	for g := range goroutines {
		db := dbs[g%len(dbs)]
		wg.Go(func() {
			for i := range perG {
				name := fmt.Sprintf("g%d-%d", g, i)
				u, err := db.CreateUser(ctx, store.NewUser{Username: name}, time.Now())
				if err != nil {
					errs <- fmt.Errorf("CreateUser(%s): %w", name, err)
					continue
				}
				if err := db.CreateSession(ctx, store.Session{ID: name, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
					errs <- fmt.Errorf("CreateSession(%s): %w", name, err)
				}
				if _, err := db.Session(ctx, name); err != nil {
					errs <- fmt.Errorf("Session(%s): %w", name, err)
				}
				// A transaction that reads before it writes.
				if err := db.LinkIntra(ctx, u.ID, store.IntraAccount{ID: int64(g*perG + i), Login: name}, time.Now()); err != nil {
					errs <- fmt.Errorf("LinkIntra(%s): %w", name, err)
				}
				if i%5 == 0 {
					if _, err := db.DeleteExpiredSessions(ctx, now); err != nil {
						errs <- fmt.Errorf("DeleteExpiredSessions: %w", err)
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var sessions, links int
	if err := db1.reader.QueryRowContext(ctx, "SELECT COUNT(*) FROM sessions").Scan(&sessions); err != nil {
		t.Fatal(err)
	}
	if err := db1.reader.QueryRowContext(ctx, "SELECT COUNT(*) FROM intra_links").Scan(&links); err != nil {
		t.Fatal(err)
	}
	if sessions != goroutines*perG || links != goroutines*perG {
		t.Errorf("%d sessions and %d Intra links stored, want %d of each", sessions, links, goroutines*perG)
	}
}

func TestFileIsPrivate(t *testing.T) {
	t.Parallel()
	db, path := mustOpen(t)
	mustCreateUser(t, db, store.NewUser{Username: "alice"})
	for _, name := range []string{path, path + "-wal"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %v, want -rw-------", filepath.Base(name), perm)
		}
	}
}

// TestAwkwardPath opens a file whose name holds the characters that
// delimit and escape a URI.
func TestAwkwardPath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "a?b#c%41 d&_pragma=x.db")
	db := mustOpenPath(t, path)
	mustCreateUser(t, db, store.NewUser{Username: "alice"})
	db.Close()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"a?b#c%41 d&_pragma=x.db"}, names); diff != "" {
		t.Errorf("files in the directory (-want +got):\n%s", diff)
	}
	db = mustOpenPath(t, path)
	if _, err := db.UserByUsername(t.Context(), "alice"); err != nil {
		t.Errorf("UserByUsername after reopening: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	if _, err := Open(ctx, ""); err == nil {
		t.Error("Open of an empty path succeeded")
	}
	if _, err := Open(ctx, filepath.Join(t.TempDir(), "missing", "authd.db")); err == nil {
		t.Error("Open in a missing directory succeeded")
	}
}

func BenchmarkUserByUsername(b *testing.B) {
	db, _ := mustOpen(b)
	ctx := b.Context()
	mustCreateUser(b, db, store.NewUser{Username: "Alice", Email: "alice@example.com", PasswordHash: "hash",
		Intra: &store.IntraAccount{ID: 42, Login: "alice42"}})
	for i := range 1000 {
		mustCreateUser(b, db, store.NewUser{Username: fmt.Sprintf("user%d", i)})
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := db.UserByUsername(ctx, "alice"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCreateSession(b *testing.B) {
	db, _ := mustOpen(b)
	ctx := b.Context()
	u := mustCreateUser(b, db, store.NewUser{Username: "alice"})
	now := time.Now()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		s := store.Session{ID: fmt.Sprintf("session-%09d", i), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
		if err := db.CreateSession(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
}
