package account

import (
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"

	"authd/internal/password"
)

// Username rules: 3 to 32 ASCII letters, digits, '_', '-' and '.', unique
// without regard to case. Every way a user is created follows them.
const (
	MinUsername = 3
	MaxUsername = 32
)

// maxEmail is RFC 5321's limit on a forward path.
const maxEmail = 254

// numberedCandidates is how many usernames derived from an Intra login
// (login, login-2, ...) are tried before the reserved intra-<id> and the
// random ones.
const numberedCandidates = 19

// randomCandidates is how many usernames with a random suffix are tried
// last; an attacker cannot register them ahead, since they cannot guess
// them.
const randomCandidates = 5

// reservedPrefix starts the usernames that only Intra provisioning gives
// (intra-<id>): nobody can register one to block an Intra user's first
// login.
const reservedPrefix = "intra-"

// The messages of the rules, the same for the HTTP API and the CLI.
var (
	msgUsername = fmt.Sprintf("The username must be %d to %d ASCII letters, digits, '_', '-' or '.'.", MinUsername, MaxUsername)
	msgPassword = fmt.Sprintf("The password must be %d to %d bytes of UTF-8.", password.MinLen, password.MaxLen)
	msgEmail    = "The email address is not valid."
	msgReserved = fmt.Sprintf("Usernames beginning with %q are reserved for accounts made by Log in with 42.", reservedPrefix)
	msgLogin    = fmt.Sprintf("The username must be 1 to %d bytes and the password 1 to %d bytes.", MaxUsername, password.MaxLen)
)

// usernameByte reports whether c may appear in a username.
func usernameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
}

// ValidUsername reports whether u follows the username rules.
func ValidUsername(u string) bool {
	if len(u) < MinUsername || len(u) > MaxUsername {
		return false
	}
	for i := 0; i < len(u); i++ {
		if !usernameByte(u[i]) {
			return false
		}
	}
	return true
}

// CheckUsername returns an *InvalidInputError when u breaks the username
// rules, or is one that only Intra provisioning gives.
func CheckUsername(u string) error {
	if !ValidUsername(u) {
		return &InvalidInputError{msgUsername}
	}
	if len(u) >= len(reservedPrefix) && strings.EqualFold(u[:len(reservedPrefix)], reservedPrefix) {
		return &InvalidInputError{msgReserved}
	}
	return nil
}

// CheckEmail returns the email address as it is kept (trimmed; empty for
// none), or an *InvalidInputError when it is not one.
func CheckEmail(e string) (string, error) {
	e = strings.TrimSpace(e)
	if e != "" && !validEmail(e) {
		return "", &InvalidInputError{msgEmail}
	}
	return e, nil
}

// CheckPassword returns an *InvalidInputError when pw breaks the password
// rule.
func CheckPassword(pw string) error {
	if !password.Valid(pw) {
		return &InvalidInputError{msgPassword}
	}
	return nil
}

// checkNewUser applies the rules of a new user with a password, and
// returns the email address as it is kept.
func checkNewUser(username, pw, email string) (string, error) {
	if err := CheckUsername(username); err != nil {
		return "", err
	}
	if err := CheckPassword(pw); err != nil {
		return "", err
	}
	return CheckEmail(email)
}

// checkLogin bounds what a login is given before any work is spent on it.
// Its limits are looser than a new user's: a user imported with a name or
// password that the rules would refuse today can still log in.
func checkLogin(username, pw string) error {
	if username == "" || len(username) > MaxUsername || pw == "" || len(pw) > password.MaxLen {
		return &InvalidInputError{msgLogin}
	}
	return nil
}

// validEmail is a deliberately loose check: one @ with something on each
// side, no spaces or control characters, at most 254 bytes. Whether the
// address receives mail is not this service's concern.
func validEmail(e string) bool {
	if len(e) > maxEmail {
		return false
	}
	at := strings.LastIndexByte(e, '@')
	if at < 1 || at == len(e)-1 {
		return false
	}
	for _, c := range e {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// usernameCandidates lists the usernames tried, in order, for an Intra
// login: the login reduced to the username alphabet and length, then
// numbered variants, then intra-<id>, which nobody can register, then a
// few with a random suffix, which nobody can guess.
func usernameCandidates(login string, intraID int64) []string {
	var b strings.Builder
	for i := 0; i < len(login) && b.Len() < MaxUsername; i++ {
		c := login[i]
		if usernameByte(c) {
			b.WriteByte(c)
		}
	}
	base := b.String()
	reserved := reservedPrefix + strconv.FormatInt(intraID, 10)
	var out []string
	if len(base) >= MinUsername {
		out = append(out, base)
		for n := 2; len(out) < numberedCandidates; n++ {
			out = append(out, withSuffix(base, "-"+strconv.Itoa(n)))
		}
	} else {
		base = reserved
	}
	out = append(out, reserved)
	for range randomCandidates {
		out = append(out, withSuffix(base, "-"+randomSuffix()))
	}
	return out
}

// withSuffix is stem+suffix, stem cut so that the whole is a username.
func withSuffix(stem, suffix string) string {
	if len(stem)+len(suffix) > MaxUsername {
		stem = stem[:MaxUsername-len(suffix)]
	}
	return stem + suffix
}

// randomSuffix is 8 random characters of the username alphabet (40 bits).
func randomSuffix() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails; see randomID
	for i := range b {
		b[i] = alphabet[b[i]%32]
	}
	return string(b)
}
