package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"authd/internal/store"
)

// TOTP returns the user's second factor, or store.ErrNotFound.
func (db *DB) TOTP(ctx context.Context, userID int64) (store.TOTP, error) {
	var (
		t       store.TOTP
		enabled *time.Time
	)
	err := db.pool.QueryRow(ctx, "SELECT secret, pending, last_step, enabled_at FROM totp WHERE user_id = $1", userID).
		Scan(&t.Secret, &t.Pending, &t.LastStep, &enabled)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && t.Secret == "" && t.Pending == "" {
		return store.TOTP{}, fmt.Errorf("postgres: totp: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.TOTP{}, fmt.Errorf("postgres: totp: %w", err)
	}
	t.EnabledAt = timeOf(enabled)
	return t, nil
}

// SetPendingTOTP keeps the user's pending secret, unless one is active.
// The upsert locks the row, so it cannot interleave with an EnableTOTP.
func (db *DB) SetPendingTOTP(ctx context.Context, userID int64, secret string) error {
	tag, err := db.pool.Exec(ctx, `
		INSERT INTO totp (user_id, pending) VALUES ($1, $2)
		ON CONFLICT (user_id) DO UPDATE SET pending = $2 WHERE totp.secret = ''`, userID, secret)
	if isForeignKeyViolation(err) {
		return fmt.Errorf("postgres: set pending totp: %w", store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: set pending totp: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: set pending totp: %w", store.ErrTOTPChanged)
	}
	return nil
}

// replaceCodes gives the user the recovery codes of hashes, in tx.
func replaceCodes(ctx context.Context, tx pgx.Tx, userID int64, hashes []string) error {
	if _, err := tx.Exec(ctx, "DELETE FROM recovery_codes WHERE user_id = $1", userID); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, "INSERT INTO recovery_codes (user_id, code_hash) SELECT $1, unnest($2::text[])", userID, hashes)
	return err
}

// EnableTOTP activates the pending secret, replaces the recovery codes
// and revokes the other sessions in one transaction.
func (db *DB) EnableTOTP(ctx context.Context, userID int64, pending string, step int64, codeHashes []string, keep string, now time.Time) (int64, error) {
	var revoked int64
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE totp SET secret = pending, pending = '', last_step = $1, enabled_at = $2
			WHERE user_id = $3 AND pending = $4 AND pending <> '' AND secret = ''`, step, dbTime(now), userID, pending)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrTOTPChanged
		}
		if err := replaceCodes(ctx, tx, userID, codeHashes); err != nil {
			return err
		}
		tag, err = tx.Exec(ctx, revokeUserSessions, dbTime(now), userID, keep)
		revoked = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: enable totp: %w", err)
	}
	return revoked, nil
}

// UseTOTPStep moves the last step accepted forward to step, if secret is
// active and step is later than the last. The UPDATE locks the row and
// checks its WHERE again on the row as a concurrent one left it, so of
// racing callers one alone matches.
func (db *DB) UseTOTPStep(ctx context.Context, userID int64, secret string, step int64) (bool, error) {
	tag, err := db.pool.Exec(ctx, `
		UPDATE totp SET last_step = $1
		WHERE user_id = $2 AND secret = $3 AND secret <> '' AND last_step < $1`, step, userID, secret)
	if err != nil {
		return false, fmt.Errorf("postgres: use totp step: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// UseRecoveryCode marks an unused recovery code used.
func (db *DB) UseRecoveryCode(ctx context.Context, userID int64, hash string, now time.Time) (bool, error) {
	tag, err := db.pool.Exec(ctx, `
		UPDATE recovery_codes SET used_at = $1
		WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL`, dbTime(now), userID, hash)
	if err != nil {
		return false, fmt.Errorf("postgres: use recovery code: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// ReplaceRecoveryCodes replaces the recovery codes of a user whose second
// factor is active; the row of the factor is locked meanwhile.
func (db *DB) ReplaceRecoveryCodes(ctx context.Context, userID int64, codeHashes []string) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, "SELECT 1 FROM totp WHERE user_id = $1 AND secret <> '' FOR UPDATE", userID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrTOTPChanged
		}
		if err != nil {
			return err
		}
		return replaceCodes(ctx, tx, userID, codeHashes)
	})
	if err != nil {
		return fmt.Errorf("postgres: replace recovery codes: %w", err)
	}
	return nil
}

// RecoveryCodesLeft counts the user's unused recovery codes.
func (db *DB) RecoveryCodesLeft(ctx context.Context, userID int64) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL", userID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("postgres: recovery codes left: %w", err)
	}
	return n, nil
}

// DisableTOTP removes the user's second factor and recovery codes.
func (db *DB) DisableTOTP(ctx context.Context, userID int64) (bool, error) {
	var had bool
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "DELETE FROM totp WHERE user_id = $1", userID)
		if err != nil {
			return err
		}
		had = tag.RowsAffected() > 0
		_, err = tx.Exec(ctx, "DELETE FROM recovery_codes WHERE user_id = $1", userID)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("postgres: disable totp: %w", err)
	}
	return had, nil
}

// CountMFAAttempt counts an attempt with an mfa_token that is neither
// used nor out of attempts.
func (db *DB) CountMFAAttempt(ctx context.Context, jti string, expiresAt time.Time, max int) (bool, error) {
	if max < 1 {
		return false, nil
	}
	tag, err := db.pool.Exec(ctx, `
		INSERT INTO mfa_tokens (jti, attempts, expires_at) VALUES ($1, 1, $2)
		ON CONFLICT (jti) DO UPDATE SET attempts = mfa_tokens.attempts + 1
		WHERE NOT mfa_tokens.used AND mfa_tokens.attempts < $3`, jti, dbTime(expiresAt), max)
	if err != nil {
		return false, fmt.Errorf("postgres: count mfa attempt: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// UseMFAToken marks an mfa_token used; a second use is store.ErrTokenUsed.
func (db *DB) UseMFAToken(ctx context.Context, jti string, expiresAt time.Time) error {
	tag, err := db.pool.Exec(ctx, `
		INSERT INTO mfa_tokens (jti, used, expires_at) VALUES ($1, TRUE, $2)
		ON CONFLICT (jti) DO UPDATE SET used = TRUE WHERE NOT mfa_tokens.used`, jti, dbTime(expiresAt))
	if err != nil {
		return fmt.Errorf("postgres: use mfa token: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: use mfa token: %w", store.ErrTokenUsed)
	}
	return nil
}
