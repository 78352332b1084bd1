package token

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Access tokens may be signed with EdDSA (Ed25519, RFC 8037) instead of
// HS256, so that the services around authd verify them with public keys
// alone. The header is then {"alg":"EdDSA","typ":"JWT","kid":"..."}, the
// kid being the key's RFC 7638 thumbprint, and the claims are those of an
// HS256 token. Keys rotate without restart: SetAccessKeys swaps the whole
// set at once, and a token is checked against the set of the moment.
//
// Verification allocates what HS256's does (the claims) and no more: the
// signed part is copied into a pooled buffer for crypto/ed25519, which
// wants a []byte.

// edSigLen is the length of the unpadded base64url of an Ed25519 signature.
const edSigLen = 86

// ErrNoSigningKey is returned by Sign when no Ed25519 key signs yet.
var ErrNoSigningKey = errors.New("token: no Ed25519 key signs access tokens")

// EdKey is an Ed25519 key pair of access tokens.
type EdKey struct {
	Public  ed25519.PublicKey
	Private ed25519.PrivateKey // nil for a key that verifies only
}

// ID returns the kid of the key: the RFC 7638 thumbprint of its public
// JWK, in unpadded base64url.
func (k EdKey) ID() string { return EdKeyID(k.Public) }

// EdKeyID returns the RFC 7638 thumbprint of the Ed25519 public key pub:
// the SHA-256 of {"crv":"Ed25519","kty":"OKP","x":"..."}, in unpadded
// base64url.
func EdKeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + b64.EncodeToString(pub) + `"}`))
	return b64.EncodeToString(sum[:])
}

// AccessKeys are the Ed25519 keys of access tokens at one time: every key
// that verifies, and the id of the one that signs ("" when none does).
type AccessKeys struct {
	Signing string
	Keys    []EdKey
}

// edKeys holds the current key set of an EdDSA Issuer.
type edKeys struct {
	set  atomic.Pointer[edSet]
	bufs sync.Pool // of *[MaxLen]byte, the signed part of a token
}

// edSet is one immutable set of keys.
type edSet struct {
	signing *edKey // nil: none signs
	keys    []*edKey
}

// edKey is one key with its kid and the header segment of its tokens.
type edKey struct {
	kid    string
	header string
	pub    ed25519.PublicKey
	priv   ed25519.PrivateKey
}

// NewEdDSAIssuer returns an Issuer of access tokens signed with EdDSA by
// the keys SetAccessKeys gives it; it has none until then. Their aud is
// audience, when not empty. Other types of token it signs and verifies
// with EdDSA too, but Keyring gives it access tokens only.
func NewEdDSAIssuer(issuer string, audience []string, now func() time.Time) (*Issuer, error) {
	// newIssuer wants a key; this one never signs, ed takes its place.
	i, err := newIssuer(issuer, [][]byte{make([]byte, MinKeyLen)}, now, audience)
	if err != nil {
		return nil, err
	}
	i.keys = nil
	i.ed = &edKeys{}
	i.ed.bufs.New = func() any { return new([MaxLen]byte) }
	i.ed.set.Store(&edSet{})
	return i, nil
}

// SetAccessKeys replaces the Ed25519 keys of an Issuer made by
// NewEdDSAIssuer: tokens are signed with ks.Signing from now on, and those
// of any key of ks verify. Every key must be valid, the signing one must
// be among them and have its private key.
func (i *Issuer) SetAccessKeys(ks AccessKeys) error {
	if i.ed == nil {
		return errors.New("token: access keys of an HS256 issuer")
	}
	set := &edSet{}
	for n, k := range ks.Keys {
		if len(k.Public) != ed25519.PublicKeySize || (k.Private != nil && len(k.Private) != ed25519.PrivateKeySize) {
			return fmt.Errorf("token: Ed25519 key %d has the wrong size", n)
		}
		if k.Private != nil && !k.Public.Equal(k.Private.Public()) {
			return fmt.Errorf("token: Ed25519 key %d: the public key is not that of the private key", n)
		}
		kid := k.ID()
		ek := &edKey{kid: kid, pub: k.Public, priv: k.Private,
			header: b64.EncodeToString([]byte(`{"alg":"EdDSA","typ":"JWT","kid":"` + kid + `"}`))}
		set.keys = append(set.keys, ek)
		if kid == ks.Signing {
			set.signing = ek
		}
	}
	if ks.Signing != "" && (set.signing == nil || set.signing.priv == nil) {
		return fmt.Errorf("token: the signing key %s is not among the keys, or has no private key", ks.Signing)
	}
	i.ed.set.Store(set)
	return nil
}

// sign returns the token of the claims JSON payload, signed by the
// signing key.
func (e *edKeys) sign(payload []byte) (string, error) {
	k := e.set.Load().signing
	if k == nil {
		return "", ErrNoSigningKey
	}
	n := len(k.header) + 1 + b64.EncodedLen(len(payload)) + 1 + edSigLen
	if n > MaxLen {
		return "", fmt.Errorf("token: sign: token would be %d bytes, over %d", n, MaxLen)
	}
	tok := make([]byte, 0, n)
	tok = append(tok, k.header...)
	tok = append(tok, '.')
	tok = b64.AppendEncode(tok, payload)
	sig := ed25519.Sign(k.priv, tok)
	tok = append(tok, '.')
	tok = b64.AppendEncode(tok, sig)
	return string(tok), nil
}

// verify checks the header segment head and the signature segment sig
// of signed, the part of a token the signature covers.
func (e *edKeys) verify(head, sig, signed string) error {
	k, err := e.set.Load().keyFor(head)
	if err != nil {
		return err
	}
	if len(sig) != edSigLen {
		return ErrSignature
	}
	var sb [ed25519.SignatureSize]byte
	if _, ok := decode(sb[:], sig); !ok {
		return fmt.Errorf("%w: signature is not base64url", ErrMalformed)
	}
	buf := e.bufs.Get().(*[MaxLen]byte)
	n := copy(buf[:], signed)
	ok := ed25519.Verify(k.pub, buf[:n], sb[:])
	e.bufs.Put(buf)
	if !ok {
		return ErrSignature
	}
	return nil
}

// keyFor returns the key named by the header segment head. The header must
// name its key: alg EdDSA, typ JWT if present, and a kid of the set.
func (s *edSet) keyFor(head string) (*edKey, error) {
	for _, k := range s.keys {
		if head == k.header {
			return k, nil
		}
	}
	h, err := readHeader(head, "EdDSA")
	if err != nil {
		return nil, err
	}
	for _, k := range s.keys {
		if h.hasKid && h.kid == k.kid {
			return k, nil
		}
	}
	return nil, ErrUnknownKey
}
