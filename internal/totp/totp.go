// Package totp computes and checks time-based one-time passwords (RFC 6238,
// on the HOTP of RFC 4226), as authenticator apps show them: HMAC-SHA1,
// 6 digits, 30-second steps.
package totp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"hash"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The parameters of every code this service makes and accepts.
const (
	Digits     = 6
	Period     = 30 * time.Second
	SecretSize = 20 // bytes: RFC 4226's recommended 160 bits, SHA-1's block of key
	// Skew is how many steps before and after the current one are
	// accepted, for clocks that drift and users who type slowly.
	Skew = 1
)

// encoding is base32 without padding, as otpauth URLs carry secrets.
var encoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewSecret returns SecretSize random bytes.
func NewSecret() []byte {
	b := make([]byte, SecretSize)
	// crypto/rand.Read never fails (it crashes the program rather than
	// return an error), per its documentation since Go 1.24.
	_, _ = rand.Read(b)
	return b
}

// EncodeSecret is secret as a user types it into an app: base32, no padding.
func EncodeSecret(secret []byte) string { return encoding.EncodeToString(secret) }

// Step is the time step of t: whole periods since the Unix epoch.
func Step(t time.Time) int64 { return t.Unix() / int64(Period/time.Second) }

// HOTP is RFC 4226's code of key at counter, of digits digits (at most 9),
// under the hash h: RFC 6238 allows SHA-1, SHA-256 and SHA-512.
func HOTP(h func() hash.Hash, key []byte, counter uint64, digits int) string {
	m := hmac.New(h, key)
	var c [8]byte
	binary.BigEndian.PutUint64(c[:], counter)
	m.Write(c[:])
	sum := m.Sum(nil)
	// Dynamic truncation (RFC 4226 section 5.3).
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	s := strconv.FormatUint(uint64(bin%mod), 10)
	return strings.Repeat("0", digits-len(s)) + s
}

// Code is the code of secret for the time step step.
func Code(secret []byte, step int64) string {
	return HOTP(sha1.New, secret, uint64(step), Digits)
}

// WellFormed reports whether code has the shape of a code: exactly Digits
// ASCII digits, nothing around them.
func WellFormed(code string) bool {
	if len(code) != Digits {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}

// Match returns the time step, of those within Skew of now's, whose code
// of secret is code, and whether there is one. Every step is compared in
// constant time, whichever matches.
func Match(secret []byte, code string, now time.Time) (int64, bool) {
	if !WellFormed(code) {
		return 0, false
	}
	cur := Step(now)
	var found int64
	ok := 0
	for step := cur - Skew; step <= cur+Skew; step++ {
		eq := subtle.ConstantTimeCompare([]byte(Code(secret, step)), []byte(code))
		if eq == 1 && ok == 0 {
			found = step
		}
		ok |= eq
	}
	return found, ok == 1
}

// MaxIssuer is the longest issuer, in bytes, the service is configured
// with. The issuer appears twice in the otpauth URL, each byte escaped to
// up to three characters: with the longest username, the URL stays within
// about 520 bytes, a QR code a phone reads from a screen.
const MaxIssuer = 64

// URL is the otpauth:// URL of secret for account at issuer, the Key Uri
// Format authenticator apps read (as a QR code, usually):
// otpauth://totp/issuer:account?secret=..&issuer=..&algorithm=SHA1&digits=6&period=30.
func URL(issuer, account string, secret []byte) string {
	// A colon in the issuer would split the label elsewhere: escape it.
	esc := func(s string) string { return strings.ReplaceAll(url.PathEscape(s), ":", "%3A") }
	label := esc(issuer) + ":" + esc(account)
	return "otpauth://totp/" + label +
		"?secret=" + EncodeSecret(secret) +
		"&issuer=" + url.QueryEscape(issuer) +
		"&algorithm=SHA1&digits=" + strconv.Itoa(Digits) +
		"&period=" + strconv.Itoa(int(Period/time.Second))
}
