// Package storetest is the conformance suite of store.Store: every backend
// runs it from its own tests, so that they all behave alike. Abilities a
// backend may lack are tested when its stores have them: the migrations of
// a store.Migrator.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"authd/internal/store"
)

// Backend is a store implementation as the suite opens it. Its functions
// are called from parallel subtests.
type Backend struct {
	// NewDatabase creates an empty database that is removed when the test
	// ends, and returns what Open takes to reach it: a file path, a URL.
	NewDatabase func(t *testing.T) string
	// Open opens a store on the database called name, applying any
	// migration it lacks. Several stores may be open on one database at
	// once, as several processes would.
	Open func(ctx context.Context, name string) (store.Store, error)

	// The rest is needed only by a backend whose stores are
	// store.Migrators, and is then required.

	// OpenNoMigrate opens a store on the database called name, leaving its
	// schema as it is.
	OpenNoMigrate func(ctx context.Context, name string) (store.Store, error)
	// Migrations returns the backend's migrations, in order.
	Migrations func() ([]store.Migration, error)
	// MigrationsRecorded returns how many applied migrations the database
	// of s records, read by means of the backend's own.
	MigrationsRecorded func(t *testing.T, s store.Store) int
}

// Run tests a store backend: each method of Store, each subtest on a new,
// empty database; then what concerns whole databases (reopening one,
// opening one from several stores at once); then, when its stores are
// store.Migrators, its migrations.
func Run(t *testing.T, b Backend) {
	tests := []struct {
		name string
		test func(t *testing.T, s store.Store)
	}{
		{"CreateUser", testCreateUser},
		{"CreateUserKeepsCase", testCreateUserKeepsCase},
		{"UserByUsernameIgnoresCase", testUserByUsernameIgnoresCase},
		{"UsernameTaken", testUsernameTaken},
		{"ListUsers", testListUsers},
		{"ListUsersEmpty", testListUsersEmpty},
		{"CreateUserWithIntra", testCreateUserWithIntra},
		{"CreateUserWithIntraDatesLink", testCreateUserWithIntraDatesLink},
		{"CreateUserIntraLinked", testCreateUserIntraLinked},
		{"CreateUserUsernameTakenLinksNothing", testCreateUserUsernameTakenLinksNothing},
		{"NotFound", testNotFound},
		{"SetPassword", testSetPassword},
		{"SetDisabled", testSetDisabled},
		{"LinkIntra", testLinkIntra},
		{"LinkIntraSamePair", testLinkIntraSamePair},
		{"LinkIntraConflicts", testLinkIntraConflicts},
		{"Session", testSession},
		{"SessionAndUser", testSessionAndUser},
		{"SessionRevokedAtCreation", testSessionRevokedAtCreation},
		{"SessionDuplicateID", testSessionDuplicateID},
		{"RevokeSession", testRevokeSession},
		{"DeleteExpiredSessions", testDeleteExpiredSessions},
		{"SessionFields", testSessionFields},
		{"UserSessions", testUserSessions},
		{"RevokeUserSessions", testRevokeUserSessions},
		{"ChangePassword", testChangePassword},
		{"TouchSession", testTouchSession},
		{"RotateRefresh", testRotateRefresh},
		{"RotateRefreshConcurrent", testRotateRefreshConcurrent},
		{"UnlinkIntra", testUnlinkIntra},
		{"UseToken", testUseToken},
		{"UseTokenConcurrent", testUseTokenConcurrent},
		{"TOTPLifecycle", testTOTPLifecycle},
		{"UseTOTPStep", testUseTOTPStep},
		{"RecoveryCodes", testRecoveryCodes},
		{"MFATokens", testMFATokens},
		{"TimesRoundTripInUTC", testTimesRoundTripInUTC},
		{"SigningKey", testSigningKey},
		{"SigningKeyGenerateFails", testSigningKeyGenerateFails},
		{"SigningKeyConcurrent", testSigningKeyConcurrent},
		{"AccessKeys", testAccessKeys},
		{"AccessKeysConcurrentAdd", testAccessKeysConcurrentAdd},
		{"ConcurrentCreateSameUsername", testConcurrentCreateSameUsername},
		{"ConcurrentCreateSameIntra", testConcurrentCreateSameIntra},
		{"CancelledContext", testCancelledContext},
		{"Ping", testPing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.test(t, mustOpen(t, b.Open, b.NewDatabase(t)))
		})
	}

	_, migrator := mustOpen(t, b.Open, b.NewDatabase(t)).(store.Migrator)
	databaseTests := []struct {
		name     string
		migrator bool // the test needs stores that are store.Migrators
		test     func(t *testing.T, b Backend)
	}{
		{"ReopenKeepsData", false, testReopenKeepsData},
		{"ConcurrentOpen", false, testConcurrentOpen},
		{"RotateAcrossStores", false, testRotateAcrossStores},
		{"TwoFactorAcrossStores", false, testTwoFactorAcrossStores},
		{"ChangeFeed", false, testChangeFeed},
		{"Migrations", true, testMigrations},
		{"MigrateIsIdempotent", true, testMigrateIsIdempotent},
		{"ConcurrentMigrate", true, testConcurrentMigrate},
	}
	for _, tt := range databaseTests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.migrator && !migrator {
				t.Skip("the backend's stores are not store.Migrators: it has no migrations to test")
			}
			t.Parallel()
			tt.test(t, b)
		})
	}
}

// mustOpen opens a store with open (Backend.Open or OpenNoMigrate) on the
// database called name, and closes it when the test ends, failing the
// test if Close fails.
func mustOpen(t *testing.T, open func(context.Context, string) (store.Store, error), name string) store.Store {
	t.Helper()
	s, err := open(t.Context(), name)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// base is an instant with a fraction of a second, in a zone other than UTC,
// from which the tests derive the times they store.
var base = time.Date(2031, time.March, 4, 5, 6, 7, 891_234_567, time.FixedZone("UTC+05:30", 5*3600+30*60))

// approxTime compares times to the second: a store keeps them at least
// that precisely.
var approxTime = cmpopts.EquateApproxTime(time.Second)

func mustCreateUser(t *testing.T, s store.Store, nu store.NewUser) store.User {
	t.Helper()
	return mustCreateUserAt(t, s, nu, time.Now())
}

func mustCreateUserAt(t *testing.T, s store.Store, nu store.NewUser, now time.Time) store.User {
	t.Helper()
	u, err := s.CreateUser(t.Context(), nu, now)
	if err != nil {
		t.Fatalf("CreateUser(%q): %v", nu.Username, err)
	}
	return u
}

func mustCreateSession(t *testing.T, s store.Store, sess store.Session) {
	t.Helper()
	if err := s.CreateSession(t.Context(), sess); err != nil {
		t.Fatalf("CreateSession(%q): %v", sess.ID, err)
	}
}

func mustSession(t *testing.T, s store.Store, id string) store.Session {
	t.Helper()
	sess, err := s.Session(t.Context(), id)
	if err != nil {
		t.Fatalf("Session(%q): %v", id, err)
	}
	return sess
}

func mustUserByID(t *testing.T, s store.Store, id int64) store.User {
	t.Helper()
	u, err := s.UserByID(t.Context(), id)
	if err != nil {
		t.Fatalf("UserByID(%d): %v", id, err)
	}
	return u
}

// checkUTC fails the test for each time of u that is not in UTC.
func checkUTC(t *testing.T, what string, times ...time.Time) {
	t.Helper()
	for _, tm := range times {
		if tm.Location() != time.UTC {
			t.Errorf("%s: time %v is in %v, want UTC", what, tm, tm.Location())
		}
	}
}

func userTimes(u store.User) []time.Time {
	ts := []time.Time{u.CreatedAt}
	if u.Intra != nil {
		ts = append(ts, u.Intra.LinkedAt)
	}
	return ts
}

func sessionTimes(s store.Session) []time.Time {
	ts := []time.Time{s.CreatedAt, s.ExpiresAt}
	if !s.RevokedAt.IsZero() {
		ts = append(ts, s.RevokedAt)
	}
	return ts
}

func testCreateUser(t *testing.T, s store.Store) {
	before := time.Now()
	got := mustCreateUser(t, s, store.NewUser{
		Username:     "alice",
		Email:        "alice@example.com",
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
	})
	after := time.Now()
	if got.ID == 0 {
		t.Error("CreateUser returned id 0")
	}
	if got.CreatedAt.Before(before.Truncate(time.Second)) || got.CreatedAt.After(after) {
		t.Errorf("CreatedAt = %v, want between %v and %v", got.CreatedAt, before, after)
	}
	checkUTC(t, "CreateUser", userTimes(got)...)
	want := store.User{
		ID:           got.ID,
		Username:     "alice",
		Email:        "alice@example.com",
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
		CreatedAt:    got.CreatedAt,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CreateUser (-want +got):\n%s", diff)
	}

	// What CreateUser returns is what the store holds.
	byID := mustUserByID(t, s, got.ID)
	if diff := cmp.Diff(got, byID); diff != "" {
		t.Errorf("UserByID (-want +got):\n%s", diff)
	}
	checkUTC(t, "UserByID", userTimes(byID)...)
	byName, err := s.UserByUsername(t.Context(), "alice")
	if err != nil {
		t.Fatalf("UserByUsername: %v", err)
	}
	if diff := cmp.Diff(got, byName); diff != "" {
		t.Errorf("UserByUsername (-want +got):\n%s", diff)
	}

	// A user without a password.
	bob := mustCreateUser(t, s, store.NewUser{Username: "bob"})
	if bob.ID == got.ID {
		t.Errorf("two users got id %d", bob.ID)
	}
	if diff := cmp.Diff(bob, mustUserByID(t, s, bob.ID)); diff != "" {
		t.Errorf("UserByID(bob) (-want +got):\n%s", diff)
	}
	if bob.PasswordHash != "" || bob.Email != "" || bob.Intra != nil {
		t.Errorf("bob = %+v, want no password, email or Intra link", bob)
	}
}

func testCreateUserKeepsCase(t *testing.T, s store.Store) {
	u := mustCreateUser(t, s, store.NewUser{Username: "Mixed.Case-Name_1"})
	got, err := s.UserByUsername(t.Context(), "mixed.case-name_1")
	if err != nil {
		t.Fatalf("UserByUsername: %v", err)
	}
	if got.Username != "Mixed.Case-Name_1" || got.ID != u.ID {
		t.Errorf("UserByUsername = id %d %q, want id %d %q", got.ID, got.Username, u.ID, "Mixed.Case-Name_1")
	}
}

func testUserByUsernameIgnoresCase(t *testing.T, s store.Store) {
	u := mustCreateUser(t, s, store.NewUser{Username: "Alice"})
	mustCreateUser(t, s, store.NewUser{Username: "alicia"})
	for _, name := range []string{"Alice", "alice", "ALICE", "aLiCe"} {
		got, err := s.UserByUsername(t.Context(), name)
		if err != nil {
			t.Errorf("UserByUsername(%q): %v", name, err)
			continue
		}
		if diff := cmp.Diff(u, got); diff != "" {
			t.Errorf("UserByUsername(%q) (-want +got):\n%s", name, diff)
		}
	}
	for _, name := range []string{"alic", "alice ", "alice2", ""} {
		if _, err := s.UserByUsername(t.Context(), name); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UserByUsername(%q) = %v, want ErrNotFound", name, err)
		}
	}
}

func testUsernameTaken(t *testing.T, s store.Store) {
	first := mustCreateUser(t, s, store.NewUser{Username: "alice", Email: "first@example.com"})
	for _, name := range []string{"alice", "Alice", "ALICE", "aLIce"} {
		_, err := s.CreateUser(t.Context(), store.NewUser{Username: name, Email: "second@example.com"}, time.Now())
		if !errors.Is(err, store.ErrUsernameTaken) {
			t.Errorf("CreateUser(%q) = %v, want ErrUsernameTaken", name, err)
		}
	}
	users, err := s.ListUsers(t.Context())
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	if diff := cmp.Diff([]store.User{first}, users); diff != "" {
		t.Errorf("ListUsers after refused creations (-want +got):\n%s", diff)
	}
}

func testListUsers(t *testing.T, s store.Store) {
	var want []store.User
	// Created in an order other than that of their names.
	for _, name := range []string{"carol", "alice", "bob", "dave"} {
		want = append(want, mustCreateUser(t, s, store.NewUser{Username: name, Email: name + "@example.com"}))
	}
	if err := s.LinkIntra(t.Context(), want[2].ID, store.IntraAccount{ID: 4242, Login: "bob42", LinkedAt: base}, time.Now()); err != nil {
		t.Fatalf("LinkIntra: %v", err)
	}
	want[2] = mustUserByID(t, s, want[2].ID)
	got, err := s.ListUsers(t.Context())
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListUsers (-want +got):\n%s", diff)
	}
	for i := 1; i < len(got); i++ {
		if got[i-1].ID >= got[i].ID {
			t.Errorf("ListUsers: id %d before id %d", got[i-1].ID, got[i].ID)
		}
	}
}

func testListUsersEmpty(t *testing.T, s store.Store) {
	got, err := s.ListUsers(t.Context())
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	if len(got) != 0 {
		t.Errorf("ListUsers on an empty store = %v, want none", got)
	}
}

func testCreateUserWithIntra(t *testing.T, s store.Store) {
	acct := store.IntraAccount{
		ID:          98765,
		Login:       "jdoe",
		Email:       "jdoe@student.42.fr",
		DisplayName: "Jöhn Ðoe 🚀",
		ImageLink:   "https://cdn.intra.42.fr/users/abc/jdoe.jpg",
		LinkedAt:    base,
	}
	got := mustCreateUserAt(t, s, store.NewUser{Username: "jdoe", Email: "jdoe@student.42.fr", Intra: &acct}, base)
	checkUTC(t, "CreateUser", userTimes(got)...)
	want := store.User{
		ID:        got.ID,
		Username:  "jdoe",
		Email:     "jdoe@student.42.fr",
		CreatedAt: base,
		Intra:     &acct,
	}
	if diff := cmp.Diff(want, got, approxTime); diff != "" {
		t.Errorf("CreateUser (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(got, mustUserByID(t, s, got.ID)); diff != "" {
		t.Errorf("UserByID (-want +got):\n%s", diff)
	}
	byIntra, err := s.UserByIntraID(t.Context(), acct.ID)
	if err != nil {
		t.Fatalf("UserByIntraID: %v", err)
	}
	if diff := cmp.Diff(got, byIntra); diff != "" {
		t.Errorf("UserByIntraID (-want +got):\n%s", diff)
	}
	checkUTC(t, "UserByIntraID", userTimes(byIntra)...)
	if !acct.LinkedAt.Equal(base) || acct.LinkedAt.Location() != base.Location() {
		t.Error("CreateUser changed the caller's IntraAccount")
	}
}

// testCreateUserWithIntraDatesLink: the link is as old as the user,
// whatever LinkedAt the caller left in the account.
func testCreateUserWithIntraDatesLink(t *testing.T, s store.Store) {
	created := base.Add(time.Hour)
	got := mustCreateUserAt(t, s, store.NewUser{Username: "jdoe", Intra: &store.IntraAccount{ID: 7, Login: "jdoe", LinkedAt: base}}, created)
	if got.Intra == nil {
		t.Fatal("CreateUser returned no Intra link")
	}
	if la := got.Intra.LinkedAt; !la.Equal(got.CreatedAt) || !cmp.Equal(la, created, approxTime) {
		t.Errorf("LinkedAt = %v, want the creation time %v", la, created)
	}
	if diff := cmp.Diff(got, mustUserByID(t, s, got.ID)); diff != "" {
		t.Errorf("UserByID (-want +got):\n%s", diff)
	}
}

func testCreateUserIntraLinked(t *testing.T, s store.Store) {
	owner := mustCreateUser(t, s, store.NewUser{Username: "owner", Intra: &store.IntraAccount{ID: 42, Login: "owner42", LinkedAt: base}})

	_, err := s.CreateUser(t.Context(), store.NewUser{Username: "bob", Intra: &store.IntraAccount{ID: 42, Login: "bob42", LinkedAt: base}}, time.Now())
	if !errors.Is(err, store.ErrIntraLinked) {
		t.Fatalf("CreateUser with a linked Intra id = %v, want ErrIntraLinked", err)
	}
	// Atomic: no user was created.
	if _, err := s.UserByUsername(t.Context(), "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByUsername(bob) after the refused creation = %v, want ErrNotFound", err)
	}
	users, err := s.ListUsers(t.Context())
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	if diff := cmp.Diff([]store.User{owner}, users); diff != "" {
		t.Errorf("ListUsers (-want +got):\n%s", diff)
	}
	byIntra, err := s.UserByIntraID(t.Context(), 42)
	if err != nil {
		t.Fatalf("UserByIntraID: %v", err)
	}
	if diff := cmp.Diff(owner, byIntra); diff != "" {
		t.Errorf("UserByIntraID (-want +got):\n%s", diff)
	}
	// The username is free still.
	mustCreateUser(t, s, store.NewUser{Username: "bob"})
}

func testCreateUserUsernameTakenLinksNothing(t *testing.T, s store.Store) {
	mustCreateUser(t, s, store.NewUser{Username: "alice"})
	_, err := s.CreateUser(t.Context(), store.NewUser{Username: "ALICE", Intra: &store.IntraAccount{ID: 7, Login: "alice7", LinkedAt: base}}, time.Now())
	if !errors.Is(err, store.ErrUsernameTaken) {
		t.Fatalf("CreateUser = %v, want ErrUsernameTaken", err)
	}
	if _, err := s.UserByIntraID(t.Context(), 7); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByIntraID after the refused creation = %v, want ErrNotFound", err)
	}
	// The Intra account is free still.
	mustCreateUser(t, s, store.NewUser{Username: "alice7", Intra: &store.IntraAccount{ID: 7, Login: "alice7", LinkedAt: base}})
}

func testNotFound(t *testing.T, s store.Store) {
	u := mustCreateUser(t, s, store.NewUser{Username: "alice", Intra: &store.IntraAccount{ID: 1, Login: "alice", LinkedAt: base}})
	mustCreateSession(t, s, store.Session{ID: "s1", UserID: u.ID, CreatedAt: base, ExpiresAt: base.Add(time.Hour)})
	unknown := u.ID + 1000

	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"UserByID", func(ctx context.Context) error { _, err := s.UserByID(ctx, unknown); return err }},
		{"UserByID(0)", func(ctx context.Context) error { _, err := s.UserByID(ctx, 0); return err }},
		{"UserByUsername", func(ctx context.Context) error { _, err := s.UserByUsername(ctx, "nobody"); return err }},
		{"UserByIntraID", func(ctx context.Context) error { _, err := s.UserByIntraID(ctx, 2); return err }},
		{"SetPassword", func(ctx context.Context) error { return s.SetPassword(ctx, unknown, "hash") }},
		{"SetDisabled(true)", func(ctx context.Context) error { return s.SetDisabled(ctx, unknown, true, base) }},
		{"SetDisabled(false)", func(ctx context.Context) error { return s.SetDisabled(ctx, unknown, false, base) }},
		{"LinkIntra", func(ctx context.Context) error {
			return s.LinkIntra(ctx, unknown, store.IntraAccount{ID: 3, Login: "x", LinkedAt: base}, time.Now())
		}},
		{"Session", func(ctx context.Context) error { _, err := s.Session(ctx, "s2"); return err }},
		{"CreateSession of an unknown user", func(ctx context.Context) error {
			return s.CreateSession(ctx, store.Session{ID: "s3", UserID: unknown, CreatedAt: base, ExpiresAt: base.Add(time.Hour)})
		}},
	}
	for _, c := range calls {
		if err := c.call(t.Context()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s = %v, want ErrNotFound", c.name, err)
		}
	}
	// Nothing was created by the failed calls.
	if _, err := s.UserByIntraID(t.Context(), 3); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByIntraID(3) = %v, want ErrNotFound", err)
	}
	if _, err := s.Session(t.Context(), "s3"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Session(s3) = %v, want ErrNotFound", err)
	}
}

func testSetPassword(t *testing.T, s store.Store) {
	u := mustCreateUser(t, s, store.NewUser{Username: "alice", Email: "a@example.com", PasswordHash: "old"})
	other := mustCreateUser(t, s, store.NewUser{Username: "bob", PasswordHash: "bobs"})

	for _, hash := range []string{"new", "", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"} {
		if err := s.SetPassword(t.Context(), u.ID, hash); err != nil {
			t.Fatalf("SetPassword(%q): %v", hash, err)
		}
		want := u
		want.PasswordHash = hash
		if diff := cmp.Diff(want, mustUserByID(t, s, u.ID)); diff != "" {
			t.Errorf("after SetPassword(%q) (-want +got):\n%s", hash, diff)
		}
	}
	if diff := cmp.Diff(other, mustUserByID(t, s, other.ID)); diff != "" {
		t.Errorf("another user changed (-want +got):\n%s", diff)
	}
}

func testSetDisabled(t *testing.T, s store.Store) {
	u := mustCreateUser(t, s, store.NewUser{Username: "alice"})
	other := mustCreateUser(t, s, store.NewUser{Username: "bob"})
	now := base.Add(24 * time.Hour)
	earlier := now.Add(-time.Hour)
	sessions := []store.Session{
		{ID: "live1", UserID: u.ID, CreatedAt: earlier, ExpiresAt: now.Add(time.Hour)},
		{ID: "live2", UserID: u.ID, CreatedAt: earlier, ExpiresAt: now.Add(24 * time.Hour)},
		{ID: "expired", UserID: u.ID, CreatedAt: earlier.Add(-time.Hour), ExpiresAt: now.Add(-time.Minute)},
		{ID: "revoked", UserID: u.ID, CreatedAt: earlier, ExpiresAt: now.Add(time.Hour), RevokedAt: earlier},
		{ID: "other", UserID: other.ID, CreatedAt: earlier, ExpiresAt: now.Add(time.Hour)},
	}
	for _, sess := range sessions {
		mustCreateSession(t, s, sess)
	}

	if err := s.SetDisabled(t.Context(), u.ID, true, now); err != nil {
		t.Fatalf("SetDisabled(true): %v", err)
	}
	want := u
	want.Disabled = true
	if diff := cmp.Diff(want, mustUserByID(t, s, u.ID)); diff != "" {
		t.Errorf("after disabling (-want +got):\n%s", diff)
	}
	wantSessions := map[string]store.Session{}
	for _, sess := range sessions {
		wantSessions[sess.ID] = sess
	}
	revokedNow := func(id string) {
		sess := wantSessions[id]
		sess.RevokedAt = now
		wantSessions[id] = sess
	}
	revokedNow("live1")
	revokedNow("live2")
	checkSessions := func(when string) {
		t.Helper()
		for _, sess := range sessions {
			got := mustSession(t, s, sess.ID)
			if diff := cmp.Diff(wantSessions[sess.ID], got, approxTime); diff != "" {
				t.Errorf("%s: session %s (-want +got):\n%s", when, sess.ID, diff)
			}
		}
	}
	checkSessions("after disabling")
	if mustSession(t, s, "live1").Live(now) {
		t.Error("a session of a disabled user is live")
	}
	if diff := cmp.Diff(other, mustUserByID(t, s, other.ID)); diff != "" {
		t.Errorf("another user changed (-want +got):\n%s", diff)
	}

	// Disabling again changes nothing, revocation times included.
	if err := s.SetDisabled(t.Context(), u.ID, true, now.Add(time.Hour)); err != nil {
		t.Fatalf("SetDisabled(true) again: %v", err)
	}
	checkSessions("after disabling again")

	// Enabling does not bring the revoked sessions back.
	if err := s.SetDisabled(t.Context(), u.ID, false, now.Add(2*time.Hour)); err != nil {
		t.Fatalf("SetDisabled(false): %v", err)
	}
	if diff := cmp.Diff(u, mustUserByID(t, s, u.ID)); diff != "" {
		t.Errorf("after enabling (-want +got):\n%s", diff)
	}
	checkSessions("after enabling")

	// Enabling an enabled user is not an error.
	if err := s.SetDisabled(t.Context(), u.ID, false, now.Add(3*time.Hour)); err != nil {
		t.Fatalf("SetDisabled(false) again: %v", err)
	}
}

func testLinkIntra(t *testing.T, s store.Store) {
	u := mustCreateUser(t, s, store.NewUser{Username: "alice", Email: "alice@example.com"})
	acct := store.IntraAccount{
		ID:          31337,
		Login:       "alogin",
		Email:       "alogin@student.42.fr",
		DisplayName: "Alice Liddell",
		ImageLink:   "https://cdn.intra.42.fr/users/alogin.jpg",
		LinkedAt:    base,
	}
	if err := s.LinkIntra(t.Context(), u.ID, acct, base); err != nil {
		t.Fatalf("LinkIntra: %v", err)
	}
	want := u
	want.Intra = &acct
	got := mustUserByID(t, s, u.ID)
	if diff := cmp.Diff(want, got, approxTime); diff != "" {
		t.Errorf("UserByID after LinkIntra (-want +got):\n%s", diff)
	}
	checkUTC(t, "UserByID", userTimes(got)...)
	byIntra, err := s.UserByIntraID(t.Context(), acct.ID)
	if err != nil {
		t.Fatalf("UserByIntraID: %v", err)
	}
	if diff := cmp.Diff(got, byIntra); diff != "" {
		t.Errorf("UserByIntraID (-want +got):\n%s", diff)
	}
	byName, err := s.UserByUsername(t.Context(), "alice")
	if err != nil {
		t.Fatalf("UserByUsername: %v", err)
	}
	if diff := cmp.Diff(got, byName); diff != "" {
		t.Errorf("UserByUsername (-want +got):\n%s", diff)
	}

	// The link is dated by the caller's now, not by the account's LinkedAt.
	bob := mustCreateUser(t, s, store.NewUser{Username: "bob"})
	linked := base.Add(2 * time.Hour)
	if err := s.LinkIntra(t.Context(), bob.ID, store.IntraAccount{ID: 2, Login: "bob", LinkedAt: base}, linked); err != nil {
		t.Fatalf("LinkIntra: %v", err)
	}
	gotBob := mustUserByID(t, s, bob.ID)
	if gotBob.Intra == nil {
		t.Fatal("LinkIntra made no link")
	}
	if diff := cmp.Diff(linked, gotBob.Intra.LinkedAt, approxTime); diff != "" {
		t.Errorf("LinkedAt (-want +got):\n%s", diff)
	}
}

func testLinkIntraSamePair(t *testing.T, s store.Store) {
	u := mustCreateUser(t, s, store.NewUser{Username: "alice"})
	acct := store.IntraAccount{ID: 5, Login: "alice5", LinkedAt: base}
	if err := s.LinkIntra(t.Context(), u.ID, acct, time.Now()); err != nil {
		t.Fatalf("LinkIntra: %v", err)
	}
	again := acct
	again.LinkedAt = base.Add(time.Hour)
	for i := range 2 {
		if err := s.LinkIntra(t.Context(), u.ID, again, time.Now()); err != nil {
			t.Errorf("LinkIntra of the same pair, time %d: %v", i+2, err)
		}
	}
	got, err := s.UserByIntraID(t.Context(), acct.ID)
	if err != nil {
		t.Fatalf("UserByIntraID: %v", err)
	}
	if got.ID != u.ID {
		t.Errorf("UserByIntraID = user %d, want %d", got.ID, u.ID)
	}
}

func testLinkIntraConflicts(t *testing.T, s store.Store) {
	alice := mustCreateUser(t, s, store.NewUser{Username: "alice"})
	bob := mustCreateUser(t, s, store.NewUser{Username: "bob"})
	carol := mustCreateUser(t, s, store.NewUser{Username: "carol"})
	if err := s.LinkIntra(t.Context(), alice.ID, store.IntraAccount{ID: 1, Login: "alice1", LinkedAt: base}, time.Now()); err != nil {
		t.Fatalf("LinkIntra(alice, 1): %v", err)
	}
	if err := s.LinkIntra(t.Context(), bob.ID, store.IntraAccount{ID: 2, Login: "bob2", LinkedAt: base}, time.Now()); err != nil {
		t.Fatalf("LinkIntra(bob, 2): %v", err)
	}
	aliceBefore := mustUserByID(t, s, alice.ID)
	bobBefore := mustUserByID(t, s, bob.ID)

	tests := []struct {
		name    string
		userID  int64
		intraID int64
		want    error
	}{
		{"Intra account linked to another user", carol.ID, 1, store.ErrIntraLinked},
		{"user linked to another Intra account", alice.ID, 3, store.ErrUserLinked},
		{"unknown user", carol.ID + 1000, 4, store.ErrNotFound},
	}
	for _, tt := range tests {
		err := s.LinkIntra(t.Context(), tt.userID, store.IntraAccount{ID: tt.intraID, Login: "x", LinkedAt: base}, time.Now())
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: LinkIntra(%d, %d) = %v, want %v", tt.name, tt.userID, tt.intraID, err, tt.want)
		}
	}

	// The refused links changed nothing.
	if diff := cmp.Diff(aliceBefore, mustUserByID(t, s, alice.ID)); diff != "" {
		t.Errorf("alice (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(bobBefore, mustUserByID(t, s, bob.ID)); diff != "" {
		t.Errorf("bob (-want +got):\n%s", diff)
	}
	if got := mustUserByID(t, s, carol.ID); got.Intra != nil {
		t.Errorf("carol got linked: %+v", got.Intra)
	}
	for _, id := range []int64{3, 4} {
		if _, err := s.UserByIntraID(t.Context(), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UserByIntraID(%d) = %v, want ErrNotFound", id, err)
		}
	}
	// carol may still take a free account.
	if err := s.LinkIntra(t.Context(), carol.ID, store.IntraAccount{ID: 3, Login: "carol3", LinkedAt: base}, time.Now()); err != nil {
		t.Errorf("LinkIntra(carol, 3): %v", err)
	}
}

func testSession(t *testing.T, s store.Store) {
	u := mustCreateUser(t, s, store.NewUser{Username: "alice"})
	want := store.Session{ID: "2YbJ3m5Q9n0xWvA-_z", UserID: u.ID, CreatedAt: base, ExpiresAt: base.Add(24 * time.Hour)}
	mustCreateSession(t, s, want)
	got := mustSession(t, s, want.ID)
	if diff := cmp.Diff(want, got, approxTime); diff != "" {
		t.Errorf("Session (-want +got):\n%s", diff)
	}
	checkUTC(t, "Session", sessionTimes(got)...)
	if !got.RevokedAt.IsZero() {
		t.Errorf("RevokedAt = %v, want zero", got.RevokedAt)
	}
	if !got.Live(base.Add(time.Hour)) {
		t.Error("a new session is not live")
	}
	if got.Live(base.Add(25 * time.Hour)) {
		t.Error("a session is live after it expired")
	}

	// Several sessions per user, told apart by id.
	second := store.Session{ID: "second", UserID: u.ID, CreatedAt: base.Add(time.Minute), ExpiresAt: base.Add(time.Hour)}
	mustCreateSession(t, s, second)
	if diff := cmp.Diff(second, mustSession(t, s, "second"), approxTime); diff != "" {
		t.Errorf("Session(second) (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, mustSession(t, s, want.ID), approxTime); diff != "" {
		t.Errorf("Session after another was created (-want +got):\n%s", diff)
	}
}

func testSessionRevokedAtCreation(t *testing.T, s store.Store) {
	u := mustCreateUser(t, s, store.NewUser{Username: "alice"})
	want := store.Session{ID: "s", UserID: u.ID, CreatedAt: base, ExpiresAt: base.Add(time.Hour), RevokedAt: base.Add(time.Minute)}
	mustCreateSession(t, s, want)
	got := mustSession(t, s, "s")
	if diff := cmp.Diff(want, got, approxTime); diff != "" {
		t.Errorf("Session (-want +got):\n%s", diff)
	}
	checkUTC(t, "Session", sessionTimes(got)...)
}

func testSessionDuplicateID(t *testing.T, s store.Store) {
	u := mustCreateUser(t, s, store.NewUser{Username: "alice"})
	first := store.Session{ID: "s", UserID: u.ID, CreatedAt: base, ExpiresAt: base.Add(time.Hour)}
	mustCreateSession(t, s, first)
	err := s.CreateSession(t.Context(), store.Session{ID: "s", UserID: u.ID, CreatedAt: base, ExpiresAt: base.Add(48 * time.Hour)})
	if err == nil {
		t.Fatal("CreateSession with an id in use succeeded")
	}
	if diff := cmp.Diff(first, mustSession(t, s, "s"), approxTime); diff != "" {
		t.Errorf("Session after the refused creation (-want +got):\n%s", diff)
	}
}

func testRevokeSession(t *testing.T, s store.Store) {
	u := mustCreateUser(t, s, store.NewUser{Username: "alice"})
	sess := store.Session{ID: "s", UserID: u.ID, CreatedAt: base, ExpiresAt: base.Add(24 * time.Hour)}
	other := store.Session{ID: "other", UserID: u.ID, CreatedAt: base, ExpiresAt: base.Add(24 * time.Hour)}
	mustCreateSession(t, s, sess)
	mustCreateSession(t, s, other)

	revokedAt := base.Add(time.Hour)
	if err := s.RevokeSession(t.Context(), "s", revokedAt); err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}
	want := sess
	want.RevokedAt = revokedAt
	got := mustSession(t, s, "s")
	if diff := cmp.Diff(want, got, approxTime); diff != "" {
		t.Errorf("Session after RevokeSession (-want +got):\n%s", diff)
	}
	checkUTC(t, "Session", sessionTimes(got)...)
	if got.Live(revokedAt.Add(time.Minute)) {
		t.Error("a revoked session is live")
	}

	// Revoking again is not an error and keeps the first time.
	if err := s.RevokeSession(t.Context(), "s", revokedAt.Add(time.Hour)); err != nil {
		t.Errorf("RevokeSession again: %v", err)
	}
	if diff := cmp.Diff(want, mustSession(t, s, "s"), approxTime); diff != "" {
		t.Errorf("Session after a second RevokeSession (-want +got):\n%s", diff)
	}
	// Revoking an unknown session is not an error and creates nothing.
	if err := s.RevokeSession(t.Context(), "unknown", revokedAt); err != nil {
		t.Errorf("RevokeSession(unknown): %v", err)
	}
	if _, err := s.Session(t.Context(), "unknown"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Session(unknown) = %v, want ErrNotFound", err)
	}
	// Other sessions are untouched.
	if diff := cmp.Diff(other, mustSession(t, s, "other"), approxTime); diff != "" {
		t.Errorf("another session changed (-want +got):\n%s", diff)
	}
}

func testDeleteExpiredSessions(t *testing.T, s store.Store) {
	u := mustCreateUser(t, s, store.NewUser{Username: "alice"})
	now := base.Add(48 * time.Hour)
	created := base
	sessions := []struct {
		sess store.Session
		gone bool
	}{
		{store.Session{ID: "long-expired", ExpiresAt: now.Add(-24 * time.Hour)}, true},
		{store.Session{ID: "just-expired", ExpiresAt: now.Add(-2 * time.Second)}, true},
		// Live(now) is false for a session expiring at now.
		{store.Session{ID: "expiring-now", ExpiresAt: now}, true},
		{store.Session{ID: "expired-revoked", ExpiresAt: now.Add(-time.Hour), RevokedAt: now.Add(-2 * time.Hour)}, true},
		{store.Session{ID: "live", ExpiresAt: now.Add(2 * time.Second)}, false},
		{store.Session{ID: "live-long", ExpiresAt: now.Add(24 * time.Hour)}, false},
		{store.Session{ID: "revoked-unexpired", ExpiresAt: now.Add(time.Hour), RevokedAt: now.Add(-time.Hour)}, false},
	}
	var wantGone int64
	for _, tt := range sessions {
		tt.sess.UserID = u.ID
		tt.sess.CreatedAt = created
		mustCreateSession(t, s, tt.sess)
		if tt.gone {
			wantGone++
		}
	}

	n, err := s.DeleteExpiredSessions(t.Context(), now)
	if err != nil {
		t.Fatalf("DeleteExpiredSessions: %v", err)
	}
	if n != wantGone {
		t.Errorf("DeleteExpiredSessions = %d, want %d", n, wantGone)
	}
	for _, tt := range sessions {
		_, err := s.Session(t.Context(), tt.sess.ID)
		switch {
		case tt.gone && !errors.Is(err, store.ErrNotFound):
			t.Errorf("Session(%s) after DeleteExpiredSessions = %v, want ErrNotFound", tt.sess.ID, err)
		case !tt.gone && err != nil:
			t.Errorf("Session(%s) after DeleteExpiredSessions: %v", tt.sess.ID, err)
		}
	}

	n, err = s.DeleteExpiredSessions(t.Context(), now)
	if err != nil {
		t.Fatalf("DeleteExpiredSessions again: %v", err)
	}
	if n != 0 {
		t.Errorf("DeleteExpiredSessions again = %d, want 0", n)
	}
}

func testTimesRoundTripInUTC(t *testing.T, s store.Store) {
	zones := []*time.Location{
		time.UTC,
		time.FixedZone("UTC-08:00", -8*3600),
		time.FixedZone("UTC+13:45", 13*3600+45*60),
	}
	u := mustCreateUser(t, s, store.NewUser{Username: "alice"})
	for i, loc := range zones {
		at := time.Date(2029, time.December, 31, 23, 59, 59, 999_999_999, loc)
		want := store.Session{
			ID:        fmt.Sprintf("s%d", i),
			UserID:    u.ID,
			CreatedAt: at,
			ExpiresAt: at.Add(time.Hour),
			RevokedAt: at.Add(30 * time.Minute),
		}
		mustCreateSession(t, s, want)
		got := mustSession(t, s, want.ID)
		if diff := cmp.Diff(want, got, approxTime); diff != "" {
			t.Errorf("zone %v: Session (-want +got):\n%s", loc, diff)
		}
		checkUTC(t, fmt.Sprintf("zone %v: Session", loc), sessionTimes(got)...)

		linkedAt := at.Add(-time.Hour)
		lu := mustCreateUserAt(t, s, store.NewUser{
			Username: fmt.Sprintf("linked%d", i),
			Intra:    &store.IntraAccount{ID: int64(100 + i), Login: "l"},
		}, linkedAt)
		stored := mustUserByID(t, s, lu.ID)
		if diff := cmp.Diff(linkedAt, stored.Intra.LinkedAt, approxTime); diff != "" {
			t.Errorf("zone %v: LinkedAt (-want +got):\n%s", loc, diff)
		}
		checkUTC(t, fmt.Sprintf("zone %v: UserByID", loc), userTimes(stored)...)
	}
}

// keyGenerator makes a fresh random key on each call, and counts the calls.
type keyGenerator struct {
	mu    sync.Mutex
	calls int
}

func (g *keyGenerator) generate() ([]byte, error) {
	g.mu.Lock()
	g.calls++
	g.mu.Unlock()
	return []byte(rand.Text() + rand.Text()), nil
}

func testSigningKey(t *testing.T, s store.Store) {
	var g keyGenerator
	first, err := s.SigningKey(t.Context(), g.generate, time.Now())
	if err != nil {
		t.Fatalf("SigningKey: %v", err)
	}
	if len(first) == 0 {
		t.Fatal("SigningKey returned an empty key")
	}
	if g.calls != 1 {
		t.Errorf("generate called %d times, want 1", g.calls)
	}
	for i := range 3 {
		got, err := s.SigningKey(t.Context(), func() ([]byte, error) {
			t.Error("generate called with a key stored")
			return []byte("a key that must not be stored"), nil
		}, time.Now())
		if err != nil {
			t.Fatalf("SigningKey, call %d: %v", i+2, err)
		}
		if !bytes.Equal(got, first) {
			t.Errorf("SigningKey, call %d = %q, want the first key %q", i+2, got, first)
		}
	}
	// The key returned is the caller's to change.
	first[0] ^= 0xff
	got, err := s.SigningKey(t.Context(), g.generate, time.Now())
	if err != nil {
		t.Fatalf("SigningKey: %v", err)
	}
	first[0] ^= 0xff
	if !bytes.Equal(got, first) {
		t.Errorf("SigningKey after the caller changed its copy = %q, want %q", got, first)
	}
}

func testSigningKeyGenerateFails(t *testing.T, s store.Store) {
	errGenerate := errors.New("no entropy")
	_, err := s.SigningKey(t.Context(), func() ([]byte, error) { return nil, errGenerate }, time.Now())
	if !errors.Is(err, errGenerate) {
		t.Errorf("SigningKey with a failing generate = %v, want %v", err, errGenerate)
	}
	_, err = s.SigningKey(t.Context(), func() ([]byte, error) { return nil, nil }, time.Now())
	if err == nil {
		t.Error("SigningKey with an empty generated key succeeded")
	}
	// Nothing was stored: the next call generates.
	var g keyGenerator
	key, err := s.SigningKey(t.Context(), g.generate, time.Now())
	if err != nil {
		t.Fatalf("SigningKey: %v", err)
	}
	if len(key) == 0 || g.calls != 1 {
		t.Errorf("SigningKey after failures = %q with %d calls of generate, want a key from one call", key, g.calls)
	}
}

func testSigningKeyConcurrent(t *testing.T, s store.Store) {
	const callers = 32
	var (
		g     keyGenerator
		wg    sync.WaitGroup
		keys  [callers][]byte
		errs  [callers]error
		start = make(chan struct{})
	)
	for i := range callers {
		wg.Go(func() {
			<-start
			keys[i], errs[i] = s.SigningKey(t.Context(), g.generate, time.Now())
		})
	}
	close(start)
	wg.Wait()
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("SigningKey, caller %d: %v", i, errs[i])
		}
		if len(keys[i]) == 0 || !bytes.Equal(keys[i], keys[0]) {
			t.Errorf("SigningKey, caller %d = %q, caller 0 got %q", i, keys[i], keys[0])
		}
	}
	after, err := s.SigningKey(t.Context(), func() ([]byte, error) {
		t.Error("generate called with a key stored")
		return nil, errors.New("unexpected")
	}, time.Now())
	if err != nil {
		t.Fatalf("SigningKey after the concurrent calls: %v", err)
	}
	if !bytes.Equal(after, keys[0]) {
		t.Errorf("SigningKey after the concurrent calls = %q, want %q", after, keys[0])
	}
}

func testConcurrentCreateSameUsername(t *testing.T, s store.Store) {
	const callers = 20
	var (
		wg    sync.WaitGroup
		errs  [callers]error
		start = make(chan struct{})
	)
	names := []string{"racer", "Racer", "RACER", "rAcEr"}
	for i := range callers {
		wg.Go(func() {
			<-start
			_, errs[i] = s.CreateUser(t.Context(), store.NewUser{Username: names[i%len(names)]}, time.Now())
		})
	}
	close(start)
	wg.Wait()
	created := 0
	for i, err := range errs {
		switch {
		case err == nil:
			created++
		case !errors.Is(err, store.ErrUsernameTaken):
			t.Errorf("CreateUser, caller %d = %v, want nil or ErrUsernameTaken", i, err)
		}
	}
	if created != 1 {
		t.Errorf("%d of %d concurrent CreateUser calls succeeded, want 1", created, callers)
	}
	users, err := s.ListUsers(t.Context())
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	if len(users) != 1 {
		t.Errorf("ListUsers = %d users, want 1", len(users))
	}
}

func testConcurrentCreateSameIntra(t *testing.T, s store.Store) {
	const callers = 20
	var (
		wg    sync.WaitGroup
		errs  [callers]error
		start = make(chan struct{})
	)
	for i := range callers {
		wg.Go(func() {
			<-start
			_, errs[i] = s.CreateUser(t.Context(), store.NewUser{
				Username: fmt.Sprintf("user%d", i),
				Intra:    &store.IntraAccount{ID: 77, Login: "shared", LinkedAt: base},
			}, time.Now())
		})
	}
	close(start)
	wg.Wait()
	created := 0
	for i, err := range errs {
		switch {
		case err == nil:
			created++
		case !errors.Is(err, store.ErrIntraLinked):
			t.Errorf("CreateUser, caller %d = %v, want nil or ErrIntraLinked", i, err)
		}
	}
	if created != 1 {
		t.Errorf("%d of %d concurrent CreateUser calls succeeded, want 1", created, callers)
	}
	users, err := s.ListUsers(t.Context())
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	if len(users) != 1 {
		t.Errorf("ListUsers = %d users, want 1: a refused creation left its user behind", len(users))
	}
}

func testCancelledContext(t *testing.T, s store.Store) {
	u := mustCreateUser(t, s, store.NewUser{Username: "alice"})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.UserByID(ctx, u.ID); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByID with a cancelled context = %v, want a failure other than ErrNotFound", err)
	}
	if _, err := s.CreateUser(ctx, store.NewUser{Username: "bob"}, time.Now()); err == nil {
		t.Error("CreateUser with a cancelled context succeeded")
	}
	if _, err := s.UserByUsername(t.Context(), "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByUsername(bob) after a cancelled CreateUser = %v, want ErrNotFound", err)
	}
}

func testPing(t *testing.T, s store.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}
