package password

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

const argon2idPrefix = "$argon2id$"

// phcBase64 is the PHC string format's base64: standard alphabet, no
// padding, no stray bits.
var phcBase64 = base64.RawStdEncoding.Strict()

// argon2idHash is a parsed argon2id PHC string.
type argon2idHash struct {
	memory    uint32 // KiB
	time      uint32
	threads   uint8
	salt, key []byte
}

func (a argon2idHash) work() work {
	return work{alg: "argon2id", memory: a.memory, time: a.time, threads: a.threads}
}

// derive computes the argon2id hash of password with a's parameters and salt.
func (a argon2idHash) derive(password string, keyLen uint32) []byte {
	return argon2.IDKey([]byte(password), a.salt, a.time, a.memory, a.threads, keyLen)
}

// encodeArgon2id formats a as a PHC string.
func encodeArgon2id(a argon2idHash) string {
	return fmt.Sprintf("%sv=%d$m=%d,t=%d,p=%d$%s$%s", argon2idPrefix, argon2.Version,
		a.memory, a.time, a.threads, phcBase64.EncodeToString(a.salt), phcBase64.EncodeToString(a.key))
}

// parseArgon2id parses $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>,
// refusing parameters outside lim. Its errors wrap ErrUnknownFormat.
func parseArgon2id(s string, lim limits) (argon2idHash, error) {
	var a argon2idHash
	fields := strings.Split(strings.TrimPrefix(s, argon2idPrefix), "$")
	if len(fields) != 4 {
		return a, fmt.Errorf("%w: argon2id: want 4 fields after the scheme, have %d", ErrUnknownFormat, len(fields))
	}
	version, params, salt, key := fields[0], fields[1], fields[2], fields[3]

	if version != "v="+strconv.Itoa(argon2.Version) {
		return a, fmt.Errorf("%w: argon2id: version is not v=%d", ErrUnknownFormat, argon2.Version)
	}

	m, t, p, ok := parseArgon2idParams(params)
	if !ok {
		return a, fmt.Errorf("%w: argon2id: parameters are not m=<int>,t=<int>,p=<int>", ErrUnknownFormat)
	}
	switch {
	case m > uint64(lim.memory):
		return a, fmt.Errorf("%w: argon2id: memory over %d KiB", ErrUnknownFormat, lim.memory)
	case t < 1 || t > uint64(lim.time):
		return a, fmt.Errorf("%w: argon2id: passes not in 1..%d", ErrUnknownFormat, lim.time)
	case p < 1 || p > uint64(lim.threads):
		return a, fmt.Errorf("%w: argon2id: lanes not in 1..%d", ErrUnknownFormat, lim.threads)
	case m < 8*p:
		return a, fmt.Errorf("%w: argon2id: memory under 8 KiB per lane", ErrUnknownFormat)
	}
	a.memory, a.time, a.threads = uint32(m), uint32(t), uint8(p)

	var err error
	if a.salt, err = phcBase64.DecodeString(salt); err != nil {
		return a, fmt.Errorf("%w: argon2id: salt is not unpadded base64", ErrUnknownFormat)
	}
	if len(a.salt) < minSaltLen {
		return a, fmt.Errorf("%w: argon2id: salt under %d bytes", ErrUnknownFormat, minSaltLen)
	}
	if a.key, err = phcBase64.DecodeString(key); err != nil {
		return a, fmt.Errorf("%w: argon2id: hash is not unpadded base64", ErrUnknownFormat)
	}
	if len(a.key) < minKeyLen || len(a.key) > lim.keyLen {
		return a, fmt.Errorf("%w: argon2id: hash not %d to %d bytes", ErrUnknownFormat, minKeyLen, lim.keyLen)
	}
	return a, nil
}

// parseArgon2idParams parses "m=<int>,t=<int>,p=<int>", in that order.
func parseArgon2idParams(s string) (m, t, p uint64, ok bool) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return 0, 0, 0, false
	}
	var okM, okT, okP bool
	m, okM = parseParam(parts[0], "m=")
	t, okT = parseParam(parts[1], "t=")
	p, okP = parseParam(parts[2], "p=")
	return m, t, p, okM && okT && okP
}

// parseParam parses name followed by a decimal number, as the PHC string
// format writes it: digits only, no leading zero, at most 10 digits.
func parseParam(s, name string) (uint64, bool) {
	digits, ok := strings.CutPrefix(s, name)
	if !ok {
		return 0, false
	}
	return parseDecimal(digits, 10)
}

// parseDecimal parses 1 to maxDigits decimal digits without a leading zero.
func parseDecimal(s string, maxDigits int) (uint64, bool) {
	if s == "" || len(s) > maxDigits || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}
