package account

import (
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

// maxUsernameTries bounds the search for a free username for an Intra login.
const maxUsernameTries = 20

// The messages of the rules, the same for the HTTP API and the CLI.
var (
	msgUsername = fmt.Sprintf("The username must be %d to %d ASCII letters, digits, '_', '-' or '.'.", MinUsername, MaxUsername)
	msgPassword = fmt.Sprintf("The password must be %d to %d bytes of UTF-8.", password.MinLen, password.MaxLen)
	msgEmail    = "The email address is not valid."
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
// rules.
func CheckUsername(u string) error {
	if !ValidUsername(u) {
		return &InvalidInputError{msgUsername}
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
// numbered variants, then one derived from the Intra id.
func usernameCandidates(login string, intraID int64) []string {
	var b strings.Builder
	for i := 0; i < len(login) && b.Len() < MaxUsername; i++ {
		c := login[i]
		if usernameByte(c) {
			b.WriteByte(c)
		}
	}
	base := b.String()
	last := "intra-" + strconv.FormatInt(intraID, 10)
	if len(base) < MinUsername {
		return []string{last}
	}
	out := []string{base}
	for n := 2; len(out) < maxUsernameTries-1; n++ {
		suffix := "-" + strconv.Itoa(n)
		stem := base
		if len(stem)+len(suffix) > MaxUsername {
			stem = stem[:MaxUsername-len(suffix)]
		}
		out = append(out, stem+suffix)
	}
	return append(out, last)
}
