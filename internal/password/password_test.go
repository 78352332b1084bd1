package password

import (
	"context"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fastParams keep tests quick; DefaultParams are used where it matters.
var fastParams = Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}

func newFastHasher(t *testing.T) *Hasher {
	t.Helper()
	return NewHasher(Options{Params: fastParams})
}

func mustHash(t *testing.T, h *Hasher, password string) string {
	t.Helper()
	encoded, err := h.Hash(t.Context(), password)
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	return encoded
}

type verifyResult struct {
	OK, Rehash bool
}

func mustVerify(t *testing.T, h *Hasher, password, encoded string) verifyResult {
	t.Helper()
	ok, rehash, err := h.Verify(t.Context(), password, encoded)
	if err != nil {
		t.Fatalf("Verify(%q, %q): %v", password, encoded, err)
	}
	return verifyResult{ok, rehash}
}

// recordWork makes h record every hash computation it starts.
func recordWork(h *Hasher) func() []work {
	var (
		mu   sync.Mutex
		done []work
	)
	h.onWork = func(w work) {
		mu.Lock()
		defer mu.Unlock()
		done = append(done, w)
	}
	return func() []work {
		mu.Lock()
		defer mu.Unlock()
		return append([]work(nil), done...)
	}
}

var workCmp = cmp.AllowUnexported(work{})

func TestHashVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	h := newFastHasher(t)
	for _, pw := range []string{"correct horse", "lètmein!", strings.Repeat("x", MaxLen), "with\x00nul bytes"} {
		encoded := mustHash(t, h, pw)
		if diff := cmp.Diff(verifyResult{OK: true}, mustVerify(t, h, pw, encoded)); diff != "" {
			t.Errorf("Verify(right password) (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(verifyResult{}, mustVerify(t, h, pw+"!", encoded)); diff != "" {
			t.Errorf("Verify(wrong password) (-want +got):\n%s", diff)
		}
	}
}

func TestHashSaltsDiffer(t *testing.T) {
	t.Parallel()
	h := newFastHasher(t)
	if a, b := mustHash(t, h, "password1"), mustHash(t, h, "password1"); a == b {
		t.Errorf("two hashes of one password are equal: %s", a)
	}
}

func TestWrongPassword(t *testing.T) {
	t.Parallel()
	h := newFastHasher(t)
	encoded := mustHash(t, h, "the right one")
	for _, pw := range []string{"", "the right on", "the right one ", "The right one", "the right one\x00"} {
		if diff := cmp.Diff(verifyResult{}, mustVerify(t, h, pw, encoded)); diff != "" {
			t.Errorf("Verify(%q) (-want +got):\n%s", pw, diff)
		}
	}
}

func TestHashIsPHCString(t *testing.T) {
	t.Parallel()
	p := Params{Memory: 96, Time: 3, Threads: 2, KeyLen: 24, SaltLen: 12}
	h := NewHasher(Options{Params: p})
	encoded := mustHash(t, h, "password1")

	fields := strings.Split(encoded, "$")
	if len(fields) != 6 || fields[0] != "" || fields[1] != "argon2id" || fields[2] != "v=19" || fields[3] != "m=96,t=3,p=2" {
		t.Fatalf("Hash = %q, want $argon2id$v=19$m=96,t=3,p=2$<salt>$<hash>", encoded)
	}
	salt, err := base64.RawStdEncoding.Strict().DecodeString(fields[4])
	if err != nil || len(salt) != 12 {
		t.Errorf("salt %q: %d bytes, err %v; want 12 bytes of unpadded base64", fields[4], len(salt), err)
	}
	key, err := base64.RawStdEncoding.Strict().DecodeString(fields[5])
	if err != nil || len(key) != 24 {
		t.Errorf("hash %q: %d bytes, err %v; want 24 bytes of unpadded base64", fields[5], len(key), err)
	}

	got, err := parseArgon2id(encoded, defaultLimits)
	if err != nil {
		t.Fatalf("parseArgon2id(Hash output): %v", err)
	}
	want := argon2idHash{memory: 96, time: 3, threads: 2, salt: salt, key: key}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(argon2idHash{})); diff != "" {
		t.Errorf("parseArgon2id (-want +got):\n%s", diff)
	}
	if back := encodeArgon2id(got); back != encoded {
		t.Errorf("encodeArgon2id(parseArgon2id(s)) = %q, want %q", back, encoded)
	}
}

func TestDefaultParams(t *testing.T) {
	t.Parallel()
	h := NewHasher(Options{})
	if diff := cmp.Diff(DefaultParams, h.params); diff != "" {
		t.Errorf("params of NewHasher(Options{}) (-want +got):\n%s", diff)
	}
	encoded := mustHash(t, h, "lètmein!")
	if prefix := "$argon2id$v=19$m=19456,t=2,p=1$"; !strings.HasPrefix(encoded, prefix) {
		t.Errorf("Hash = %q, want prefix %q", encoded, prefix)
	}
	// 16 bytes of salt and 32 of hash are 22 and 43 unpadded base64 characters.
	fields := strings.Split(encoded, "$")
	if got := []int{len(fields[4]), len(fields[5])}; !cmp.Equal(got, []int{22, 43}) {
		t.Errorf("salt and hash lengths = %v, want [22 43]", got)
	}
	if diff := cmp.Diff(verifyResult{OK: true}, mustVerify(t, h, "lètmein!", encoded)); diff != "" {
		t.Errorf("Verify(right password) (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(verifyResult{}, mustVerify(t, h, "letmein!", encoded)); diff != "" {
		t.Errorf("Verify(wrong password) (-want +got):\n%s", diff)
	}
}

func TestNewHasherFillsParams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   Params
		want Params
	}{
		{"zero", Params{}, DefaultParams},
		{"some fields", Params{Memory: 64, Time: 1}, Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}},
		{"below the format's minimums", Params{Memory: 8, Time: 1, Threads: 4, KeyLen: 4, SaltLen: 1}, Params{Memory: 32, Time: 1, Threads: 4, KeyLen: 16, SaltLen: 8}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := NewHasher(Options{Params: tt.in})
			if diff := cmp.Diff(tt.want, h.params); diff != "" {
				t.Errorf("params (-want +got):\n%s", diff)
			}
			// Whatever the params, the Hasher reads back its own hashes.
			if got := mustVerify(t, h, "password1", mustHash(t, h, "password1")); !got.OK {
				t.Errorf("Verify of own hash = %+v, want OK", got)
			}
		})
	}
}

func TestHasherOwnParamsAboveLimits(t *testing.T) {
	t.Parallel()
	// A Hasher always accepts its own hashes, even with parameters above
	// the limits it puts on stored ones. Only the parse is exercised: the
	// hash itself would take a long time.
	p := Params{Memory: defaultLimits.memory + 8, Time: defaultLimits.time + 1, Threads: defaultLimits.threads + 1, KeyLen: 400, SaltLen: 300}
	h := NewHasher(Options{Params: p})
	if _, err := h.parse(h.dummy); err != nil {
		t.Errorf("parse(own dummy hash): %v", err)
	}
	if _, err := newFastHasher(t).parse(h.dummy); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("parse by a Hasher with default limits: err = %v, want ErrUnknownFormat", err)
	}
}

// A fixed argon2id vector made by the reference implementation's command
// line program (github.com/P-H-C/phc-winner-argon2):
//
//	echo -n password | argon2 randomsaltishard -id -t 3 -m 12 -p 1 -l 32 -e
const referenceArgon2id = "$argon2id$v=19$m=4096,t=3,p=1$cmFuZG9tc2FsdGlzaGFyZA$DYojYpnUWSMmTtrkVXyaNWVGxLmGe1n8VJBPDdFkbjU"

func TestArgon2idKnownVector(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		params   Params
		password string
		want     verifyResult
	}{
		{"weaker hasher", fastParams, "password", verifyResult{OK: true}},
		{"default hasher", DefaultParams, "password", verifyResult{OK: true, Rehash: true}},
		{"wrong password", fastParams, "Password", verifyResult{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := NewHasher(Options{Params: tt.params})
			if diff := cmp.Diff(tt.want, mustVerify(t, h, tt.password, referenceArgon2id)); diff != "" {
				t.Errorf("Verify (-want +got):\n%s", diff)
			}
		})
	}
}

// djangoHashOf builds a Django pbkdf2_sha256 hash with the standard library.
func djangoHashOf(t *testing.T, password, salt string, iterations int) string {
	t.Helper()
	key, err := pbkdf2.Key(sha256.New, password, []byte(salt), iterations, sha256.Size)
	if err != nil {
		t.Fatalf("pbkdf2.Key: %v", err)
	}
	return fmt.Sprintf("pbkdf2_sha256$%d$%s$%s", iterations, salt, base64.StdEncoding.EncodeToString(key))
}

func TestDjangoPBKDF2(t *testing.T) {
	t.Parallel()
	// The fixed vectors are the expected values of Django's own test
	// (tests/auth_tests/test_hashers.py, make_password("lètmein", "seasalt",
	// "pbkdf2_sha256")) in Django 1.6, 1.8 and 5.1, each checked against
	// Python's hashlib.pbkdf2_hmac("sha256", ...) before being written here.
	tests := []struct {
		name     string
		encoded  string
		password string
		want     verifyResult
	}{
		{"Django 1.6 vector", "pbkdf2_sha256$12000$seasalt$Ybw8zsFxqja97tY/o6G+Fy1ksY4U/Hw3DRrGED6Up4s=", "lètmein", verifyResult{OK: true, Rehash: true}},
		{"Django 1.8 vector", "pbkdf2_sha256$20000$seasalt$oBSd886ysm3AqYun62DOdin8YcfbU1z9cksZSuLP9r0=", "lètmein", verifyResult{OK: true, Rehash: true}},
		{"Django 5.1 vector", "pbkdf2_sha256$870000$seasalt$wJSpLMQRQz0Dhj/pFpbyjMj71B2gUYp6HJS5AU+32Ac=", "lètmein", verifyResult{OK: true, Rehash: true}},
		{"Django vector, wrong password", "pbkdf2_sha256$12000$seasalt$Ybw8zsFxqja97tY/o6G+Fy1ksY4U/Hw3DRrGED6Up4s=", "letmein", verifyResult{}},
		{"generated", djangoHashOf(t, "correct horse", "Zw3kLm9pQr2sTu", 1000), "correct horse", verifyResult{OK: true, Rehash: true}},
		{"generated, wrong password", djangoHashOf(t, "correct horse", "Zw3kLm9pQr2sTu", 1000), "correct horse ", verifyResult{}},
		{"generated, one iteration", djangoHashOf(t, "correct horse", "s", 1), "correct horse", verifyResult{OK: true, Rehash: true}},
	}
	h := newFastHasher(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, mustVerify(t, h, tt.password, tt.encoded)); diff != "" {
				t.Errorf("Verify(%q, %q) (-want +got):\n%s", tt.password, tt.encoded, diff)
			}
		})
	}
}

func TestRehash(t *testing.T) {
	t.Parallel()
	base := fastParams
	base.Time = 2
	with := func(edit func(*Params)) *Hasher {
		p := base
		edit(&p)
		return NewHasher(Options{Params: p})
	}
	current := NewHasher(Options{Params: base})
	const pw = "password1"
	tests := []struct {
		name    string
		hashBy  *Hasher // nil: encoded is given
		encoded string
		want    verifyResult
	}{
		{name: "current params", hashBy: current, want: verifyResult{OK: true}},
		{name: "more memory and passes", hashBy: with(func(p *Params) { p.Memory *= 2; p.Time++ }), want: verifyResult{OK: true}},
		{name: "longer salt and hash", hashBy: with(func(p *Params) { p.SaltLen, p.KeyLen = 32, 64 }), want: verifyResult{OK: true}},
		{name: "more lanes", hashBy: with(func(p *Params) { p.Threads = 2 }), want: verifyResult{OK: true}},
		{name: "less memory", hashBy: with(func(p *Params) { p.Memory /= 2 }), want: verifyResult{OK: true, Rehash: true}},
		{name: "fewer passes", hashBy: with(func(p *Params) { p.Time = 1 }), want: verifyResult{OK: true, Rehash: true}},
		{name: "shorter salt", hashBy: with(func(p *Params) { p.SaltLen = 8 }), want: verifyResult{OK: true, Rehash: true}},
		{name: "shorter hash", hashBy: with(func(p *Params) { p.KeyLen = 16 }), want: verifyResult{OK: true, Rehash: true}},
		{name: "django", encoded: djangoHashOf(t, pw, "seasalt", 1000), want: verifyResult{OK: true, Rehash: true}},
		{name: "argon2id, wrong password", hashBy: with(func(p *Params) { p.Memory /= 2 }), want: verifyResult{}},
		{name: "django, wrong password", encoded: djangoHashOf(t, "other password", "seasalt", 1000), want: verifyResult{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			encoded := tt.encoded
			if tt.hashBy != nil {
				hashed := pw
				if !tt.want.OK {
					hashed = "other password"
				}
				encoded = mustHash(t, tt.hashBy, hashed)
			}
			if diff := cmp.Diff(tt.want, mustVerify(t, current, pw, encoded)); diff != "" {
				t.Errorf("Verify (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVerifyEmptyEncodedDoesTheWork(t *testing.T) {
	t.Parallel()
	p := Params{Memory: 96, Time: 2, Threads: 2, KeyLen: 32, SaltLen: 16}
	h := NewHasher(Options{Params: p})
	done := recordWork(h)

	ok, rehash, err := h.Verify(t.Context(), "password1", "")
	if ok || rehash || err != nil {
		t.Errorf("Verify(empty) = %v, %v, %v; want false, false, nil", ok, rehash, err)
	}
	want := []work{{alg: "argon2id", memory: 96, time: 2, threads: 2}}
	if diff := cmp.Diff(want, done(), workCmp); diff != "" {
		t.Errorf("work done (-want +got):\n%s", diff)
	}

	// It is the work of verifying a real hash.
	_, _, _ = h.Verify(t.Context(), "password1", mustHash(t, h, "password1"))
	want = append(want, want[0], want[0])
	if diff := cmp.Diff(want, done(), workCmp); diff != "" {
		t.Errorf("work done after Hash and Verify (-want +got):\n%s", diff)
	}
}

func TestDummyHashMatchesNothing(t *testing.T) {
	t.Parallel()
	h := newFastHasher(t)
	// The dummy hash is all zero bytes, which no password derives to.
	for _, pw := range []string{"", "password", "\x00"} {
		if ok, rehash, err := h.Verify(t.Context(), pw, ""); ok || rehash || err != nil {
			t.Errorf("Verify(%q, empty) = %v, %v, %v; want false, false, nil", pw, ok, rehash, err)
		}
	}
	if _, err := parseArgon2id(h.dummy, h.limits); err != nil {
		t.Errorf("dummy hash %q does not parse: %v", h.dummy, err)
	}
}

func TestVerifyMalformed(t *testing.T) {
	t.Parallel()
	const (
		salt = "c29tZXNhbHRzb21lc2FsdA"                      // 16 bytes
		key  = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" // 32 bytes
		dkey = "r1uLUxoxpP2Ywuzt1ysy1ecnRJnE8Kr3DxnMqS+ThOM="
	)
	argon := func(params string) string { return "$argon2id$v=19$" + params + "$" + salt + "$" + key }
	tests := []struct{ name, encoded string }{
		{"garbage", "not a hash"},
		{"only a dollar", "$"},
		{"argon2i", "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"argon2d", "$argon2d$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"bcrypt", "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"},
		{"django sha1", "pbkdf2_sha1$10000$wz5B6WkasRoF$atJmJ1o+XfJxKq1+Nu1f1i57Z5I="},
		{"django argon2", "argon2$argon2id$v=19$m=102400,t=2,p=8$c29tZXNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5"},
		{"scheme only", "$argon2id$"},
		{"no version", "$argon2id$m=64,t=1,p=1$" + salt + "$" + key},
		{"version 16", "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key},
		{"version empty", "$argon2id$v=$m=64,t=1,p=1$" + salt + "$" + key},
		{"too few fields", "$argon2id$v=19$m=64,t=1,p=1$" + salt},
		{"too many fields", argon("m=64,t=1,p=1") + "$"},
		{"params out of order", argon("t=1,m=64,p=1")},
		{"extra param", argon("m=64,t=1,p=1,keyid=x")},
		{"missing param", argon("m=64,t=1")},
		{"empty param", argon("m=,t=1,p=1")},
		{"negative param", argon("m=-64,t=1,p=1")},
		{"plus sign", argon("m=+64,t=1,p=1")},
		{"leading zero", argon("m=064,t=1,p=1")},
		{"hex param", argon("m=0x40,t=1,p=1")},
		{"param overflows uint64", argon("m=99999999999999999999999,t=1,p=1")},
		{"memory 4 TiB", argon("m=4294967295,t=1,p=1")},
		{"memory 1 GiB", argon("m=1048576,t=1,p=1")},
		{"memory under 8 KiB per lane", argon("m=16,t=1,p=4")},
		{"memory zero", argon("m=0,t=1,p=1")},
		{"time zero", argon("m=64,t=0,p=1")},
		{"time huge", argon("m=64,t=4294967295,p=1")},
		{"time 11", argon("m=64,t=11,p=1")},
		{"lanes zero", argon("m=64,t=1,p=0")},
		{"lanes 255", argon("m=4096,t=1,p=255")},
		{"lanes 256", argon("m=4096,t=1,p=256")},
		{"salt padded", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key},
		{"salt url alphabet", "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA-_$" + key},
		{"salt stray bits", "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdB$" + key},
		{"salt empty", "$argon2id$v=19$m=64,t=1,p=1$$" + key},
		{"salt 7 bytes", "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbA$" + key},
		{"hash empty", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$"},
		{"hash 8 bytes", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$AAAAAAAAAAA"},
		{"hash 300 bytes", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + strings.Repeat("A", 400)},
		{"hash not base64", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$!!!!"},
		{"newline in hash", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key[:20] + "\n" + key[20:]},
		{"space before", " " + argon("m=64,t=1,p=1")},
		{"non-ASCII", argon("m=64,t=1,p=1") + "é"},
		{"very long", argon("m=64,t=1,p=1") + strings.Repeat("A", 1<<20)},
		{"django scheme only", "pbkdf2_sha256$"},
		{"django too few fields", "pbkdf2_sha256$1000$seasalt"},
		{"django too many fields", "pbkdf2_sha256$1000$sea$salt$" + dkey},
		{"django iterations zero", "pbkdf2_sha256$0$seasalt$" + dkey},
		{"django iterations negative", "pbkdf2_sha256$-1$seasalt$" + dkey},
		{"django iterations not a number", "pbkdf2_sha256$many$seasalt$" + dkey},
		{"django iterations 10 million", "pbkdf2_sha256$10000000$seasalt$" + dkey},
		{"django iterations huge", "pbkdf2_sha256$999999999999999999999$seasalt$" + dkey},
		{"django empty salt", "pbkdf2_sha256$1000$$" + dkey},
		{"django hash unpadded", "pbkdf2_sha256$1000$seasalt$" + strings.TrimSuffix(dkey, "=")},
		{"django hash not base64", "pbkdf2_sha256$1000$seasalt$@@@@"},
		{"django hash empty", "pbkdf2_sha256$1000$seasalt$"},
		{"django hash 8 bytes", "pbkdf2_sha256$1000$seasalt$AAAAAAAAAAA="},
		{"django hash 96 bytes", "pbkdf2_sha256$1000$seasalt$" + strings.Repeat("AAAA", 32)},
		{"django uppercase scheme", "PBKDF2_SHA256$1000$seasalt$" + dkey},
	}
	h := newFastHasher(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ok, rehash, err := h.Verify(t.Context(), "password1", tt.encoded)
			if ok || rehash || !errors.Is(err, ErrUnknownFormat) {
				t.Errorf("Verify(%q) = %v, %v, %v; want false, false, ErrUnknownFormat", tt.encoded, ok, rehash, err)
			}
		})
	}
}

func TestVerifyMalformedDoesTheWork(t *testing.T) {
	t.Parallel()
	h := newFastHasher(t)
	done := recordWork(h)
	_, _, err := h.Verify(t.Context(), "password1", "$argon2id$v=19$m=4294967295,t=4294967295,p=255$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA")
	if !errors.Is(err, ErrUnknownFormat) {
		t.Fatalf("Verify: err = %v, want ErrUnknownFormat", err)
	}
	// Only the dummy verification ran, with the Hasher's own parameters.
	want := []work{{alg: "argon2id", memory: fastParams.Memory, time: fastParams.Time, threads: fastParams.Threads}}
	if diff := cmp.Diff(want, done(), workCmp); diff != "" {
		t.Errorf("work done (-want +got):\n%s", diff)
	}
}

func TestVerifyDjangoWork(t *testing.T) {
	t.Parallel()
	h := newFastHasher(t)
	done := recordWork(h)
	mustVerify(t, h, "password1", djangoHashOf(t, "password1", "seasalt", 1234))
	want := []work{{alg: "pbkdf2_sha256", iterations: 1234}}
	if diff := cmp.Diff(want, done(), workCmp); diff != "" {
		t.Errorf("work done (-want +got):\n%s", diff)
	}
}

// holdSlots makes the onWork hook of h block each computation until the
// returned release is called once for it; entered receives a value as each
// computation starts. maxInside reports the most computations seen running
// at once.
func holdSlots(h *Hasher) (entered <-chan struct{}, release func(), maxInside func() int64) {
	var inside, most atomic.Int64
	in := make(chan struct{}, 64)
	out := make(chan struct{})
	h.onWork = func(work) {
		n := inside.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		in <- struct{}{}
		<-out
		inside.Add(-1)
	}
	return in, func() { out <- struct{}{} }, most.Load
}

// waitForWaiting waits until n callers of h wait for a slot.
func waitForWaiting(t *testing.T, h *Hasher, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for h.waiting.Load() != n {
		if time.Now().After(deadline) {
			t.Fatalf("waiting = %d, want %d", h.waiting.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestConcurrencyIsBounded(t *testing.T) {
	t.Parallel()
	for _, limit := range []int{1, 3} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			t.Parallel()
			h := NewHasher(Options{Params: fastParams, Concurrency: limit})
			entered, release, maxInside := holdSlots(h)

			const callers = 8
			errs := make(chan error, callers)
			for i := range callers {
				go func() {
					var err error
					if i%2 == 0 {
						_, err = h.Hash(t.Context(), "password1")
					} else {
						_, _, err = h.Verify(t.Context(), "password1", "")
					}
					errs <- err
				}()
			}
			// Once limit computations run and every other caller waits,
			// nobody else may get in until a slot is released.
			for range limit {
				<-entered
			}
			deadline := time.Now().Add(10 * time.Second)
			for h.waiting.Load() != callers-int64(limit) {
				if got := maxInside(); got > int64(limit) {
					t.Fatalf("computations at once = %d, want at most %d", got, limit)
				}
				if time.Now().After(deadline) {
					t.Fatalf("waiting = %d, want %d", h.waiting.Load(), callers-limit)
				}
				time.Sleep(time.Millisecond)
			}
			if got := maxInside(); got != int64(limit) {
				t.Fatalf("computations at once = %d, want %d", got, limit)
			}
			for range callers {
				release()
			}
			for range callers {
				if err := <-errs; err != nil {
					t.Errorf("Hash or Verify: %v", err)
				}
			}
			if got := maxInside(); got != int64(limit) {
				t.Errorf("computations at once = %d, want at most %d", got, limit)
			}
			if got := h.waiting.Load(); got != 0 {
				t.Errorf("waiting after all returned = %d, want 0", got)
			}
		})
	}
}

func TestCancelWhileWaiting(t *testing.T) {
	t.Parallel()
	h := NewHasher(Options{Params: fastParams, Concurrency: 1})
	entered, release, _ := holdSlots(h)

	first := make(chan error, 1)
	go func() {
		_, err := h.Hash(t.Context(), "password1")
		first <- err
	}()
	<-entered

	ctx, cancel := context.WithCancel(t.Context())
	hashErr := make(chan error, 1)
	go func() {
		_, err := h.Hash(ctx, "password1")
		hashErr <- err
	}()
	verifyErr := make(chan error, 1)
	go func() {
		ok, rehash, err := h.Verify(ctx, "password1", "")
		if ok || rehash {
			err = fmt.Errorf("ok, rehash = %v, %v; want false, false (err %v)", ok, rehash, err)
		}
		verifyErr <- err
	}()
	waitForWaiting(t, h, 2)
	cancel()
	if err := <-hashErr; err != context.Canceled {
		t.Errorf("Hash after cancel: err = %v, want context.Canceled", err)
	}
	if err := <-verifyErr; err != context.Canceled {
		t.Errorf("Verify after cancel: err = %v, want context.Canceled", err)
	}
	if got := h.waiting.Load(); got != 0 {
		t.Errorf("waiting after cancel = %d, want 0", got)
	}

	release()
	if err := <-first; err != nil {
		t.Errorf("first Hash: %v", err)
	}
}

func TestCanceledContextDoesNoWork(t *testing.T) {
	t.Parallel()
	h := newFastHasher(t)
	encoded := mustHash(t, h, "password1")
	done := recordWork(h)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	if _, err := h.Hash(ctx, "password1"); err != context.Canceled {
		t.Errorf("Hash: err = %v, want context.Canceled", err)
	}
	for _, enc := range []string{encoded, "", "malformed"} {
		if ok, rehash, err := h.Verify(ctx, "password1", enc); ok || rehash || err != context.Canceled {
			t.Errorf("Verify(%q) = %v, %v, %v; want false, false, context.Canceled", enc, ok, rehash, err)
		}
	}
	if got := done(); len(got) != 0 {
		t.Errorf("work done with a canceled context: %v", got)
	}
}

func TestValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		password string
		want     bool
	}{
		{"empty", "", false},
		{"7 bytes", "1234567", false},
		{"8 bytes", "12345678", true},
		{"7 characters, 8 bytes", "lètmein", true},
		{"1024 bytes", strings.Repeat("a", MaxLen), true},
		{"1025 bytes", strings.Repeat("a", MaxLen+1), false},
		{"1024 bytes of 2-byte characters", strings.Repeat("é", MaxLen/2), true},
		{"invalid UTF-8", "password\xff", false},
		{"truncated UTF-8", "password\xc3", false},
		{"spaces", "        ", true},
	}
	for _, tt := range tests {
		if got := Valid(tt.password); got != tt.want {
			t.Errorf("Valid(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func FuzzVerify(f *testing.F) {
	f.Add("password1", referenceArgon2id)
	f.Add("lètmein", "pbkdf2_sha256$12000$seasalt$Ybw8zsFxqja97tY/o6G+Fy1ksY4U/Hw3DRrGED6Up4s=")
	f.Add("password1", "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("password1", "$argon2id$v=19$m=4294967295,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("password1", "pbkdf2_sha256$1$s$AAAAAAAAAAAAAAAAAAAAAA==")
	f.Add("password1", "")
	h := NewHasher(Options{Params: fastParams})
	f.Fuzz(func(t *testing.T, password, encoded string) {
		// Fuzzed hashes may ask for up to the limits; keep them cheap by
		// only parsing what would be expensive.
		if a, err := parseArgon2id(encoded, h.limits); err == nil && uint64(a.memory)*uint64(a.time) > 1<<16 {
			return
		}
		if d, err := parseDjango(encoded, h.limits); err == nil && d.iterations > 100_000 {
			return
		}
		ok, rehash, err := h.Verify(t.Context(), password, encoded)
		if err != nil && (ok || rehash || !errors.Is(err, ErrUnknownFormat)) {
			t.Errorf("Verify = %v, %v, %v; an error must come with false, false and wrap ErrUnknownFormat", ok, rehash, err)
		}
		if rehash && !ok {
			t.Errorf("Verify = %v, %v; rehash without ok", ok, rehash)
		}
	})
}

func BenchmarkHash(b *testing.B) {
	h := NewHasher(Options{Params: DefaultParams})
	for b.Loop() {
		if _, err := h.Hash(b.Context(), "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	h := NewHasher(Options{Params: DefaultParams})
	encoded, err := h.Hash(b.Context(), "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _, err := h.Verify(b.Context(), "correct horse battery staple", encoded); !ok || err != nil {
			b.Fatalf("Verify = %v, %v", ok, err)
		}
	}
}

// BenchmarkCompute is the pool's own cost around a hash: a slot taken and
// given back around an empty computation, from GOMAXPROCS goroutines,
// without and with the idle watch of Options.OnIdle.
func BenchmarkCompute(b *testing.B) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"plain", Options{Params: fastParams}},
		{"idle-watch", Options{Params: fastParams, OnIdle: func() {}, IdleAfter: time.Millisecond}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			h := NewHasher(tc.opts)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := h.compute(context.Background(), work{}, func() {}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
