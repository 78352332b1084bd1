package token

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"authd/internal/clock"
)

// FuzzVerify checks that Verify never panics and refuses with ErrInvalid,
// on raw tokens and on tokens correctly signed over any header and claims,
// and that what it accepts is JSON that encoding/json reads the same way.
func FuzzVerify(f *testing.F) {
	i := mustIssuer(f, clock.NewFake(t0).Now, testKey, oldKey)
	hdr := headerFor(testKey)
	for _, typ := range []Type{Access, Refresh, Intra} {
		claims := object(members(typ)...)
		f.Add(craft(testKey, hdr, claims), hdr, claims)
		f.Add(craft(oldKey, `{"alg":"HS256"}`, claims), `{"alg":"HS256"}`, claims)
	}
	access := members(Access)
	f.Add("", "", "")
	f.Add("..", `{"alg":"none"}`, "{}")
	f.Add("a.b.c", `{"alg":"HS256","typ":"JWT","kid":"`+keyID(oldKey)+`"}`, `{"x":[1,-2.5e3,true,false,null,{"y":"\u00e9"}]}`)
	f.Add(enc(`{"alg":"none"}`)+"."+enc("{}")+".", `{"alg":"HS512","kid":"x"}`, object(replace(access, "username", `"\ud83d\ude00\n\"\\"`)...))
	f.Add(strings.Repeat("A", MaxLen+1), ` { "\u0061lg" : "HS256" } `, object(append(access, `"sub":"1"`)...))
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.AAAA", hdr, object(replace(access, "exp", `1e9`)...))
	f.Add("x", hdr, object(replace(members(Intra), "intra_id", `-9223372036854775808`)...))
	f.Add("x", hdr, object(access...)+" x")

	f.Fuzz(func(t *testing.T, raw, header, claims string) {
		for _, typ := range []Type{Access, Refresh, Intra} {
			if _, err := i.Verify(raw, typ); err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("Verify(%q): error %v does not wrap ErrInvalid", raw, err)
			}
		}
		tok := craft(testKey, header, claims)
		for _, typ := range []Type{Access, Refresh, Intra} {
			c, err := i.Verify(tok, typ)
			if err != nil {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("Verify: error %v does not wrap ErrInvalid", err)
				}
				continue
			}
			if !json.Valid([]byte(header)) || !json.Valid([]byte(claims)) {
				t.Fatalf("Verify accepted header %q, claims %q that are not JSON", header, claims)
			}
			checkAsJSON(t, claims, c)

			// The claims sign again and verify to themselves, when their
			// times are ones Sign can write.
			iat, exp := c.IssuedAt.Unix(), c.ExpiresAt.Unix()
			if c.IssuedAt.IsZero() || iat < 0 || iat > 1<<40 || exp <= iat || exp-iat > 1<<30 {
				continue
			}
			i2 := mustIssuer(t, clock.NewFake(c.IssuedAt).Now, testKey)
			tok2, signed, err := i2.Sign(c, c.ExpiresAt.Sub(c.IssuedAt))
			if err != nil {
				continue // a lifetime that is not positive, or claims too long
			}
			c2, err := i2.Verify(tok2, typ)
			if err != nil {
				t.Fatalf("Verify of the claims signed again: %v", err)
			}
			if diff := cmp.Diff(signed, c2); diff != "" {
				t.Fatalf("claims signed again (-want +got):\n%s", diff)
			}
		}
	})
}

// checkAsJSON checks that encoding/json reads the same claims from js as
// Verify did into c.
func checkAsJSON(t *testing.T, js string, c Claims) {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(strings.NewReader(js))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	want, got := map[string]any{}, map[string]any{}
	for name, v := range map[string]string{
		"iss": c.Issuer, "sub": c.Subject, "username": c.Username, "sid": c.SessionID, "jti": c.ID,
		"token_type": string(c.Type), "intra_login": c.IntraLogin, "email": c.Email,
		"displayname": c.DisplayName, "image_link": c.ImageLink,
	} {
		if v != "" || m[name] != nil {
			want[name], got[name] = m[name], v
		}
	}
	for name, v := range map[string]int64{"exp": c.ExpiresAt.Unix(), "intra_id": c.IntraID} {
		if v != 0 || m[name] != nil {
			n, _ := m[name].(json.Number)
			jv, err := strconv.ParseInt(string(n), 10, 64)
			if err != nil {
				t.Fatalf("%s: encoding/json reads %v, not an integer", name, m[name])
			}
			want[name], got[name] = jv, v
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("claims, encoding/json (-want) and Verify (+got):\n%s", diff)
	}
}
