package password

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
)

const djangoPrefix = "pbkdf2_sha256$"

// djangoHash is a parsed Django pbkdf2_sha256 hash.
type djangoHash struct {
	iterations int
	salt       string
	key        []byte
}

func (d djangoHash) work() work {
	return work{alg: "pbkdf2_sha256", iterations: d.iterations}
}

// derive computes PBKDF2-HMAC-SHA256 of password with d's iterations and
// salt, as long as d's hash.
func (d djangoHash) derive(password string) ([]byte, error) {
	return pbkdf2.Key(sha256.New, password, []byte(d.salt), d.iterations, len(d.key))
}

// parseDjango parses Django's pbkdf2_sha256$<iterations>$<salt>$<hash>, the
// hash in padded standard base64, refusing parameters outside lim. Its
// errors wrap ErrUnknownFormat.
func parseDjango(s string, lim limits) (djangoHash, error) {
	var d djangoHash
	fields := strings.Split(strings.TrimPrefix(s, djangoPrefix), "$")
	if len(fields) != 3 {
		return d, fmt.Errorf("%w: pbkdf2_sha256: want 3 fields after the scheme, have %d", ErrUnknownFormat, len(fields))
	}
	iterations, salt, key := fields[0], fields[1], fields[2]

	n, ok := parseDecimal(iterations, 10)
	if !ok || n < 1 || n > uint64(lim.iterations) {
		return d, fmt.Errorf("%w: pbkdf2_sha256: iterations not in 1..%d", ErrUnknownFormat, lim.iterations)
	}
	d.iterations = int(n)

	if salt == "" {
		return d, fmt.Errorf("%w: pbkdf2_sha256: empty salt", ErrUnknownFormat)
	}
	d.salt = salt

	var err error
	if d.key, err = base64.StdEncoding.Strict().DecodeString(key); err != nil {
		return d, fmt.Errorf("%w: pbkdf2_sha256: hash is not base64", ErrUnknownFormat)
	}
	// Django's hash is SHA-256's 32 bytes; other lengths are derived alike.
	if len(d.key) < minKeyLen || len(d.key) > 2*sha256.Size {
		return d, fmt.Errorf("%w: pbkdf2_sha256: hash not %d to %d bytes", ErrUnknownFormat, minKeyLen, 2*sha256.Size)
	}
	return d, nil
}
