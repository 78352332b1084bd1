package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"authd/internal/datakey"
	"authd/internal/store"
	"authd/internal/token"
	"authd/internal/totp"
)

// Two-factor authentication: a user who sets up TOTP logs in with a
// password (or 42) and then a code of their authenticator app, or one of
// their recovery codes.
const (
	// MFATokenTTL is the lifetime of an mfa_token: the time a user has to
	// type a code after the first factor.
	MFATokenTTL = 5 * time.Minute
	// MaxMFAAttempts is how many codes an mfa_token may be tried with; a
	// right one uses it up sooner.
	MaxMFAAttempts = 5
	// RecoveryCodeCount is how many recovery codes a user gets at once.
	RecoveryCodeCount = 10
	// RecoveryCodeLen is the length of a recovery code.
	RecoveryCodeLen = 10
	// DefaultTOTPIssuer names the service in authenticator apps unless
	// configured otherwise.
	DefaultTOTPIssuer = "authd"
)

// recoveryAlphabet is the alphabet of recovery codes: digits and
// lower-case letters without those read alike (0 and o, 1 and l and i).
// Codes are read without regard to case.
const recoveryAlphabet = "23456789abcdefghjkmnpqrstuvwxyz"

// Errors of two-factor authentication.
var (
	// ErrInvalidCode: a code that is wrong, malformed, or a replay of one
	// accepted already.
	ErrInvalidCode = errors.New("account: invalid code")
	// ErrInvalidMFAToken: an mfa_token that is missing, invalid, expired,
	// used up, or whose user no longer has two-factor authentication.
	ErrInvalidMFAToken = errors.New("account: invalid mfa token")
	// ErrTOTPAlreadyEnabled: setting up TOTP when it is active.
	ErrTOTPAlreadyEnabled = errors.New("account: totp already enabled")
	// ErrTOTPNotEnabled: confirming without a pending secret, or disabling
	// or renewing recovery codes without an active one.
	ErrTOTPNotEnabled = errors.New("account: totp not enabled")
)

// TOTPSetup is a secret set up and not yet confirmed.
type TOTPSetup struct {
	Secret string // base32, no padding: what a user types into an app
	URL    string // otpauth:// URL, for a QR code
}

// bind is what a user's kept secrets are bound to (see datakey.Box.Seal).
func bind(userID int64) string { return "totp:user:" + strconv.FormatInt(userID, 10) }

// issuer is the name authenticator apps show.
func (s *Service) issuer() string {
	if s.opts.TOTPIssuer == "" {
		return DefaultTOTPIssuer
	}
	return s.opts.TOTPIssuer
}

// box is the Box that keeps secrets; nil Options.Secrets keeps them plain.
func (s *Service) box() *datakey.Box {
	if s.opts.Secrets == nil {
		return &datakey.Box{}
	}
	return s.opts.Secrets
}

// TwoFactorEnabled reports whether the user has an active second factor,
// as the store's cache may know it (see package cache): for showing, not
// for deciding.
func (s *Service) TwoFactorEnabled(ctx context.Context, userID int64) (bool, error) {
	return twoFactorOn(ctx, s.store, userID)
}

// twoFactorOn reports whether the user has an active second factor, as st
// knows it.
func twoFactorOn(ctx context.Context, st store.Store, userID int64) (bool, error) {
	t, err := st.TOTP(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, storeError("two-factor state", err)
	}
	return t.Active(), nil
}

// SetupTOTP gives p's user a new pending TOTP secret, replacing any other
// pending one; it is active only once confirmed. The session must be
// fresh; ErrTOTPAlreadyEnabled when a secret is active.
func (s *Service) SetupTOTP(ctx context.Context, p Principal) (TOTPSetup, error) {
	if err := s.Fresh(p); err != nil {
		return TOTPSetup{}, err
	}
	secret := totp.NewSecret()
	err := s.store.SetPendingTOTP(ctx, p.User.ID, s.box().Seal(secret, bind(p.User.ID)))
	if errors.Is(err, store.ErrTOTPChanged) {
		return TOTPSetup{}, ErrTOTPAlreadyEnabled
	}
	if err != nil {
		return TOTPSetup{}, storeError("totp setup", err)
	}
	return TOTPSetup{Secret: totp.EncodeSecret(secret), URL: totp.URL(s.issuer(), p.User.Username, secret)}, nil
}

// ConfirmTOTP activates p's user's pending secret with a code of it, and
// returns their recovery codes, shown this once; every other session of
// the user is revoked. ErrTOTPNotEnabled without a pending secret.
func (s *Service) ConfirmTOTP(ctx context.Context, p Principal, code string) ([]string, error) {
	u := p.User
	t, err := s.direct.TOTP(ctx, u.ID)
	if errors.Is(err, store.ErrNotFound) || err == nil && t.Pending == "" {
		return nil, ErrTOTPNotEnabled
	}
	if err != nil {
		return nil, storeError("totp confirm", err)
	}
	if err := s.lockout.check(ctx, u.Username); err != nil {
		return nil, err
	}
	if !totp.WellFormed(code) {
		return nil, ErrInvalidCode
	}
	secret, err := s.box().Open(t.Pending, bind(u.ID))
	if err != nil {
		return nil, fmt.Errorf("totp confirm: open pending secret: %w", err)
	}
	step, ok := totp.Match(secret, code, s.now())
	if !ok {
		return nil, s.wrongCode(ctx, u)
	}
	codes, hashes := newRecoveryCodes(u.ID)
	n, err := s.store.EnableTOTP(ctx, u.ID, t.Pending, step, hashes, p.Claims.SessionID, s.now())
	if errors.Is(err, store.ErrTOTPChanged) {
		// Set up again, or confirmed, by another request meanwhile.
		return nil, ErrTOTPNotEnabled
	}
	if err != nil {
		return nil, storeError("totp confirm", err)
	}
	s.audit(ctx, Event{Name: EventTOTPEnabled, UserID: u.ID, SessionID: p.Claims.SessionID, Revoked: n})
	return codes, nil
}

// DisableTOTP removes p's user's second factor, given a code of it or a
// recovery code. The session must be fresh; ErrTOTPNotEnabled when no
// second factor is active.
func (s *Service) DisableTOTP(ctx context.Context, p Principal, code string) error {
	if err := s.Fresh(p); err != nil {
		return err
	}
	t, err := s.activeTOTP(ctx, p.User.ID)
	if err != nil {
		return err
	}
	if err := s.secondFactor(ctx, p.User, t, code); err != nil {
		return err
	}
	if _, err := s.store.DisableTOTP(ctx, p.User.ID); err != nil {
		return storeError("totp disable", err)
	}
	s.audit(ctx, Event{Name: EventTOTPDisabled, UserID: p.User.ID, SessionID: p.Claims.SessionID})
	return nil
}

// NewRecoveryCodes replaces p's user's recovery codes, given a code or a
// recovery code, and returns the new ones, shown this once. The session
// must be fresh; ErrTOTPNotEnabled when no second factor is active.
func (s *Service) NewRecoveryCodes(ctx context.Context, p Principal, code string) ([]string, error) {
	if err := s.Fresh(p); err != nil {
		return nil, err
	}
	t, err := s.activeTOTP(ctx, p.User.ID)
	if err != nil {
		return nil, err
	}
	if err := s.secondFactor(ctx, p.User, t, code); err != nil {
		return nil, err
	}
	codes, hashes := newRecoveryCodes(p.User.ID)
	err = s.store.ReplaceRecoveryCodes(ctx, p.User.ID, hashes)
	if errors.Is(err, store.ErrTOTPChanged) {
		return nil, ErrTOTPNotEnabled
	}
	if err != nil {
		return nil, storeError("new recovery codes", err)
	}
	s.audit(ctx, Event{Name: EventRecoveryCodesRegenerated, UserID: p.User.ID, SessionID: p.Claims.SessionID})
	return codes, nil
}

// ResetTwoFactor removes the second factor of the user named username (a
// lost device) and revokes every session of theirs: an operator's
// command. It reports whether the user had one.
func (s *Service) ResetTwoFactor(ctx context.Context, username string) (store.User, bool, error) {
	u, err := s.User(ctx, username)
	if err != nil {
		return store.User{}, false, err
	}
	had, err := s.store.DisableTOTP(ctx, u.ID)
	if err != nil {
		return store.User{}, false, storeError("reset two-factor", err)
	}
	n, err := s.store.RevokeUserSessions(ctx, u.ID, "", s.now())
	if err != nil {
		return store.User{}, false, storeError("reset two-factor: revoke sessions", err)
	}
	s.audit(ctx, Event{Name: EventTOTPDisabled, UserID: u.ID, Revoked: n})
	return u, had, nil
}

// LoginMFA ends a login of a user with two-factor authentication: given
// the mfa_token of the first factor and a code (or a recovery code), it
// starts the session. A right code uses the token up; so do MaxMFAAttempts
// tries, whatever they were. Wrong codes count toward the username's
// lockout, as wrong passwords do, and while it is locked the step answers
// a *LockedError.
func (s *Service) LoginMFA(ctx context.Context, mfaToken, code string) (Grant, error) {
	c, err := s.tokens.Verify(mfaToken, token.MFA)
	if err != nil {
		return Grant{}, ErrInvalidMFAToken
	}
	uid, err := strconv.ParseInt(c.Subject, 10, 64)
	if err != nil {
		return Grant{}, ErrInvalidMFAToken
	}
	u, err := s.direct.UserByID(ctx, uid)
	if errors.Is(err, store.ErrNotFound) {
		return Grant{}, ErrInvalidMFAToken
	}
	if err != nil {
		return Grant{}, storeError("login mfa", err)
	}
	if u.Disabled {
		return Grant{}, ErrDisabled
	}
	t, err := s.activeTOTP(ctx, u.ID)
	if errors.Is(err, ErrTOTPNotEnabled) {
		return Grant{}, ErrInvalidMFAToken // reset since the first factor
	}
	if err != nil {
		return Grant{}, err
	}
	if err := s.lockout.check(ctx, u.Username); err != nil {
		return Grant{}, err
	}
	exp := c.ExpiresAt.Add(token.Leeway)
	counted, err := s.store.CountMFAAttempt(ctx, c.ID, exp, MaxMFAAttempts)
	if err != nil {
		return Grant{}, storeError("login mfa: count attempt", err)
	}
	if !counted {
		return Grant{}, fmt.Errorf("mfa token used up: %w", ErrInvalidMFAToken)
	}
	if err := s.secondFactor(ctx, u, t, code); err != nil {
		return Grant{}, err
	}
	err = s.store.UseMFAToken(ctx, c.ID, exp)
	if errors.Is(err, store.ErrTokenUsed) {
		return Grant{}, fmt.Errorf("mfa token used already: %w", ErrInvalidMFAToken)
	}
	if err != nil {
		return Grant{}, storeError("login mfa: use token", err)
	}
	method := MethodPassword
	if c.IntraID > 0 {
		method = MethodIntra
	}
	g, err := s.startSession(ctx, u, method)
	if err == nil {
		s.audit(ctx, Event{Name: EventLoginSucceeded, UserID: u.ID, SessionID: g.SessionID, Method: MethodMFA, IntraID: c.IntraID})
	}
	return g, err
}

// begin starts a session for u, who passed the first factor by method
// (with the Intra id intraID for an Intra login) or, when u has an active
// second factor, returns a grant with an mfa_token instead.
func (s *Service) begin(ctx context.Context, u store.User, method string, intraID int64) (Grant, error) {
	on, err := twoFactorOn(ctx, s.direct, u.ID)
	if err != nil {
		return Grant{}, err
	}
	if !on {
		g, err := s.startSession(ctx, u, method)
		if err == nil {
			s.audit(ctx, Event{Name: EventLoginSucceeded, UserID: u.ID, SessionID: g.SessionID, Method: method, IntraID: intraID})
		}
		return g, err
	}
	c := token.Claims{Subject: strconv.FormatInt(u.ID, 10), Type: token.MFA}
	if method == MethodIntra {
		c.IntraID = intraID
	}
	tok, _, err := s.tokens.Sign(c, MFATokenTTL)
	if err != nil {
		return Grant{}, fmt.Errorf("sign mfa token: %w", err)
	}
	s.log.InfoContext(ctx, "first factor passed; second factor required", "user_id", u.ID, "method", method)
	return Grant{User: u, MFAToken: tok, MFATTL: MFATokenTTL}, nil
}

// activeTOTP returns the user's active second factor, or ErrTOTPNotEnabled.
func (s *Service) activeTOTP(ctx context.Context, userID int64) (store.TOTP, error) {
	t, err := s.direct.TOTP(ctx, userID)
	if errors.Is(err, store.ErrNotFound) || err == nil && !t.Active() {
		return store.TOTP{}, ErrTOTPNotEnabled
	}
	if err != nil {
		return store.TOTP{}, storeError("two-factor state", err)
	}
	return t, nil
}

// secondFactor checks code, a code of u's active secret t or one of u's
// recovery codes, and spends it: each time step's code and each recovery
// code is accepted once, by every replica sharing the database. While the
// username is locked it answers a *LockedError whatever the code; a wrong
// code that has the shape of one counts toward the lockout.
func (s *Service) secondFactor(ctx context.Context, u store.User, t store.TOTP, code string) error {
	if err := s.lockout.check(ctx, u.Username); err != nil {
		return err
	}
	now := s.now()
	switch {
	case totp.WellFormed(code):
		secret, err := s.box().Open(t.Secret, bind(u.ID))
		if err != nil {
			return fmt.Errorf("open totp secret: %w", err)
		}
		step, ok := totp.Match(secret, code, now)
		if !ok {
			return s.wrongCode(ctx, u)
		}
		fresh, err := s.store.UseTOTPStep(ctx, u.ID, t.Secret, step)
		if err != nil {
			return storeError("use totp step", err)
		}
		if !fresh {
			s.log.WarnContext(ctx, "totp code replayed", "user_id", u.ID)
			return s.wrongCode(ctx, u)
		}
		return nil
	case recoveryShaped(code):
		used, err := s.store.UseRecoveryCode(ctx, u.ID, recoveryHash(u.ID, code), now)
		if err != nil {
			return storeError("use recovery code", err)
		}
		if !used {
			return s.wrongCode(ctx, u)
		}
		s.audit(ctx, Event{Name: EventRecoveryCodeUsed, UserID: u.ID})
		return nil
	}
	return ErrInvalidCode
}

// wrongCode counts a wrong code of u toward the username's lockout and
// returns ErrInvalidCode.
func (s *Service) wrongCode(ctx context.Context, u store.User) error {
	s.audit(ctx, Event{Name: EventMFAFailed, UserID: u.ID, Method: MethodMFA})
	if _, err := s.lockout.fail(ctx, u.Username); err != nil {
		return err
	}
	return ErrInvalidCode
}

// newRecoveryCodes returns RecoveryCodeCount new recovery codes and
// their hashes, as the user's userID keeps them.
func newRecoveryCodes(userID int64) (codes, hashes []string) {
	for range RecoveryCodeCount {
		c := randomRecoveryCode()
		codes = append(codes, c)
		hashes = append(hashes, recoveryHash(userID, c))
	}
	return codes, hashes
}

// randomRecoveryCode is RecoveryCodeLen characters of recoveryAlphabet,
// each drawn uniformly (a byte past the largest multiple of the
// alphabet's size is drawn again): about 49.5 bits.
func randomRecoveryCode() string {
	const n = len(recoveryAlphabet)
	limit := byte(256 / n * n)
	out := make([]byte, 0, RecoveryCodeLen)
	var b [1]byte
	for len(out) < RecoveryCodeLen {
		_, _ = rand.Read(b[:]) // never fails; see randomID
		if b[0] < limit {
			out = append(out, recoveryAlphabet[int(b[0])%n])
		}
	}
	return string(out)
}

// recoveryShaped reports whether code could be a recovery code: its
// length, and every character of the alphabet in either case.
func recoveryShaped(code string) bool {
	if len(code) != RecoveryCodeLen {
		return false
	}
	for i := 0; i < len(code); i++ {
		if strings.IndexByte(recoveryAlphabet, lower(code[i])) < 0 {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// recoveryHash is how a recovery code of the user userID is kept:
// SHA-256 of the code, lower-cased, and the user's id, so that one hash
// matches one user's code alone. A code has about 49.5 bits: guessing one
// online is bounded by the throttles and the lockout.
func recoveryHash(userID int64, code string) string {
	sum := sha256.Sum256([]byte("authd recovery code\x00" + strconv.FormatInt(userID, 10) + "\x00" + strings.ToLower(code)))
	return hex.EncodeToString(sum[:])
}
