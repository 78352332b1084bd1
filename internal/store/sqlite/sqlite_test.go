package sqlite

import (
	"bytes"
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
	storetest.Run(t, func(t *testing.T) store.Store {
		db, err := Open(t.Context(), filepath.Join(t.TempDir(), "authd.db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return db
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

func latestVersion(t *testing.T) int {
	t.Helper()
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	return ms[len(ms)-1].Version
}

func TestMigrationsLoad(t *testing.T) {
	ms, err := loadMigrations()
	if err != nil {
		t.Fatalf("loadMigrations: %v", err)
	}
	if len(ms) == 0 {
		t.Fatal("no migrations embedded")
	}
	for i, m := range ms {
		if m.Version != i+1 || m.SQL == "" {
			t.Errorf("migration %d: version %d, %d bytes of SQL", i, m.Version, len(m.SQL))
		}
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "authd.db")
	latest := latestVersion(t)

	db, err := OpenNoMigrate(ctx, path)
	if err != nil {
		t.Fatalf("OpenNoMigrate: %v", err)
	}
	if v, err := db.Version(ctx); err != nil || v != 0 {
		t.Errorf("Version of a new file = %d, %v; want 0", v, err)
	}
	if n, err := db.Migrate(ctx); err != nil || n != latest {
		t.Errorf("Migrate of a new file = %d, %v; want %d", n, err, latest)
	}
	if n, err := db.Migrate(ctx); err != nil || n != 0 {
		t.Errorf("Migrate again = %d, %v; want 0", n, err)
	}
	if v, err := db.Version(ctx); err != nil || v != latest {
		t.Errorf("Version = %d, %v; want %d", v, err, latest)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// Open migrates, finding nothing to do, as often as it runs.
	for i := range 2 {
		db := mustOpenPath(t, path)
		if v, err := db.Version(ctx); err != nil || v != latest {
			t.Errorf("open %d: Version = %d, %v; want %d", i+1, v, err, latest)
		}
		if n, err := db.Migrate(ctx); err != nil || n != 0 {
			t.Errorf("open %d: Migrate = %d, %v; want 0", i+1, n, err)
		}
		db.Close()
	}
}

// TestConcurrentMigrate opens one new file from several stores at once, as
// replicas starting together would, and checks that each migration ran once.
func TestConcurrentMigrate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "authd.db")
	latest := latestVersion(t)
	const openers = 4
	var (
		wg      sync.WaitGroup
		applied [openers]int
		errs    [openers]error
		start   = make(chan struct{})
	)
	for i := range openers {
		wg.Go(func() {
			<-start
			db, err := OpenNoMigrate(ctx, path)
			if err != nil {
				errs[i] = err
				return
			}
			defer db.Close()
			applied[i], errs[i] = db.Migrate(ctx)
		})
	}
	close(start)
	wg.Wait()
	total := 0
	for i := range openers {
		if errs[i] != nil {
			t.Errorf("opener %d: %v", i, errs[i])
		}
		total += applied[i]
	}
	if total != latest {
		t.Errorf("%d migrations applied in all, want %d (each once)", total, latest)
	}
	db := mustOpenPath(t, path)
	if v, err := db.Version(ctx); err != nil || v != latest {
		t.Errorf("Version = %d, %v; want %d", v, err, latest)
	}
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "authd.db")
	now := time.Date(2030, time.June, 1, 12, 0, 0, 123_456_000, time.UTC)

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	u, err := db.CreateUser(ctx, store.NewUser{
		Username: "Alice", Email: "alice@example.com", PasswordHash: "hash",
		Intra: &store.IntraAccount{ID: 42, Login: "alice42", Email: "a@42.fr", DisplayName: "Alice", ImageLink: "https://x/a.jpg", LinkedAt: now},
	}, time.Now())
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	sess := store.Session{ID: "sid", UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := db.CreateSession(ctx, sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	key, err := db.SigningKey(ctx, func() ([]byte, error) { return []byte("0123456789abcdef0123456789abcdef"), nil }, time.Now())
	if err != nil {
		t.Fatalf("SigningKey: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	db = mustOpenPath(t, path)
	got, err := db.UserByUsername(ctx, "alice")
	if err != nil {
		t.Fatalf("UserByUsername after reopening: %v", err)
	}
	if diff := cmp.Diff(u, got); diff != "" {
		t.Errorf("user after reopening (-want +got):\n%s", diff)
	}
	gotSess, err := db.Session(ctx, "sid")
	if err != nil {
		t.Fatalf("Session after reopening: %v", err)
	}
	if diff := cmp.Diff(sess, gotSess); diff != "" {
		t.Errorf("session after reopening (-want +got):\n%s", diff)
	}
	gotKey, err := db.SigningKey(ctx, func() ([]byte, error) {
		t.Error("generate called after reopening")
		return nil, errors.New("unexpected")
	}, time.Now())
	if err != nil || !bytes.Equal(gotKey, key) {
		t.Errorf("SigningKey after reopening = %q, %v; want %q", gotKey, err, key)
	}
	// Another user gets a new id, never one given before.
	v := mustCreateUser(t, db, store.NewUser{Username: "bob"})
	if v.ID <= u.ID {
		t.Errorf("new user id %d, want more than %d", v.ID, u.ID)
	}
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
