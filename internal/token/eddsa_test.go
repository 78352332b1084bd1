package token

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authd/internal/clock"
)

// edKeyOf returns the Ed25519 key pair of a seed made of b.
func edKeyOf(b byte) EdKey {
	priv := ed25519.NewKeyFromSeed([]byte(strings.Repeat(string(rune(b)), ed25519.SeedSize)))
	return EdKey{Public: priv.Public().(ed25519.PublicKey), Private: priv}
}

// mustEdKeyring returns a Keyring signing access tokens with EdDSA, keys
// of ks, signing the first.
func mustEdKeyring(t testing.TB, now func() time.Time, ks ...EdKey) *Keyring {
	t.Helper()
	r := mustKeyring(t, Options{EdDSA: true, Now: now})
	if err := r.SetAccessKeys(AccessKeys{Signing: ks[0].ID(), Keys: ks}); err != nil {
		t.Fatal(err)
	}
	return r
}

// craftEd returns a token of the header and claims JSON signed with k.
func craftEd(k EdKey, header, claims string) string {
	signed := enc(header) + "." + enc(claims)
	return signed + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(k.Private, []byte(signed)))
}

func edHeader(k EdKey) string { return `{"alg":"EdDSA","typ":"JWT","kid":"` + k.ID() + `"}` }

// TestEdKeyID checks the kid against the thumbprint of RFC 8037's example
// key (appendix A.3).
func TestEdKeyID(t *testing.T) {
	t.Parallel()
	pub, err := hex.DecodeString("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := EdKeyID(pub), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Errorf("EdKeyID = %q, want %q", got, want)
	}
}

func TestEdDSARoundTrip(t *testing.T) {
	t.Parallel()
	k := edKeyOf('a')
	r := mustEdKeyring(t, clock.NewFake(t0).Now, k)
	tok, signed := mustSign(t, r.access, claimsOf(Access), 15*time.Minute)
	parts := strings.Split(tok, ".")
	head, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(edHeader(k), string(head)); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	if !ed25519.Verify(k.Public, []byte(parts[0]+"."+parts[1]), sig) {
		t.Error("crypto/ed25519 refuses the signature")
	}
	got, err := r.Verify(tok, Access)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if diff := cmp.Diff(signed, got); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
	// The other types stay HS256, with their own keys.
	refresh, _ := mustSign(t, r.byType[Refresh], claimsOf(Refresh), time.Minute)
	if !strings.HasPrefix(refresh, enc(headerFor(DeriveKey(testKey, Refresh)))+".") {
		t.Errorf("refresh token %s is not HS256 with the refresh key", refresh)
	}
	if _, err := r.Verify(refresh, Refresh); err != nil {
		t.Errorf("refresh token: %v", err)
	}
}

// TestEdDSARotation follows keys through a rotation: the new key
// published first, signing next, the old one verifying until it is
// dropped.
func TestEdDSARotation(t *testing.T) {
	t.Parallel()
	old, next := edKeyOf('o'), edKeyOf('n')
	r := mustEdKeyring(t, clock.NewFake(t0).Now, old)
	oldTok, _ := mustSign(t, r.access, claimsOf(Access), time.Hour)

	// Published, not signing yet.
	if err := r.SetAccessKeys(AccessKeys{Signing: old.ID(), Keys: []EdKey{old, next}}); err != nil {
		t.Fatal(err)
	}
	tok, _ := mustSign(t, r.access, claimsOf(Access), time.Hour)
	if !strings.HasPrefix(tok, enc(edHeader(old))) {
		t.Error("a published key signs before it is made the signing one")
	}
	// Signing; the old one verifies still.
	if err := r.SetAccessKeys(AccessKeys{Signing: next.ID(), Keys: []EdKey{old, next}}); err != nil {
		t.Fatal(err)
	}
	newTok, _ := mustSign(t, r.access, claimsOf(Access), time.Hour)
	if !strings.HasPrefix(newTok, enc(edHeader(next))) {
		t.Error("the new key does not sign")
	}
	for name, tok := range map[string]string{"old": oldTok, "new": newTok} {
		if _, err := r.Verify(tok, Access); err != nil {
			t.Errorf("%s token while both verify: %v", name, err)
		}
	}
	// The old key retired: its tokens are refused.
	if err := r.SetAccessKeys(AccessKeys{Signing: next.ID(), Keys: []EdKey{next}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Verify(oldTok, Access); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("token of a retired key: err = %v, want %v", err, ErrUnknownKey)
	}
	if _, err := r.Verify(newTok, Access); err != nil {
		t.Errorf("new token: %v", err)
	}
}

func TestSetAccessKeys(t *testing.T) {
	t.Parallel()
	a, b := edKeyOf('a'), edKeyOf('b')
	publicOnly := EdKey{Public: a.Public}
	mismatched := EdKey{Public: b.Public, Private: a.Private}
	tests := []struct {
		name string
		ks   AccessKeys
		ok   bool
	}{
		{"one", AccessKeys{Signing: a.ID(), Keys: []EdKey{a}}, true},
		{"none signs", AccessKeys{Keys: []EdKey{a}}, true},
		{"none at all", AccessKeys{}, true},
		{"a key that verifies only", AccessKeys{Signing: b.ID(), Keys: []EdKey{publicOnly, b}}, true},
		{"signing key not among them", AccessKeys{Signing: b.ID(), Keys: []EdKey{a}}, false},
		{"signing key without its private key", AccessKeys{Signing: a.ID(), Keys: []EdKey{publicOnly}}, false},
		{"public key of another", AccessKeys{Keys: []EdKey{mismatched}}, false},
		{"short public key", AccessKeys{Keys: []EdKey{{Public: a.Public[:31]}}}, false},
		{"short private key", AccessKeys{Keys: []EdKey{{Public: a.Public, Private: a.Private[:32]}}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := mustKeyring(t, Options{EdDSA: true})
			if err := r.SetAccessKeys(tc.ks); (err == nil) != tc.ok {
				t.Errorf("SetAccessKeys: err = %v, want ok = %v", err, tc.ok)
			}
		})
	}
	if err := mustKeyring(t, Options{}).SetAccessKeys(AccessKeys{Signing: a.ID(), Keys: []EdKey{a}}); err == nil {
		t.Error("SetAccessKeys of an HS256 keyring succeeded")
	}
	r := mustKeyring(t, Options{EdDSA: true})
	if _, _, err := r.Sign(claimsOf(Access), time.Minute); !errors.Is(err, ErrNoSigningKey) {
		t.Errorf("Sign with no key: err = %v, want %v", err, ErrNoSigningKey)
	}
}

// TestEdDSARefuses is the table of access tokens an EdDSA keyring must
// refuse, the confusion of algorithms among them, and of EdDSA tokens an
// HS256 keyring must refuse.
func TestEdDSARefuses(t *testing.T) {
	t.Parallel()
	now := clock.NewFake(t0).Now
	k, other, retired := edKeyOf('k'), edKeyOf('x'), edKeyOf('r')
	ed := mustEdKeyring(t, now, k)
	hs := mustKeyring(t, Options{Now: now})
	claims := object(members(Access)...)
	access := DeriveKey(testKey, Access)
	good := craftEd(k, edHeader(k), claims)
	parts := strings.Split(good, ".")

	tests := []struct {
		name string
		r    *Keyring
		tok  string
		err  error
	}{
		{"unknown kid", ed, craftEd(other, edHeader(other), claims), ErrUnknownKey},
		{"retired kid", ed, craftEd(retired, edHeader(retired), claims), ErrUnknownKey},
		{"no kid", ed, craftEd(k, `{"alg":"EdDSA","typ":"JWT"}`, claims), ErrUnknownKey},
		{"signed by another key under the kid", ed, craftEd(other, edHeader(k), claims), ErrSignature},
		{"HS256 with the HS256 access key and its kid", ed, craft(access, headerFor(access), claims), ErrAlgorithm},
		{"HS256 keyed with the Ed25519 public key, its kid", ed, craft(k.Public, `{"alg":"HS256","typ":"JWT","kid":"`+k.ID()+`"}`, claims), ErrAlgorithm},
		{"HS256 keyed with the public key's base64url", ed, craft([]byte(b64.EncodeToString(k.Public)), `{"alg":"HS256","typ":"JWT","kid":"`+k.ID()+`"}`, claims), ErrAlgorithm},
		{"alg none", ed, enc(`{"alg":"none","kid":"`+k.ID()+`"}`) + "." + enc(claims) + ".", ErrAlgorithm},
		{"alg Ed25519", ed, craftEd(k, `{"alg":"Ed25519","kid":"`+k.ID()+`"}`, claims), ErrAlgorithm},
		{"typ not JWT", ed, craftEd(k, `{"alg":"EdDSA","typ":"JOSE","kid":"`+k.ID()+`"}`, claims), ErrMalformed},
		{"unknown header parameter", ed, craftEd(k, `{"alg":"EdDSA","kid":"`+k.ID()+`","jwk":{}}`, claims), ErrMalformed},
		{"signature cut", ed, parts[0] + "." + parts[1] + "." + parts[2][:85], ErrSignature},
		{"signature of an HMAC's length", ed, parts[0] + "." + parts[1] + "." + parts[2][:43], ErrSignature},
		{"signature not base64url", ed, parts[0] + "." + parts[1] + "." + parts[2][:85] + "+", ErrMalformed},
		{"signature with trailing bits", ed, parts[0] + "." + parts[1] + "." + trailingBit(parts[2]), ErrMalformed},
		{"claims changed", ed, parts[0] + "." + enc(object(replace(members(Access), "sub", `"1"`)...)) + "." + parts[2], ErrSignature},
		{"a refresh token", ed, craftEd(k, edHeader(k), object(members(Refresh)...)), ErrWrongType},
		{"an intra token", ed, craftEd(k, edHeader(k), object(members(Intra)...)), ErrWrongType},
		{"an mfa token", ed, craftEd(k, edHeader(k), object(members("mfa")...)), ErrWrongType},
		{"EdDSA under HS256", hs, good, ErrAlgorithm},
		{"EdDSA under HS256, the HS256 kid", hs, craftEd(k, `{"alg":"EdDSA","kid":"`+keyID(access)+`"}`, claims), ErrAlgorithm},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := tc.r.Verify(tc.tok, Access)
			if !errors.Is(err, tc.err) || !errors.Is(err, ErrInvalid) {
				t.Errorf("Verify: err = %v, want %v", err, tc.err)
			}
			if diff := cmp.Diff(Claims{}, c); diff != "" {
				t.Errorf("Verify returned claims with its error (-want +got):\n%s", diff)
			}
		})
	}
	// The retired key's token is refused although a key it once was
	// verified it: it is simply not in the set.
	if _, err := mustEdKeyring(t, now, retired).Verify(craftEd(retired, edHeader(retired), claims), Access); err != nil {
		t.Errorf("the retired key's token with its key in the set: %v", err)
	}
}

// TestEdDSAVerifyAllocates checks that an EdDSA verification allocates no
// more than an HS256 one, and a token over MaxLen nothing.
func TestEdDSAVerifyAllocates(t *testing.T) {
	now := clock.NewFake(t0).Now
	ed := mustEdKeyring(t, now, edKeyOf('a'))
	hs := mustKeyring(t, Options{Now: now})
	edTok, _ := mustSign(t, ed.access, benchClaims, time.Hour)
	hsTok, _ := mustSign(t, hs.access, benchClaims, time.Hour)
	allocs := func(r *Keyring, tok string) float64 {
		return testing.AllocsPerRun(200, func() {
			if _, err := r.Verify(tok, Access); err != nil {
				t.Fatal(err)
			}
		})
	}
	if e, h := allocs(ed, edTok), allocs(hs, hsTok); e > h {
		t.Errorf("EdDSA Verify: %v allocations, HS256: %v", e, h)
	}
	huge := strings.Repeat("A", 1<<20)
	if n := testing.AllocsPerRun(100, func() { ed.Verify(huge, Access) }); n != 0 {
		t.Errorf("EdDSA Verify of a 1 MiB token: %v allocations, want 0", n)
	}
}
