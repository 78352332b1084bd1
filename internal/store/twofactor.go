package store

import (
	"context"
	"errors"
	"time"
)

// ErrTOTPChanged: a user's second factor is not in the state a call
// needs (a secret active already, or no longer pending), because another
// request changed it first.
var ErrTOTPChanged = errors.New("store: two-factor state changed")

// TOTP is a user's time-based second factor. The secrets are kept as the
// caller gives them (encrypted, see package datakey): the store never
// reads them.
type TOTP struct {
	// Secret is the active secret, "" while none is active; Pending is
	// the one set up and not yet confirmed, "" when none is.
	Secret  string
	Pending string
	// LastStep is the time step of the last code accepted: no code of it,
	// or of an earlier step, is accepted again.
	LastStep  int64
	EnabledAt time.Time // zero while not active
}

// Active reports whether the second factor is active.
func (t TOTP) Active() bool { return t.Secret != "" }

// TwoFactorStore keeps two-factor authentication: each user's TOTP secret
// and recovery codes, and the attempts made with each mfa_token. Every
// decision that two replicas could race on is one atomic statement.
type TwoFactorStore interface {
	// TOTP returns the user's second factor; ErrNotFound when the user
	// has none, active or pending.
	TOTP(ctx context.Context, userID int64) (TOTP, error)
	// SetPendingTOTP keeps secret as the user's pending secret, replacing
	// any other. It returns ErrTOTPChanged when a secret is active, and
	// ErrNotFound when there is no such user.
	SetPendingTOTP(ctx context.Context, userID int64, secret string) error
	// EnableTOTP makes pending, which must be the user's pending secret
	// still (else ErrTOTPChanged), the active one with step as its last
	// step, replaces the user's recovery codes with codeHashes, and
	// revokes every live session of the user but keep, all in one
	// transaction. It returns how many sessions it revoked.
	EnableTOTP(ctx context.Context, userID int64, pending string, step int64, codeHashes []string, keep string, now time.Time) (int64, error)
	// UseTOTPStep records that a code of step was accepted for secret,
	// if secret is the user's active secret and no code of step or a
	// later step was accepted before; it reports whether it did. Of
	// callers racing with one step, one alone succeeds.
	UseTOTPStep(ctx context.Context, userID int64, secret string, step int64) (bool, error)
	// UseRecoveryCode marks the user's unused recovery code of hash used
	// at now, and reports whether there was one to mark.
	UseRecoveryCode(ctx context.Context, userID int64, hash string, now time.Time) (bool, error)
	// ReplaceRecoveryCodes gives the user, whose second factor must be
	// active (else ErrTOTPChanged), the recovery codes of codeHashes in
	// place of every other.
	ReplaceRecoveryCodes(ctx context.Context, userID int64, codeHashes []string) error
	// RecoveryCodesLeft returns how many unused recovery codes the user has.
	RecoveryCodesLeft(ctx context.Context, userID int64) (int, error)
	// DisableTOTP removes the user's second factor, active or pending, and
	// recovery codes; it reports whether there was a second factor.
	DisableTOTP(ctx context.Context, userID int64) (bool, error)

	// CountMFAAttempt counts one attempt with the mfa_token jti, valid
	// until expiresAt, unless the token was used or has max attempts
	// counted already; it reports whether it counted it.
	CountMFAAttempt(ctx context.Context, jti string, expiresAt time.Time, max int) (bool, error)
	// UseMFAToken marks the mfa_token jti used; ErrTokenUsed when it was
	// already. DeleteExpiredTokens forgets it once expired.
	UseMFAToken(ctx context.Context, jti string, expiresAt time.Time) error
}
