package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authd/internal/clock"
)

var (
	testKey  = []byte("0123456789abcdef0123456789abcdef")
	otherKey = []byte("fedcba9876543210fedcba9876543210")
	oldKey   = []byte("an older key, still good for verifying")

	t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
)

const testIssuer = "authd"

func mustIssuer(t testing.TB, now func() time.Time, keys ...[]byte) *Issuer {
	t.Helper()
	i, err := NewIssuer(testIssuer, keys, now)
	if err != nil {
		t.Fatalf("NewIssuer: %v", err)
	}
	return i
}

func mustSign(t testing.TB, i *Issuer, c Claims, ttl time.Duration) (string, Claims) {
	t.Helper()
	tok, signed, err := i.Sign(c, ttl)
	if err != nil {
		t.Fatalf("Sign(%+v): %v", c, err)
	}
	return tok, signed
}

func enc(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// signSegments returns head.body followed by its HMAC under key with h.
func signSegments(h func() hash.Hash, key []byte, head, body string) string {
	m := hmac.New(h, key)
	m.Write([]byte(head + "." + body))
	return head + "." + body + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// craft returns a token of the header and claims JSON, signed with key.
func craft(key []byte, header, claims string) string {
	return signSegments(sha256.New, key, enc(header), enc(claims))
}

// headerFor is the header Sign writes for key.
func headerFor(key []byte) string {
	return `{"alg":"HS256","typ":"JWT","kid":"` + keyID(key) + `"}`
}

// members returns the claims of a valid token of type typ issued at t0
// for 15 minutes, as JSON object members.
func members(typ Type) []string {
	ms := []string{
		`"iss":"authd"`,
		`"jti":"j1"`,
		`"iat":` + strconv.FormatInt(t0.Unix(), 10),
		`"exp":` + strconv.FormatInt(t0.Add(15*time.Minute).Unix(), 10),
		`"token_type":"` + string(typ) + `"`,
	}
	switch typ {
	case Access:
		ms = append(ms, `"sub":"42"`, `"username":"alice"`, `"sid":"s1"`)
	case Refresh:
		ms = append(ms, `"sub":"42"`, `"sid":"s1"`)
	case MFA:
		ms = append(ms, `"sub":"42"`)
	case Intra:
		ms = append(ms, `"intra_id":4242`, `"intra_login":"alogin"`, `"email":"a@42.fr"`, `"displayname":"A Login"`, `"image_link":"https://cdn.42.fr/a.jpg"`)
	}
	return ms
}

// claimsOf is the Claims of members(typ).
func claimsOf(typ Type) Claims {
	c := Claims{
		Issuer:    testIssuer,
		ID:        "j1",
		IssuedAt:  t0,
		ExpiresAt: t0.Add(15 * time.Minute),
		Type:      typ,
	}
	switch typ {
	case Access:
		c.Subject, c.Username, c.SessionID = "42", "alice", "s1"
	case Refresh:
		c.Subject, c.SessionID = "42", "s1"
	case MFA:
		c.Subject = "42"
	case Intra:
		c.IntraID, c.IntraLogin, c.Email, c.DisplayName, c.ImageLink = 4242, "alogin", "a@42.fr", "A Login", "https://cdn.42.fr/a.jpg"
	}
	return c
}

// object joins members into a JSON object.
func object(ms ...string) string { return "{" + strings.Join(ms, ",") + "}" }

// without returns ms without the member called name.
func without(ms []string, name string) []string {
	var out []string
	for _, m := range ms {
		if !strings.HasPrefix(m, `"`+name+`":`) {
			out = append(out, m)
		}
	}
	return out
}

// replace returns ms with the member called name given the value v.
func replace(ms []string, name, v string) []string {
	return append(without(ms, name), `"`+name+`":`+v)
}

func TestNewIssuer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		keys [][]byte
		ok   bool
	}{
		{"one key", [][]byte{testKey}, true},
		{"two keys", [][]byte{testKey, oldKey}, true},
		{"no key", nil, false},
		{"short key", [][]byte{testKey[:31]}, false},
		{"short second key", [][]byte{testKey, []byte("short")}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewIssuer(testIssuer, tc.keys, nil)
			if got := err == nil; got != tc.ok {
				t.Errorf("NewIssuer: err = %v, want ok = %v", err, tc.ok)
			}
		})
	}
}

func TestNewIssuerCopiesKeys(t *testing.T) {
	t.Parallel()
	key := append([]byte(nil), testKey...)
	i := mustIssuer(t, clock.NewFake(t0).Now, key)
	key[0] ^= 1
	tok := craft(testKey, headerFor(testKey), object(members(Access)...))
	if _, err := i.Verify(tok, Access); err != nil {
		t.Errorf("Verify after the caller changed its key slice: %v", err)
	}
}

func TestHeader(t *testing.T) {
	t.Parallel()
	i := mustIssuer(t, clock.NewFake(t0).Now, testKey, oldKey)
	tok, _ := mustSign(t, i, claimsOf(Access), time.Minute)
	head, _, _ := strings.Cut(tok, ".")
	got, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(testKey)
	want := `{"alg":"HS256","typ":"JWT","kid":"` + base64.RawURLEncoding.EncodeToString(sum[:8]) + `"}`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
}

func TestPayloadJSON(t *testing.T) {
	t.Parallel()
	i := mustIssuer(t, clock.NewFake(t0).Now, testKey)
	tests := []struct {
		typ  Type
		want string
	}{
		{Access, `{"iss":"authd","sub":"42","username":"alice","sid":"s1","jti":"j1","iat":1795867200,"exp":1795868100,"token_type":"access"}`},
		{Refresh, `{"iss":"authd","sub":"42","sid":"s1","jti":"j1","iat":1795867200,"exp":1795868100,"token_type":"refresh"}`},
		{Intra, `{"iss":"authd","jti":"j1","iat":1795867200,"exp":1795868100,"token_type":"intra","intra_id":4242,"intra_login":"alogin","email":"a@42.fr","displayname":"A Login","image_link":"https://cdn.42.fr/a.jpg"}`},
	}
	for _, tc := range tests {
		t.Run(string(tc.typ), func(t *testing.T) {
			t.Parallel()
			tok, _ := mustSign(t, i, claimsOf(tc.typ), 15*time.Minute)
			body := strings.Split(tok, ".")[1]
			got, err := base64.RawURLEncoding.DecodeString(body)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("claims JSON (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	i := mustIssuer(t, clock.NewFake(t0.Add(500*time.Millisecond)).Now, testKey)
	odd := "quote \" backslash \\ slash / nl \n tab \t nul \x00 bell \x07 del \x7f é 😀 \u2028 <&>"
	tests := []struct {
		name string
		in   Claims
		ttl  time.Duration
	}{
		{"access", Claims{Subject: "42", Username: "alice", SessionID: "s1", Type: Access}, 15 * time.Minute},
		{"refresh", Claims{Subject: "42", SessionID: "s1", Type: Refresh}, 24 * time.Hour},
		{"intra", Claims{IntraID: 4242, IntraLogin: "alogin", Email: "a@42.fr", DisplayName: "A Login", ImageLink: "https://cdn.42.fr/a.jpg", Type: Intra}, 5 * time.Minute},
		{"intra, optional claims empty", Claims{IntraID: 1, IntraLogin: "x", Type: Intra}, 5 * time.Minute},
		{"mfa", Claims{Subject: "42", Type: MFA}, 5 * time.Minute},
		{"mfa after an intra login", Claims{Subject: "42", IntraID: 4242, IntraLogin: "alogin", Type: MFA}, 5 * time.Minute},
		{"access with auth_time", Claims{Subject: "42", Username: "alice", SessionID: "s1", AuthTime: t0.Add(-time.Hour), Type: Access}, 15 * time.Minute},
		{"refresh with auth_time", Claims{Subject: "42", SessionID: "s1", AuthTime: t0.Add(-time.Minute), Type: Refresh}, 24 * time.Hour},
		{"given jti", Claims{Subject: "42", SessionID: "s1", ID: "my-id", Type: Refresh}, time.Hour},
		{"strings to escape", Claims{Subject: odd, Username: odd, SessionID: odd, ID: odd, Type: Access}, time.Minute},
		{"issuer and times are overwritten", Claims{Issuer: "evil", IssuedAt: t0.Add(time.Hour), ExpiresAt: t0.Add(99 * time.Hour), Subject: "1", SessionID: "s", Type: Refresh}, time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok, signed, err := i.Sign(tc.in, tc.ttl)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			want := tc.in
			want.Issuer = testIssuer
			want.IssuedAt = t0
			want.ExpiresAt = t0.Add(tc.ttl)
			if want.ID == "" {
				want.ID = signed.ID
				if id, err := base64.RawURLEncoding.DecodeString(signed.ID); err != nil || len(id) != 16 {
					t.Errorf("Sign made jti %q, want 16 bytes in base64url", signed.ID)
				}
			}
			if diff := cmp.Diff(want, signed); diff != "" {
				t.Errorf("Sign claims (-want +got):\n%s", diff)
			}
			got, err := i.Verify(tok, tc.in.Type)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Verify claims (-want +got):\n%s", diff)
			}
			// The claims are standard JSON: encoding/json reads the same.
			body, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatalf("encoding/json cannot read the claims: %v", err)
			}
			if m["sub"] != nilIfEmpty(want.Subject) || m["jti"] != want.ID || m["token_type"] != string(want.Type) {
				t.Errorf("encoding/json reads sub %q jti %q token_type %q", m["sub"], m["jti"], m["token_type"])
			}
		})
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func TestSignRandomID(t *testing.T) {
	t.Parallel()
	i := mustIssuer(t, nil, testKey)
	_, a := mustSign(t, i, claimsOf(Refresh), time.Minute)
	c := claimsOf(Refresh)
	c.ID = ""
	_, b := mustSign(t, i, c, time.Minute)
	_, d := mustSign(t, i, c, time.Minute)
	if b.ID == d.ID || len(b.ID) != 22 {
		t.Errorf("two jti %q and %q: want different, 22 characters", b.ID, d.ID)
	}
	if a.ID != "j1" {
		t.Errorf("given jti became %q", a.ID)
	}
}

func TestSignRefuses(t *testing.T) {
	t.Parallel()
	i := mustIssuer(t, clock.NewFake(t0).Now, testKey)
	long := strings.Repeat("x", MaxLen)
	tests := []struct {
		name string
		c    Claims
		ttl  time.Duration
	}{
		{"no type", Claims{Subject: "1", SessionID: "s"}, time.Minute},
		{"unknown type", Claims{Subject: "1", SessionID: "s", Type: "admin"}, time.Minute},
		{"zero lifetime", claimsOf(Refresh), 0},
		{"negative lifetime", claimsOf(Refresh), -time.Minute},
		{"access without sub", Claims{Username: "a", SessionID: "s", Type: Access}, time.Minute},
		{"access without username", Claims{Subject: "1", SessionID: "s", Type: Access}, time.Minute},
		{"access without sid", Claims{Subject: "1", Username: "a", Type: Access}, time.Minute},
		{"refresh without sub", Claims{SessionID: "s", Type: Refresh}, time.Minute},
		{"refresh without sid", Claims{Subject: "1", Type: Refresh}, time.Minute},
		{"intra without intra_id", Claims{IntraLogin: "x", Type: Intra}, time.Minute},
		{"intra with negative intra_id", Claims{IntraID: -1, IntraLogin: "x", Type: Intra}, time.Minute},
		{"intra without intra_login", Claims{IntraID: 1, Type: Intra}, time.Minute},
		{"invalid UTF-8", Claims{Subject: "1", SessionID: "s\xff", Type: Refresh}, time.Minute},
		{"too long", Claims{Subject: "1", SessionID: long, Type: Refresh}, time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok, _, err := i.Sign(tc.c, tc.ttl)
			if err == nil {
				t.Errorf("Sign = %q, want an error", tok)
			}
		})
	}
}

// TestSignLongest signs the longest claims that fit and checks that Verify
// takes the token.
func TestSignLongest(t *testing.T) {
	t.Parallel()
	i := mustIssuer(t, clock.NewFake(t0).Now, testKey)
	var last string
	for n := 2800; n < MaxLen; n++ {
		tok, _, err := i.Sign(Claims{Subject: "1", SessionID: strings.Repeat("s", n), Type: Refresh}, time.Minute)
		if err != nil {
			break
		}
		last = tok
	}
	if len(last) < MaxLen-3 || len(last) > MaxLen {
		t.Fatalf("longest signed token is %d bytes, want just up to %d", len(last), MaxLen)
	}
	if _, err := i.Verify(last, Refresh); err != nil {
		t.Errorf("Verify of a %d-byte token: %v", len(last), err)
	}
}

func TestVerifyAccepts(t *testing.T) {
	t.Parallel()
	hdr := headerFor(testKey)
	access := members(Access)
	withUsername := func(v string) string { return craft(testKey, hdr, object(replace(access, "username", v)...)) }
	claimsWithUsername := func(v string) Claims {
		c := claimsOf(Access)
		c.Username = v
		return c
	}
	noIat := claimsOf(Access)
	noIat.IssuedAt = time.Time{}

	// pad is an access token grown by an unknown claim to exactly MaxLen bytes.
	var pad string
	for n := 0; len(pad) < MaxLen; n++ {
		pad = craft(testKey, hdr, object(append(members(Access), `"pad":"`+strings.Repeat("p", n)+`"`)...))
	}

	tests := []struct {
		name string
		tok  string
		want Type
		c    Claims
	}{
		{"access", craft(testKey, hdr, object(access...)), Access, claimsOf(Access)},
		{"refresh", craft(testKey, hdr, object(members(Refresh)...)), Refresh, claimsOf(Refresh)},
		{"intra", craft(testKey, hdr, object(members(Intra)...)), Intra, claimsOf(Intra)},
		{"members in another order", craft(testKey, hdr, object(replace(access, "iss", `"authd"`)...)), Access, claimsOf(Access)},
		{"header in another order", craft(testKey, `{"kid":"`+keyID(testKey)+`","typ":"JWT","alg":"HS256"}`, object(access...)), Access, claimsOf(Access)},
		{"header without typ", craft(testKey, `{"alg":"HS256","kid":"`+keyID(testKey)+`"}`, object(access...)), Access, claimsOf(Access)},
		{"header without kid", craft(testKey, `{"alg":"HS256","typ":"JWT"}`, object(access...)), Access, claimsOf(Access)},
		{"header without kid, signed by the old key", craft(oldKey, `{"alg":"HS256"}`, object(access...)), Access, claimsOf(Access)},
		{"old key still in keys", craft(oldKey, headerFor(oldKey), object(access...)), Access, claimsOf(Access)},
		{"white space everywhere", craft(testKey, " {\t\"alg\" : \"HS256\" }\n", " {\r\n"+strings.Join(access, " ,\n ")+"\n} \n"), Access, claimsOf(Access)},
		{"escapes in header", craft(testKey, `{"\u0061lg":"HS\u0032\u00356","kid":"`+keyID(testKey)+`"}`, object(access...)), Access, claimsOf(Access)},
		{"unicode escapes", withUsername(`"\u00e9l\u00E8ve \ud83d\ude00 \u0000"`), Access, claimsWithUsername("élève 😀 \x00")},
		{"short escapes", withUsername(`"\"\\\/\b\f\n\r\t"`), Access, claimsWithUsername("\"\\/\b\f\n\r\t")},
		{"UTF-8 as is", withUsername(`"élève 😀 ` + "\uFFFD" + `"`), Access, claimsWithUsername("élève 😀 \uFFFD")},
		{"escaped claim name", craft(testKey, hdr, object(append(without(access, "username"), `"\u0075ser\u006eame":"alice"`)...)), Access, claimsOf(Access)},
		{"no iat", craft(testKey, hdr, object(without(access, "iat")...)), Access, noIat},
		{"unknown claims of every kind", craft(testKey, hdr, object(append(access,
			`"aud":["a","b",[]]`, `"rate":-1.5e+3`, `"x":{"y":[0,-0,1.0,2E-9,{"z":null}],"t":true,"f":false,"":{}}`, `"e\u0301":"\ud800\udc00"`,
			`"admin":true`, `"deep":`+strings.Repeat("[", maxDepth)+strings.Repeat("]", maxDepth))...)), Access, claimsOf(Access)},
		{"exactly MaxLen bytes", pad, Access, claimsOf(Access)},
	}
	i := mustIssuer(t, clock.NewFake(t0).Now, testKey, oldKey)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := i.Verify(tc.tok, tc.want)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(tc.c, got); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
		})
	}
	if len(pad) != MaxLen {
		t.Errorf("padded token is %d bytes, want %d", len(pad), MaxLen)
	}
}

func TestVerifyTimes(t *testing.T) {
	t.Parallel()
	exp := t0.Add(15 * time.Minute)
	tok := craft(testKey, headerFor(testKey), object(members(Access)...))
	future := craft(testKey, headerFor(testKey), object(replace(members(Access), "iat", strconv.FormatInt(t0.Add(time.Minute).Unix(), 10))...))
	notBefore := craft(testKey, headerFor(testKey), object(append(members(Access), `"nbf":`+strconv.FormatInt(t0.Add(time.Minute).Unix(), 10))...))
	tests := []struct {
		name string
		tok  string
		now  time.Time
		err  error
	}{
		{"issued now", tok, t0, nil},
		{"at exp", tok, exp, nil},
		{"just inside the leeway", tok, exp.Add(Leeway - time.Nanosecond), nil},
		{"at the end of the leeway", tok, exp.Add(Leeway), ErrExpired},
		{"a day late", tok, exp.Add(24 * time.Hour), ErrExpired},
		{"iat a leeway ahead", future, t0.Add(time.Minute - Leeway), nil},
		{"iat more than a leeway ahead", future, t0.Add(time.Minute - Leeway - time.Nanosecond), errFuture},
		{"nbf a leeway ahead", notBefore, t0.Add(time.Minute - Leeway), nil},
		{"nbf more than a leeway ahead", notBefore, t0.Add(time.Minute - Leeway - time.Nanosecond), ErrNotYet},
		{"nbf passed", notBefore, t0.Add(2 * time.Minute), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			i := mustIssuer(t, clock.NewFake(tc.now).Now, testKey)
			_, err := i.Verify(tc.tok, Access)
			if !errors.Is(err, tc.err) || (tc.err != nil && !errors.Is(err, ErrInvalid)) {
				t.Errorf("Verify at %v: err = %v, want %v", tc.now, err, tc.err)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	hdr := headerFor(testKey)
	access := members(Access)
	good := craft(testKey, hdr, object(access...))
	head, body, sig := func() (string, string, string) {
		s := strings.Split(good, ".")
		return s[0], s[1], s[2]
	}()
	withClaims := func(ms ...string) string { return craft(testKey, hdr, object(ms...)) }
	withJSON := func(claims string) string { return craft(testKey, hdr, claims) }
	flip := func(s string, at int) string {
		b := []byte(s)
		if b[at] == 'A' {
			b[at] = 'B'
		} else {
			b[at] = 'A'
		}
		return string(b)
	}
	// spaced is the access claims followed by white space, one byte over a
	// multiple of three, so that its base64 ends in a partial group.
	spaced := object(access...)
	for len(spaced)%3 != 1 {
		spaced += " "
	}
	hs512 := signSegments(sha512.New, testKey, enc(`{"alg":"HS512","typ":"JWT","kid":"`+keyID(testKey)+`"}`), body)

	// std is a token whose claims segment is standard base64, with + and /.
	stdBody := base64.RawStdEncoding.EncodeToString([]byte(object(append(access, `"x":"???>>>"`)...)))
	if !strings.ContainsAny(stdBody, "+/") {
		t.Fatal("stdBody has neither + nor /")
	}

	type test struct {
		name string
		tok  string
		want Type
		err  error
	}
	tests := []test{
		{"empty", "", Access, ErrMalformed},
		{"garbage", "not a token", Access, ErrMalformed},
		{"two segments", head + "." + body, Access, ErrMalformed},
		{"four segments", good + ".", Access, ErrMalformed},
		{"dots only", "..", Access, ErrMalformed},
		{"too large", strings.Repeat("a", MaxLen+1), Access, ErrTooLarge},
		{"too large, valid prefix", good + strings.Repeat("A", MaxLen+1-len(good)), Access, ErrTooLarge},
		{"a megabyte", strings.Repeat(good, 1<<20/len(good)), Access, ErrTooLarge},

		{"alg none, no signature", enc(`{"alg":"none","typ":"JWT"}`) + "." + body + ".", Access, ErrAlgorithm},
		{"alg none with our kid", enc(`{"alg":"none","typ":"JWT","kid":"`+keyID(testKey)+`"}`) + "." + body + ".", Access, ErrAlgorithm},
		{"alg HS512", hs512, Access, ErrAlgorithm},
		{"alg hs256", craft(testKey, `{"alg":"hs256","typ":"JWT"}`, object(access...)), Access, ErrAlgorithm},
		{"alg RS256", craft(testKey, `{"alg":"RS256","typ":"JWT"}`, object(access...)), Access, ErrAlgorithm},
		{"no alg", craft(testKey, `{"typ":"JWT","kid":"`+keyID(testKey)+`"}`, object(access...)), Access, ErrAlgorithm},
		{"alg not a string", craft(testKey, `{"alg":256}`, object(access...)), Access, ErrMalformed},
		{"alg repeated", craft(testKey, `{"alg":"HS256","alg":"none"}`, object(access...)), Access, ErrMalformed},
		{"typ not JWT", craft(testKey, `{"alg":"HS256","typ":"at+jwt"}`, object(access...)), Access, ErrMalformed},
		{"unknown header parameter", craft(testKey, `{"alg":"HS256","crit":["exp"]}`, object(access...)), Access, ErrMalformed},
		{"header not an object", craft(testKey, `["HS256"]`, object(access...)), Access, ErrMalformed},
		{"header with trailing data", craft(testKey, `{"alg":"HS256"}{}`, object(access...)), Access, ErrMalformed},
		{"header not base64url", "eyJ!" + "." + body + "." + sig, Access, ErrMalformed},

		{"signed with another key, our kid", craft(otherKey, hdr, object(access...)), Access, ErrSignature},
		{"signed with another key, no kid", craft(otherKey, `{"alg":"HS256"}`, object(access...)), Access, ErrSignature},
		{"signed with another key, its kid", craft(otherKey, headerFor(otherKey), object(access...)), Access, ErrUnknownKey},
		{"kid not a string", craft(testKey, `{"alg":"HS256","kid":1}`, object(access...)), Access, ErrMalformed},
		{"claims changed", head + "." + enc(object(replace(access, "sub", `"1"`)...)) + "." + sig, Access, ErrSignature},
		{"signature changed", head + "." + body + "." + flip(sig, 5), Access, ErrSignature},
		{"signature empty", head + "." + body + ".", Access, ErrSignature},
		{"signature short", head + "." + body + "." + sig[:42], Access, ErrSignature},
		{"signature long", head + "." + body + "." + sig + "A", Access, ErrSignature},
		{"signature padded", head + "." + body + "." + sig + "=", Access, ErrSignature},
		{"signature in standard base64", head + "." + body + "." + sig[:42] + "+", Access, ErrMalformed},
		{"signature with trailing bits", head + "." + body + "." + trailingBit(sig), Access, ErrMalformed},

		{"claims padded", signSegments(sha256.New, testKey, head, base64.URLEncoding.EncodeToString([]byte(spaced))), Access, ErrMalformed},
		{"claims in standard base64", signSegments(sha256.New, testKey, head, stdBody), Access, ErrMalformed},
		{"claims with a line break", signSegments(sha256.New, testKey, head, body[:8]+"\n"+body[8:]), Access, ErrMalformed},
		{"claims with trailing bits", signSegments(sha256.New, testKey, head, trailingBit(enc(spaced))), Access, ErrMalformed},
		{"claims of impossible length", signSegments(sha256.New, testKey, head, body+"A"), Access, ErrMalformed},

		{"wrong issuer", withClaims(replace(access, "iss", `"other"`)...), Access, errIssuer},
		{"no issuer", withClaims(without(access, "iss")...), Access, errIssuer},
		{"unknown type", withClaims(replace(access, "token_type", `"admin"`)...), Access, ErrWrongType},
		{"no type", withClaims(without(access, "token_type")...), Access, ErrWrongType},
		{"empty type", withClaims(replace(access, "token_type", `""`)...), Access, ErrWrongType},
		{"type in capitals", withClaims(replace(access, "token_type", `"ACCESS"`)...), Access, ErrWrongType},
		{"want an unknown type", good, "admin", ErrWrongType},
		{"want no type", good, "", ErrWrongType},

		{"repeated claim", withClaims(append(access, `"sub":"1"`)...), Access, ErrMalformed},
		{"auth_time repeated", withClaims(append(access, `"auth_time":1`, `"auth_time":2`)...), Access, ErrMalformed},
		{"auth_time a string", withClaims(append(access, `"auth_time":"1"`)...), Access, ErrMalformed},
		{"repeated claim through an escape", withClaims(append(access, `"s\u0075b":"1"`)...), Access, ErrMalformed},
		{"repeated claim, same value", withClaims(append(access, `"exp":`+strconv.FormatInt(t0.Add(15*time.Minute).Unix(), 10))...), Access, ErrMalformed},
		{"sub a number", withClaims(replace(access, "sub", `42`)...), Access, ErrMalformed},
		{"username true", withClaims(replace(access, "username", `true`)...), Access, ErrMalformed},
		{"sid null", withClaims(replace(access, "sid", `null`)...), Access, ErrMalformed},
		{"jti an array", withClaims(replace(access, "jti", `["j1"]`)...), Access, ErrMalformed},
		{"token_type an object", withClaims(replace(access, "token_type", `{"v":"access"}`)...), Access, ErrMalformed},
		{"exp a string", withClaims(replace(access, "exp", `"1795868100"`)...), Access, ErrMalformed},
		{"exp a fraction", withClaims(replace(access, "exp", `1795868100.5`)...), Access, ErrMalformed},
		{"exp with an exponent", withClaims(replace(access, "exp", `2e9`)...), Access, ErrMalformed},
		{"exp with a plus", withClaims(replace(access, "exp", `+1795868100`)...), Access, ErrMalformed},
		{"exp with a leading zero", withClaims(replace(access, "exp", `01795868100`)...), Access, ErrMalformed},
		{"exp over 64 bits", withClaims(replace(access, "exp", `9223372036854775808`)...), Access, ErrMalformed},
		{"exp null", withClaims(replace(access, "exp", `null`)...), Access, ErrMalformed},
		{"exp -0", withClaims(replace(access, "exp", `-0`)...), Access, ErrExpired},
		{"exp at the largest int64", withClaims(replace(access, "exp", `9223372036854775807`)...), Access, nil},
		{"exp at the smallest int64", withClaims(replace(access, "exp", `-9223372036854775808`)...), Access, ErrExpired},
		{"iat at the largest int64", withClaims(replace(access, "iat", `9223372036854775807`)...), Access, errFuture},
		{"iat a string", withClaims(replace(access, "iat", `"now"`)...), Access, ErrMalformed},
		{"nbf a string", withClaims(replace(access, "nbf", `"soon"`)...), Access, ErrMalformed},
		{"nbf twice", withClaims(append(replace(access, "nbf", `0`), `"nbf":0`)...), Access, ErrMalformed},
		{"nbf at the largest int64", withClaims(replace(access, "nbf", `9223372036854775807`)...), Access, ErrNotYet},

		{"trailing garbage", withJSON(object(access...) + "x"), Access, ErrMalformed},
		{"two objects", withJSON(object(access...) + "{}"), Access, ErrMalformed},
		{"trailing comma", withJSON(object(access...)[:len(object(access...))-1] + ",}"), Access, ErrMalformed},
		{"not closed", withJSON(object(access...)[:len(object(access...))-1]), Access, ErrMalformed},
		{"leading comma", withJSON("{," + strings.Join(access, ",") + "}"), Access, ErrMalformed},
		{"missing colon", withJSON(`{"sub" "1"}`), Access, ErrMalformed},
		{"single quotes", withJSON(`{'sub':'1'}`), Access, ErrMalformed},
		{"empty claims", withJSON(""), Access, ErrMalformed},
		{"empty object", withJSON("{}"), Access, errIssuer},
		{"array", withJSON("[]"), Access, ErrMalformed},
		{"string", withJSON(`"access"`), Access, ErrMalformed},
		{"null", withJSON("null"), Access, ErrMalformed},
		{"unterminated string", withJSON(`{"sub":"1`), Access, ErrMalformed},
		{"bad escape", withClaims(replace(access, "username", `"\x41"`)...), Access, ErrMalformed},
		{"short unicode escape", withClaims(replace(access, "username", `"\u41"`)...), Access, ErrMalformed},
		{"escape at the end", withJSON(`{"sub":"\`), Access, ErrMalformed},
		{"lone high surrogate", withClaims(replace(access, "username", `"\ud83d"`)...), Access, ErrMalformed},
		{"high surrogate, then a letter", withClaims(replace(access, "username", `"\ud83dx\ude00"`)...), Access, ErrMalformed},
		{"two high surrogates", withClaims(replace(access, "username", `"\ud83d\ud83d"`)...), Access, ErrMalformed},
		{"lone low surrogate", withClaims(replace(access, "username", `"\ude00"`)...), Access, ErrMalformed},
		{"raw control character", withClaims(replace(access, "username", "\"a\nb\"")...), Access, ErrMalformed},
		{"invalid UTF-8", withClaims(replace(access, "username", "\"\xff\"")...), Access, ErrMalformed},
		{"encoded surrogate", withClaims(replace(access, "username", "\"\xed\xa0\x80\"")...), Access, ErrMalformed},
		{"invalid UTF-8 in an unknown claim", withClaims(append(access, "\"x\":[\"\xc3\"]")...), Access, ErrMalformed},
		{"bad literal in an unknown claim", withClaims(append(access, `"x":nul`)...), Access, ErrMalformed},
		{"bad number in an unknown claim", withClaims(append(access, `"x":1.`)...), Access, ErrMalformed},
		{"bad exponent in an unknown claim", withClaims(append(access, `"x":1e`)...), Access, ErrMalformed},
		{"lone minus in an unknown claim", withClaims(append(access, `"x":-`)...), Access, ErrMalformed},
		{"NaN in an unknown claim", withClaims(append(access, `"x":NaN`)...), Access, ErrMalformed},
		{"unclosed array in an unknown claim", withClaims(append(access, `"x":[1,2`)...), Access, ErrMalformed},
		{"array trailing comma in an unknown claim", withClaims(append(access, `"x":[1,]`)...), Access, ErrMalformed},
		{"too deep", withClaims(append(access, `"x":`+strings.Repeat("[", maxDepth+1)+strings.Repeat("]", maxDepth+1))...), Access, ErrMalformed},
		{"very deep", withClaims(append(access, `"x":`+strings.Repeat(`{"a":`, 200)+"1"+strings.Repeat("}", 200))...), Access, ErrMalformed},
	}
	for _, typ := range []Type{Access, Refresh, Intra, MFA} {
		for _, other := range []Type{Access, Refresh, Intra, MFA} {
			if other != typ {
				tok := withClaims(members(typ)...)
				tests = append(tests, test{fmt.Sprintf("%s as %s", typ, other), tok, other, ErrWrongType})
			}
		}
		required := map[Type][]string{
			Access:  {"sub", "username", "sid", "jti", "exp"},
			Refresh: {"sub", "sid", "jti", "exp"},
			Intra:   {"intra_id", "intra_login", "jti", "exp"},
			MFA:     {"sub", "jti", "exp"},
		}[typ]
		for _, name := range required {
			ms := members(typ)
			tests = append(tests, test{fmt.Sprintf("%s without %s", typ, name), withClaims(without(ms, name)...), typ, ErrMalformed})
			if name != "exp" && name != "intra_id" {
				tests = append(tests, test{fmt.Sprintf("%s with empty %s", typ, name), withClaims(replace(ms, name, `""`)...), typ, ErrMalformed})
			}
		}
	}
	tests = append(tests,
		test{"intra_id zero", withClaims(replace(members(Intra), "intra_id", "0")...), Intra, ErrMalformed},
		test{"intra_id negative", withClaims(replace(members(Intra), "intra_id", "-4242")...), Intra, ErrMalformed},
		test{"intra_id a string", withClaims(replace(members(Intra), "intra_id", `"4242"`)...), Intra, ErrMalformed},
		test{"intra_id a fraction", withClaims(replace(members(Intra), "intra_id", `4242.0`)...), Intra, ErrMalformed},
		test{"email a number", withClaims(replace(members(Intra), "email", `1`)...), Intra, ErrMalformed},
	)

	// The rotated-out key's tokens are refused by an Issuer without it.
	rotated := mustIssuer(t, clock.NewFake(t0).Now, oldKey)
	tests = append(tests, test{"kid of a rotated-out key", mustSignString(t, rotated, claimsOf(Access)), Access, ErrUnknownKey})

	i := mustIssuer(t, clock.NewFake(t0).Now, testKey)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := i.Verify(tc.tok, tc.want)
			if tc.err == nil {
				if err != nil {
					t.Errorf("Verify: %v, want success", err)
				}
				return
			}
			if !errors.Is(err, tc.err) || !errors.Is(err, ErrInvalid) {
				t.Errorf("Verify: err = %v, want %v", err, tc.err)
			}
			if diff := cmp.Diff(Claims{}, c); diff != "" {
				t.Errorf("Verify returned claims with its error (-want +got):\n%s", diff)
			}
		})
	}
}

// trailingBit sets the lowest unused bit of s, unpadded base64url whose
// length is not a multiple of four.
func trailingBit(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[last|1])
}

func mustSignString(t testing.TB, i *Issuer, c Claims) string {
	t.Helper()
	tok, _ := mustSign(t, i, c, time.Hour)
	return tok
}

// TestRotation follows a key through rotation: added second, moved first,
// then removed.
func TestRotation(t *testing.T) {
	t.Parallel()
	now := clock.NewFake(t0).Now
	before := mustIssuer(t, now, oldKey)
	during := mustIssuer(t, now, testKey, oldKey)
	after := mustIssuer(t, now, testKey)
	oldTok := mustSignString(t, before, claimsOf(Access))
	newTok := mustSignString(t, during, claimsOf(Access))

	type result struct{ Old, New error }
	got := map[string]result{}
	for name, i := range map[string]*Issuer{"before": before, "during": during, "after": after} {
		_, errOld := i.Verify(oldTok, Access)
		_, errNew := i.Verify(newTok, Access)
		got[name] = result{errOld, errNew}
	}
	want := map[string]result{
		"before": {nil, ErrUnknownKey},
		"during": {nil, nil},
		"after":  {ErrUnknownKey, nil},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b error) bool { return errors.Is(a, b) || errors.Is(b, a) })); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

// TestVerifyTooLargeAllocates checks that a token over MaxLen is refused
// without allocating, however long it is.
func TestVerifyTooLargeAllocates(t *testing.T) {
	i := mustIssuer(t, clock.NewFake(t0).Now, testKey)
	huge := strings.Repeat("A", 1<<20)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := i.Verify(huge, Access); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("Verify: %v", err)
		}
	})
	if allocs != 0 {
		t.Errorf("Verify of a 1 MiB token: %v allocations, want 0", allocs)
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	var dst [64]byte
	for n := range 48 {
		src := make([]byte, n)
		for j := range src {
			src[j] = byte(j*37 + n)
		}
		s := base64.RawURLEncoding.EncodeToString(src)
		got, ok := decode(dst[:], s)
		if !ok || string(dst[:got]) != string(src) {
			t.Errorf("decode(%q) = %x, %v, want %x", s, dst[:got], ok, src)
		}
		if _, ok := decode(dst[:max(n-1, 0)], s); ok && n > 0 {
			t.Errorf("decode(%q) into %d bytes succeeded", s, n-1)
		}
	}
	for _, s := range []string{"A", "AAAAA", "AB", "AAB", "AA==", "AA=", "A+AA", "A/AA", "AA A", "AA\nA", "AAA\x00", "AAA\xff"} {
		if n, ok := decode(dst[:], s); ok {
			t.Errorf("decode(%q) = %x, want failure", s, dst[:n])
		}
	}
}
