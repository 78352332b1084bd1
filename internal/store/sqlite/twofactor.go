package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"authd/internal/store"
)

// TOTP returns the user's second factor, or store.ErrNotFound.
func (db *DB) TOTP(ctx context.Context, userID int64) (store.TOTP, error) {
	row, err := db.readRow(ctx, "SELECT secret, pending, last_step, enabled_at FROM totp WHERE user_id = ?", userID)
	if err != nil {
		return store.TOTP{}, fmt.Errorf("sqlite: totp: %w", err)
	}
	var (
		t       store.TOTP
		enabled sql.NullInt64
	)
	err = row.Scan(&t.Secret, &t.Pending, &t.LastStep, &enabled)
	if errors.Is(err, sql.ErrNoRows) || err == nil && t.Secret == "" && t.Pending == "" {
		return store.TOTP{}, fmt.Errorf("sqlite: totp: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.TOTP{}, fmt.Errorf("sqlite: totp: %w", err)
	}
	t.EnabledAt = timeOf(enabled)
	return t, nil
}

// SetPendingTOTP keeps the user's pending secret, unless one is active.
func (db *DB) SetPendingTOTP(ctx context.Context, userID int64, secret string) error {
	n, err := db.execCount(ctx, `
		INSERT INTO totp (user_id, pending) VALUES (?1, ?2)
		ON CONFLICT (user_id) DO UPDATE SET pending = ?2 WHERE totp.secret = ''`, userID, secret)
	if isForeignKeyViolation(err) {
		return fmt.Errorf("sqlite: set pending totp: %w", store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sqlite: set pending totp: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("sqlite: set pending totp: %w", store.ErrTOTPChanged)
	}
	return nil
}

// replaceCodes gives the user the recovery codes of hashes, in tx.
func replaceCodes(ctx context.Context, tx *sql.Tx, userID int64, hashes []string) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM recovery_codes WHERE user_id = ?", userID); err != nil {
		return err
	}
	for _, h := range hashes {
		if _, err := tx.ExecContext(ctx, "INSERT INTO recovery_codes (user_id, code_hash) VALUES (?, ?)", userID, h); err != nil {
			return err
		}
	}
	return nil
}

// EnableTOTP activates the pending secret, replaces the recovery codes
// and revokes the other sessions in one transaction.
func (db *DB) EnableTOTP(ctx context.Context, userID int64, pending string, step int64, codeHashes []string, keep string, now time.Time) (int64, error) {
	var revoked int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE totp SET secret = pending, pending = '', last_step = ?, enabled_at = ?
			WHERE user_id = ? AND pending = ? AND pending <> '' AND secret = ''`, step, toDB(now), userID, pending)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return store.ErrTOTPChanged
		}
		if err := replaceCodes(ctx, tx, userID, codeHashes); err != nil {
			return err
		}
		res, err = tx.ExecContext(ctx, revokeUserSessions, toDB(now), userID, keep)
		if err != nil {
			return err
		}
		revoked, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: enable totp: %w", err)
	}
	return revoked, nil
}

// UseTOTPStep moves the last step accepted forward to step, if secret is
// active and step is later than the last. The single writing connection
// makes the compare and the set one step.
func (db *DB) UseTOTPStep(ctx context.Context, userID int64, secret string, step int64) (bool, error) {
	n, err := db.execCount(ctx, `
		UPDATE totp SET last_step = ?1
		WHERE user_id = ?2 AND secret = ?3 AND secret <> '' AND last_step < ?1`, step, userID, secret)
	if err != nil {
		return false, fmt.Errorf("sqlite: use totp step: %w", err)
	}
	return n == 1, nil
}

// UseRecoveryCode marks an unused recovery code used.
func (db *DB) UseRecoveryCode(ctx context.Context, userID int64, hash string, now time.Time) (bool, error) {
	n, err := db.execCount(ctx, `
		UPDATE recovery_codes SET used_at = ?
		WHERE user_id = ? AND code_hash = ? AND used_at IS NULL`, toDB(now), userID, hash)
	if err != nil {
		return false, fmt.Errorf("sqlite: use recovery code: %w", err)
	}
	return n == 1, nil
}

// ReplaceRecoveryCodes replaces the recovery codes of a user whose second
// factor is active.
func (db *DB) ReplaceRecoveryCodes(ctx context.Context, userID int64, codeHashes []string) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		var active bool
		err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM totp WHERE user_id = ? AND secret <> '')", userID).Scan(&active)
		if err != nil {
			return err
		}
		if !active {
			return store.ErrTOTPChanged
		}
		return replaceCodes(ctx, tx, userID, codeHashes)
	})
	if err != nil {
		return fmt.Errorf("sqlite: replace recovery codes: %w", err)
	}
	return nil
}

// RecoveryCodesLeft counts the user's unused recovery codes.
func (db *DB) RecoveryCodesLeft(ctx context.Context, userID int64) (int, error) {
	row, err := db.readRow(ctx, "SELECT COUNT(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL", userID)
	if err != nil {
		return 0, fmt.Errorf("sqlite: recovery codes left: %w", err)
	}
	var n int
	if err := row.Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: recovery codes left: %w", err)
	}
	return n, nil
}

// DisableTOTP removes the user's second factor and recovery codes.
func (db *DB) DisableTOTP(ctx context.Context, userID int64) (bool, error) {
	var had bool
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM totp WHERE user_id = ?", userID)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		had = n > 0
		_, err = tx.ExecContext(ctx, "DELETE FROM recovery_codes WHERE user_id = ?", userID)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: disable totp: %w", err)
	}
	return had, nil
}

// CountMFAAttempt counts an attempt with an mfa_token that is neither
// used nor out of attempts.
func (db *DB) CountMFAAttempt(ctx context.Context, jti string, expiresAt time.Time, max int) (bool, error) {
	if max < 1 {
		return false, nil
	}
	n, err := db.execCount(ctx, `
		INSERT INTO mfa_tokens (jti, attempts, expires_at) VALUES (?1, 1, ?2)
		ON CONFLICT (jti) DO UPDATE SET attempts = mfa_tokens.attempts + 1
		WHERE mfa_tokens.used = 0 AND mfa_tokens.attempts < ?3`, jti, toDB(expiresAt), max)
	if err != nil {
		return false, fmt.Errorf("sqlite: count mfa attempt: %w", err)
	}
	return n == 1, nil
}

// UseMFAToken marks an mfa_token used; a second use is store.ErrTokenUsed.
func (db *DB) UseMFAToken(ctx context.Context, jti string, expiresAt time.Time) error {
	n, err := db.execCount(ctx, `
		INSERT INTO mfa_tokens (jti, used, expires_at) VALUES (?1, 1, ?2)
		ON CONFLICT (jti) DO UPDATE SET used = 1 WHERE mfa_tokens.used = 0`, jti, toDB(expiresAt))
	if err != nil {
		return fmt.Errorf("sqlite: use mfa token: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("sqlite: use mfa token: %w", store.ErrTokenUsed)
	}
	return nil
}
