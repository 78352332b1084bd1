package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authd/internal/store"
)

// The tests of two-factor authentication: TOTP secrets, recovery codes
// and the attempts of mfa_tokens.

func mustTOTP(t *testing.T, s store.Store, userID int64) store.TOTP {
	t.Helper()
	got, err := s.TOTP(t.Context(), userID)
	if err != nil {
		t.Fatalf("TOTP(%d): %v", userID, err)
	}
	return got
}

func mustPendingTOTP(t *testing.T, s store.Store, userID int64, secret string) {
	t.Helper()
	if err := s.SetPendingTOTP(t.Context(), userID, secret); err != nil {
		t.Fatalf("SetPendingTOTP(%d, %q): %v", userID, secret, err)
	}
}

// mustEnabledTOTP gives a user the active secret with step as its last
// step, and the recovery codes of hashes.
func mustEnabledTOTP(t *testing.T, s store.Store, userID int64, secret string, step int64, hashes ...string) {
	t.Helper()
	mustPendingTOTP(t, s, userID, secret)
	if _, err := s.EnableTOTP(t.Context(), userID, secret, step, hashes, "", base); err != nil {
		t.Fatalf("EnableTOTP(%d): %v", userID, err)
	}
}

func testTOTPLifecycle(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mustCreateUser(t, s, store.NewUser{Username: "alice"})
	if _, err := s.TOTP(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TOTP of a user without = %v, want ErrNotFound", err)
	}
	if err := s.SetPendingTOTP(ctx, u.ID+100, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetPendingTOTP of an unknown user = %v, want ErrNotFound", err)
	}
	mustPendingTOTP(t, s, u.ID, "first")
	mustPendingTOTP(t, s, u.ID, "second")
	if diff := cmp.Diff(store.TOTP{Pending: "second"}, mustTOTP(t, s, u.ID)); diff != "" {
		t.Errorf("TOTP while pending (-want +got):\n%s", diff)
	}
	if _, err := s.EnableTOTP(ctx, u.ID, "first", 7, nil, "", base); !errors.Is(err, store.ErrTOTPChanged) {
		t.Errorf("EnableTOTP of a replaced secret = %v, want ErrTOTPChanged", err)
	}
	for _, sess := range []store.Session{
		{ID: "this", UserID: u.ID, CreatedAt: base, ExpiresAt: base.Add(time.Hour)},
		{ID: "other", UserID: u.ID, CreatedAt: base, ExpiresAt: base.Add(time.Hour)},
	} {
		mustCreateSession(t, s, sess)
	}
	n, err := s.EnableTOTP(ctx, u.ID, "second", 7, []string{"h1", "h2"}, "this", base)
	if err != nil || n != 1 {
		t.Fatalf("EnableTOTP = %d, %v; want 1 session revoked", n, err)
	}
	if !mustSession(t, s, "this").RevokedAt.IsZero() || mustSession(t, s, "other").RevokedAt.IsZero() {
		t.Errorf("EnableTOTP did not revoke exactly the other session")
	}
	got := mustTOTP(t, s, u.ID)
	if diff := cmp.Diff(store.TOTP{Secret: "second", LastStep: 7, EnabledAt: base}, got, approxTime); diff != "" {
		t.Errorf("TOTP once enabled (-want +got):\n%s", diff)
	}
	checkUTC(t, "TOTP", got.EnabledAt)
	if !got.Active() {
		t.Error("Active() = false once enabled")
	}
	if err := s.SetPendingTOTP(ctx, u.ID, "third"); !errors.Is(err, store.ErrTOTPChanged) {
		t.Errorf("SetPendingTOTP while active = %v, want ErrTOTPChanged", err)
	}
	if _, err := s.EnableTOTP(ctx, u.ID, "second", 8, nil, "", base); !errors.Is(err, store.ErrTOTPChanged) {
		t.Errorf("EnableTOTP again = %v, want ErrTOTPChanged", err)
	}
	if left, err := s.RecoveryCodesLeft(ctx, u.ID); err != nil || left != 2 {
		t.Errorf("RecoveryCodesLeft = %d, %v; want 2", left, err)
	}
	if had, err := s.DisableTOTP(ctx, u.ID); err != nil || !had {
		t.Errorf("DisableTOTP = %v, %v; want true", had, err)
	}
	if _, err := s.TOTP(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TOTP once disabled = %v, want ErrNotFound", err)
	}
	if left, err := s.RecoveryCodesLeft(ctx, u.ID); err != nil || left != 0 {
		t.Errorf("RecoveryCodesLeft once disabled = %d, %v; want 0", left, err)
	}
	if had, err := s.DisableTOTP(ctx, u.ID); err != nil || had {
		t.Errorf("DisableTOTP again = %v, %v; want false", had, err)
	}
	// A pending secret alone is removed too, and set up anew after.
	mustPendingTOTP(t, s, u.ID, "fourth")
	if had, err := s.DisableTOTP(ctx, u.ID); err != nil || !had {
		t.Errorf("DisableTOTP of a pending secret = %v, %v; want true", had, err)
	}
	mustPendingTOTP(t, s, u.ID, "fifth")
}

func testUseTOTPStep(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := mustCreateUser(t, s, store.NewUser{Username: "alice"})
	bob := mustCreateUser(t, s, store.NewUser{Username: "bob"})
	mustEnabledTOTP(t, s, alice.ID, "alice-secret", 100)
	mustEnabledTOTP(t, s, bob.ID, "bob-secret", 100)
	for _, tc := range []struct {
		name   string
		user   int64
		secret string
		step   int64
		want   bool
	}{
		{"the step of the confirmation", alice.ID, "alice-secret", 100, false},
		{"an earlier step", alice.ID, "alice-secret", 99, false},
		{"the next step", alice.ID, "alice-secret", 101, true},
		{"the next step again", alice.ID, "alice-secret", 101, false},
		{"another secret", alice.ID, "bob-secret", 102, false},
		{"an empty secret", alice.ID, "", 102, false},
		{"a later step", alice.ID, "alice-secret", 103, true},
		{"the step skipped", alice.ID, "alice-secret", 102, false},
		{"another user's step, on their own", bob.ID, "bob-secret", 101, true},
		{"an unknown user", bob.ID + 100, "bob-secret", 200, false},
	} {
		if got, err := s.UseTOTPStep(ctx, tc.user, tc.secret, tc.step); err != nil || got != tc.want {
			t.Errorf("%s: UseTOTPStep = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if got := mustTOTP(t, s, alice.ID).LastStep; got != 103 {
		t.Errorf("LastStep = %d, want 103", got)
	}
	// A pending secret, not active, accepts no code.
	carol := mustCreateUser(t, s, store.NewUser{Username: "carol"})
	mustPendingTOTP(t, s, carol.ID, "carol-secret")
	if got, err := s.UseTOTPStep(ctx, carol.ID, "carol-secret", 5); err != nil || got {
		t.Errorf("UseTOTPStep of a pending secret = %v, %v; want false", got, err)
	}
}

func testRecoveryCodes(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := mustCreateUser(t, s, store.NewUser{Username: "alice"})
	bob := mustCreateUser(t, s, store.NewUser{Username: "bob"})
	if err := s.ReplaceRecoveryCodes(ctx, alice.ID, []string{"a"}); !errors.Is(err, store.ErrTOTPChanged) {
		t.Errorf("ReplaceRecoveryCodes without an active factor = %v, want ErrTOTPChanged", err)
	}
	mustEnabledTOTP(t, s, alice.ID, "s", 1, "a1", "a2", "shared")
	mustEnabledTOTP(t, s, bob.ID, "s", 1, "b1", "shared")
	use := func(user int64, hash string, want bool) {
		t.Helper()
		if got, err := s.UseRecoveryCode(ctx, user, hash, base); err != nil || got != want {
			t.Errorf("UseRecoveryCode(%d, %q) = %v, %v; want %v", user, hash, got, err, want)
		}
	}
	use(alice.ID, "a1", true)
	use(alice.ID, "a1", false)
	use(alice.ID, "b1", false)
	use(alice.ID, "nope", false)
	use(alice.ID, "shared", true)
	use(bob.ID, "shared", true)
	if left, err := s.RecoveryCodesLeft(ctx, alice.ID); err != nil || left != 1 {
		t.Errorf("RecoveryCodesLeft(alice) = %d, %v; want 1", left, err)
	}
	if err := s.ReplaceRecoveryCodes(ctx, alice.ID, []string{"n1", "n2", "a1"}); err != nil {
		t.Fatalf("ReplaceRecoveryCodes: %v", err)
	}
	use(alice.ID, "a2", false)
	use(alice.ID, "n1", true)
	use(alice.ID, "a1", true) // a new code that happens to hash alike is new
	if left, err := s.RecoveryCodesLeft(ctx, alice.ID); err != nil || left != 1 {
		t.Errorf("RecoveryCodesLeft(alice) after replacing = %d, %v; want 1", left, err)
	}
	if left, err := s.RecoveryCodesLeft(ctx, bob.ID); err != nil || left != 1 {
		t.Errorf("RecoveryCodesLeft(bob) = %d, %v; want 1", left, err)
	}
}

func testMFATokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	exp := base.Add(5 * time.Minute)
	count := func(jti string, want bool) {
		t.Helper()
		if got, err := s.CountMFAAttempt(ctx, jti, exp, 3); err != nil || got != want {
			t.Errorf("CountMFAAttempt(%q) = %v, %v; want %v", jti, got, err, want)
		}
	}
	for range 3 {
		count("a", true)
	}
	count("a", false)
	count("b", true)
	if err := s.UseMFAToken(ctx, "b", exp); err != nil {
		t.Errorf("UseMFAToken(b): %v", err)
	}
	if err := s.UseMFAToken(ctx, "b", exp); !errors.Is(err, store.ErrTokenUsed) {
		t.Errorf("UseMFAToken(b) again = %v, want ErrTokenUsed", err)
	}
	count("b", false)
	if err := s.UseMFAToken(ctx, "never-counted", exp); err != nil {
		t.Errorf("UseMFAToken of a token never counted: %v", err)
	}
	count("never-counted", false)

	n, err := s.DeleteExpiredTokens(ctx, exp.Add(-time.Second))
	if err != nil || n != 0 {
		t.Errorf("DeleteExpiredTokens before expiry = %d, %v; want 0", n, err)
	}
	n, err = s.DeleteExpiredTokens(ctx, exp)
	if err != nil || n != 3 {
		t.Errorf("DeleteExpiredTokens at expiry = %d, %v; want 3", n, err)
	}
}

// testTwoFactorAcrossStores races, from several stores on one database as
// replicas would, the uses of one code step, of one recovery code and of
// one mfa_token, and the attempts with one mfa_token: each is decided
// once.
func testTwoFactorAcrossStores(t *testing.T, b Backend) {
	name := b.NewDatabase(t)
	stores := []store.Store{mustOpen(t, b.Open, name), mustOpen(t, b.Open, name), mustOpen(t, b.Open, name)}
	u := mustCreateUser(t, stores[0], store.NewUser{Username: "alice"})
	mustEnabledTOTP(t, stores[0], u.ID, "secret", 10, "code")
	exp := base.Add(5 * time.Minute)
	for _, tc := range []struct {
		name string
		n    int // callers
		want int // successes
		try  func(s store.Store) (bool, error)
	}{
		{"UseTOTPStep", 12, 1, func(s store.Store) (bool, error) {
			return s.UseTOTPStep(context.Background(), u.ID, "secret", 11)
		}},
		{"UseRecoveryCode", 12, 1, func(s store.Store) (bool, error) {
			return s.UseRecoveryCode(context.Background(), u.ID, "code", base)
		}},
		{"CountMFAAttempt", 12, 5, func(s store.Store) (bool, error) {
			return s.CountMFAAttempt(context.Background(), "jti", exp, 5)
		}},
		{"UseMFAToken", 12, 1, func(s store.Store) (bool, error) {
			err := s.UseMFAToken(context.Background(), "jti", exp)
			if errors.Is(err, store.ErrTokenUsed) {
				return false, nil
			}
			return err == nil, err
		}},
	} {
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			wins  int
			start = make(chan struct{})
		)
		for i := range tc.n {
			wg.Go(func() {
				<-start
				ok, err := tc.try(stores[i%len(stores)])
				if err != nil {
					t.Errorf("%s: %v", tc.name, err)
				}
				if ok {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		if wins != tc.want {
			t.Errorf("%s: %d of %d racing calls succeeded, want %d", tc.name, wins, tc.n, tc.want)
		}
	}
}
