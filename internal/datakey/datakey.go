// Package datakey keeps small secrets in the database encrypted with the
// operator's data key (AUTHD_DATA_KEY), kept outside it: a copy of the
// database alone does not reveal them. Without a data key they are kept
// as they are, marked so, and a key set later still reads them.
//
// The AES-256-GCM key is derived from the data key with HKDF-SHA256 (RFC
// 5869, no salt, the info "authd data key v1: totp secrets"), so a data
// key of any length of 32 bytes or more gives a key of full strength, and
// the data key itself is never the cipher's key.
package datakey

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// MinLen is the shortest data key accepted, in bytes.
const MinLen = 32

// info is the HKDF label of the AES key; another use of the data key gets
// another label.
const info = "authd data key v1: totp secrets"

// The prefixes of a kept value: how it is kept.
const (
	prefixPlain  = "plain:"
	prefixSealed = "aes256gcm:"
)

// ErrNoKey: a value sealed with a data key, read without one.
var ErrNoKey = errors.New("datakey: the value is encrypted, and no data key (AUTHD_DATA_KEY) is set")

// ErrCorrupt: a kept value that is not one this package wrote, or that
// does not open with the data key (another key, or tampered with).
var ErrCorrupt = errors.New("datakey: the value does not open with the data key, or is corrupt")

var b64 = base64.RawURLEncoding

// Box seals and opens values. Its zero value, or New(nil), keeps them
// plain.
type Box struct {
	aead cipher.AEAD
}

// New returns a Box sealing with key, or keeping values plain when key is
// empty. A non-empty key must be at least MinLen bytes.
func New(key []byte) (*Box, error) {
	if len(key) == 0 {
		return &Box{}, nil
	}
	if len(key) < MinLen {
		return nil, fmt.Errorf("datakey: key is %d bytes, want at least %d", len(key), MinLen)
	}
	k, err := hkdf.Key(sha256.New, key, nil, info, 32)
	if err != nil {
		return nil, fmt.Errorf("datakey: derive: %w", err)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("datakey: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("datakey: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Encrypts reports whether the Box seals what it keeps.
func (b *Box) Encrypts() bool { return b != nil && b.aead != nil }

// Seal returns plain as it is to be kept. bind names what the value
// belongs to (a user id): a sealed value opens only with the same bind,
// so it cannot be moved to another row.
func (b *Box) Seal(plain []byte, bind string) string {
	if !b.Encrypts() {
		return prefixPlain + b64.EncodeToString(plain)
	}
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(plain)+b.aead.Overhead())
	_, _ = rand.Read(nonce) // never fails; see crypto/rand.Read
	return prefixSealed + b64.EncodeToString(b.aead.Seal(nonce, nonce, plain, []byte(bind)))
}

// Open returns the value that Seal kept as kept, with the same bind.
func (b *Box) Open(kept, bind string) ([]byte, error) {
	if rest, ok := strings.CutPrefix(kept, prefixPlain); ok {
		v, err := b64.DecodeString(rest)
		if err != nil {
			return nil, ErrCorrupt
		}
		return v, nil
	}
	rest, ok := strings.CutPrefix(kept, prefixSealed)
	if !ok {
		return nil, ErrCorrupt
	}
	if !b.Encrypts() {
		return nil, ErrNoKey
	}
	raw, err := b64.DecodeString(rest)
	if err != nil || len(raw) < b.aead.NonceSize()+b.aead.Overhead() {
		return nil, ErrCorrupt
	}
	n := b.aead.NonceSize()
	v, err := b.aead.Open(nil, raw[:n], raw[n:], []byte(bind))
	if err != nil {
		return nil, ErrCorrupt
	}
	return v, nil
}
