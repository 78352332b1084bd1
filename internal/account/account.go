// Package account owns the rules and the life of an account: who may
// register and under which name, how a password login is checked and when
// a username is locked, how sessions start, refresh and end, and how an
// identity from the 42 Intra provider becomes a user or is linked to one.
//
// It knows nothing of HTTP: the HTTP API translates requests into calls of
// the Service and its results into answers, and the administration
// commands call the same Service, so that every rule is written once. Time
// comes from an injected clock.
package account

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"authd/internal/config"
	"authd/internal/datakey"
	"authd/internal/password"
	"authd/internal/requestid"
	"authd/internal/store"
	"authd/internal/throttle"
	"authd/internal/token"
)

// Options is what a Service needs.
type Options struct {
	Store     store.Store
	Tokens    Tokens
	Passwords *password.Hasher
	// Limiter counts the failed logins of each username; it is used only
	// when Lockout.N > 0.
	Limiter throttle.Limiter
	// Lockout: a username with Lockout.N failed logins within
	// Lockout.Period is locked until the oldest leaves the window; N of 0
	// turns the lockout off.
	Lockout throttle.Rate
	// AccessTTL and RefreshTTL are the lifetimes of the tokens a session
	// gets; RefreshTTL is also the session's.
	AccessTTL, RefreshTTL time.Duration
	// IntraAutoProvision creates a user on the first Intra login of an
	// unlinked Intra account.
	IntraAutoProvision bool
	// ReauthWindow is how long after its user authenticated a session is
	// fresh (see Service.Fresh); zero means 10 minutes.
	ReauthWindow time.Duration
	// IdleTTL, when positive, ends a session not refreshed for that long.
	IdleTTL time.Duration
	// RefreshRotation replaces a session's refresh token on each refresh;
	// the one replaced still answers for ReuseInterval, and any other use
	// of a replaced one revokes the session.
	RefreshRotation bool
	ReuseInterval   time.Duration
	// Secrets keeps TOTP secrets, encrypted when it has a data key; nil
	// keeps them plain.
	Secrets *datakey.Box
	// TOTPIssuer names the service in authenticator apps; "" is
	// DefaultTOTPIssuer.
	TOTPIssuer string
	// Logger receives the account's events and audit records (see
	// audit.go); records logged with a request's context carry its id
	// (see package requestid). Nil discards them.
	Logger *slog.Logger
	// OnEvent, when set, is called with every audit event once it is
	// logged: metrics count them.
	OnEvent func(Event)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Tokens signs and verifies the service's tokens, each type with keys of
// its own: a *token.Keyring (a *token.Issuer, one set of keys for every
// type, serves in tests).
type Tokens interface {
	Sign(c token.Claims, ttl time.Duration) (string, token.Claims, error)
	SignAt(c token.Claims, at time.Time, ttl time.Duration) (string, token.Claims, error)
	Verify(tok string, want token.Type) (token.Claims, error)
}

// Service carries out the account's rules. It is safe for concurrent use.
type Service struct {
	opts  Options
	store store.Store
	// direct reads the database even when store answers from a cache:
	// for the reads that decide (a race lost, a code checked, a login).
	direct  store.Store
	tokens  Tokens
	hashes  *password.Hasher
	lockout lockout
	log     *slog.Logger
	now     func() time.Time
}

// New returns a Service.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ReauthWindow <= 0 {
		o.ReauthWindow = DefaultReauthWindow
	}
	// Audit records carry the request's id whatever logger is given.
	o.Logger = slog.New(requestid.Handler(o.Logger.Handler()))
	return &Service{
		opts:    o,
		store:   o.Store,
		direct:  store.Uncached(o.Store),
		tokens:  o.Tokens,
		hashes:  o.Passwords,
		lockout: lockout{limiter: o.Limiter, rate: o.Lockout},
		log:     o.Logger,
		now:     o.Now,
	}
}

// Errors the Service returns for conditions its callers answer. Any error
// that is none of these, nor an *InvalidInputError or a *LockedError, is
// either a failure of a dependency, which wraps ErrUnavailable, or an
// unexpected fault.
var (
	// ErrInvalidCredentials: an unknown user, a wrong password, or a user
	// without a password; one error for all three.
	ErrInvalidCredentials = errors.New("account: invalid credentials")
	// ErrDisabled: the right password of a disabled user, or the Intra
	// login of one.
	ErrDisabled = errors.New("account: disabled")
	// ErrUsernameTaken: another user has the username, in any case.
	ErrUsernameTaken = errors.New("account: username taken")
	// ErrInvalidToken: an access token that is invalid, expired, or whose
	// session or user can no longer be used.
	ErrInvalidToken = errors.New("account: invalid access token")
	// ErrInvalidRefreshToken: the same, of a refresh token.
	ErrInvalidRefreshToken = errors.New("account: invalid refresh token")
	// ErrInvalidAPIToken: an Intra identity token that is invalid or expired.
	ErrInvalidAPIToken = errors.New("account: invalid api token")
	// ErrNotLinked: no user is linked to the Intra account and
	// auto-provisioning is off.
	ErrNotLinked = errors.New("account: intra account not linked")
	// ErrAlreadyLinked: the Intra account is linked to another user, or the
	// user to another Intra account.
	ErrAlreadyLinked = errors.New("account: already linked")
	// ErrReauthRequired: a sensitive action asked of a session that is not
	// fresh; its user must log in again.
	ErrReauthRequired = errors.New("account: session not fresh")
	// ErrNoOtherLogin: unlinking the Intra account of a user without a
	// password, who could then no longer log in.
	ErrNoOtherLogin = errors.New("account: no other way to log in")
	// ErrNoSuchSession: the session named is unknown, another user's, or
	// no longer live.
	ErrNoSuchSession = errors.New("account: no such session")
	// ErrNoSuchUser: an administration command named no existing user.
	ErrNoSuchUser = errors.New("no user")
	// ErrUnavailable is wrapped by the failures of a dependency (the
	// database, the shared limiter): the same call can succeed once it is
	// back.
	ErrUnavailable = errors.New("a dependency is unavailable")
)

// InvalidInputError is input that breaks a rule; Message says which, in a
// sentence a person can read.
type InvalidInputError struct{ Message string }

func (e *InvalidInputError) Error() string { return e.Message }

// LockedError refuses a login of a username locked by its failed logins.
type LockedError struct {
	// RetryAfter is the time until the oldest failure leaves the window.
	RetryAfter time.Duration
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("account: username locked for %v after repeated failed logins", e.RetryAfter)
}

// unavailable marks err, a failure of a dependency, with ErrUnavailable.
func unavailable(what string, err error) error {
	return fmt.Errorf("%s: %w: %w", what, ErrUnavailable, err)
}

// storeError returns err, from the store, as it is when it is one of the
// store's conditions, else marked as a failure of the database.
func storeError(what string, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrUsernameTaken),
		errors.Is(err, store.ErrIntraLinked), errors.Is(err, store.ErrUserLinked),
		errors.Is(err, store.ErrTokenUsed):
		return fmt.Errorf("%s: %w", what, err)
	}
	return unavailable(what, err)
}

// randomID returns n random bytes, base64url without padding.
func randomID(n int) string {
	b := make([]byte, n)
	// crypto/rand.Read never fails (it crashes the program rather than
	// return an error), per its documentation since Go 1.24.
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Configured returns the Options that come from the configuration: the
// lockout, the lifetimes and windows of sessions and tokens, rotation,
// auto-provisioning and the TOTP issuer. The caller adds the store, the
// keys, the hasher, the limiter and the logger.
func Configured(cfg config.Config) Options {
	return Options{
		Lockout:            cfg.Lockout,
		AccessTTL:          cfg.AccessTTL,
		RefreshTTL:         cfg.RefreshTTL,
		IntraAutoProvision: cfg.IntraAutoProvision,
		ReauthWindow:       cfg.ReauthWindow,
		IdleTTL:            cfg.SessionIdleTTL,
		RefreshRotation:    cfg.RefreshRotation,
		ReuseInterval:      cfg.RefreshReuseInterval,
		TOTPIssuer:         cfg.TOTPIssuer,
	}
}
