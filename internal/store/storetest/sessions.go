package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authd/internal/store"
)

// The tests of what a user sees of their sessions, of refresh-token
// rotation, of unlinking and of single-use tokens.

func mustUserSessions(t *testing.T, s store.Store, userID int64, now time.Time) []store.Session {
	t.Helper()
	got, err := s.UserSessions(t.Context(), userID, now)
	if err != nil {
		t.Fatalf("UserSessions(%d): %v", userID, err)
	}
	return got
}

func sessionIDs(ss []store.Session) []string {
	ids := []string{}
	for _, s := range ss {
		ids = append(ids, s.ID)
	}
	return ids
}

func testSessionFields(t *testing.T, s store.Store) {
	u := mustCreateUser(t, s, store.NewUser{Username: "alice"})
	want := store.Session{
		ID: "s", UserID: u.ID, CreatedAt: base, ExpiresAt: base.Add(24 * time.Hour),
		Method: "intra", IP: "2001:db8::/64", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) é",
		AuthTime: base.Add(-time.Minute), LastUsedAt: base.Add(time.Minute),
		RefreshID: "new-jti", PrevRefreshID: "old-jti", RotatedAt: base.Add(30 * time.Second),
	}
	mustCreateSession(t, s, want)
	got := mustSession(t, s, "s")
	if diff := cmp.Diff(want, got, approxTime); diff != "" {
		t.Errorf("Session (-want +got):\n%s", diff)
	}
	checkUTC(t, "Session", got.AuthTime, got.LastUsedAt, got.RotatedAt)
	if diff := cmp.Diff([]store.Session{want}, mustUserSessions(t, s, u.ID, base), approxTime); diff != "" {
		t.Errorf("UserSessions (-want +got):\n%s", diff)
	}
}

func testUserSessions(t *testing.T, s store.Store) {
	alice := mustCreateUser(t, s, store.NewUser{Username: "alice"})
	bob := mustCreateUser(t, s, store.NewUser{Username: "bob"})
	now := base.Add(time.Hour)
	for _, sess := range []store.Session{
		{ID: "old", UserID: alice.ID, CreatedAt: base, ExpiresAt: now.Add(time.Hour)},
		{ID: "new", UserID: alice.ID, CreatedAt: base.Add(2 * time.Minute), ExpiresAt: now.Add(time.Hour)},
		{ID: "middle-b", UserID: alice.ID, CreatedAt: base.Add(time.Minute), ExpiresAt: now.Add(time.Hour)},
		{ID: "middle-a", UserID: alice.ID, CreatedAt: base.Add(time.Minute), ExpiresAt: now.Add(time.Hour)},
		{ID: "revoked", UserID: alice.ID, CreatedAt: base, ExpiresAt: now.Add(time.Hour), RevokedAt: base.Add(time.Minute)},
		{ID: "expired", UserID: alice.ID, CreatedAt: base, ExpiresAt: now},
		{ID: "bobs", UserID: bob.ID, CreatedAt: base, ExpiresAt: now.Add(time.Hour)},
	} {
		mustCreateSession(t, s, sess)
	}
	if diff := cmp.Diff([]string{"new", "middle-a", "middle-b", "old"}, sessionIDs(mustUserSessions(t, s, alice.ID, now))); diff != "" {
		t.Errorf("UserSessions(alice) ids (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"bobs"}, sessionIDs(mustUserSessions(t, s, bob.ID, now))); diff != "" {
		t.Errorf("UserSessions(bob) ids (-want +got):\n%s", diff)
	}
	if got := mustUserSessions(t, s, alice.ID+bob.ID+100, now); len(got) != 0 {
		t.Errorf("UserSessions(unknown user) = %v, want none", sessionIDs(got))
	}
}

func testRevokeUserSessions(t *testing.T, s store.Store) {
	alice := mustCreateUser(t, s, store.NewUser{Username: "alice"})
	bob := mustCreateUser(t, s, store.NewUser{Username: "bob"})
	now := base.Add(time.Hour)
	revokedBefore := base.Add(time.Minute)
	for _, sess := range []store.Session{
		{ID: "a1", UserID: alice.ID, CreatedAt: base, ExpiresAt: now.Add(time.Hour)},
		{ID: "a2", UserID: alice.ID, CreatedAt: base, ExpiresAt: now.Add(time.Hour)},
		{ID: "a3", UserID: alice.ID, CreatedAt: base, ExpiresAt: now.Add(time.Hour)},
		{ID: "a-revoked", UserID: alice.ID, CreatedAt: base, ExpiresAt: now.Add(time.Hour), RevokedAt: revokedBefore},
		{ID: "b1", UserID: bob.ID, CreatedAt: base, ExpiresAt: now.Add(time.Hour)},
	} {
		mustCreateSession(t, s, sess)
	}
	n, err := s.RevokeUserSessions(t.Context(), alice.ID, "a2", now)
	if err != nil || n != 2 {
		t.Fatalf("RevokeUserSessions(alice, keep a2) = %d, %v; want 2", n, err)
	}
	if diff := cmp.Diff([]string{"a2"}, sessionIDs(mustUserSessions(t, s, alice.ID, now))); diff != "" {
		t.Errorf("alice's live sessions (-want +got):\n%s", diff)
	}
	if got := mustSession(t, s, "a1").RevokedAt; !cmp.Equal(got, now, approxTime) {
		t.Errorf("a1 revoked at %v, want %v", got, now)
	}
	if got := mustSession(t, s, "a-revoked").RevokedAt; !cmp.Equal(got, revokedBefore, approxTime) {
		t.Errorf("a session revoked before keeps RevokedAt %v, want %v", got, revokedBefore)
	}
	if diff := cmp.Diff([]string{"b1"}, sessionIDs(mustUserSessions(t, s, bob.ID, now))); diff != "" {
		t.Errorf("bob's live sessions (-want +got):\n%s", diff)
	}
	n, err = s.RevokeUserSessions(t.Context(), alice.ID, "", now)
	if err != nil || n != 1 {
		t.Fatalf("RevokeUserSessions(alice, keep none) = %d, %v; want 1", n, err)
	}
	if got := mustUserSessions(t, s, alice.ID, now); len(got) != 0 {
		t.Errorf("alice's live sessions after revoking all: %v", sessionIDs(got))
	}
}

func testChangePassword(t *testing.T, s store.Store) {
	alice := mustCreateUser(t, s, store.NewUser{Username: "alice", PasswordHash: "old"})
	bob := mustCreateUser(t, s, store.NewUser{Username: "bob", PasswordHash: "bobs"})
	now := base.Add(time.Hour)
	for _, sess := range []store.Session{
		{ID: "a1", UserID: alice.ID, CreatedAt: base, ExpiresAt: now.Add(time.Hour)},
		{ID: "a2", UserID: alice.ID, CreatedAt: base, ExpiresAt: now.Add(time.Hour)},
		{ID: "b1", UserID: bob.ID, CreatedAt: base, ExpiresAt: now.Add(time.Hour)},
	} {
		mustCreateSession(t, s, sess)
	}
	n, err := s.ChangePassword(t.Context(), alice.ID, "new", "a1", now)
	if err != nil || n != 1 {
		t.Fatalf("ChangePassword(alice, keep a1) = %d, %v; want 1", n, err)
	}
	if h := mustUserByID(t, s, alice.ID).PasswordHash; h != "new" {
		t.Errorf("hash after ChangePassword = %q, want new", h)
	}
	if diff := cmp.Diff([]string{"a1"}, sessionIDs(mustUserSessions(t, s, alice.ID, now))); diff != "" {
		t.Errorf("alice's live sessions (-want +got):\n%s", diff)
	}
	n, err = s.ChangePassword(t.Context(), alice.ID, "newer", "", now)
	if err != nil || n != 1 {
		t.Fatalf("ChangePassword(alice, keep none) = %d, %v; want 1", n, err)
	}
	if got := mustUserSessions(t, s, alice.ID, now); len(got) != 0 {
		t.Errorf("alice's live sessions: %v, want none", sessionIDs(got))
	}
	if u := mustUserByID(t, s, bob.ID); u.PasswordHash != "bobs" || len(mustUserSessions(t, s, bob.ID, now)) != 1 {
		t.Errorf("bob changed: hash %q, sessions %v", u.PasswordHash, sessionIDs(mustUserSessions(t, s, bob.ID, now)))
	}
	if _, err := s.ChangePassword(t.Context(), alice.ID+bob.ID+100, "x", "", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ChangePassword(unknown user) = %v, want ErrNotFound", err)
	}
}

func testTouchSession(t *testing.T, s store.Store) {
	u := mustCreateUser(t, s, store.NewUser{Username: "alice"})
	sess := store.Session{ID: "s", UserID: u.ID, CreatedAt: base, ExpiresAt: base.Add(time.Hour), LastUsedAt: base}
	mustCreateSession(t, s, sess)
	later := base.Add(10 * time.Minute)
	if err := s.TouchSession(t.Context(), "s", later); err != nil {
		t.Fatalf("TouchSession: %v", err)
	}
	want := sess
	want.LastUsedAt = later
	if diff := cmp.Diff(want, mustSession(t, s, "s"), approxTime); diff != "" {
		t.Errorf("Session after TouchSession (-want +got):\n%s", diff)
	}
	if err := s.TouchSession(t.Context(), "unknown", later); err != nil {
		t.Errorf("TouchSession(unknown): %v", err)
	}
}

func testRotateRefresh(t *testing.T, s store.Store) {
	u := mustCreateUser(t, s, store.NewUser{Username: "alice"})
	sess := store.Session{ID: "s", UserID: u.ID, CreatedAt: base, ExpiresAt: base.Add(time.Hour), LastUsedAt: base, RefreshID: "r0"}
	mustCreateSession(t, s, sess)
	at := base.Add(time.Minute)
	rotate := func(old, new string, now time.Time) bool {
		t.Helper()
		ok, err := s.RotateRefresh(t.Context(), "s", old, new, now)
		if err != nil {
			t.Fatalf("RotateRefresh(%s → %s): %v", old, new, err)
		}
		return ok
	}
	if !rotate("r0", "r1", at) {
		t.Fatal("RotateRefresh from the newest id refused")
	}
	want := sess
	want.RefreshID, want.PrevRefreshID, want.RotatedAt, want.LastUsedAt = "r1", "r0", at, at
	if diff := cmp.Diff(want, mustSession(t, s, "s"), approxTime); diff != "" {
		t.Errorf("Session after RotateRefresh (-want +got):\n%s", diff)
	}
	// From an id that is no longer the newest: nothing changes.
	for _, old := range []string{"r0", "", "unknown"} {
		if rotate(old, "rX", at.Add(time.Minute)) {
			t.Errorf("RotateRefresh from %q, not the newest, succeeded", old)
		}
	}
	if diff := cmp.Diff(want, mustSession(t, s, "s"), approxTime); diff != "" {
		t.Errorf("Session after refused rotations (-want +got):\n%s", diff)
	}
	// An unknown session, a revoked one.
	if ok, err := s.RotateRefresh(t.Context(), "unknown", "", "x", at); ok || err != nil {
		t.Errorf("RotateRefresh(unknown session) = %v, %v; want false, nil", ok, err)
	}
	if err := s.RevokeSession(t.Context(), "s", at); err != nil {
		t.Fatal(err)
	}
	if rotate("r1", "r2", at) {
		t.Error("RotateRefresh of a revoked session succeeded")
	}
	// A session from before rotation (no id yet) rotates from "".
	mustCreateSession(t, s, store.Session{ID: "legacy", UserID: u.ID, CreatedAt: base, ExpiresAt: base.Add(time.Hour)})
	if ok, err := s.RotateRefresh(t.Context(), "legacy", "", "n1", at); !ok || err != nil {
		t.Errorf("RotateRefresh(legacy, from \"\") = %v, %v; want true", ok, err)
	}
}

// testRotateRefreshConcurrent races callers rotating from the same id:
// exactly one wins.
func testRotateRefreshConcurrent(t *testing.T, s store.Store) {
	u := mustCreateUser(t, s, store.NewUser{Username: "alice"})
	mustCreateSession(t, s, store.Session{ID: "s", UserID: u.ID, CreatedAt: base, ExpiresAt: base.Add(time.Hour), RefreshID: "r0"})
	wins := raceRotations(t, []store.Store{s}, "s", "r0", 8)
	if len(wins) != 1 {
		t.Fatalf("%d rotations from one id succeeded (%v), want exactly 1", len(wins), wins)
	}
	if got := mustSession(t, s, "s"); got.RefreshID != wins[0] || got.PrevRefreshID != "r0" {
		t.Errorf("after the race: RefreshID %q, PrevRefreshID %q; want %q, r0", got.RefreshID, got.PrevRefreshID, wins[0])
	}
}

// raceRotations has n callers, spread over stores, rotate session sid
// from old at once, each to an id of its own, and returns the ids of the
// callers that succeeded.
func raceRotations(t *testing.T, stores []store.Store, sid, old string, n int) []string {
	t.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		wins  []string
		start = make(chan struct{})
	)
	for i := range n {
		wg.Go(func() {
			<-start
			id := fmt.Sprintf("r-%d", i)
			ok, err := stores[i%len(stores)].RotateRefresh(context.Background(), sid, old, id, base.Add(time.Minute))
			if err != nil {
				t.Errorf("RotateRefresh #%d: %v", i, err)
			}
			if ok {
				mu.Lock()
				wins = append(wins, id)
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	return wins
}

func testUnlinkIntra(t *testing.T, s store.Store) {
	linked := mustCreateUser(t, s, store.NewUser{Username: "alice", Intra: &store.IntraAccount{ID: 42, Login: "alice42"}})
	other := mustCreateUser(t, s, store.NewUser{Username: "bob", Intra: &store.IntraAccount{ID: 43, Login: "bob43"}})
	if err := s.UnlinkIntra(t.Context(), linked.ID); err != nil {
		t.Fatalf("UnlinkIntra: %v", err)
	}
	if u := mustUserByID(t, s, linked.ID); u.Intra != nil {
		t.Errorf("user still linked after UnlinkIntra: %+v", u.Intra)
	}
	if _, err := s.UserByIntraID(t.Context(), 42); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByIntraID(42) after unlinking = %v, want ErrNotFound", err)
	}
	if err := s.UnlinkIntra(t.Context(), linked.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UnlinkIntra again = %v, want ErrNotFound", err)
	}
	if err := s.UnlinkIntra(t.Context(), linked.ID+other.ID+100); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UnlinkIntra(unknown user) = %v, want ErrNotFound", err)
	}
	if u := mustUserByID(t, s, other.ID); u.Intra == nil || u.Intra.ID != 43 {
		t.Errorf("another user's link changed: %+v", u.Intra)
	}
	// The Intra account is free again, for anyone.
	if err := s.LinkIntra(t.Context(), other.ID, store.IntraAccount{ID: 42, Login: "alice42"}, time.Now()); !errors.Is(err, store.ErrUserLinked) {
		t.Errorf("LinkIntra(bob, 42) = %v, want ErrUserLinked (bob has 43)", err)
	}
	if err := s.LinkIntra(t.Context(), linked.ID, store.IntraAccount{ID: 42, Login: "alice42"}, time.Now()); err != nil {
		t.Errorf("LinkIntra(alice, 42) again: %v", err)
	}
}

func testUseToken(t *testing.T, s store.Store) {
	exp := base.Add(5 * time.Minute)
	if err := s.UseToken(t.Context(), "jti-1", exp); err != nil {
		t.Fatalf("UseToken(jti-1): %v", err)
	}
	if err := s.UseToken(t.Context(), "jti-1", exp); !errors.Is(err, store.ErrTokenUsed) {
		t.Errorf("UseToken(jti-1) again = %v, want ErrTokenUsed", err)
	}
	if err := s.UseToken(t.Context(), "jti-2", exp.Add(time.Minute)); err != nil {
		t.Errorf("UseToken(jti-2): %v", err)
	}

	n, err := s.DeleteExpiredTokens(t.Context(), exp.Add(-time.Second))
	if err != nil || n != 0 {
		t.Errorf("DeleteExpiredTokens before expiry = %d, %v; want 0", n, err)
	}
	n, err = s.DeleteExpiredTokens(t.Context(), exp)
	if err != nil || n != 1 {
		t.Errorf("DeleteExpiredTokens at jti-1's expiry = %d, %v; want 1", n, err)
	}
	if err := s.UseToken(t.Context(), "jti-2", exp.Add(time.Minute)); !errors.Is(err, store.ErrTokenUsed) {
		t.Errorf("UseToken(jti-2), not expired, again = %v, want ErrTokenUsed", err)
	}
}

// testUseTokenConcurrent races callers using one token: exactly one wins.
func testUseTokenConcurrent(t *testing.T, s store.Store) {
	const n = 8
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		ok    int
		start = make(chan struct{})
	)
	for range n {
		wg.Go(func() {
			<-start
			err := s.UseToken(context.Background(), "jti", base.Add(time.Hour))
			switch {
			case err == nil:
				mu.Lock()
				ok++
				mu.Unlock()
			case !errors.Is(err, store.ErrTokenUsed):
				t.Errorf("UseToken: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if ok != 1 {
		t.Errorf("%d of %d concurrent uses of one token succeeded, want 1", ok, n)
	}
}

// testRotateAcrossStores races rotations of one session from several
// stores on one database, as replicas would: exactly one wins.
func testRotateAcrossStores(t *testing.T, b Backend) {
	name := b.NewDatabase(t)
	stores := []store.Store{mustOpen(t, b.Open, name), mustOpen(t, b.Open, name), mustOpen(t, b.Open, name)}
	u := mustCreateUser(t, stores[0], store.NewUser{Username: "alice"})
	for round := range 5 {
		sid := fmt.Sprintf("s%d", round)
		mustCreateSession(t, stores[0], store.Session{ID: sid, UserID: u.ID, CreatedAt: base, ExpiresAt: base.Add(time.Hour), RefreshID: "r0"})
		if wins := raceRotations(t, stores, sid, "r0", 9); len(wins) != 1 {
			t.Errorf("round %d: %d rotations from one id succeeded (%v), want exactly 1", round, len(wins), wins)
		}
	}
}

// testSessionAndUser: one read gives a session and its user, Intra link
// included, as Session and UserByID give them.
func testSessionAndUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mustCreateUser(t, s, store.NewUser{Username: "alice", Email: "a@example.com", PasswordHash: "h",
		Intra: &store.IntraAccount{ID: 7, Login: "al", DisplayName: "Alice"}})
	v := mustCreateUser(t, s, store.NewUser{Username: "bob"})
	mustCreateSession(t, s, store.Session{ID: "sa", UserID: u.ID, CreatedAt: base, ExpiresAt: base.Add(time.Hour),
		Method: "password", IP: "203.0.113.1", UserAgent: "ua", AuthTime: base, LastUsedAt: base, RefreshID: "r"})
	mustCreateSession(t, s, store.Session{ID: "sb", UserID: v.ID, CreatedAt: base, ExpiresAt: base.Add(time.Hour)})
	for _, id := range []string{"sa", "sb"} {
		sess, user, err := s.SessionAndUser(ctx, id)
		if err != nil {
			t.Fatalf("SessionAndUser(%s): %v", id, err)
		}
		if diff := cmp.Diff(mustSession(t, s, id), sess); diff != "" {
			t.Errorf("SessionAndUser(%s)'s session (-Session +got):\n%s", id, diff)
		}
		if diff := cmp.Diff(mustUserByID(t, s, sess.UserID), user); diff != "" {
			t.Errorf("SessionAndUser(%s)'s user (-UserByID +got):\n%s", id, diff)
		}
	}
	if _, _, err := s.SessionAndUser(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SessionAndUser of an unknown id: %v, want ErrNotFound", err)
	}
}
