package fakeintra

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"
)

// PKCE (RFC 7636) as Doorkeeper 5.0 has it. The facts, from Doorkeeper's
// source at v5.0.0:
//
//   - lib/doorkeeper/oauth/pre_authorization.rb validates
//     code_challenge_method last, after the response type, client, scopes
//     and redirect URI: with a code_challenge present, the method must
//     match /^plain$|^S256$/, else the error is
//     invalid_code_challenge_method, whose description in
//     config/locales/en.yml is "The code challenge method must be plain or
//     S256." Without a challenge the method is not looked at.
//   - lib/doorkeeper/oauth/authorization/code.rb stores the challenge and
//     the method, as sent, with the grant.
//   - lib/doorkeeper/models/access_grant_mixin.rb: a grant "uses PKCE"
//     when its challenge is present (not blank); the S256 challenge of a
//     verifier is the unpadded base64url of its SHA-256.
//   - lib/doorkeeper/oauth/authorization_code_request.rb checks, in this
//     order: the attributes (invalid_request: a grant that uses PKCE and a
//     blank code_verifier, or a blank redirect_uri), the client
//     (invalid_client), the grant (invalid_grant), the redirect URI
//     (invalid_grant), then the verifier (invalid_grant). That last check
//     runs when the grant uses PKCE or a code_verifier was sent at all;
//     it compares the stored challenge with the S256 challenge of the
//     verifier for method S256, with the verifier itself for plain, and
//     fails for any other method, so a verifier sent for a code issued
//     without a challenge is refused too.
//
// Ruby's blank is empty or only white space; present is its opposite.

// errInvalidCodeChallengeMethod is Doorkeeper's error for an unknown
// code_challenge_method.
var errInvalidCodeChallengeMethod = oauthError{"invalid_code_challenge_method", "The code challenge method must be plain or S256."}

// blank is Ruby's blank? for a string: empty or white space only.
func blank(s string) bool {
	return strings.TrimSpace(s) == ""
}

// challengeMethodAccepted is the authorization request's check: without a
// challenge any method goes; with one, the method must be plain or S256.
// Doorkeeper matches /^plain$|^S256$/, whose anchors Ruby applies at
// every line, so a method with one line equal to plain or S256 passes;
// its code can then never be redeemed, the token endpoint comparing the
// method as a whole.
func challengeMethodAccepted(challenge, method string) bool {
	if blank(challenge) {
		return true
	}
	for _, line := range strings.Split(method, "\n") {
		if line == "plain" || line == "S256" {
			return true
		}
	}
	return false
}

// s256 is the S256 code challenge of verifier: BASE64URL(SHA256(verifier))
// without padding (RFC 7636 §4.2).
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// usesPKCE reports whether the code was issued with a code challenge.
func (g *grant) usesPKCE() bool {
	return !blank(g.challenge)
}

// verifierMissing is the attribute check: a code issued with a challenge
// needs a code_verifier that is not blank.
func (g *grant) verifierMissing(verifier string) bool {
	return g.usesPKCE() && blank(verifier)
}

// verifierMatches is the last check of a code exchange; sent says
// whether the request had a code_verifier parameter at all, even empty.
func (g *grant) verifierMatches(verifier string, sent bool) bool {
	if !g.usesPKCE() && !sent {
		return true
	}
	var want string
	switch g.challengeMethod {
	case "S256":
		want = s256(verifier)
	case "plain":
		want = verifier
	default:
		return false
	}
	return subtle.ConstantTimeCompare([]byte(g.challenge), []byte(want)) == 1
}
