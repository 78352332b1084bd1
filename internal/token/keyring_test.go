package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authd/internal/clock"
)

func mustKeyring(t testing.TB, o Options) *Keyring {
	t.Helper()
	if o.Issuer == "" {
		o.Issuer = testIssuer
	}
	if o.Secrets == nil {
		o.Secrets = [][]byte{testKey}
	}
	r, err := NewKeyring(o)
	if err != nil {
		t.Fatalf("NewKeyring: %v", err)
	}
	return r
}

// TestDeriveKey checks DeriveKey against HKDF-SHA256 (RFC 5869) written
// out with crypto/hmac: extract with a zero salt, then one expand block.
func TestDeriveKey(t *testing.T) {
	t.Parallel()
	for _, typ := range purposes {
		ext := hmac.New(sha256.New, make([]byte, sha256.Size))
		ext.Write(testKey)
		exp := hmac.New(sha256.New, ext.Sum(nil))
		exp.Write([]byte("authd token key v1: " + string(typ)))
		exp.Write([]byte{1})
		want := exp.Sum(nil)
		if diff := cmp.Diff(want, DeriveKey(testKey, typ)); diff != "" {
			t.Errorf("DeriveKey(%s) (-want +got):\n%s", typ, diff)
		}
	}
	seen := map[string]Type{}
	for _, typ := range purposes {
		k := string(DeriveKey(testKey, typ))
		if other, ok := seen[k]; ok {
			t.Errorf("%s and %s have the same key", typ, other)
		}
		seen[k] = typ
	}
}

func TestNewKeyring(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		o    Options
		ok   bool
	}{
		{"one secret", Options{Issuer: "authd", Secrets: [][]byte{testKey}}, true},
		{"two secrets, EdDSA, audience", Options{Issuer: "authd", Secrets: [][]byte{testKey, oldKey}, EdDSA: true, Audience: []string{"a", "b"}}, true},
		{"no secret", Options{Issuer: "authd"}, false},
		{"short secret", Options{Issuer: "authd", Secrets: [][]byte{testKey[:31]}}, false},
		{"empty audience", Options{Issuer: "authd", Secrets: [][]byte{testKey}, Audience: []string{""}}, false},
		{"audience not UTF-8", Options{Issuer: "authd", Secrets: [][]byte{testKey}, Audience: []string{"\xff"}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewKeyring(tc.o)
			if got := err == nil; got != tc.ok {
				t.Errorf("NewKeyring: err = %v, want ok = %v", err, tc.ok)
			}
		})
	}
}

// TestPurposes checks that each type of token verifies only as itself,
// and that no key but its own, the secret itself included, signs it.
func TestPurposes(t *testing.T) {
	t.Parallel()
	now := clock.NewFake(t0).Now
	r := mustKeyring(t, Options{Now: now})
	for _, typ := range []Type{Access, Refresh, Intra} {
		tok, _ := mustSign(t, r.byType[typ], claimsOf(typ), time.Minute)
		for _, as := range []Type{Access, Refresh, Intra, "mfa"} {
			_, err := r.Verify(tok, as)
			if as == typ && err != nil {
				t.Errorf("a %s token as %s: %v", typ, as, err)
			}
			if as != typ && !errors.Is(err, ErrInvalid) {
				t.Errorf("a %s token as %s: err = %v, want refused", typ, as, err)
			}
		}
	}

	// Claims of each type signed with the key of every other purpose, and
	// with the secret itself (the keys of before purposes), with the kid
	// of that key or with none.
	for _, typ := range []Type{Access, Refresh, Intra, "mfa"} {
		claims := object(members(typ)...)
		keys := map[string][]byte{"the secret itself": testKey}
		for _, p := range purposes {
			if p != typ {
				keys["the "+string(p)+" key"] = DeriveKey(testKey, p)
			}
		}
		for name, key := range keys {
			for _, hdr := range []string{headerFor(key), `{"alg":"HS256","typ":"JWT"}`} {
				if _, err := r.Verify(craft(key, hdr, claims), typ); !errors.Is(err, ErrInvalid) {
					t.Errorf("a %s token signed with %s, header %s: err = %v, want refused", typ, name, hdr, err)
				}
			}
		}
		// Its own key signs it.
		own := DeriveKey(testKey, typ)
		if _, err := r.Verify(craft(own, headerFor(own), claims), typ); err != nil {
			t.Errorf("a %s token signed with its own derived key: %v", typ, err)
		}
	}
}

// TestAccessSecrets checks that the keys given to other services verify
// access tokens and sign nothing else.
func TestAccessSecrets(t *testing.T) {
	t.Parallel()
	r := mustKeyring(t, Options{Secrets: [][]byte{testKey, oldKey}, Now: clock.NewFake(t0).Now})
	secrets := r.AccessSecrets()
	if diff := cmp.Diff([][]byte{DeriveKey(testKey, Access), DeriveKey(oldKey, Access)}, secrets); diff != "" {
		t.Fatalf("AccessSecrets (-want +got):\n%s", diff)
	}
	tok, _ := mustSign(t, r.byType[Access], claimsOf(Access), time.Minute)
	if _, err := mustIssuer(t, clock.NewFake(t0).Now, secrets...).Verify(tok, Access); err != nil {
		t.Errorf("an access token verified with AccessSecrets alone: %v", err)
	}
	secrets[0][0] ^= 1
	if _, err := r.Verify(tok, Access); err != nil {
		t.Errorf("Verify after the caller changed AccessSecrets' slice: %v", err)
	}
	forger := mustIssuer(t, clock.NewFake(t0).Now, r.AccessSecrets()...)
	for _, typ := range []Type{Refresh, Intra} {
		forged, _ := mustSign(t, forger, claimsOf(typ), time.Minute)
		if _, err := r.Verify(forged, typ); !errors.Is(err, ErrInvalid) {
			t.Errorf("a %s token signed with the access key: err = %v, want refused", typ, err)
		}
	}
}

func TestKeyringRotation(t *testing.T) {
	t.Parallel()
	now := clock.NewFake(t0).Now
	before := mustKeyring(t, Options{Secrets: [][]byte{oldKey}, Now: now})
	during := mustKeyring(t, Options{Secrets: [][]byte{testKey, oldKey}, Now: now})
	after := mustKeyring(t, Options{Secrets: [][]byte{testKey}, Now: now})
	for _, typ := range []Type{Access, Refresh, Intra} {
		oldTok, _ := mustSign(t, before.byType[typ], claimsOf(typ), time.Minute)
		newTok, _ := mustSign(t, during.byType[typ], claimsOf(typ), time.Minute)
		for name, err := range map[string]error{
			"old token, during": func() error { _, err := during.Verify(oldTok, typ); return err }(),
			"new token, after":  func() error { _, err := after.Verify(newTok, typ); return err }(),
		} {
			if err != nil {
				t.Errorf("%s %s: %v", typ, name, err)
			}
		}
		if _, err := after.Verify(oldTok, typ); !errors.Is(err, ErrUnknownKey) {
			t.Errorf("%s old token, after: err = %v, want %v", typ, err, ErrUnknownKey)
		}
	}
}

func TestAudience(t *testing.T) {
	t.Parallel()
	now := clock.NewFake(t0).Now
	one := mustKeyring(t, Options{Audience: []string{"api"}, Now: now})
	two := mustKeyring(t, Options{Audience: []string{"api", "billing"}, Now: now})
	none := mustKeyring(t, Options{Now: now})

	for _, tc := range []struct {
		r    *Keyring
		want string
	}{
		{one, `"aud":"api"`},
		{two, `"aud":["api","billing"]`},
	} {
		tok, signed := mustSign(t, tc.r.byType[Access], claimsOf(Access), time.Minute)
		payload, err := b64.DecodeString(strings.Split(tok, ".")[1])
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(payload), `"iss":"authd",`+tc.want+`,`) {
			t.Errorf("claims %s, want %s after iss", payload, tc.want)
		}
		got, err := tc.r.Verify(tok, Access)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if diff := cmp.Diff(signed, got); diff != "" {
			t.Errorf("claims (-want +got):\n%s", diff)
		}
		refresh, _ := mustSign(t, tc.r.byType[Refresh], claimsOf(Refresh), time.Minute)
		payload, _ = b64.DecodeString(strings.Split(refresh, ".")[1])
		if strings.Contains(string(payload), `"aud"`) {
			t.Errorf("a refresh token carries aud: %s", payload)
		}
		if _, err := tc.r.Verify(refresh, Refresh); err != nil {
			t.Errorf("a refresh token without aud: %v", err)
		}
	}

	key := DeriveKey(testKey, Access)
	with := func(aud string) string {
		ms := members(Access)
		if aud != "" {
			ms = append(ms, `"aud":`+aud)
		}
		return craft(key, headerFor(key), object(ms...))
	}
	tests := []struct {
		name string
		r    *Keyring
		tok  string
		err  error // nil: accepted
		aud  []string
	}{
		{"the audience", one, with(`"api"`), nil, []string{"api"}},
		{"one of an array", one, with(`["other","api"]`), nil, []string{"other", "api"}},
		{"one of two configured", two, with(`"billing"`), nil, []string{"billing"}},
		{"escaped", one, with(`"\u0061pi"`), nil, []string{"api"}},
		{"missing", one, with(""), errAudience, nil},
		{"foreign", one, with(`"other"`), errAudience, nil},
		{"foreign array", one, with(`["other","API"]`), errAudience, nil},
		{"empty array", one, with(`[]`), errAudience, nil},
		{"a number", one, with(`1`), ErrMalformed, nil},
		{"null", one, with(`null`), ErrMalformed, nil},
		{"array holding a number", one, with(`["api",1]`), ErrMalformed, nil},
		{"repeated", one, craft(key, headerFor(key), object(append(members(Access), `"aud":"api"`, `"aud":"api"`)...)), ErrMalformed, nil},
		{"not configured: any aud", none, with(`"other"`), nil, nil},
		{"not configured: none", none, with(""), nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := tc.r.Verify(tc.tok, Access)
			if tc.err == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if diff := cmp.Diff(tc.aud, c.Audience); diff != "" {
					t.Errorf("Audience (-want +got):\n%s", diff)
				}
				return
			}
			if !errors.Is(err, tc.err) || !errors.Is(err, ErrInvalid) {
				t.Errorf("Verify: err = %v, want %v", err, tc.err)
			}
		})
	}
}
