package httpapi

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxBody is the largest request body read; a larger one is a 413.
const maxBody = 64 << 10

// decode reads r's body, which must be one JSON object of type T and
// nothing after it, into dst. Unknown fields are ignored, as the seed's
// serializers did; a key given twice is refused, so that no other reader
// of the same body (a proxy, a log) can take another value of it than we
// do. Every failure is an *Error a client may see.
func decode(w http.ResponseWriter, r *http.Request, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return invalidRequest("The body must be JSON, sent with Content-Type: application/json.")
		}
	} else {
		return invalidRequest("The body must be JSON, sent with Content-Type: application/json.")
	}
	body := http.MaxBytesReader(w, r.Body, maxBody)
	data, err := io.ReadAll(body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return &Error{codeRequestTooLarge, fmt.Sprintf("The body is over %d KiB.", maxBody>>10)}
		}
		return invalidRequest("The body could not be read.")
	}
	// encoding/json turns bytes that are not UTF-8, and escaped lone
	// surrogates, into U+FFFD: two different passwords would hash alike.
	// JSON text is UTF-8 (RFC 8259 section 8.1), so such a body is refused.
	if !utf8.Valid(data) || hasLoneSurrogate(data) {
		return invalidRequest("The body is not valid UTF-8.")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return invalidRequest(fmt.Sprintf("The field %q must be a %s.", typeErr.Field, typeErr.Type.Kind()))
		}
		return invalidRequest("The body is not a valid JSON object.")
	}
	if dec.More() {
		return invalidRequest("The body has data after its JSON object.")
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalidRequest("The body has data after its JSON object.")
	}
	if key, ok := repeatedKey(data); ok {
		return invalidRequest(fmt.Sprintf("The body gives the field %q more than once.", key))
	}
	return nil
}

// repeatedKey returns a key that the JSON object data holds twice, keys
// being compared as encoding/json matches them to fields: without regard
// to case. data has been decoded already, so it is valid JSON.
func repeatedKey(data []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", false
	}
	seen := make(map[string]bool)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return "", false
		}
		key, _ := t.(string)
		folded := foldKey(key)
		if seen[folded] {
			return key, true
		}
		seen[folded] = true
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return "", false
		}
	}
	return "", false
}

// hasLoneSurrogate reports whether data, taken as JSON text, escapes a
// UTF-16 surrogate (\ud800 to \udfff) that is not half of a pair: a high
// one followed at once by an escaped low one.
func hasLoneSurrogate(data []byte) bool {
	inString := false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			inString = !inString
		case c == '\\' && inString:
			if i+1 < len(data) && data[i+1] != 'u' {
				i++ // a one-character escape, \" included
				continue
			}
			r, ok := escapedUnit(data[i:])
			if !ok {
				continue // not valid JSON; the decoder says so
			}
			i += 5
			switch {
			case r >= 0xdc00 && r <= 0xdfff:
				return true
			case r >= 0xd800 && r <= 0xdbff:
				low, ok := escapedUnit(data[i+1:])
				if !ok || low < 0xdc00 || low > 0xdfff {
					return true
				}
				i += 6
			}
		}
	}
	return false
}

// escapedUnit reads a \uXXXX escape at the start of b.
func escapedUnit(b []byte) (rune, bool) {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[2:6]), 16, 16)
	return rune(n), err == nil
}

// foldKey maps every rune of s to the least of its case-folding orbit, so
// that two keys fold alike exactly when strings.EqualFold holds.
func foldKey(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}

// encode writes v as JSON with status. Every answer with a cookie goes
// through it.
func encode(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h["Content-Type"] = valueJSON // see withHeaders
	clearingCookiesLast(h)
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	// A failed write means the client is gone; there is no one to tell.
	_ = enc.Encode(v)
}

// clearingCookiesLast puts the Set-Cookie lines that clear a cookie after
// those that set one, keeping each group's order. curl before 8.0 (Debian
// 12 ships 7.88.1) rewrites its cookie jar as it reads an answer's lines,
// and a cleared cookie written before another is set came back.
func clearingCookiesLast(h http.Header) {
	lines := h["Set-Cookie"]
	if len(lines) < 2 {
		return
	}
	slices.SortStableFunc(lines, func(a, b string) int {
		return cmp.Compare(clearsCookie(a), clearsCookie(b))
	})
}

// clearsCookie is 1 for a Set-Cookie line that clears its cookie, else 0.
func clearsCookie(line string) int {
	if strings.Contains(line, "; Max-Age=0") {
		return 1
	}
	return 0
}
