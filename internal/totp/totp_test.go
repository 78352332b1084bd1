package totp

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"net/url"
	"testing"
	"time"
)

// TestRFC6238Vectors checks the test vectors of RFC 6238, Appendix B: 8
// digits, 30-second steps from the Unix epoch, and the seeds the RFC gives
// each hash (the ASCII "1234567890" repeated to the hash's size).
func TestRFC6238Vectors(t *testing.T) {
	t.Parallel()
	seed20 := []byte("12345678901234567890")
	seed32 := []byte("12345678901234567890123456789012")
	seed64 := []byte("1234567890123456789012345678901234567890123456789012345678901234")
	type vector struct {
		unix int64
		code map[string]string // by hash
	}
	hashes := map[string]struct {
		h   func() hash.Hash
		key []byte
	}{
		"SHA1":   {sha1.New, seed20},
		"SHA256": {sha256.New, seed32},
		"SHA512": {sha512.New, seed64},
	}
	for _, v := range []vector{
		{59, map[string]string{"SHA1": "94287082", "SHA256": "46119246", "SHA512": "90693936"}},
		{1111111109, map[string]string{"SHA1": "07081804", "SHA256": "68084774", "SHA512": "25091201"}},
		{1111111111, map[string]string{"SHA1": "14050471", "SHA256": "67062674", "SHA512": "99943326"}},
		{1234567890, map[string]string{"SHA1": "89005924", "SHA256": "91819424", "SHA512": "93441116"}},
		{2000000000, map[string]string{"SHA1": "69279037", "SHA256": "90698825", "SHA512": "38618901"}},
		{20000000000, map[string]string{"SHA1": "65353130", "SHA256": "77737706", "SHA512": "47863826"}},
	} {
		step := Step(time.Unix(v.unix, 0))
		for name, want := range v.code {
			h := hashes[name]
			if got := HOTP(h.h, h.key, uint64(step), 8); got != want {
				t.Errorf("%s at %d: HOTP = %s, want %s", name, v.unix, got, want)
			}
		}
		// Code is the 6-digit SHA-1 code: the last 6 digits of the 8.
		if got, want := Code(seed20, step), v.code["SHA1"][2:]; got != want {
			t.Errorf("Code at %d = %s, want %s", v.unix, got, want)
		}
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	secret := []byte("12345678901234567890")
	now := time.Unix(1111111111, 0) // step 37037037
	cur := Step(now)
	for _, tc := range []struct {
		name     string
		code     string
		wantStep int64
		wantOK   bool
	}{
		{"current", Code(secret, cur), cur, true},
		{"previous", Code(secret, cur-1), cur - 1, true},
		{"next", Code(secret, cur+1), cur + 1, true},
		{"two back", Code(secret, cur-2), 0, false},
		{"two ahead", Code(secret, cur+2), 0, false},
		{"empty", "", 0, false},
		{"five digits", Code(secret, cur)[:5], 0, false},
		{"seven digits", Code(secret, cur) + "0", 0, false},
		{"space", " " + Code(secret, cur)[1:], 0, false},
		{"inner space", Code(secret, cur)[:3] + " " + Code(secret, cur)[3:], 0, false},
		{"letters", "abcdef", 0, false},
		{"fullwidth digits", "１２３４５６", 0, false},
	} {
		step, ok := Match(secret, tc.code, now)
		if ok != tc.wantOK || step != tc.wantStep {
			t.Errorf("%s: Match(%q) = %d, %v; want %d, %v", tc.name, tc.code, step, ok, tc.wantStep, tc.wantOK)
		}
	}
}

func TestURL(t *testing.T) {
	t.Parallel()
	secret := []byte("12345678901234567890")
	got := URL("authd", "alice", secret)
	want := "otpauth://totp/authd:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=authd&algorithm=SHA1&digits=6&period=30"
	if got != want {
		t.Errorf("URL = %s\nwant  %s", got, want)
	}
	// An issuer with a space and a colon stays one label and one value.
	u, err := url.Parse(URL("My Co: Auth", "bob.b", secret))
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/My Co: Auth:bob.b" || u.Query().Get("issuer") != "My Co: Auth" {
		t.Errorf("URL with a spaced issuer = %s: scheme %q host %q path %q issuer %q", u, u.Scheme, u.Host, u.Path, u.Query().Get("issuer"))
	}
	if len(EncodeSecret(NewSecret())) != 32 {
		t.Errorf("a new secret's base32 is not 32 characters")
	}
}
