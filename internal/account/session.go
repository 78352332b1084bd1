package account

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"authd/internal/password"
	"authd/internal/store"
	"authd/internal/token"
)

// Grant is what a caller gets from a login or a refresh: an access token
// and, when a session starts, its refresh token.
type Grant struct {
	User         store.User
	SessionID    string
	AccessToken  string
	AccessTTL    time.Duration
	RefreshToken string // empty on a refresh
	RefreshTTL   time.Duration
}

// Principal is the authenticated caller of a Bearer request.
type Principal struct {
	User   store.User
	Claims token.Claims
}

// Login checks a username and password and starts a session. An unknown
// user, a user without a password and a wrong password cost the same
// hashing work and get the same ErrInvalidCredentials.
//
// Failed logins are also counted by username (see lockout): while a
// username is locked, its logins return a *LockedError and the password is
// not even checked.
func (s *Service) Login(ctx context.Context, username, pw string) (Grant, error) {
	if err := checkLogin(username, pw); err != nil {
		return Grant{}, err
	}
	if err := s.lockout.check(ctx, username); err != nil {
		s.lockedOut(ctx, 0, username, err)
		return Grant{}, err
	}
	u, err := s.store.UserByUsername(ctx, username)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Grant{}, storeError("login", err)
	}
	// For an unknown user u.PasswordHash is "", and Verify does the work of
	// a real check against a dummy hash.
	ok, rehash, err := s.hashes.Verify(ctx, pw, u.PasswordHash)
	if err != nil && !errors.Is(err, password.ErrUnknownFormat) {
		return Grant{}, fmt.Errorf("login: verify password: %w", err)
	}
	if err != nil {
		s.log.WarnContext(ctx, "stored password hash has an unknown format", "user_id", u.ID)
	}
	// Other clients' failures may have locked the username while the
	// password was checked: the answer is given only while it is open, so
	// that no more than N guesses a window learn their outcome.
	if !ok {
		locked, err := s.lockout.fail(ctx, username)
		if err != nil {
			s.lockedOut(ctx, u.ID, username, err)
			return Grant{}, err
		}
		s.loginFailed(ctx, u.ID, username, ReasonInvalidCredentials)
		if locked {
			e := Event{Name: EventLockout, UserID: u.ID}
			if u.ID == 0 {
				e.Username = username
			}
			s.audit(ctx, e)
		}
		return Grant{}, ErrInvalidCredentials
	}
	if err := s.lockout.check(ctx, username); err != nil {
		s.lockedOut(ctx, u.ID, username, err)
		return Grant{}, err
	}
	if u.Disabled {
		s.loginFailed(ctx, u.ID, username, ReasonDisabled)
		return Grant{}, ErrDisabled
	}
	if rehash {
		s.rehash(ctx, u.ID, pw)
	}
	g, err := s.startSession(ctx, u)
	if err == nil {
		s.audit(ctx, Event{Name: EventLoginSucceeded, UserID: u.ID, SessionID: g.SessionID, Method: MethodPassword})
	}
	return g, err
}

// lockedOut audits a login refused by err when err is the lockout's
// refusal (a *LockedError), not a failure of the limiter.
func (s *Service) lockedOut(ctx context.Context, userID int64, username string, err error) {
	var locked *LockedError
	if errors.As(err, &locked) {
		s.loginFailed(ctx, userID, username, ReasonLocked)
	}
}

// rehash replaces an imported or outdated hash with a current argon2id
// one. The login goes on if it fails: the old hash still works.
func (s *Service) rehash(ctx context.Context, userID int64, pw string) {
	h, err := s.hashes.Hash(ctx, pw)
	if err == nil {
		err = s.store.SetPassword(ctx, userID, h)
	}
	if err != nil {
		s.log.WarnContext(ctx, "password re-hash failed", "user_id", userID, "cause", err.Error())
		return
	}
	s.log.InfoContext(ctx, "password re-hashed to argon2id", "user_id", userID)
}

// startSession creates a session for u and signs its tokens.
func (s *Service) startSession(ctx context.Context, u store.User) (Grant, error) {
	now := s.now()
	sess := store.Session{
		ID:        randomID(16),
		UserID:    u.ID,
		CreatedAt: now,
		ExpiresAt: now.Add(s.opts.RefreshTTL),
	}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return Grant{}, storeError("create session", err)
	}
	refresh, _, err := s.tokens.Sign(token.Claims{
		Subject:   strconv.FormatInt(u.ID, 10),
		SessionID: sess.ID,
		Type:      token.Refresh,
	}, s.opts.RefreshTTL)
	if err != nil {
		return Grant{}, fmt.Errorf("sign refresh token: %w", err)
	}
	g, err := s.grant(u, sess.ID)
	if err != nil {
		return Grant{}, err
	}
	g.RefreshToken, g.RefreshTTL = refresh, s.opts.RefreshTTL
	return g, nil
}

// grant signs an access token of session sid for u.
func (s *Service) grant(u store.User, sid string) (Grant, error) {
	tok, _, err := s.tokens.Sign(token.Claims{
		Subject:   strconv.FormatInt(u.ID, 10),
		Username:  u.Username,
		SessionID: sid,
		Type:      token.Access,
	}, s.opts.AccessTTL)
	if err != nil {
		return Grant{}, fmt.Errorf("sign access token: %w", err)
	}
	return Grant{User: u, SessionID: sid, AccessToken: tok, AccessTTL: s.opts.AccessTTL}, nil
}

// Refresh issues a new access token for the live session named by a
// refresh token, or returns ErrInvalidRefreshToken.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (Grant, error) {
	p, err := s.live(ctx, refreshToken, token.Refresh, ErrInvalidRefreshToken)
	if err != nil {
		return Grant{}, fmt.Errorf("refresh: %w", err)
	}
	return s.grant(p.User, p.Claims.SessionID)
}

// Authenticate checks a Bearer access token: valid, its session live, its
// user existing and enabled. Otherwise it returns ErrInvalidToken.
func (s *Service) Authenticate(ctx context.Context, accessToken string) (Principal, error) {
	p, err := s.live(ctx, accessToken, token.Access, ErrInvalidToken)
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	return p, nil
}

// live verifies tok, of type typ, and returns its user, who must be
// enabled, with its claims; its session must be live. A token that is not
// valid, or whose session or user is gone, is invalid.
func (s *Service) live(ctx context.Context, tok string, typ token.Type, invalid error) (Principal, error) {
	c, err := s.tokens.Verify(tok, typ)
	if err != nil {
		return Principal{}, invalid
	}
	u, err := s.liveUser(ctx, c.SessionID, c.Subject)
	if errors.Is(err, errSessionGone) {
		return Principal{}, invalid
	}
	if err != nil {
		return Principal{}, err
	}
	return Principal{User: u, Claims: c}, nil
}

// Logout revokes the session of p's access token and, when refreshToken
// is a valid refresh token of another session, that session too.
func (s *Service) Logout(ctx context.Context, p Principal, refreshToken string) error {
	now := s.now()
	if err := s.store.RevokeSession(ctx, p.Claims.SessionID, now); err != nil {
		return storeError("logout: revoke session", err)
	}
	s.audit(ctx, Event{Name: EventLogout, UserID: p.User.ID, SessionID: p.Claims.SessionID, Reason: ReasonLogout})
	if refreshToken != "" {
		if c, err := s.tokens.Verify(refreshToken, token.Refresh); err == nil && c.SessionID != p.Claims.SessionID {
			if err := s.store.RevokeSession(ctx, c.SessionID, now); err != nil {
				return storeError("logout: revoke cookie's session", err)
			}
			s.audit(ctx, Event{Name: EventLogout, UserID: p.User.ID, SessionID: c.SessionID, Reason: ReasonLogout})
		}
	}
	return nil
}

// errSessionGone: the session or its user can no longer be used.
var errSessionGone = errors.New("session revoked, expired or its user gone or disabled")

// liveUser returns the user of a live session, or errSessionGone.
func (s *Service) liveUser(ctx context.Context, sid, sub string) (store.User, error) {
	uid, err := strconv.ParseInt(sub, 10, 64)
	if err != nil {
		return store.User{}, errSessionGone
	}
	sess, err := s.store.Session(ctx, sid)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, errSessionGone
	}
	if err != nil {
		return store.User{}, storeError("load session", err)
	}
	if !sess.Live(s.now()) || sess.UserID != uid {
		return store.User{}, errSessionGone
	}
	u, err := s.store.UserByID(ctx, uid)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, errSessionGone
	}
	if err != nil {
		return store.User{}, storeError("load user", err)
	}
	if u.Disabled {
		return store.User{}, errSessionGone
	}
	return u, nil
}
