package account

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"authd/internal/password"
	"authd/internal/store"
	"authd/internal/token"
)

// DefaultReauthWindow is how long after its user authenticated a session
// is fresh, unless configured otherwise.
const DefaultReauthWindow = 10 * time.Minute

// MaxUserAgent is the most bytes of a client's User-Agent a session keeps.
const MaxUserAgent = 256

// maxSessionID is longer than any session id this service makes; a
// longer one names no session and is not looked up.
const maxSessionID = 64

// Client describes who sends a request: its address as the throttles see
// it, and its User-Agent. A session keeps those of the request that began
// it.
type Client struct {
	IP        string
	UserAgent string
}

type clientKey struct{}

// WithClient returns ctx carrying c, for the sessions started under it.
func WithClient(ctx context.Context, c Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

// clientFrom returns the client of ctx, its User-Agent made valid UTF-8
// without control characters and cut to MaxUserAgent bytes.
func clientFrom(ctx context.Context) Client {
	c, _ := ctx.Value(clientKey{}).(Client)
	c.UserAgent = cleanText(c.UserAgent, MaxUserAgent)
	c.IP = cleanText(c.IP, MaxUserAgent)
	return c
}

// cleanText returns s as valid UTF-8 without control characters, cut to
// at most n bytes on a character boundary.
func cleanText(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// Fresh returns ErrReauthRequired unless the user of p authenticated
// within the reauthentication window: the access token's auth_time is
// recent enough. Sensitive actions need a fresh session.
func (s *Service) Fresh(p Principal) error {
	at := p.Claims.AuthTime
	if at.IsZero() || s.now().Sub(at) > s.opts.ReauthWindow {
		return ErrReauthRequired
	}
	return nil
}

// Sessions returns the live sessions of p's user, newest first.
func (s *Service) Sessions(ctx context.Context, p Principal) ([]store.Session, error) {
	now := s.now()
	all, err := s.store.UserSessions(ctx, p.User.ID, now)
	if err != nil {
		return nil, storeError("list sessions", err)
	}
	live := all[:0]
	for _, sess := range all {
		if s.usable(sess, now) {
			live = append(live, sess)
		}
	}
	return live, nil
}

// EndSession revokes the session id of p's user. Another user's session,
// an unknown id or a session no longer live is ErrNoSuchSession.
func (s *Service) EndSession(ctx context.Context, p Principal, id string) error {
	if id == "" || len(id) > maxSessionID {
		return ErrNoSuchSession
	}
	sess, err := s.direct.Session(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return ErrNoSuchSession
	}
	if err != nil {
		return storeError("end session", err)
	}
	now := s.now()
	if sess.UserID != p.User.ID || !s.usable(sess, now) {
		return ErrNoSuchSession
	}
	if err := s.store.RevokeSession(ctx, id, now); err != nil {
		return storeError("end session", err)
	}
	s.audit(ctx, Event{Name: EventSessionRevoked, UserID: p.User.ID, SessionID: id, Reason: ReasonEndedByUser})
	return nil
}

// LogoutScope says which sessions a logout ends.
type LogoutScope string

// The logout scopes.
const (
	LogoutLocal  LogoutScope = "local"  // the access token's session (and the refresh cookie's)
	LogoutOthers LogoutScope = "others" // every other session of the user
	LogoutGlobal LogoutScope = "global" // every session of the user
)

// ParseLogoutScope reads a logout's scope; "" is LogoutLocal. Any other
// value is an *InvalidInputError.
func ParseLogoutScope(v string) (LogoutScope, error) {
	switch sc := LogoutScope(v); sc {
	case "":
		return LogoutLocal, nil
	case LogoutLocal, LogoutOthers, LogoutGlobal:
		return sc, nil
	}
	return "", &InvalidInputError{"The scope must be local, others or global."}
}

// ChangePassword gives p's user the password newPassword, after checking
// current, their present password, when they have one; every other
// session of theirs is revoked. The session must be fresh. A wrong current
// password is ErrInvalidCredentials and counts as a failed login of the
// username (see lockout).
func (s *Service) ChangePassword(ctx context.Context, p Principal, current, newPassword string) error {
	if err := s.Fresh(p); err != nil {
		return err
	}
	if err := CheckPassword(newPassword); err != nil {
		return err
	}
	u := p.User
	if u.PasswordHash != "" {
		if current == "" {
			return &InvalidInputError{"The current password is required."}
		}
		if len(current) > password.MaxLen {
			return &InvalidInputError{fmt.Sprintf("The current password is over %d bytes.", password.MaxLen)}
		}
		if err := s.lockout.check(ctx, u.Username); err != nil {
			return err
		}
		ok, _, err := s.hashes.Verify(ctx, current, u.PasswordHash)
		if err != nil && !errors.Is(err, password.ErrUnknownFormat) {
			return fmt.Errorf("change password: verify: %w", err)
		}
		if !ok {
			if _, err := s.lockout.fail(ctx, u.Username); err != nil {
				return err
			}
			return ErrInvalidCredentials
		}
		if err := s.lockout.check(ctx, u.Username); err != nil {
			return err
		}
	}
	hash, err := s.hashes.Hash(ctx, newPassword)
	if err != nil {
		return fmt.Errorf("change password: hash: %w", err)
	}
	n, err := s.store.ChangePassword(ctx, u.ID, hash, p.Claims.SessionID, s.now())
	if err != nil {
		return storeError("change password", err)
	}
	s.audit(ctx, Event{Name: EventPasswordChanged, UserID: u.ID, SessionID: p.Claims.SessionID, Reason: ReasonPasswordChanged, Revoked: n})
	return nil
}

// UnlinkIntra removes the Intra link of p's user; the session must be
// fresh. ErrNotLinked when there is none; ErrNoOtherLogin when the user
// has no password, and could no longer log in.
func (s *Service) UnlinkIntra(ctx context.Context, p Principal) error {
	if err := s.Fresh(p); err != nil {
		return err
	}
	return s.unlink(ctx, p.User)
}

// Unlink removes the Intra link of the user named username, by the rules
// of UnlinkIntra but for freshness (an operator's command).
func (s *Service) Unlink(ctx context.Context, username string) (store.User, error) {
	u, err := s.User(ctx, username)
	if err != nil {
		return store.User{}, err
	}
	return u, s.unlink(ctx, u)
}

func (s *Service) unlink(ctx context.Context, u store.User) error {
	if u.Intra == nil {
		return ErrNotLinked
	}
	if u.PasswordHash == "" {
		return ErrNoOtherLogin
	}
	err := s.store.UnlinkIntra(ctx, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotLinked
	}
	if err != nil {
		return storeError("unlink intra", err)
	}
	s.audit(ctx, Event{Name: EventIntraUnlinked, UserID: u.ID, IntraID: u.Intra.ID})
	return nil
}

// useAPIToken spends the api_token of claims c: it is accepted once, by
// every replica sharing the database. A second use is ErrInvalidAPIToken.
func (s *Service) useAPIToken(ctx context.Context, c token.Claims) error {
	err := s.store.UseToken(ctx, c.ID, c.ExpiresAt.Add(token.Leeway))
	if errors.Is(err, store.ErrTokenUsed) {
		return fmt.Errorf("api token used already: %w", ErrInvalidAPIToken)
	}
	if err != nil {
		return storeError("use api token", err)
	}
	return nil
}
