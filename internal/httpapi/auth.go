package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"authd/internal/password"
	"authd/internal/store"
	"authd/internal/throttle"
	"authd/internal/token"
)

// maxEmail is RFC 5321's limit on a forward path.
const maxEmail = 254

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

type loginRequest struct {
	Username *string `json:"username"`
	Password *string `json:"password"`
}

// handleLogin checks a username and password and starts a session. An
// unknown user, a user without a password and a wrong password cost the
// same hashing work and get the same answer.
//
// Failed logins are also counted by username, whoever sends them (see
// accountOpen): once a username has Config.Lockout.N failures in the
// window, its logins are throttled, unknown usernames alike, and the
// password is not even checked.
func (s *Server) handleLogin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req loginRequest
		if err := decode(w, r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
		if req.Username == nil || req.Password == nil {
			s.writeError(w, r, invalidRequest("Both username and password are required."))
			return
		}
		name, pw := *req.Username, *req.Password
		if name == "" || len(name) > store.MaxUsername || pw == "" || len(pw) > password.MaxLen {
			s.writeError(w, r, invalidRequest(fmt.Sprintf("The username must be 1 to %d bytes and the password 1 to %d bytes.", store.MaxUsername, password.MaxLen)))
			return
		}
		account := lockoutKey(name)
		if !s.accountOpen(w, r, account, 0, false) {
			return
		}
		u, err := s.Store.UserByUsername(r.Context(), name)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.writeError(w, r, fmt.Errorf("login: %w", err))
			return
		}
		// For an unknown user u.PasswordHash is "", and Verify does the
		// work of a real check against a dummy hash.
		ok, rehash, err := s.Passwords.Verify(r.Context(), pw, u.PasswordHash)
		if err != nil && !errors.Is(err, password.ErrUnknownFormat) {
			s.writeError(w, r, fmt.Errorf("login: verify password: %w", err))
			return
		}
		if err != nil {
			s.logger(r).Warn("stored password hash has an unknown format", "user_id", u.ID)
		}
		// Other clients' failures may have locked the username while the
		// password was checked: the answer is given only while it is open,
		// so that no more than N guesses a window learn their outcome.
		if !s.accountOpen(w, r, account, u.ID, !ok) {
			return
		}
		if !ok {
			s.writeError(w, r, errInvalidCredentials)
			return
		}
		if u.Disabled {
			s.writeError(w, r, errAccountDisabled)
			return
		}
		if rehash {
			s.rehash(r, u.ID, pw)
		}
		s.startSession(w, r, u)
	})
}

// lockoutKey is the limiter key of a username's failed logins. Usernames
// are unique without regard to case, and so is the key.
func lockoutKey(username string) string {
	return "login_account|" + strings.ToLower(username)
}

// accountOpen reports whether the logins of a username may be answered:
// whether fewer than Config.Lockout.N failed logins of it lie in the
// window. With failed set, it first counts this login as one more failure,
// and then a failure over the limit is refused too. Otherwise it counts
// nothing. When it returns false it has answered the request: 429 with
// Retry-After, or 503 when the limiter fails. userID, when not 0, is only
// logged.
func (s *Server) accountOpen(w http.ResponseWriter, r *http.Request, key string, userID int64, failed bool) bool {
	rate := s.Config.Lockout
	if rate.N <= 0 {
		return true
	}
	var d throttle.Decision
	var err error
	if failed {
		d, err = s.Limiter.Allow(r.Context(), key, rate)
	} else {
		d, err = s.Limiter.Peek(r.Context(), key, rate)
	}
	if err != nil {
		// As for the other throttles: without a working limiter the
		// protection is gone, so refuse rather than answer unprotected.
		s.writeError(w, r, fmt.Errorf("login lockout: %w", err))
		return false
	}
	if failed && d.Allowed && d.Remaining == 0 {
		attrs := []any{"failures", rate.N, "window", rate.Period.String()}
		if userID != 0 {
			attrs = append(attrs, "user_id", userID)
		}
		s.logger(r).Warn("username locked after repeated failed logins", attrs...)
	}
	if !d.Allowed {
		s.writeThrottled(w, r, d)
		return false
	}
	return true
}

// rehash replaces an imported or outdated hash with a current argon2id
// one. The login goes on if it fails: the old hash still works.
func (s *Server) rehash(r *http.Request, userID int64, pw string) {
	h, err := s.Passwords.Hash(r.Context(), pw)
	if err == nil {
		err = s.Store.SetPassword(r.Context(), userID, h)
	}
	if err != nil {
		s.logger(r).Warn("password re-hash failed", "user_id", userID, "cause", err.Error())
		return
	}
	s.logger(r).Info("password re-hashed to argon2id", "user_id", userID)
}

// startSession creates a session for u, sets its refresh_token cookie and
// answers with an access token.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, u store.User) {
	now := s.Now()
	sess := store.Session{
		ID:        randomID(16),
		UserID:    u.ID,
		CreatedAt: now,
		ExpiresAt: now.Add(s.Config.RefreshTTL),
	}
	if err := s.Store.CreateSession(r.Context(), sess); err != nil {
		s.writeError(w, r, fmt.Errorf("create session: %w", err))
		return
	}
	refresh, _, err := s.Tokens.Sign(token.Claims{
		Subject:   strconv.FormatInt(u.ID, 10),
		SessionID: sess.ID,
		Type:      token.Refresh,
	}, s.Config.RefreshTTL)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("sign refresh token: %w", err))
		return
	}
	resp, err := s.accessToken(u, sess.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.setCookie(w, cookieRefresh, refresh, s.Config.RefreshTTL)
	s.logger(r).Info("session started", "user_id", u.ID)
	encode(w, http.StatusOK, resp)
}

func (s *Server) accessToken(u store.User, sid string) (tokenResponse, error) {
	tok, _, err := s.Tokens.Sign(token.Claims{
		Subject:   strconv.FormatInt(u.ID, 10),
		Username:  u.Username,
		SessionID: sid,
		Type:      token.Access,
	}, s.Config.AccessTTL)
	if err != nil {
		return tokenResponse{}, fmt.Errorf("sign access token: %w", err)
	}
	return tokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int64(s.Config.AccessTTL / time.Second)}, nil
}

// handleLogout revokes the session of the access token, and that of the
// refresh cookie when one is sent, and clears the cookie.
func (s *Server) handleLogout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := principalFrom(r.Context())
		now := s.Now()
		if err := s.Store.RevokeSession(r.Context(), p.Claims.SessionID, now); err != nil {
			s.writeError(w, r, fmt.Errorf("logout: revoke session: %w", err))
			return
		}
		if raw, ok := cookieValue(r, cookieRefresh); ok {
			if c, err := s.Tokens.Verify(raw, token.Refresh); err == nil && c.SessionID != p.Claims.SessionID {
				if err := s.Store.RevokeSession(r.Context(), c.SessionID, now); err != nil {
					s.writeError(w, r, fmt.Errorf("logout: revoke cookie's session: %w", err))
					return
				}
			}
		}
		s.clearCookie(w, cookieRefresh)
		s.logger(r).Info("session ended", "user_id", p.User.ID)
		encode(w, http.StatusOK, detailBody{Detail: "Logged out."})
	})
}

type detailBody struct {
	Detail string `json:"detail"`
}

// handleRefresh issues a new access token for the live session named by
// the refresh_token cookie. A refused refresh clears the cookie it got.
func (s *Server) handleRefresh() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, sent := cookieValue(r, cookieRefresh)
		fail := func(err error) {
			if sent && errors.Is(err, errInvalidRefresh) {
				s.clearCookie(w, cookieRefresh)
			}
			s.writeError(w, r, err)
		}
		if !sent {
			fail(errInvalidRefresh)
			return
		}
		c, err := s.Tokens.Verify(raw, token.Refresh)
		if err != nil {
			fail(errInvalidRefresh)
			return
		}
		u, err := s.liveUser(r.Context(), c.SessionID, c.Subject)
		if errors.Is(err, errSessionGone) {
			fail(errInvalidRefresh)
			return
		}
		if err != nil {
			fail(fmt.Errorf("refresh: %w", err))
			return
		}
		resp, err := s.accessToken(u, c.SessionID)
		if err != nil {
			fail(err)
			return
		}
		encode(w, http.StatusOK, resp)
	})
}

type registerRequest struct {
	Username *string `json:"username"`
	Password *string `json:"password"`
	Email    *string `json:"email"`
}

type registerResponse struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
}

// handleRegister creates a user with a password.
func (s *Server) handleRegister() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req registerRequest
		if err := decode(w, r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
		if req.Username == nil || !store.ValidUsername(*req.Username) {
			s.writeError(w, r, invalidRequest(fmt.Sprintf("The username must be %d to %d ASCII letters, digits, '_', '-' or '.'.", store.MinUsername, store.MaxUsername)))
			return
		}
		if req.Password == nil || !password.Valid(*req.Password) {
			s.writeError(w, r, invalidRequest(fmt.Sprintf("The password must be %d to %d bytes of UTF-8.", password.MinLen, password.MaxLen)))
			return
		}
		var email string
		if req.Email != nil {
			email = strings.TrimSpace(*req.Email)
			if email != "" && !validEmail(email) {
				s.writeError(w, r, invalidRequest("The email address is not valid."))
				return
			}
		}
		// Refuse a taken name before spending a hash on it; the store's
		// unique index settles any race.
		_, err := s.Store.UserByUsername(r.Context(), *req.Username)
		if err == nil {
			s.writeError(w, r, errUsernameTaken)
			return
		}
		if !errors.Is(err, store.ErrNotFound) {
			s.writeError(w, r, fmt.Errorf("register: %w", err))
			return
		}
		hash, err := s.Passwords.Hash(r.Context(), *req.Password)
		if err != nil {
			s.writeError(w, r, fmt.Errorf("register: hash: %w", err))
			return
		}
		u, err := s.Store.CreateUser(r.Context(), store.NewUser{Username: *req.Username, Email: email, PasswordHash: hash}, s.Now())
		if errors.Is(err, store.ErrUsernameTaken) {
			s.writeError(w, r, errUsernameTaken)
			return
		}
		if err != nil {
			s.writeError(w, r, fmt.Errorf("register: %w", err))
			return
		}
		s.logger(r).Info("user registered", "user_id", u.ID)
		encode(w, http.StatusCreated, registerResponse{ID: u.ID, Username: u.Username})
	})
}

var errUsernameTaken = &Error{codeUsernameTaken, "A user with that username already exists."}

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

type meResponse struct {
	ID         int64   `json:"id"`
	Username   string  `json:"username"`
	Email      string  `json:"email"`
	IntraLogin *string `json:"intra_login"`
	CreatedAt  string  `json:"created_at"`
}

// handleMe describes the authenticated user.
func (s *Server) handleMe() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := principalFrom(r.Context()).User
		resp := meResponse{ID: u.ID, Username: u.Username, Email: u.Email, CreatedAt: u.CreatedAt.UTC().Format(time.RFC3339)}
		if u.Intra != nil {
			resp.IntraLogin = &u.Intra.Login
		}
		encode(w, http.StatusOK, resp)
	})
}

// handleHealth answers while the process serves.
func (s *Server) handleHealth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encode(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// handleReady answers 200 when every backing store answers within two
// seconds, else 503 naming (only) the ones that did not.
func (s *Server) handleReady() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		var failed []string
		for name, check := range s.Ready {
			if err := check(ctx); err != nil {
				s.logger(r).Warn("readiness check failed", "check", name, "cause", err.Error())
				failed = append(failed, name)
			}
		}
		if len(failed) > 0 {
			slices.Sort(failed)
			s.writeError(w, r, &Error{codeNotReady, "Not ready: " + strings.Join(failed, ", ") + " did not answer."})
			return
		}
		body := map[string]string{"status": "ok"}
		if s.Status != nil {
			for k, v := range s.Status() {
				body[k] = v
			}
		}
		encode(w, http.StatusOK, body)
	})
}
