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
	// MFAToken, when set, is all a login of a user with two-factor
	// authentication gets: no session starts until LoginMFA, and every
	// field but User is empty.
	MFAToken string
	MFATTL   time.Duration
}

// Principal is the authenticated caller of a Bearer request.
type Principal struct {
	User    store.User
	Claims  token.Claims
	Session store.Session // the session of the access token
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
	return s.begin(ctx, u, MethodPassword, 0)
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

// startSession creates a session for u, begun by method, and signs its
// tokens.
func (s *Service) startSession(ctx context.Context, u store.User, method string) (Grant, error) {
	now := s.now()
	client := clientFrom(ctx)
	sess := store.Session{
		ID:         randomID(16),
		UserID:     u.ID,
		CreatedAt:  now,
		ExpiresAt:  now.Add(s.opts.RefreshTTL),
		Method:     method,
		IP:         client.IP,
		UserAgent:  client.UserAgent,
		AuthTime:   now,
		LastUsedAt: now,
		RefreshID:  randomID(16),
	}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return Grant{}, storeError("create session", err)
	}
	g, err := s.grant(u, sess)
	if err != nil {
		return Grant{}, err
	}
	if g, err = s.withRefresh(g, sess, sess.RefreshID, now); err != nil {
		return Grant{}, err
	}
	return g, nil
}

// authTime is when the user of sess last proved who they are.
func authTime(sess store.Session) time.Time {
	if sess.AuthTime.IsZero() {
		return sess.CreatedAt
	}
	return sess.AuthTime
}

// grant signs an access token of sess for u.
func (s *Service) grant(u store.User, sess store.Session) (Grant, error) {
	tok, _, err := s.tokens.Sign(token.Claims{
		Subject:   strconv.FormatInt(u.ID, 10),
		Username:  u.Username,
		SessionID: sess.ID,
		AuthTime:  authTime(sess),
		Type:      token.Access,
	}, s.opts.AccessTTL)
	if err != nil {
		return Grant{}, fmt.Errorf("sign access token: %w", err)
	}
	return Grant{User: u, SessionID: sess.ID, AccessToken: tok, AccessTTL: s.opts.AccessTTL}, nil
}

// withRefresh adds to g a refresh token of sess with the id jti, valid
// until the session expires.
func (s *Service) withRefresh(g Grant, sess store.Session, jti string, madeAt time.Time) (Grant, error) {
	ttl := sess.ExpiresAt.Sub(madeAt)
	// Dated when the token was made, not now: the refreshes that answer
	// with the newest token sign the same claims, and so give the same
	// token, whichever replica answers and whenever.
	refresh, _, err := s.tokens.SignAt(token.Claims{
		Subject:   strconv.FormatInt(sess.UserID, 10),
		SessionID: sess.ID,
		ID:        jti,
		AuthTime:  authTime(sess),
		Type:      token.Refresh,
	}, madeAt, ttl)
	if err != nil {
		return Grant{}, fmt.Errorf("sign refresh token: %w", err)
	}
	g.RefreshToken, g.RefreshTTL = refresh, ttl
	return g, nil
}

// Refresh issues a new access token for the live session named by a
// refresh token, or returns ErrInvalidRefreshToken. The session's last use
// moves to now. With rotation on, the grant also carries the session's
// newest refresh token (see rotate).
func (s *Service) Refresh(ctx context.Context, refreshToken string) (Grant, error) {
	c, err := s.tokens.Verify(refreshToken, token.Refresh)
	if err != nil {
		return Grant{}, fmt.Errorf("refresh: %w", ErrInvalidRefreshToken)
	}
	// Rotation decides on the session's newest refresh token, which
	// another replica may have just replaced: it reads the database.
	sess, u, err := s.liveSession(ctx, s.opts.RefreshRotation, c.SessionID, c.Subject)
	if errors.Is(err, errSessionGone) {
		return Grant{}, fmt.Errorf("refresh: %w", ErrInvalidRefreshToken)
	}
	if err != nil {
		return Grant{}, fmt.Errorf("refresh: %w", err)
	}
	now := s.now()
	if s.opts.RefreshRotation {
		return s.rotate(ctx, c, sess, u, now)
	}
	// last_used_at is shown to the second: a refresh in the second of the
	// last one moves nothing a user sees, and saves the write (on
	// PostgreSQL a commit, ten times the cost of the rest of a refresh).
	if now.Unix() != sess.LastUsedAt.Unix() {
		if err := s.store.TouchSession(ctx, sess.ID, now); err != nil {
			return Grant{}, storeError("refresh: touch session", err)
		}
	}
	return s.grant(u, sess)
}

// rotate answers a refresh with rotation on. The session's newest refresh
// token is replaced by a new one, atomically: of concurrent refreshes with
// it, one rotates and the others find it replaced. The token just replaced
// answers for ReuseInterval with the newest one, without rotating again,
// so that two tabs refreshing at once both stay logged in. Any other
// replaced token is a stolen one being reused: the session is revoked.
func (s *Service) rotate(ctx context.Context, c token.Claims, sess store.Session, u store.User, now time.Time) (Grant, error) {
	if c.ID == sess.RefreshID || sess.RefreshID == "" {
		// "" is a session from before rotation: its first refresh rotates.
		next := randomID(16)
		ok, err := s.store.RotateRefresh(ctx, sess.ID, sess.RefreshID, next, now)
		if err != nil {
			return Grant{}, storeError("refresh: rotate", err)
		}
		if ok {
			g, err := s.grant(u, sess)
			if err != nil {
				return Grant{}, err
			}
			return s.withRefresh(g, sess, next, now)
		}
		// Another refresh rotated first: judge the token against the
		// session as it left it.
		sess, err = s.direct.Session(ctx, sess.ID)
		if errors.Is(err, store.ErrNotFound) {
			return Grant{}, fmt.Errorf("refresh: %w", ErrInvalidRefreshToken)
		}
		if err != nil {
			return Grant{}, storeError("refresh: reload session", err)
		}
		if !sess.Live(now) {
			return Grant{}, fmt.Errorf("refresh: %w", ErrInvalidRefreshToken)
		}
	}
	if c.ID != "" && c.ID == sess.PrevRefreshID && now.Sub(sess.RotatedAt) <= s.opts.ReuseInterval {
		if err := s.store.TouchSession(ctx, sess.ID, now); err != nil {
			return Grant{}, storeError("refresh: touch session", err)
		}
		g, err := s.grant(u, sess)
		if err != nil {
			return Grant{}, err
		}
		return s.withRefresh(g, sess, sess.RefreshID, sess.RotatedAt)
	}
	if err := s.store.RevokeSession(ctx, sess.ID, now); err != nil {
		return Grant{}, storeError("refresh: revoke reused session", err)
	}
	s.audit(ctx, Event{Name: EventRefreshReuseDetected, UserID: u.ID, SessionID: sess.ID, Reason: ReasonRefreshReused})
	return Grant{}, fmt.Errorf("refresh: token reused: %w", ErrInvalidRefreshToken)
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
// enabled, with its claims and session, which must be live. A token that
// is not valid, or whose session or user is gone, is invalid.
func (s *Service) live(ctx context.Context, tok string, typ token.Type, invalid error) (Principal, error) {
	c, err := s.tokens.Verify(tok, typ)
	if err != nil {
		return Principal{}, invalid
	}
	sess, u, err := s.liveSession(ctx, false, c.SessionID, c.Subject)
	if errors.Is(err, errSessionGone) {
		return Principal{}, invalid
	}
	if err != nil {
		return Principal{}, err
	}
	return Principal{User: u, Claims: c, Session: sess}, nil
}

// Logout ends sessions of p's user as scope says. LogoutLocal revokes the
// session of p's access token and, when refreshToken is a valid refresh
// token of another session, that session too; LogoutOthers every other
// session of the user; LogoutGlobal every session of the user, and the
// refresh token's.
func (s *Service) Logout(ctx context.Context, p Principal, refreshToken string, scope LogoutScope) error {
	now := s.now()
	switch scope {
	case LogoutOthers:
		n, err := s.store.RevokeUserSessions(ctx, p.User.ID, p.Claims.SessionID, now)
		if err != nil {
			return storeError("logout: revoke other sessions", err)
		}
		s.audit(ctx, Event{Name: EventLogout, UserID: p.User.ID, Reason: ReasonLogoutOthers, Revoked: n})
		return nil
	case LogoutGlobal:
		n, err := s.store.RevokeUserSessions(ctx, p.User.ID, "", now)
		if err != nil {
			return storeError("logout: revoke all sessions", err)
		}
		s.audit(ctx, Event{Name: EventLogout, UserID: p.User.ID, Reason: ReasonLogoutGlobal, Revoked: n})
		return nil
	default:
		if err := s.store.RevokeSession(ctx, p.Claims.SessionID, now); err != nil {
			return storeError("logout: revoke session", err)
		}
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

// liveSession returns a live session, sid, of the user sub, with that
// user, or errSessionGone, read from the database when direct, else as
// the store's cache may know them.
func (s *Service) liveSession(ctx context.Context, direct bool, sid, sub string) (store.Session, store.User, error) {
	st := s.store
	if direct {
		st = s.direct
	}
	uid, err := strconv.ParseInt(sub, 10, 64)
	if err != nil {
		return store.Session{}, store.User{}, errSessionGone
	}
	sess, u, err := st.SessionAndUser(ctx, sid)
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, store.User{}, errSessionGone
	}
	if err != nil {
		return store.Session{}, store.User{}, storeError("load session", err)
	}
	now := s.now()
	if sess.Live(now) && !s.usable(sess, now) && !direct {
		// Idle as a cached copy has it: another replica's refresh, which
		// tells no one, may have used it since.
		sess, u, err = s.direct.SessionAndUser(ctx, sid)
		if errors.Is(err, store.ErrNotFound) {
			return store.Session{}, store.User{}, errSessionGone
		}
		if err != nil {
			return store.Session{}, store.User{}, storeError("load session", err)
		}
	}
	if !s.usable(sess, now) || sess.UserID != uid {
		return store.Session{}, store.User{}, errSessionGone
	}
	if u.Disabled {
		return store.Session{}, store.User{}, errSessionGone
	}
	return sess, u, nil
}

// usable reports whether sess can be used at now: live, and not idle for
// IdleTTL or longer when an idle timeout is set.
func (s *Service) usable(sess store.Session, now time.Time) bool {
	if !sess.Live(now) {
		return false
	}
	if s.opts.IdleTTL <= 0 {
		return true
	}
	last := sess.LastUsedAt
	if last.IsZero() {
		last = sess.CreatedAt
	}
	return now.Sub(last) < s.opts.IdleTTL
}
