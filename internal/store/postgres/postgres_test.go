package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"authd/internal/store"
	"authd/internal/store/storetest"
	"authd/internal/testservice"
)

// The tests run against the PostgreSQL server testservice finds: the one
// named by this variable, a local one, or a throwaway container.
const urlVariable = testservice.PostgresVar

// adminURL returns the URL of a server on which the tests may create
// databases, or skips the test when there is none (fails under CI).
func adminURL(t *testing.T) string {
	t.Helper()
	return testservice.PostgresURL(t)
}

// probe reports whether a server answers at the URL within 3 seconds.
func probe(u string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.Ping(ctx)
}

// mustCreateDatabase creates an empty database that is dropped when the
// test ends, and returns its URL.
func mustCreateDatabase(t *testing.T) string {
	t.Helper()
	adminU := adminURL(t)
	var b [8]byte
	rand.Read(b[:])
	name := "authd_test_" + hex.EncodeToString(b[:])
	mustAdminExec(t, adminU, "CREATE DATABASE "+name)
	t.Cleanup(func() {
		mustAdminExec(t, adminU, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, err := url.Parse(adminU)
	if err != nil {
		t.Fatalf("%s: %v", urlVariable, err)
	}
	u.Path = "/" + name
	return u.String()
}

func mustAdminExec(t *testing.T, adminU, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminU)
	if err != nil {
		t.Fatalf("connect to the admin database: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// mustOpen opens a store on a fresh database; both are gone when the test ends.
func mustOpen(t *testing.T) *DB {
	t.Helper()
	return mustOpenURL(t, mustCreateDatabase(t))
}

func mustOpenURL(t *testing.T, u string) *DB {
	t.Helper()
	db, err := Open(t.Context(), u)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustCreateUser(t *testing.T, db *DB, nu store.NewUser) store.User {
	t.Helper()
	u, err := db.CreateUser(t.Context(), nu, time.Now())
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

func TestStore(t *testing.T) {
	adminURL(t)
	storetest.Run(t, func(t *testing.T) store.Store { return mustOpen(t) })
}

func TestMigrationsLoad(t *testing.T) {
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].Name != "0001_init" {
		t.Fatalf("migrations start with %+v, want 0001_init", ms)
	}
	for _, m := range ms {
		if strings.TrimSpace(m.SQL) == "" {
			t.Errorf("migration %s is empty", m.Name)
		}
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	u := mustCreateDatabase(t)
	ctx := t.Context()

	db, err := OpenNoMigrate(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, err := db.Version(ctx); err != nil || v != 0 {
		t.Fatalf("Version of a fresh database = %d, %v; want 0, nil", v, err)
	}
	n, err := db.Migrate(ctx)
	if err != nil {
		t.Fatalf("first Migrate: %v", err)
	}
	if want := latestVersion(t); n != want {
		t.Errorf("first Migrate applied %d, want %d", n, want)
	}
	for i := range 2 {
		n, err := db.Migrate(ctx)
		if err != nil || n != 0 {
			t.Errorf("Migrate #%d again = %d, %v; want 0, nil", i+2, n, err)
		}
	}
	if v, err := db.Version(ctx); err != nil || v != latestVersion(t) {
		t.Errorf("Version = %d, %v; want %d", v, err, latestVersion(t))
	}
	// Opening a migrated database migrates nothing and keeps the data.
	mustCreateUser(t, db, store.NewUser{Username: "alice"})
	again := mustOpenURL(t, u)
	if _, err := again.UserByUsername(ctx, "alice"); err != nil {
		t.Errorf("after reopening: %v", err)
	}
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	t.Parallel()
	u := mustCreateDatabase(t)
	ctx := t.Context()

	const replicas = 4
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		applied [replicas]int
		errs    [replicas]error
		dbs     [replicas]*DB
	)
	for i := range replicas {
		db, err := OpenNoMigrate(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		dbs[i] = db
		defer db.Close()
		wg.Go(func() {
			<-start
			applied[i], errs[i] = db.Migrate(ctx)
		})
	}
	close(start)
	wg.Wait()
	total := 0
	for i := range replicas {
		if errs[i] != nil {
			t.Errorf("replica %d: Migrate: %v", i, errs[i])
		}
		total += applied[i]
	}
	if want := latestVersion(t); total != want {
		t.Errorf("replicas applied %v migrations, %d in all; want %d in all", applied, total, want)
	}
	var rows int
	if err := dbs[0].pool.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != latestVersion(t) {
		t.Errorf("schema_migrations has %d rows, want %d", rows, latestVersion(t))
	}
}

func TestConcurrentOpenOnFreshDatabase(t *testing.T) {
	t.Parallel()
	u := mustCreateDatabase(t)
	ctx := t.Context()

	const replicas = 4
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  [replicas]error
	)
	for i := range replicas {
		wg.Go(func() {
			<-start
			db, err := Open(ctx, u)
			if err != nil {
				errs[i] = err
				return
			}
			defer db.Close()
			if _, err := db.CreateUser(ctx, store.NewUser{Username: fmt.Sprintf("replica%d", i)}, time.Now()); err != nil {
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
	db := mustOpenURL(t, u)
	users, err := db.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != replicas {
		t.Errorf("ListUsers returned %d users, want %d", len(users), replicas)
	}
}

func TestSigningKeySharedBetweenReplicas(t *testing.T) {
	t.Parallel()
	u := mustCreateDatabase(t)
	a, b := mustOpenURL(t, u), mustOpenURL(t, u)
	ctx := t.Context()

	// Both replicas find no key and generate their own before either
	// stores it, so both race to insert.
	var generated sync.WaitGroup
	generated.Add(2)
	generator := func(key string) func() ([]byte, error) {
		return func() ([]byte, error) {
			generated.Done()
			generated.Wait()
			return []byte(key), nil
		}
	}
	var (
		wg         sync.WaitGroup
		keyA, keyB []byte
		errA, errB error
	)
	wg.Go(func() { keyA, errA = a.SigningKey(ctx, generator("key generated by replica a"), time.Now()) })
	wg.Go(func() { keyB, errB = b.SigningKey(ctx, generator("key generated by replica b"), time.Now()) })
	wg.Wait()
	if errA != nil || errB != nil {
		t.Fatalf("SigningKey: %v, %v", errA, errB)
	}
	if string(keyA) != string(keyB) {
		t.Fatalf("replicas got different keys: %q and %q", keyA, keyB)
	}
	// Later calls return the stored key without generating.
	again, err := b.SigningKey(ctx, func() ([]byte, error) {
		return nil, errors.New("generate called with a key stored")
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(keyA, again); diff != "" {
		t.Errorf("SigningKey changed (-first +later):\n%s", diff)
	}
}

func TestSigningKeyGenerateFails(t *testing.T) {
	t.Parallel()
	db := mustOpen(t)
	boom := errors.New("no entropy")
	_, err := db.SigningKey(t.Context(), func() ([]byte, error) { return nil, boom }, time.Now())
	if !errors.Is(err, boom) {
		t.Fatalf("SigningKey = %v, want %v", err, boom)
	}
	key, err := db.SigningKey(t.Context(), func() ([]byte, error) { return []byte("second try"), nil }, time.Now())
	if err != nil || string(key) != "second try" {
		t.Fatalf("SigningKey after a failure = %q, %v; want %q", key, err, "second try")
	}
}

// The sentinels are chosen by constraint name: the names must be those
// the schema creates.
func TestSentinelConstraintsExist(t *testing.T) {
	t.Parallel()
	db := mustOpen(t)
	for name := range uniqueSentinels {
		var n int
		err := db.pool.QueryRow(t.Context(), `
			SELECT count(*) FROM pg_class c
			JOIN pg_index i ON i.indexrelid = c.oid
			WHERE c.relname = $1 AND i.indisunique`, name).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("no unique index or constraint named %s", name)
		}
	}
}

func TestUniqueViolations(t *testing.T) {
	t.Parallel()
	db := mustOpen(t)
	ctx := t.Context()
	alice := mustCreateUser(t, db, store.NewUser{
		Username: "Alice",
		Intra:    &store.IntraAccount{ID: 42, Login: "alice"},
	})
	bob := mustCreateUser(t, db, store.NewUser{Username: "bob"})

	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{"username in another case", func() error {
			_, err := db.CreateUser(ctx, store.NewUser{Username: "aLiCe"}, time.Now())
			return err
		}, store.ErrUsernameTaken},
		{"new user with a linked Intra account", func() error {
			_, err := db.CreateUser(ctx, store.NewUser{Username: "carol", Intra: &store.IntraAccount{ID: 42, Login: "x"}}, time.Now())
			return err
		}, store.ErrIntraLinked},
		{"link a linked Intra account", func() error {
			return db.LinkIntra(ctx, bob.ID, store.IntraAccount{ID: 42, Login: "alice"}, time.Now())
		}, store.ErrIntraLinked},
		{"link a linked user", func() error {
			return db.LinkIntra(ctx, alice.ID, store.IntraAccount{ID: 43, Login: "other"}, time.Now())
		}, store.ErrUserLinked},
		{"link the same pair again", func() error {
			return db.LinkIntra(ctx, alice.ID, store.IntraAccount{ID: 42, Login: "alice"}, time.Now())
		}, nil},
		{"link an unknown user", func() error {
			return db.LinkIntra(ctx, 1_000_000, store.IntraAccount{ID: 44, Login: "ghost"}, time.Now())
		}, store.ErrNotFound},
		{"link an unknown user to a linked Intra account", func() error {
			return db.LinkIntra(ctx, 1_000_000, store.IntraAccount{ID: 42, Login: "alice"}, time.Now())
		}, store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.do(); !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
	// A failed CreateUser leaves nothing behind.
	if _, err := db.UserByUsername(ctx, "carol"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByUsername(carol) after a failed create = %v, want ErrNotFound", err)
	}
}

func TestLinkOutcome(t *testing.T) {
	other, same := int64(43), int64(42)
	tests := []struct {
		name        string
		state       linkState
		want        error
		wantDecided bool
	}{
		{"unknown user", linkState{intraLinkedElsewhere: true}, store.ErrNotFound, true},
		{"same pair", linkState{userExists: true, userLink: &same}, nil, true},
		{"intra id linked elsewhere", linkState{userExists: true, intraLinkedElsewhere: true}, store.ErrIntraLinked, true},
		{"both linked elsewhere", linkState{userExists: true, userLink: &other, intraLinkedElsewhere: true}, store.ErrIntraLinked, true},
		{"user linked", linkState{userExists: true, userLink: &other}, store.ErrUserLinked, true},
		{"nothing blocks", linkState{userExists: true}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			decided, err := tt.state.outcome(same)
			if !errors.Is(err, tt.want) || decided != tt.wantDecided {
				t.Errorf("outcome = %v, %v; want %v, %v", decided, err, tt.wantDecided, tt.want)
			}
		})
	}
}

func TestTimesAreUTC(t *testing.T) {
	t.Parallel()
	db := mustOpen(t)
	ctx := t.Context()
	u := mustCreateUser(t, db, store.NewUser{Username: "tz"})

	paris := time.FixedZone("CET", 3600)
	created := time.Date(2030, 1, 2, 3, 4, 5, 123456789, paris)
	s := store.Session{ID: "tz-session", UserID: u.ID, CreatedAt: created, ExpiresAt: created.Add(time.Hour)}
	if err := db.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	got, err := db.Session(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := store.Session{
		ID:        s.ID,
		UserID:    u.ID,
		CreatedAt: time.Date(2030, 1, 2, 2, 4, 5, 123456000, time.UTC),
		ExpiresAt: time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Session (-want +got):\n%s", diff)
	}
	back, err := db.UserByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(u, back); diff != "" {
		t.Errorf("UserByID differs from what CreateUser returned (-want +got):\n%s", diff)
	}
	if back.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt in %v, want UTC", back.CreatedAt.Location())
	}

	var types []string
	rows, _ := db.pool.Query(ctx, `
		SELECT DISTINCT data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND column_name LIKE '%\_at'`)
	types, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"timestamp with time zone"}, types); diff != "" {
		t.Errorf("types of the *_at columns (-want +got):\n%s", diff)
	}
}

func TestDisableRevokesOnlyLiveSessions(t *testing.T) {
	t.Parallel()
	db := mustOpen(t)
	ctx := t.Context()
	u := mustCreateUser(t, db, store.NewUser{Username: "dave"})
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	earlier := now.Add(-time.Hour)
	sessions := []store.Session{
		{ID: "live", UserID: u.ID, CreatedAt: earlier, ExpiresAt: now.Add(time.Hour)},
		{ID: "expired", UserID: u.ID, CreatedAt: earlier, ExpiresAt: now.Add(-time.Minute)},
		{ID: "revoked", UserID: u.ID, CreatedAt: earlier, ExpiresAt: now.Add(time.Hour), RevokedAt: earlier},
	}
	for _, s := range sessions {
		if err := db.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.SetDisabled(ctx, u.ID, true, now); err != nil {
		t.Fatal(err)
	}
	wantRevoked := map[string]time.Time{"live": now, "expired": {}, "revoked": earlier}
	for id, want := range wantRevoked {
		s, err := db.Session(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !s.RevokedAt.Equal(want) {
			t.Errorf("session %s revoked at %v, want %v", id, s.RevokedAt, want)
		}
	}
	if err := db.SetDisabled(ctx, 1_000_000, true, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetDisabled(unknown user) = %v, want ErrNotFound", err)
	}
}

func TestCancelledContext(t *testing.T) {
	t.Parallel()
	db := mustOpen(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := db.ListUsers(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("ListUsers with a cancelled context = %v, want context.Canceled", err)
	}
	if _, err := db.CreateUser(ctx, store.NewUser{Username: "erin"}, time.Now()); !errors.Is(err, context.Canceled) {
		t.Errorf("CreateUser with a cancelled context = %v, want context.Canceled", err)
	}
}

func TestErrorsHideThePassword(t *testing.T) {
	t.Parallel()
	const secret = "hunter2-s3cret"
	tests := []struct {
		name string
		url  string
	}{
		{"nothing listens", "postgres://authd:" + secret + "@127.0.0.1:1/authd?sslmode=disable&connect_timeout=3"},
		{"password parameter", "postgres://authd@127.0.0.1:1/authd?sslmode=disable&connect_timeout=3&password=" + secret},
		{"bad port", "postgres://authd:" + secret + "@127.0.0.1:notaport/authd"},
		{"bad parameter", "postgres://authd:" + secret + "@127.0.0.1/authd?sslmode=sometimes"},
		{"broken escape", "postgres://authd:" + secret + "%zz@127.0.0.1/authd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db, err := Open(t.Context(), tt.url)
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(fmt.Sprintf("%+v", err), secret) {
				t.Errorf("error shows the password: %v", err)
			}
			if !strings.HasPrefix(err.Error(), "postgres: ") {
				t.Errorf("error %q does not say where it comes from", err)
			}
		})
	}
}
