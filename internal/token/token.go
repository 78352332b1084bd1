// Package token issues and verifies the service's JSON Web Tokens: access
// and refresh tokens, and the short-lived Intra identity that the api_token
// cookie carries.
//
// Tokens are compact JWS with HS256 (HMAC-SHA-256), written and read by this
// package itself: the header is {"alg":"HS256","typ":"JWT","kid":"..."}, and
// the claims are a flat JSON object. Verification is strict. It refuses any
// other algorithm, any header parameter it does not know, padded or
// non-canonical base64url, duplicate claims, claims of the wrong JSON type,
// and anything after the claims object, and it reads the claims only once
// the signature has been checked.
//
// # Why not encoding/json and encoding/base64
//
// The header and claims are read by a JSON scanner of this package
// (json.go), and the segments by a base64url decoder of its own
// (base64.go). encoding/json with base64.RawURLEncoding.Strict() was
// measured in their place against a budget of 1.5 µs and 4 allocations
// per Verify, and stays far outside it. BenchmarkVerify, an access
// token, with each version in turn in one test binary, six interleaved
// runs, medians (Go 1.26, 2 shared cores, load average 5 to 11):
//
//	                                     ns/op    B/op  allocs/op
//	this scanner and decoder              1557     176          1
//	encoding/json + Strict(), and the    26012    6693        138
//	  checks encoding/json lacks
//	encoding/json + Strict() alone,       9100    3595         20
//	  accepting what must be refused
//
// The fastest runs took 1205, 20467 and 8292 ns/op; BenchmarkVerifyParallel
// gave medians of 1847, 22525 and 7394 ns/op with the same allocations.
// encoding/json copies each string it reads into an
// allocation of its own, and cannot refuse a repeated claim, a claim name
// in another case than a field's (it matches them regardless of case), a
// lone surrogate escape (it substitutes U+FFFD), nesting deeper than
// maxDepth, or null for a string claim; the pass over its Decoder's tokens
// that finds those costs more than the parse. Strict() still skips CR and
// LF, which must be refused, and decodes only from a []byte, which a
// token, a string, has to be copied into first. The fuzz target FuzzVerify
// checks that whatever the scanner accepts, encoding/json reads alike.
package token

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Type tells what a token is for. A token of one type is never accepted
// as another.
type Type string

// The token types.
const (
	Access  Type = "access"  // Bearer token of a session
	Refresh Type = "refresh" // refresh_token cookie of a session
	Intra   Type = "intra"   // short-lived identity from the 42 Intra provider (api_token cookie)
	MFA     Type = "mfa"     // a first factor passed, waiting for the second (mfa_token)
)

// Claims are the contents of a token. The JSON name of each claim is given
// in brackets; empty strings and a zero IntraID are left out of the token.
type Claims struct {
	Issuer    string    // [iss] set by Sign from the Issuer
	Audience  []string  // [aud] set by Sign on access tokens when the Issuer has an audience; a string when one
	Subject   string    // [sub] user id as a decimal string; required for access and refresh
	Username  string    // [username] required for access
	SessionID string    // [sid] required for access and refresh
	ID        string    // [jti] always required; Sign makes a random one when empty
	IssuedAt  time.Time // [iat] unix seconds; set by Sign
	ExpiresAt time.Time // [exp] unix seconds; set by Sign; always required
	Type      Type      // [token_type] always required

	IntraID     int64  // [intra_id] required, and positive, for intra
	IntraLogin  string // [intra_login] required for intra
	Email       string // [email] optional
	DisplayName string // [displayname] optional
	ImageLink   string // [image_link] optional

	// AuthTime is when the session's user last proved who they are
	// (password, Intra login); optional, unix seconds, left out when zero.
	AuthTime time.Time // [auth_time]
}

// ErrInvalid is wrapped by every error Verify returns. The more specific
// errors below wrap it in turn.
var ErrInvalid = errors.New("token: invalid")

// Reasons a token is refused; each wraps ErrInvalid.
var (
	ErrTooLarge   = fmt.Errorf("%w: longer than %d bytes", ErrInvalid, MaxLen)
	ErrMalformed  = fmt.Errorf("%w: malformed", ErrInvalid)
	ErrAlgorithm  = fmt.Errorf("%w: algorithm not the one configured", ErrInvalid)
	ErrUnknownKey = fmt.Errorf("%w: unknown key id", ErrInvalid)
	ErrSignature  = fmt.Errorf("%w: bad signature", ErrInvalid)
	ErrExpired    = fmt.Errorf("%w: expired", ErrInvalid)
	ErrWrongType  = fmt.Errorf("%w: wrong token type", ErrInvalid)
	ErrNotYet     = fmt.Errorf("%w: not valid yet (nbf)", ErrInvalid)

	errIssuer   = fmt.Errorf("%w: wrong issuer", ErrInvalid)
	errAudience = fmt.Errorf("%w: no audience of this service", ErrInvalid)
	errFuture   = fmt.Errorf("%w: issued in the future", ErrInvalid)
)

const (
	// MaxLen is the length in bytes of the longest token Verify reads, and
	// Sign writes.
	MaxLen = 4096

	// MinKeyLen is the length in bytes of the shortest signing key.
	MinKeyLen = 32

	// Leeway is the clock skew allowed between the issuer and the verifier.
	// A token is expired once exp+Leeway is reached: it is accepted while
	// now < exp+Leeway. A token whose iat is later than now+Leeway is
	// refused.
	Leeway = 30 * time.Second
)

const (
	leewaySec = int64(Leeway / time.Second)
	sigLen    = 43 // unpadded base64url of a SHA-256 MAC
)

// b64 encodes the segments of a token.
var b64 = base64.RawURLEncoding

// Issuer signs and verifies tokens. It is safe for concurrent use.
type Issuer struct {
	issuer string
	keys   []*key // keys[0] signs
	now    func() time.Time
	// audience, when not empty, is the aud of the access tokens Sign
	// writes; Verify then wants an access token's aud to hold one of them.
	audience []string
	// ed, when not nil, signs and verifies in the place of keys, with
	// EdDSA (eddsa.go).
	ed *edKeys
}

// key is one HMAC key with its id and a pool of MAC states.
type key struct {
	kid string
	// header is the base64url header segment of the tokens this key signs.
	header string
	macs   sync.Pool // of *mac
}

// mac is a reusable HMAC-SHA-256 state with room for the message, so that
// checking a token allocates nothing.
type mac struct {
	h   hash.Hash
	sum [sha256.Size]byte
	msg [MaxLen]byte
}

// NewIssuer returns an Issuer that names itself issuer in the iss claim,
// signs with keys[0] and verifies with any of keys, so that keys can be
// rotated. Every key must be at least MinKeyLen bytes. A nil now means
// time.Now.
func NewIssuer(issuer string, keys [][]byte, now func() time.Time) (*Issuer, error) {
	return newIssuer(issuer, keys, now, nil)
}

// newIssuer is NewIssuer, the access tokens of the Issuer carrying
// audience when it is not empty.
func newIssuer(issuer string, keys [][]byte, now func() time.Time, audience []string) (*Issuer, error) {
	if len(keys) == 0 {
		return nil, errors.New("token: no signing key")
	}
	if !utf8.ValidString(issuer) {
		return nil, errors.New("token: issuer is not valid UTF-8")
	}
	if now == nil {
		now = time.Now
	}
	for _, a := range audience {
		if a == "" || !utf8.ValidString(a) {
			return nil, errors.New("token: an audience is empty or not valid UTF-8")
		}
	}
	i := &Issuer{issuer: issuer, now: now, audience: slices.Clone(audience)}
	for n, secret := range keys {
		if len(secret) < MinKeyLen {
			return nil, fmt.Errorf("token: key %d is %d bytes, need at least %d", n, len(secret), MinKeyLen)
		}
		secret := append([]byte(nil), secret...)
		k := &key{kid: keyID(secret)}
		k.header = b64.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT","kid":"` + k.kid + `"}`))
		k.macs.New = func() any { return &mac{h: hmac.New(sha256.New, secret)} }
		i.keys = append(i.keys, k)
	}
	return i, nil
}

// keyID returns the kid header value of tokens signed with secret: the
// unpadded base64url of the first 8 bytes of its SHA-256 hash.
func keyID(secret []byte) string {
	sum := sha256.Sum256(secret)
	return b64.EncodeToString(sum[:8])
}

// Sign returns a token of c signed with the first key, and the claims as
// signed. It sets iss to the Issuer's name, iat to now, exp to now+ttl
// (both truncated to the second) and, when c.ID is empty, jti to 16 random
// bytes in base64url. It refuses claims that Verify would refuse: an unknown
// type, a required claim missing, a string that is not valid UTF-8.
func (i *Issuer) Sign(c Claims, ttl time.Duration) (string, Claims, error) {
	return i.SignAt(c, i.now(), ttl)
}

// SignAt is Sign with iat at instead of now: signing the same claims at
// the same instant again gives the same token, which lets a token made
// earlier be handed out again without keeping it.
func (i *Issuer) SignAt(c Claims, at time.Time, ttl time.Duration) (string, Claims, error) {
	if ttl <= 0 {
		return "", Claims{}, fmt.Errorf("token: sign: lifetime %v is not positive", ttl)
	}
	now := at
	c.Issuer = i.issuer
	c.IssuedAt = time.Unix(now.Unix(), 0).UTC()
	c.ExpiresAt = time.Unix(now.Add(ttl).Unix(), 0).UTC()
	if !c.AuthTime.IsZero() {
		c.AuthTime = time.Unix(c.AuthTime.Unix(), 0).UTC()
	}
	if c.ID == "" {
		var id [16]byte
		if _, err := rand.Read(id[:]); err != nil {
			return "", Claims{}, fmt.Errorf("token: sign: %w", err)
		}
		c.ID = b64.EncodeToString(id[:])
	}
	switch c.Type {
	case Access, Refresh, Intra, MFA:
	default:
		return "", Claims{}, fmt.Errorf("token: sign: unknown token type %q", c.Type)
	}
	c.Audience = nil
	if c.Type == Access {
		c.Audience = i.audience
	}
	if name := missing(&c, c.Type); name != "" {
		return "", Claims{}, fmt.Errorf("token: sign: %s token without %s", c.Type, name)
	}
	for _, s := range [...]string{c.Subject, c.Username, c.SessionID, c.ID, string(c.Type), c.IntraLogin, c.Email, c.DisplayName, c.ImageLink} {
		if !utf8.ValidString(s) {
			return "", Claims{}, errors.New("token: sign: claim is not valid UTF-8")
		}
	}

	var pb [MaxLen]byte
	payload := appendClaims(pb[:0], &c)
	if i.ed != nil {
		tok, err := i.ed.sign(payload)
		if err != nil {
			return "", Claims{}, err
		}
		return tok, c, nil
	}
	k := i.keys[0]
	n := len(k.header) + 1 + b64.EncodedLen(len(payload)) + 1 + sigLen
	if n > MaxLen {
		return "", Claims{}, fmt.Errorf("token: sign: token would be %d bytes, over %d", n, MaxLen)
	}
	tok := make([]byte, 0, n)
	tok = append(tok, k.header...)
	tok = append(tok, '.')
	tok = b64.AppendEncode(tok, payload)
	m := k.macs.Get().(*mac)
	m.h.Reset()
	m.h.Write(tok)
	sum := m.h.Sum(m.sum[:0])
	tok = append(tok, '.')
	tok = b64.AppendEncode(tok, sum)
	k.macs.Put(m)
	return string(tok), c, nil
}

// Verify checks tok and returns its claims: its length, its header (alg
// HS256, typ JWT if present, kid naming one of the keys), its signature,
// the syntax of its claims, its issuer, that its type is want, that the
// claims required for that type are present, and its times. Every error
// wraps ErrInvalid, and most a more specific error as well.
func (i *Issuer) Verify(tok string, want Type) (Claims, error) {
	head, body, sig, signed, err := split(tok)
	if err != nil {
		return Claims{}, err
	}
	if i.ed != nil {
		if err := i.ed.verify(head, sig, signed); err != nil {
			return Claims{}, err
		}
		return i.claims(body, want)
	}
	k, err := i.keyFor(head)
	if err != nil {
		return Claims{}, err
	}
	if len(sig) != sigLen {
		return Claims{}, ErrSignature
	}
	var sb [sha256.Size]byte
	if _, ok := decode(sb[:], sig); !ok {
		return Claims{}, fmt.Errorf("%w: signature is not base64url", ErrMalformed)
	}
	var ok bool
	if k != nil {
		ok = k.check(signed, sb[:])
	} else {
		ok = false
		for _, k := range i.keys {
			if k.check(signed, sb[:]) {
				ok = true
				break
			}
		}
	}
	if !ok {
		return Claims{}, ErrSignature
	}
	return i.claims(body, want)
}

// split cuts tok into its header, claims and signature segments, and
// returns with them the part the signature covers.
func split(tok string) (head, body, sig, signed string, err error) {
	if len(tok) > MaxLen {
		return "", "", "", "", ErrTooLarge
	}
	head, rest, ok := strings.Cut(tok, ".")
	if !ok {
		return "", "", "", "", fmt.Errorf("%w: not three segments", ErrMalformed)
	}
	body, sig, ok = strings.Cut(rest, ".")
	if !ok || strings.IndexByte(sig, '.') >= 0 {
		return "", "", "", "", fmt.Errorf("%w: not three segments", ErrMalformed)
	}
	return head, body, sig, tok[:len(head)+1+len(body)], nil
}

// claims reads the claims segment body of a token whose signature has
// been checked, and validates them.
func (i *Issuer) claims(body string, want Type) (Claims, error) {
	var pb [MaxLen / 4 * 3]byte
	n, ok := decode(pb[:], body)
	if !ok {
		return Claims{}, fmt.Errorf("%w: claims are not base64url", ErrMalformed)
	}
	c, f, err := parseClaims(string(pb[:n]))
	if err != nil {
		return Claims{}, err
	}
	if err := i.validate(&c, &f, want); err != nil {
		return Claims{}, err
	}
	return c, nil
}

// readHeader decodes and parses the header segment head, and checks that
// its alg is alg and its typ, if any, JWT.
func readHeader(head, alg string) (header, error) {
	var hb [MaxLen / 4 * 3]byte
	n, ok := decode(hb[:], head)
	if !ok {
		return header{}, fmt.Errorf("%w: header is not base64url", ErrMalformed)
	}
	h, err := parseHeader(string(hb[:n]))
	if err != nil {
		return header{}, err
	}
	if h.alg != alg {
		return header{}, ErrAlgorithm
	}
	if h.hasTyp && h.typ != "JWT" {
		return header{}, fmt.Errorf("%w: typ %q is not JWT", ErrMalformed, h.typ)
	}
	return h, nil
}

// keyFor returns the key named by the header segment head, or nil when the
// header names none and every key is to be tried.
func (i *Issuer) keyFor(head string) (*key, error) {
	for _, k := range i.keys {
		if head == k.header {
			return k, nil
		}
	}
	h, err := readHeader(head, "HS256")
	if err != nil {
		return nil, err
	}
	if !h.hasKid {
		return nil, nil
	}
	for _, k := range i.keys {
		if h.kid == k.kid {
			return k, nil
		}
	}
	return nil, ErrUnknownKey
}

// check reports whether sig is the MAC of msg under k, in constant time.
func (k *key) check(msg string, sig []byte) bool {
	m := k.macs.Get().(*mac)
	n := copy(m.msg[:], msg)
	m.h.Reset()
	m.h.Write(m.msg[:n])
	ok := hmac.Equal(m.h.Sum(m.sum[:0]), sig)
	k.macs.Put(m)
	return ok
}

// validate checks the parsed claims c, whose numeric claims are in f,
// against the Issuer, the wanted type and the clock.
func (i *Issuer) validate(c *Claims, f *numbers, want Type) error {
	if c.Issuer != i.issuer {
		return errIssuer
	}
	if c.Type != want {
		return fmt.Errorf("%w: %q, want %q", ErrWrongType, c.Type, want)
	}
	if want == Access && len(i.audience) > 0 {
		aud, err := audienceOf(f.aud, i.audience)
		if err != nil {
			return err
		}
		c.Audience = aud
	}
	if !f.hasExp {
		return fmt.Errorf("%w: no exp claim", ErrMalformed)
	}
	if c.IntraID < 0 {
		return fmt.Errorf("%w: intra_id is negative", ErrMalformed)
	}
	if name := missing(c, want); name != "" {
		return fmt.Errorf("%w: no %s claim", ErrMalformed, name)
	}
	now := i.now().Unix()
	if f.exp <= now-leewaySec {
		return ErrExpired
	}
	if f.hasIat && f.iat > now+leewaySec {
		return errFuture
	}
	// Sign never sets nbf, but a token that carries one is held to it, with
	// the leeway of exp (RFC 7519 section 4.1.5).
	if f.hasNbf && f.nbf > now+leewaySec {
		return ErrNotYet
	}
	c.ExpiresAt = time.Unix(f.exp, 0).UTC()
	if f.hasIat {
		c.IssuedAt = time.Unix(f.iat, 0).UTC()
	}
	return nil
}

// missing returns the JSON name of the first claim that a token of type t
// requires and c lacks, or "" when none is missing. An empty string counts
// as missing, as does an intra_id that is not positive.
func missing(c *Claims, t Type) string {
	switch {
	case c.ID == "":
		return "jti"
	case c.Type == "":
		return "token_type"
	}
	switch t {
	case Access:
		switch {
		case c.Subject == "":
			return "sub"
		case c.Username == "":
			return "username"
		case c.SessionID == "":
			return "sid"
		}
	case Refresh:
		switch {
		case c.Subject == "":
			return "sub"
		case c.SessionID == "":
			return "sid"
		}
	case MFA:
		if c.Subject == "" {
			return "sub"
		}
	case Intra:
		switch {
		case c.IntraID <= 0:
			return "intra_id"
		case c.IntraLogin == "":
			return "intra_login"
		}
	}
	return ""
}
