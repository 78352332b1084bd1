package token

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// The header and the claims are read by a small scanner of their own rather
// than encoding/json: it knows the few names it looks for, returns strings
// as substrings of its input (only strings with escapes are copied), and
// needs neither reflection nor maps. It accepts exactly RFC 8259 JSON with
// these restrictions: strings must be valid UTF-8 and must not escape a
// lone surrogate; iat, exp, nbf and intra_id must be integers that fit in 64
// bits; a known name may appear once; values of unknown claims nest at most
// maxDepth deep.

// maxDepth bounds the nesting of claims the scanner skips.
const maxDepth = 32

// header holds the parameters of a token header.
type header struct {
	alg, typ, kid  string
	hasTyp, hasKid bool
}

// numbers holds the numeric claims, which Claims keeps as times, and
// whether they were present.
type numbers struct {
	iat, exp, nbf          int64
	hasIat, hasExp, hasNbf bool
	// aud is the raw JSON value of the aud claim, "" when absent: it is
	// read only when the verifier has an audience.
	aud string
}

// parseHeader reads a token header. Any parameter other than alg, typ and
// kid is refused, as is any value that is not a string.
func parseHeader(s string) (header, error) {
	var h header
	d := scanner{s: s}
	if err := d.open(); err != nil {
		return header{}, err
	}
	var seen uint8
	for n := 0; ; n++ {
		name, more, err := d.member(n)
		if err != nil {
			return header{}, err
		}
		if !more {
			break
		}
		var bit uint8
		switch name {
		case "alg":
			bit = 1
			h.alg, err = d.stringValue(name)
		case "typ":
			bit = 2
			h.typ, err = d.stringValue(name)
			h.hasTyp = true
		case "kid":
			bit = 4
			h.kid, err = d.stringValue(name)
			h.hasKid = true
		default:
			return header{}, fmt.Errorf("%w: unknown header parameter %q", ErrMalformed, name)
		}
		if err != nil {
			return header{}, err
		}
		if seen&bit != 0 {
			return header{}, fmt.Errorf("%w: header parameter %q repeated", ErrMalformed, name)
		}
		seen |= bit
	}
	if err := d.end(); err != nil {
		return header{}, err
	}
	return h, nil
}

// parseClaims reads the claims of a token. Names it does not know are
// skipped, after their values are checked to be JSON.
func parseClaims(s string) (Claims, numbers, error) {
	var (
		c Claims
		f numbers
	)
	d := scanner{s: s}
	if err := d.open(); err != nil {
		return Claims{}, numbers{}, err
	}
	var seen uint16
	for n := 0; ; n++ {
		name, more, err := d.member(n)
		if err != nil {
			return Claims{}, numbers{}, err
		}
		if !more {
			break
		}
		var bit uint16
		switch name {
		case "iss":
			bit = 1 << 0
			c.Issuer, err = d.stringValue(name)
		case "aud":
			bit = 1 << 14
			start := d.i
			err = d.skip(0)
			f.aud = d.s[start:d.i]
		case "sub":
			bit = 1 << 1
			c.Subject, err = d.stringValue(name)
		case "username":
			bit = 1 << 2
			c.Username, err = d.stringValue(name)
		case "sid":
			bit = 1 << 3
			c.SessionID, err = d.stringValue(name)
		case "jti":
			bit = 1 << 4
			c.ID, err = d.stringValue(name)
		case "iat":
			bit = 1 << 5
			f.iat, err = d.integer(name)
			f.hasIat = true
		case "exp":
			bit = 1 << 6
			f.exp, err = d.integer(name)
			f.hasExp = true
		case "nbf":
			bit = 1 << 15
			f.nbf, err = d.integer(name)
			f.hasNbf = true
		case "token_type":
			bit = 1 << 7
			var t string
			t, err = d.stringValue(name)
			c.Type = Type(t)
		case "intra_id":
			bit = 1 << 8
			c.IntraID, err = d.integer(name)
		case "intra_login":
			bit = 1 << 9
			c.IntraLogin, err = d.stringValue(name)
		case "email":
			bit = 1 << 10
			c.Email, err = d.stringValue(name)
		case "displayname":
			bit = 1 << 11
			c.DisplayName, err = d.stringValue(name)
		case "image_link":
			bit = 1 << 12
			c.ImageLink, err = d.stringValue(name)
		case "auth_time":
			bit = 1 << 13
			var at int64
			at, err = d.integer(name)
			c.AuthTime = time.Unix(at, 0).UTC()
		default:
			err = d.skip(0)
		}
		if err != nil {
			return Claims{}, numbers{}, err
		}
		if seen&bit != 0 {
			return Claims{}, numbers{}, fmt.Errorf("%w: claim %q repeated", ErrMalformed, name)
		}
		seen |= bit
	}
	if err := d.end(); err != nil {
		return Claims{}, numbers{}, err
	}
	return c, f, nil
}

// scanner reads JSON from s, starting at byte i.
type scanner struct {
	s string
	i int
}

// syntax returns the error for a syntax error at the current position.
func (d *scanner) syntax(what string) error {
	return fmt.Errorf("%w: JSON: %s at offset %d", ErrMalformed, what, d.i)
}

// ws skips white space.
func (d *scanner) ws() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// open reads the opening brace of the top-level object.
func (d *scanner) open() error {
	d.ws()
	if d.i >= len(d.s) || d.s[d.i] != '{' {
		return d.syntax("not an object")
	}
	d.i++
	return nil
}

// end checks that nothing but white space follows the top-level object.
func (d *scanner) end() error {
	d.ws()
	if d.i != len(d.s) {
		return d.syntax("data after the object")
	}
	return nil
}

// member moves to the n-th (from 0) member of the object whose opening
// brace has been read, and returns its name, unescaped, leaving the scanner
// at its value. At the closing brace it returns more == false.
func (d *scanner) member(n int) (name string, more bool, err error) {
	d.ws()
	if d.i >= len(d.s) {
		return "", false, d.syntax("unterminated object")
	}
	switch c := d.s[d.i]; {
	case c == '}':
		d.i++
		return "", false, nil
	case n == 0:
	case c == ',':
		d.i++
		d.ws()
	default:
		return "", false, d.syntax("want , or }")
	}
	if d.i >= len(d.s) || d.s[d.i] != '"' {
		return "", false, d.syntax("want a member name")
	}
	name, err = d.str()
	if err != nil {
		return "", false, err
	}
	d.ws()
	if d.i >= len(d.s) || d.s[d.i] != ':' {
		return "", false, d.syntax("want :")
	}
	d.i++
	d.ws()
	return name, true, nil
}

// stringValue reads the string value of the member called name.
func (d *scanner) stringValue(name string) (string, error) {
	if d.i >= len(d.s) || d.s[d.i] != '"' {
		return "", fmt.Errorf("%w: %q is not a string", ErrMalformed, name)
	}
	return d.str()
}

// str reads a string, the scanner being at its opening quote, and returns
// its value: a substring of the input, or a copy when it has escapes.
func (d *scanner) str() (string, error) {
	d.i++
	start := d.i
	escaped := false
	for d.i < len(d.s) {
		c := d.s[d.i]
		switch {
		case c == '"':
			raw := d.s[start:d.i]
			d.i++
			if escaped {
				return unescape(raw), nil
			}
			return raw, nil
		case c == '\\':
			n := escapeLen(d.s[d.i:])
			if n == 0 {
				return "", d.syntax("bad escape")
			}
			escaped = true
			d.i += n
		case c < 0x20:
			return "", d.syntax("control character in string")
		case c < utf8.RuneSelf:
			d.i++
		default:
			r, n := utf8.DecodeRuneInString(d.s[d.i:])
			if r == utf8.RuneError && n == 1 {
				return "", d.syntax("invalid UTF-8 in string")
			}
			d.i += n
		}
	}
	return "", d.syntax("unterminated string")
}

// escapeLen returns the length of the escape sequence at the start of s,
// which starts with a backslash, or 0 when it is not valid. A \u escape of
// a high surrogate is valid only followed by one of a low surrogate, and
// the two make one sequence.
func escapeLen(s string) int {
	if len(s) < 2 {
		return 0
	}
	switch s[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
	default:
		return 0
	}
	r, ok := hex4(s[2:])
	switch {
	case !ok:
		return 0
	case !utf16.IsSurrogate(r):
		return 6
	case r >= 0xdc00: // a low surrogate first
		return 0
	}
	if len(s) < 12 || s[6] != '\\' || s[7] != 'u' {
		return 0
	}
	if r2, ok := hex4(s[8:]); !ok || r2 < 0xdc00 || r2 > 0xdfff {
		return 0
	}
	return 12
}

// hex4 decodes the four hexadecimal digits at the start of s.
func hex4(s string) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[:4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// unescape returns the value of the string body raw, whose escapes have
// been checked by escapeLen.
func unescape(raw string) string {
	var b strings.Builder
	b.Grow(len(raw))
	for {
		n := strings.IndexByte(raw, '\\')
		if n < 0 {
			b.WriteString(raw)
			return b.String()
		}
		b.WriteString(raw[:n])
		raw = raw[n:]
		switch raw[1] {
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, _ := hex4(raw[2:])
			if utf16.IsSurrogate(r) {
				r2, _ := hex4(raw[8:])
				b.WriteRune(utf16.DecodeRune(r, r2))
				raw = raw[12:]
				continue
			}
			b.WriteRune(r)
			raw = raw[6:]
			continue
		default: // '"', '\\', '/'
			b.WriteByte(raw[1])
		}
		raw = raw[2:]
	}
}

// integer reads the value of the member called name as an integer that
// fits in an int64. Fractions and exponents are refused.
func (d *scanner) integer(name string) (int64, error) {
	bad := func() (int64, error) {
		return 0, fmt.Errorf("%w: %q is not an integer", ErrMalformed, name)
	}
	neg := false
	if d.i < len(d.s) && d.s[d.i] == '-' {
		neg = true
		d.i++
	}
	if d.i >= len(d.s) || d.s[d.i] < '0' || d.s[d.i] > '9' {
		return bad()
	}
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	var v uint64
	if d.s[d.i] == '0' {
		d.i++
	} else {
		for d.i < len(d.s) && '0' <= d.s[d.i] && d.s[d.i] <= '9' {
			digit := uint64(d.s[d.i] - '0')
			if v > (limit-digit)/10 {
				return bad()
			}
			v = v*10 + digit
			d.i++
		}
	}
	if d.i < len(d.s) {
		switch d.s[d.i] {
		case '.', 'e', 'E':
			return bad()
		}
	}
	if neg {
		return int64(-v), nil // -(1<<63) wraps to itself, as it should
	}
	return int64(v), nil
}

// skip reads any JSON value, nested at most maxDepth deep.
func (d *scanner) skip(depth int) error {
	if d.i >= len(d.s) {
		return d.syntax("want a value")
	}
	switch c := d.s[d.i]; c {
	case '"':
		_, err := d.str()
		return err
	case '{', '[':
		if depth >= maxDepth {
			return d.syntax("nested too deep")
		}
		d.i++
		if c == '{' {
			for n := 0; ; n++ {
				_, more, err := d.member(n)
				if err != nil || !more {
					return err
				}
				if err := d.skip(depth + 1); err != nil {
					return err
				}
			}
		}
		for n := 0; ; n++ {
			d.ws()
			if d.i >= len(d.s) {
				return d.syntax("unterminated array")
			}
			switch {
			case d.s[d.i] == ']':
				d.i++
				return nil
			case n == 0:
			case d.s[d.i] == ',':
				d.i++
				d.ws()
			default:
				return d.syntax("want , or ]")
			}
			if err := d.skip(depth + 1); err != nil {
				return err
			}
		}
	case 't':
		return d.literal("true")
	case 'f':
		return d.literal("false")
	case 'n':
		return d.literal("null")
	default:
		return d.number()
	}
}

// literal reads the literal word.
func (d *scanner) literal(word string) error {
	if !strings.HasPrefix(d.s[d.i:], word) {
		return d.syntax("want a value")
	}
	d.i += len(word)
	return nil
}

// number reads any JSON number.
func (d *scanner) number() error {
	digits := func() int {
		start := d.i
		for d.i < len(d.s) && '0' <= d.s[d.i] && d.s[d.i] <= '9' {
			d.i++
		}
		return d.i - start
	}
	if d.i < len(d.s) && d.s[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i < len(d.s) && d.s[d.i] == '0':
		d.i++
	case digits() == 0:
		return d.syntax("want a value")
	}
	if d.i < len(d.s) && d.s[d.i] == '.' {
		d.i++
		if digits() == 0 {
			return d.syntax("want a digit")
		}
	}
	if d.i < len(d.s) && (d.s[d.i] == 'e' || d.s[d.i] == 'E') {
		d.i++
		if d.i < len(d.s) && (d.s[d.i] == '+' || d.s[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return d.syntax("want a digit")
		}
	}
	return nil
}

// appendClaims appends the JSON object of c to dst. Its strings must be
// valid UTF-8.
func appendClaims(dst []byte, c *Claims) []byte {
	dst = append(dst, '{')
	dst = appendStringMember(dst, "iss", c.Issuer)
	dst = appendAudience(dst, c.Audience)
	dst = appendStringMember(dst, "sub", c.Subject)
	dst = appendStringMember(dst, "username", c.Username)
	dst = appendStringMember(dst, "sid", c.SessionID)
	dst = appendStringMember(dst, "jti", c.ID)
	dst = appendIntMember(dst, "iat", c.IssuedAt.Unix())
	dst = appendIntMember(dst, "exp", c.ExpiresAt.Unix())
	dst = appendStringMember(dst, "token_type", string(c.Type))
	if c.IntraID != 0 {
		dst = appendIntMember(dst, "intra_id", c.IntraID)
	}
	dst = appendStringMember(dst, "intra_login", c.IntraLogin)
	dst = appendStringMember(dst, "email", c.Email)
	dst = appendStringMember(dst, "displayname", c.DisplayName)
	dst = appendStringMember(dst, "image_link", c.ImageLink)
	if !c.AuthTime.IsZero() {
		dst = appendIntMember(dst, "auth_time", c.AuthTime.Unix())
	}
	return append(dst, '}')
}

// appendName appends the member name, preceded by a comma unless it is the
// first member of the object dst ends with.
func appendName(dst []byte, name string) []byte {
	if dst[len(dst)-1] != '{' {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, name...)
	return append(dst, '"', ':')
}

// appendStringMember appends the member name with the value v, unless v is
// empty.
func appendStringMember(dst []byte, name, v string) []byte {
	if v == "" {
		return dst
	}
	return appendString(appendName(dst, name), v)
}

// appendIntMember appends the member name with the value v.
func appendIntMember(dst []byte, name string, v int64) []byte {
	return strconv.AppendInt(appendName(dst, name), v, 10)
}

// appendString appends s, valid UTF-8, to dst as a JSON string.
func appendString(dst []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendAudience appends the aud member: a string for one audience, an
// array for several, nothing for none.
func appendAudience(dst []byte, aud []string) []byte {
	switch len(aud) {
	case 0:
		return dst
	case 1:
		return appendString(appendName(dst, "aud"), aud[0])
	}
	dst = append(appendName(dst, "aud"), '[')
	for n, a := range aud {
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, a)
	}
	return append(dst, ']')
}

// audienceOf reads raw, the JSON value of an aud claim (a string or an
// array of strings, "" when the claim is absent), and returns its
// audiences when one of them is in want.
func audienceOf(raw string, want []string) ([]string, error) {
	if raw == "" {
		return nil, fmt.Errorf("%w: no aud claim", errAudience)
	}
	d := scanner{s: raw}
	var aud []string
	if raw[0] == '"' {
		a, err := d.str()
		if err != nil {
			return nil, err
		}
		aud = []string{a}
	} else {
		if raw[0] != '[' {
			return nil, fmt.Errorf("%w: aud is neither a string nor an array", ErrMalformed)
		}
		d.i++
		for n := 0; ; n++ {
			d.ws()
			if d.i < len(d.s) && d.s[d.i] == ']' {
				break
			}
			if n > 0 {
				if d.s[d.i] != ',' {
					return nil, d.syntax("want , or ]")
				}
				d.i++
				d.ws()
			}
			a, err := d.stringValue("aud")
			if err != nil {
				return nil, err
			}
			aud = append(aud, a)
		}
	}
	for _, a := range aud {
		for _, w := range want {
			if a == w {
				return aud, nil
			}
		}
	}
	return nil, errAudience
}
