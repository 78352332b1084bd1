package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Verifier checks authd's EdDSA access tokens with the keys of a KeySet.
// It cannot know of a logout: a token stays good here until it expires
// (at most AUTHD_ACCESS_TTL); a service that must refuse it at once asks
// authd's gate, GET /auth/verify/, instead.
type Verifier struct {
	Keys *KeySet
	// Issuer is authd's AUTHD_ISSUER ("authd" by default).
	Issuer string
	// Audience, when not empty, must be among the token's aud: one of
	// authd's AUTHD_AUDIENCE, the one naming this service.
	Audience string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Claims are those of an access token a service needs.
type Claims struct {
	Issuer    string   `json:"iss"`
	Audience  audience `json:"aud"`
	Subject   string   `json:"sub"` // the user id
	Username  string   `json:"username"`
	SessionID string   `json:"sid"`
	ID        string   `json:"jti"`
	IssuedAt  int64    `json:"iat"`
	ExpiresAt int64    `json:"exp"`
	NotBefore int64    `json:"nbf"`
	TokenType string   `json:"token_type"`
}

// audience is aud, a string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("aud is neither a string nor an array of strings")
	}
	*a = many
	return nil
}

// leeway is the clock skew allowed, as authd allows it.
const leeway = 30 * time.Second

// ErrInvalid is wrapped by every refusal.
var ErrInvalid = errors.New("invalid access token")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Verify checks tok: an EdDSA signature by a key of the JWKS named by its
// kid (any other alg is refused, whatever key it names), then iss, aud,
// token_type "access", the required claims and the times.
func (v *Verifier) Verify(ctx context.Context, tok string) (Claims, error) {
	if len(tok) > 4096 {
		return Claims{}, invalid("longer than 4096 bytes")
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return Claims{}, invalid("not three segments")
	}
	var h struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
		Kid string `json:"kid"`
	}
	if err := decodeSegment(parts[0], &h); err != nil {
		return Claims{}, invalid("header: %v", err)
	}
	if h.Alg != "EdDSA" {
		return Claims{}, invalid("alg %q, want EdDSA", h.Alg)
	}
	if h.Typ != "" && h.Typ != "JWT" {
		return Claims{}, invalid("typ %q", h.Typ)
	}
	key, err := v.Keys.Key(ctx, h.Kid)
	if err != nil {
		return Claims{}, invalid("kid %q: %v", h.Kid, err)
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(parts[2])
	if err != nil || !ed25519.Verify(key, []byte(parts[0]+"."+parts[1]), sig) {
		return Claims{}, invalid("bad signature")
	}
	var c Claims
	if err := decodeSegment(parts[1], &c); err != nil {
		return Claims{}, invalid("claims: %v", err)
	}
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	switch {
	case c.Issuer != v.Issuer:
		return Claims{}, invalid("iss %q", c.Issuer)
	case v.Audience != "" && !contains(c.Audience, v.Audience):
		return Claims{}, invalid("aud %q does not name %q", c.Audience, v.Audience)
	case c.TokenType != "access":
		return Claims{}, invalid("token_type %q", c.TokenType)
	case c.Subject == "" || c.Username == "" || c.SessionID == "" || c.ID == "" || c.ExpiresAt == 0:
		return Claims{}, invalid("a required claim is missing")
	case now.Unix() >= c.ExpiresAt+int64(leeway/time.Second):
		return Claims{}, invalid("expired")
	case c.NotBefore != 0 && c.NotBefore > now.Add(leeway).Unix():
		return Claims{}, invalid("not valid yet")
	}
	return c, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// decodeSegment decodes a base64url JSON segment into v.
func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
