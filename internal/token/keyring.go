package token

import (
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"
)

// Each type of token has keys of its own, derived from the configured or
// generated secrets with HKDF-SHA256 (RFC 5869), the info being one label
// per purpose. The material other services are given to verify access
// tokens, the access key, can therefore never sign a refresh token, an
// api_token or an mfa_token: each of those needs the secret itself.
//
// Tokens signed with a secret itself, as authd signed them before keys
// had purposes, are not accepted: whoever held the secret to verify access
// tokens could forge them. The change is a clean cut, once: users log in
// again.

// purposes are the token types with keys of their own. mfa is the
// second step of a login with two-factor authentication.
var purposes = []Type{Access, Refresh, Intra, "mfa"}

// DerivedKeyLen is the length of a key DeriveKey returns, in bytes.
const DerivedKeyLen = 32

// DeriveKey returns the HS256 key of the tokens of type t derived from
// secret: HKDF-SHA256 with no salt and the info "authd token key v1: "
// followed by the type.
func DeriveKey(secret []byte, t Type) []byte {
	k, err := hkdf.Key(sha256.New, secret, nil, "authd token key v1: "+string(t), DerivedKeyLen)
	if err != nil {
		// Only a length over 255 hash sizes fails.
		panic("token: hkdf: " + err.Error())
	}
	return k
}

// Options configure a Keyring.
type Options struct {
	// Issuer is the iss claim of every token.
	Issuer string
	// Secrets are the HS256 secrets, each at least MinKeyLen bytes; the
	// keys derived from the first sign, those of all verify.
	Secrets [][]byte
	// Audience, when not empty, is the aud of access tokens; Verify then
	// wants one of them in an access token's aud.
	Audience []string
	// EdDSA signs access tokens with the Ed25519 keys SetAccessKeys gives,
	// in the place of HS256.
	EdDSA bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Keyring signs and verifies every type of token, each with keys of its
// own. It is safe for concurrent use.
type Keyring struct {
	byType map[Type]*Issuer
	access *Issuer // byType[Access]
	// accessSecrets are the HS256 keys of access tokens, the signing one
	// first, whatever the algorithm of access tokens is.
	accessSecrets [][]byte
}

// NewKeyring returns a Keyring of o.
func NewKeyring(o Options) (*Keyring, error) {
	if len(o.Secrets) == 0 {
		return nil, errors.New("token: no signing key")
	}
	for n, s := range o.Secrets {
		if len(s) < MinKeyLen {
			return nil, fmt.Errorf("token: key %d is %d bytes, need at least %d", n, len(s), MinKeyLen)
		}
	}
	r := &Keyring{byType: make(map[Type]*Issuer, len(purposes))}
	for _, t := range purposes {
		keys := make([][]byte, len(o.Secrets))
		for n, s := range o.Secrets {
			keys[n] = DeriveKey(s, t)
		}
		var aud []string
		if t == Access {
			aud = o.Audience
			r.accessSecrets = keys
		}
		var (
			i   *Issuer
			err error
		)
		if t == Access && o.EdDSA {
			i, err = NewEdDSAIssuer(o.Issuer, aud, o.Now)
		} else {
			i, err = newIssuer(o.Issuer, keys, o.Now, aud)
		}
		if err != nil {
			return nil, err
		}
		r.byType[t] = i
	}
	r.access = r.byType[Access]
	return r, nil
}

// Sign returns a token of c signed with the key of its type, as
// Issuer.Sign does.
func (r *Keyring) Sign(c Claims, ttl time.Duration) (string, Claims, error) {
	i := r.byType[c.Type]
	if i == nil {
		return "", Claims{}, fmt.Errorf("token: sign: unknown token type %q", c.Type)
	}
	return i.Sign(c, ttl)
}

// SignAt is Sign with iat at, as Issuer.SignAt.
func (r *Keyring) SignAt(c Claims, at time.Time, ttl time.Duration) (string, Claims, error) {
	i := r.byType[c.Type]
	if i == nil {
		return "", Claims{}, fmt.Errorf("token: sign: unknown token type %q", c.Type)
	}
	return i.SignAt(c, at, ttl)
}

// Verify checks tok, a token of type want, with the keys of that type, as
// Issuer.Verify does.
func (r *Keyring) Verify(tok string, want Type) (Claims, error) {
	i := r.byType[want]
	if i == nil {
		return Claims{}, fmt.Errorf("%w: %q, no such token type", ErrWrongType, want)
	}
	return i.Verify(tok, want)
}

// SetAccessKeys replaces the Ed25519 keys of access tokens (see
// Issuer.SetAccessKeys); it fails unless the Keyring signs them with EdDSA.
func (r *Keyring) SetAccessKeys(ks AccessKeys) error {
	return r.access.SetAccessKeys(ks)
}

// AccessSecrets returns the HS256 keys that verify access tokens signed
// with HS256, the signing one first: what another service holds to verify
// them on its own. They sign nothing else.
func (r *Keyring) AccessSecrets() [][]byte {
	out := make([][]byte, len(r.accessSecrets))
	for n, k := range r.accessSecrets {
		out[n] = append([]byte(nil), k...)
	}
	return out
}

// HS256KeyID returns the kid of the tokens an HS256 key signs: the
// unpadded base64url of the first 8 bytes of its SHA-256.
func HS256KeyID(key []byte) string { return keyID(key) }
