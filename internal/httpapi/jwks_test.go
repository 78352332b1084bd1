package httpapi

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authd/internal/accesskeys"
	"authd/internal/config"
	"authd/internal/token"
)

func edDSA(c *config.Config) { c.AccessAlg = config.AlgEdDSA }

func TestJWKS(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		edit func(*config.Config)
		keys int
	}{
		{"HS256", nil, 0},
		{"EdDSA", edDSA, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, tc.edit)
			r := e.do(t, request{method: "GET", path: "/.well-known/jwks.json"})
			if r.status != 200 {
				t.Fatalf("jwks = %d %s", r.status, r.raw)
			}
			want := map[string]string{"Content-Type": "application/json", "Cache-Control": "public, max-age=300"}
			got := map[string]string{"Content-Type": r.header.Get("Content-Type"), "Cache-Control": r.header.Get("Cache-Control")}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
			keys, _ := r.body["keys"].([]any)
			if r.body["keys"] == nil || len(keys) != tc.keys {
				t.Errorf("jwks = %s, want %d keys", r.raw, tc.keys)
			}
			if tc.keys == 0 && r.raw != `{"keys":[]}` {
				t.Errorf("jwks = %s, want {\"keys\":[]}", r.raw)
			}
			if h := e.do(t, request{method: "HEAD", path: "/.well-known/jwks.json"}); h.status != 200 || h.raw != "" {
				t.Errorf("HEAD jwks = %d %q", h.status, h.raw)
			}
			if p := e.do(t, request{method: "POST", path: "/.well-known/jwks.json"}); p.status != 405 || p.code() != codeMethodNotAllowed {
				t.Errorf("POST jwks = %d %s", p.status, p.raw)
			}
		})
	}
}

// jwksKey returns the Ed25519 public key of kid in the env's JWKS.
func jwksKey(t *testing.T, e *testEnv, kid string) ed25519.PublicKey {
	t.Helper()
	r := e.do(t, request{method: "GET", path: "/.well-known/jwks.json"})
	for _, k := range r.body["keys"].([]any) {
		m := k.(map[string]any)
		if m["kid"] == kid {
			x, err := base64.RawURLEncoding.DecodeString(m["x"].(string))
			if err != nil {
				t.Fatal(err)
			}
			return x
		}
	}
	t.Fatalf("kid %s not in the JWKS %s", kid, r.raw)
	return nil
}

// TestEdDSABadTokens is the table of access tokens an authd signing with
// EdDSA refuses, on a Bearer endpoint and at the gate: each a 401 with the
// contract's JSON, and nothing changed.
func TestEdDSABadTokens(t *testing.T) {
	t.Parallel()
	e := newIntraEnv(t, func(c *config.Config) {
		edDSA(c)
		c.Audience = []string{"api"}
	})
	e.mustUser(t, "alice", "alice-password")
	ctx := context.Background()

	// A key that signed, then retired: rotated away from, its last token
	// expired.
	retiredTok, _ := e.mustLogin(t, "alice", "alice-password")
	retiredHdr, _ := parts(t, retiredTok)
	stored, err := e.store.AccessKeys(ctx)
	if err != nil || len(stored) != 1 {
		t.Fatalf("stored keys %v, %v; want one", stored, err)
	}
	retiredKey := ed25519.PrivateKey(stored[0].PrivateKey)
	if _, err := accesskeys.Rotate(ctx, e.store, e.clock.Now(), 0); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(e.cfg.AccessTTL + token.Leeway)
	if err := e.keys.Refresh(ctx); err != nil {
		t.Fatal(err)
	}

	access, refresh := e.mustLogin(t, "alice", "alice-password")
	api := e.mustIdentity(t, "jdoe").Value
	hdr, claims := parts(t, access)
	if hdr == retiredHdr || !strings.Contains(hdr, `"alg":"EdDSA"`) {
		t.Fatalf("headers %s and %s: want EdDSA and a new key", retiredHdr, hdr)
	}
	_, kid := func() (string, string) {
		i := strings.Index(hdr, `"kid":"`)
		return "", strings.TrimSuffix(hdr[i+7:], `"}`)
	}()
	pub := jwksKey(t, e.testEnv, kid)
	stored, err = e.store.AccessKeys(ctx)
	if err != nil || len(stored) != 1 || stored[0].ID != kid {
		t.Fatalf("stored keys %v, %v; want the signing one alone", stored, err)
	}
	signing := ed25519.PrivateKey(stored[0].PrivateKey)
	other := ed25519.NewKeyFromSeed(make([]byte, 32))
	edForge := func(header, claims string, priv ed25519.PrivateKey) string {
		b64 := base64.RawURLEncoding
		in := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(claims))
		return in + "." + b64.EncodeToString(ed25519.Sign(priv, []byte(in)))
	}
	hsKey := token.DeriveKey([]byte(testSecret), token.Access)
	hsKid := token.HS256KeyID(hsKey)
	mfaClaims := strings.Replace(claims, `"token_type":"access"`, `"token_type":"mfa"`, 1)
	noAud := strings.Replace(claims, `"aud":"api",`, "", 1)
	foreignAud := strings.Replace(claims, `"aud":"api",`, `"aud":"billing",`, 1)
	if noAud == claims || foreignAud == claims {
		t.Fatalf("claims %s carry no aud", claims)
	}

	tests := []struct {
		name string
		tok  string
	}{
		{"unknown kid", edForge(`{"alg":"EdDSA","typ":"JWT","kid":"`+token.EdKeyID(other.Public().(ed25519.PublicKey))+`"}`, claims, other)},
		{"another key under the kid", edForge(hdr, claims, other)},
		{"retired kid", retiredTok},
		{"retired kid, live claims", edForge(retiredHdr, claims, retiredKey)},
		{"HS256 with the HS256 access key, its kid", forge(`{"alg":"HS256","typ":"JWT","kid":"`+hsKid+`"}`, claims, hsKey, sha256.New)},
		{"HS256 keyed with the Ed25519 public key", forge(`{"alg":"HS256","typ":"JWT","kid":"`+kid+`"}`, claims, pub, sha256.New)},
		{"HS256 keyed with the public key's base64url", forge(`{"alg":"HS256","typ":"JWT","kid":"`+kid+`"}`, claims, []byte(base64.RawURLEncoding.EncodeToString(pub)), sha256.New)},
		{"alg none", forge(`{"alg":"none","typ":"JWT","kid":"`+kid+`"}`, claims, nil, nil)},
		{"aud missing", edForge(hdr, noAud, signing)},
		{"aud foreign", edForge(hdr, foreignAud, signing)},
		{"the refresh token", refresh.Value},
		{"the api_token", api},
		{"an mfa token", forge(`{"alg":"HS256","typ":"JWT"}`, mfaClaims, token.DeriveKey([]byte(testSecret), "mfa"), sha256.New)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/auth/me/", "/auth/verify/"} {
				r := e.do(t, request{method: "GET", path: path, bearer: tc.tok})
				if r.status != 401 || r.code() != codeInvalidToken || r.header.Get("WWW-Authenticate") == "" || len(r.setRaw) != 0 {
					t.Errorf("%s = %d %s, Set-Cookie %q; want 401 invalid_token", path, r.status, r.raw, r.setRaw)
				}
			}
		})
	}
	// The forger of the table signs what the service signs.
	if got := edForge(hdr, claims, signing); got != access {
		t.Fatalf("the signing key re-signs the access token as %s, want %s", got, access)
	}
	// Nothing changed.
	for _, path := range []string{"/auth/me/", "/auth/verify/"} {
		if r := e.do(t, request{method: "GET", path: path, bearer: access}); r.status != 200 {
			t.Errorf("%s with the session's token after the refusals = %d %s", path, r.status, r.raw)
		}
	}
	if r := e.do(t, request{method: "POST", path: "/auth/refresh/", cookies: []*http.Cookie{refresh}}); r.status != 200 {
		t.Errorf("refresh after the refusals = %d %s", r.status, r.raw)
	}
}

// TestEdDSAAudience: the aud checks of an EdDSA authd, with tokens its
// own key signs, so that aud is all that differs.
func TestEdDSAAudience(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, func(c *config.Config) {
		edDSA(c)
		c.Audience = []string{"api", "web"}
	})
	e.mustUser(t, "alice", "alice-password")
	access, _ := e.mustLogin(t, "alice", "alice-password")
	c, err := e.tokens.Verify(access, token.Access)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"api", "web"}, c.Audience); diff != "" {
		t.Errorf("aud (-want +got):\n%s", diff)
	}
	// The same session, signed by a keyring of another audience over the
	// same keys: refused for its aud alone.
	foreign, err := token.NewKeyring(token.Options{Issuer: e.cfg.Issuer, Secrets: [][]byte{[]byte(testSecret)}, Audience: []string{"billing"}, EdDSA: true, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	m := accesskeys.NewManager(accesskeys.Options{Store: e.store, Keyring: foreign, AccessTTL: time.Hour, Now: e.clock.Now})
	if err := m.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.Audience = nil
	tok, _, err := foreign.Sign(c, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := foreign.Verify(tok, token.Access); err != nil {
		t.Fatalf("the foreign token verifies for its own audience: %v", err)
	}
	for _, path := range []string{"/auth/me/", "/auth/verify/"} {
		if r := e.do(t, request{method: "GET", path: path, bearer: tok}); r.status != 401 || r.code() != codeInvalidToken {
			t.Errorf("%s with a foreign aud = %d %s, want 401", path, r.status, r.raw)
		}
		if r := e.do(t, request{method: "GET", path: path, bearer: access}); r.status != 200 {
			t.Errorf("%s with the token = %d %s", path, r.status, r.raw)
		}
	}
}
