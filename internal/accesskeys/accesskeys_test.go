package accesskeys

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authd/internal/clock"
	"authd/internal/store"
	"authd/internal/store/sqlite"
	"authd/internal/token"
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

const ttl = 15 * time.Minute

func key(seq int64, created, activates time.Time) store.AccessKey {
	return store.AccessKey{Seq: seq, ID: string(rune('a' + seq)), Alg: Alg, CreatedAt: created, ActivatesAt: activates}
}

func TestPlan(t *testing.T) {
	t.Parallel()
	first := key(1, t0, t0)
	second := key(2, t0.Add(time.Hour), t0.Add(time.Hour+10*time.Minute))
	third := key(3, t0.Add(2*time.Hour), t0.Add(2*time.Hour+10*time.Minute))
	// A key added later with a shorter delay takes over before an older
	// pending one.
	quick := key(4, t0.Add(time.Hour+time.Minute), t0.Add(time.Hour+2*time.Minute))
	retire := func(after store.AccessKey) time.Time { return after.ActivatesAt.Add(ttl + token.Leeway) }

	type row struct {
		Seq    int64
		Status Status
		Until  time.Time
	}
	tests := []struct {
		name string
		keys []store.AccessKey
		now  time.Time
		want []row
	}{
		{"none", nil, t0, []row{}},
		{"the first", []store.AccessKey{first}, t0, []row{{1, Signing, time.Time{}}}},
		{"a rotation, pending", []store.AccessKey{first, second}, second.CreatedAt, []row{{1, Signing, time.Time{}}, {2, Pending, second.ActivatesAt}}},
		{"a rotation, just before it signs", []store.AccessKey{first, second}, second.ActivatesAt.Add(-time.Nanosecond), []row{{1, Signing, time.Time{}}, {2, Pending, second.ActivatesAt}}},
		{"a rotation, signing", []store.AccessKey{first, second}, second.ActivatesAt, []row{{1, Retiring, retire(second)}, {2, Signing, time.Time{}}}},
		{"the old key's last token valid", []store.AccessKey{first, second}, retire(second).Add(-time.Nanosecond), []row{{1, Retiring, retire(second)}, {2, Signing, time.Time{}}}},
		{"the old key's last token expired", []store.AccessKey{first, second}, retire(second), []row{{1, Retired, time.Time{}}, {2, Signing, time.Time{}}}},
		{"two rotations", []store.AccessKey{first, second, third}, third.ActivatesAt.Add(time.Minute), []row{{1, Retired, time.Time{}}, {2, Retiring, retire(third)}, {3, Signing, time.Time{}}}},
		{"a later key with a shorter delay", []store.AccessKey{first, second, quick}, quick.ActivatesAt, []row{{1, Retiring, retire(quick)}, {2, Pending, second.ActivatesAt}, {4, Signing, time.Time{}}}},
		{"then the older pending one", []store.AccessKey{first, second, quick}, second.ActivatesAt, []row{{1, Retiring, retire(quick)}, {2, Signing, time.Time{}}, {4, Retiring, retire(second)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := []row{}
			for _, s := range Plan(tc.keys, tc.now, ttl) {
				got = append(got, row{s.Key.Seq, s.Status, s.Until})
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Plan (-want +got):\n%s", diff)
			}
		})
	}
}

type env struct {
	st    store.Store
	clock *clock.Fake
	ring  *token.Keyring
	m     *Manager
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "authd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := clock.NewFake(t0)
	ring, err := token.NewKeyring(token.Options{Issuer: "authd", Secrets: [][]byte{[]byte(strings.Repeat("s", 32))}, EdDSA: true, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &env{st: st, clock: clk, ring: ring, m: NewManager(Options{Store: st, Keyring: ring, AccessTTL: ttl, Now: clk.Now})}
}

func (e *env) mustRefresh(t *testing.T) {
	t.Helper()
	if err := e.m.Refresh(t.Context()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
}

// mustSign returns an access token and the kid it is signed with.
func (e *env) mustSign(t *testing.T) (string, string) {
	t.Helper()
	tok, _, err := e.ring.Sign(token.Claims{Subject: "1", Username: "alice", SessionID: "s", Type: token.Access}, ttl)
	if err != nil {
		t.Fatal(err)
	}
	head, _, _ := strings.Cut(tok, ".")
	h, _ := base64.RawURLEncoding.DecodeString(head)
	var hdr struct{ Alg, Kid string }
	json.Unmarshal(h, &hdr)
	if hdr.Alg != "EdDSA" {
		t.Fatalf("token header %s is not EdDSA", h)
	}
	return tok, hdr.Kid
}

// jwksKids returns the kids of the JWKS, checking each key's members.
func (e *env) jwksKids(t *testing.T) []string {
	t.Helper()
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(e.m.JWKS(), &set); err != nil || set.Keys == nil {
		t.Fatalf("JWKS %s: %v", e.m.JWKS(), err)
	}
	kids := []string{}
	for _, k := range set.Keys {
		x, err := base64.RawURLEncoding.DecodeString(k["x"])
		if err != nil || len(x) != 32 || token.EdKeyID(x) != k["kid"] {
			t.Errorf("JWK %v: x is not the Ed25519 key of kid", k)
		}
		want := map[string]string{"kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "x": k["x"], "kid": k["kid"]}
		if diff := cmp.Diff(want, k); diff != "" {
			t.Errorf("JWK (-want +got):\n%s", diff)
		}
		kids = append(kids, k["kid"])
	}
	return kids
}

// TestLifeOfAKey follows keys from the first start through a rotation to
// the retirement of the first.
func TestLifeOfAKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	if got := string(e.m.JWKS()); got != `{"keys":[]}` {
		t.Errorf("JWKS before any key = %s", got)
	}
	keys, err := Ensure(ctx, e.st, e.clock.Now())
	if err != nil || len(keys) != 1 {
		t.Fatalf("Ensure = %v, %v; want one key", keys, err)
	}
	first := keys[0].ID
	e.mustRefresh(t)
	oldTok, kid := e.mustSign(t)
	if kid != first {
		t.Errorf("signed by %s, want the first key %s at once", kid, first)
	}
	if diff := cmp.Diff([]string{first}, e.jwksKids(t)); diff != "" {
		t.Errorf("JWKS kids (-want +got):\n%s", diff)
	}
	if again, err := Ensure(ctx, e.st, e.clock.Now()); err != nil || len(again) != 1 {
		t.Errorf("Ensure with a key = %d keys, %v; want the one", len(again), err)
	}

	const delay = 10 * time.Minute
	e.clock.Advance(time.Hour)
	k2, err := Rotate(ctx, e.st, e.clock.Now(), delay)
	if err != nil {
		t.Fatal(err)
	}
	e.mustRefresh(t)
	if diff := cmp.Diff([]string{first, k2.ID}, e.jwksKids(t)); diff != "" {
		t.Errorf("JWKS kids once rotated (-want +got):\n%s", diff)
	}
	if _, kid := e.mustSign(t); kid != first {
		t.Errorf("signed by %s during the publish delay, want %s", kid, first)
	}

	e.clock.Advance(delay)
	e.mustRefresh(t)
	if _, kid := e.mustSign(t); kid != k2.ID {
		t.Errorf("signed by %s after the delay, want %s", kid, k2.ID)
	}
	// The first key's last tokens live on; it is published still.
	e.clock.Advance(ttl + token.Leeway - time.Second)
	e.mustRefresh(t)
	if diff := cmp.Diff([]string{first, k2.ID}, e.jwksKids(t)); diff != "" {
		t.Errorf("JWKS kids while the old key's tokens live (-want +got):\n%s", diff)
	}
	if _, err := e.ring.Verify(oldTok, token.Access); err != nil && !errors.Is(err, token.ErrExpired) {
		t.Errorf("a token of the retiring key: %v", err)
	}

	e.clock.Advance(time.Second)
	e.mustRefresh(t)
	if diff := cmp.Diff([]string{k2.ID}, e.jwksKids(t)); diff != "" {
		t.Errorf("JWKS kids once retired (-want +got):\n%s", diff)
	}
	stored, err := e.st.AccessKeys(ctx)
	if err != nil || len(stored) != 1 || stored[0].ID != k2.ID {
		t.Errorf("stored keys once the first retired: %v, %v", stored, err)
	}
	if tok, kid := e.mustSign(t); kid != k2.ID {
		t.Errorf("signed by %s once the first retired, want %s", kid, k2.ID)
	} else if _, err := e.ring.Verify(tok, token.Access); err != nil {
		t.Errorf("a token of the signing key: %v", err)
	}
}

// TestRetiredKeyRefused: a token of a key retired is refused as an
// unknown key even while its exp is not reached, should it have been
// signed with a longer lifetime.
func TestRetiredKeyRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	if _, err := Ensure(ctx, e.st, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.mustRefresh(t)
	long, _, err := e.ring.Sign(token.Claims{Subject: "1", Username: "alice", SessionID: "s", Type: token.Access}, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Rotate(ctx, e.st, e.clock.Now(), 0); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(ttl + token.Leeway)
	e.mustRefresh(t)
	if _, err := e.ring.Verify(long, token.Access); !errors.Is(err, token.ErrUnknownKey) {
		t.Errorf("a token of a retired key: err = %v, want %v", err, token.ErrUnknownKey)
	}
}

// TestEnsureConcurrent: replicas starting together on an empty database
// end with one key between them.
func TestEnsureConcurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const callers = 8
	var (
		wg   sync.WaitGroup
		got  [callers][]store.AccessKey
		errs [callers]error
	)
	for i := range callers {
		wg.Go(func() { got[i], errs[i] = Ensure(context.Background(), e.st, t0) })
	}
	wg.Wait()
	for i := range callers {
		if errs[i] != nil || len(got[i]) != 1 || got[i][0].ID != got[0][0].ID {
			t.Errorf("caller %d: %v, %v; want the one key of caller 0", i, got[i], errs[i])
		}
	}
}

// TestRotateConcurrent: rotations at once each add a key.
func TestRotateConcurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const callers = 4
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			if _, err := Rotate(context.Background(), e.st, t0, time.Minute); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	keys, err := e.st.AccessKeys(t.Context())
	if err != nil || len(keys) != callers {
		t.Fatalf("after %d rotations: %d keys, %v", callers, len(keys), err)
	}
	// The first signs at once, the others after the delay.
	if !keys[0].ActivatesAt.Equal(t0) || !keys[1].ActivatesAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("activation times %v, %v", keys[0].ActivatesAt, keys[1].ActivatesAt)
	}
}

// TestRefreshRefusesABrokenKey: a stored key that is no Ed25519 key pair
// fails the refresh, and the keys read before stay in use.
func TestRefreshRefusesABrokenKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	if _, err := Ensure(ctx, e.st, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.mustRefresh(t)
	before := string(e.m.JWKS())
	bad := store.AccessKey{Seq: 2, ID: "broken", Alg: Alg, PrivateKey: []byte("short"), PublicKey: []byte("short"), CreatedAt: t0, ActivatesAt: t0}
	if err := e.st.AddAccessKey(ctx, bad); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Refresh(ctx); err == nil {
		t.Error("Refresh with a broken key succeeded")
	}
	if got := string(e.m.JWKS()); got != before {
		t.Errorf("JWKS after a failed refresh = %s, want %s", got, before)
	}
	e.mustSign(t)
}
