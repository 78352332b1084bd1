package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"authd/internal/store"
)

// nullTime is t as stored in a nullable column: NULL for the zero time.
func nullTime(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: toDB(t), Valid: true}
}

// timeOf is the time a nullable column holds: zero for NULL.
func timeOf(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromDB(v.Int64)
}

// sessionColumns are the columns scanSession reads, in its order.
const sessionColumns = `id, user_id, created_at, expires_at, revoked_at, method, ip, user_agent,
	auth_time, last_used_at, refresh_id, prev_refresh_id, rotated_at`

func scanSession(row scanner) (store.Session, error) {
	var (
		s                                        store.Session
		createdAt, expiresAt                     int64
		revokedAt, authTime, lastUsed, rotatedAt sql.NullInt64
	)
	err := row.Scan(&s.ID, &s.UserID, &createdAt, &expiresAt, &revokedAt, &s.Method, &s.IP, &s.UserAgent,
		&authTime, &lastUsed, &s.RefreshID, &s.PrevRefreshID, &rotatedAt)
	if err != nil {
		return store.Session{}, err
	}
	s.CreatedAt = fromDB(createdAt)
	s.ExpiresAt = fromDB(expiresAt)
	s.RevokedAt = timeOf(revokedAt)
	s.AuthTime = timeOf(authTime)
	s.LastUsedAt = timeOf(lastUsed)
	s.RotatedAt = timeOf(rotatedAt)
	return s, nil
}

// CreateSession stores a new session. It returns store.ErrNotFound when
// the session's user does not exist.
func (db *DB) CreateSession(ctx context.Context, s store.Session) error {
	_, err := db.exec(ctx, `
		INSERT INTO sessions (`+sessionColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.UserID, toDB(s.CreatedAt), toDB(s.ExpiresAt), nullTime(s.RevokedAt), s.Method, s.IP, s.UserAgent,
		nullTime(s.AuthTime), nullTime(s.LastUsedAt), s.RefreshID, s.PrevRefreshID, nullTime(s.RotatedAt))
	if isForeignKeyViolation(err) {
		return fmt.Errorf("sqlite: create session: %w", store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create session: %w", err)
	}
	return nil
}

// Session returns the session with the id, or store.ErrNotFound.
func (db *DB) Session(ctx context.Context, id string) (store.Session, error) {
	row, err := db.readRow(ctx, "SELECT "+sessionColumns+" FROM sessions WHERE id = ?", id)
	if err != nil {
		return store.Session{}, fmt.Errorf("sqlite: session: %w", err)
	}
	s, err := scanSession(row)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Session{}, fmt.Errorf("sqlite: session: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("sqlite: session: %w", err)
	}
	return s, nil
}

// SessionAndUser returns the session with the id and its user, in one
// query, or store.ErrNotFound.
func (db *DB) SessionAndUser(ctx context.Context, id string) (store.Session, store.User, error) {
	row, err := db.readRow(ctx, selectSessionAndUser+" WHERE s.id = ?", id)
	if err != nil {
		return store.Session{}, store.User{}, fmt.Errorf("sqlite: session and user: %w", err)
	}
	s, u, err := scanSessionAndUser(row)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Session{}, store.User{}, fmt.Errorf("sqlite: session and user: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Session{}, store.User{}, fmt.Errorf("sqlite: session and user: %w", err)
	}
	return s, u, nil
}

// selectSessionAndUser reads a session (s) with its user (u) and the
// user's Intra link (l); scanSessionAndUser reads its row.
var selectSessionAndUser = "SELECT " + store.Qualified("s", sessionColumns) + ", " + userColumns + `
FROM sessions s
JOIN users u ON u.id = s.user_id
LEFT JOIN intra_links l ON l.user_id = u.id`

// scanSessionAndUser reads a row of selectSessionAndUser: scanSession's
// columns, then scanUser's, each converted as they convert them.
func scanSessionAndUser(row scanner) (s store.Session, u store.User, err error) {
	s, err = scanSession(scanFunc(func(sd ...any) error {
		var err error
		u, err = scanUser(scanFunc(func(ud ...any) error {
			return row.Scan(append(sd, ud...)...)
		}))
		return err
	}))
	return s, u, err
}

// scanFunc is a scanner made of a function.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// UserSessions returns the user's sessions live at now, newest first.
func (db *DB) UserSessions(ctx context.Context, userID int64, now time.Time) ([]store.Session, error) {
	out, err := queryAll(ctx, db, scanSession, "SELECT "+sessionColumns+` FROM sessions
		WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?
		ORDER BY created_at DESC, id`, userID, toDB(now))
	if err != nil {
		return nil, fmt.Errorf("sqlite: user sessions: %w", err)
	}
	return out, nil
}

// revokeUserSessions is the statement of RevokeUserSessions and
// ChangePassword.
const revokeUserSessions = `
	UPDATE sessions SET revoked_at = ?1
	WHERE user_id = ?2 AND id <> ?3 AND revoked_at IS NULL AND expires_at > ?1`

// RevokeUserSessions revokes the user's live sessions but keep.
func (db *DB) RevokeUserSessions(ctx context.Context, userID int64, keep string, now time.Time) (int64, error) {
	n, err := db.execCount(ctx, revokeUserSessions, toDB(now), userID, keep)
	if err != nil {
		return 0, fmt.Errorf("sqlite: revoke user sessions: %w", err)
	}
	return n, nil
}

// ChangePassword sets the hash and revokes the user's other sessions in
// one transaction.
func (db *DB) ChangePassword(ctx context.Context, userID int64, hash, keep string, now time.Time) (int64, error) {
	var revoked int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE users SET password_hash = ? WHERE id = ?", hash, userID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return store.ErrNotFound
		}
		res, err = tx.ExecContext(ctx, revokeUserSessions, toDB(now), userID, keep)
		if err != nil {
			return err
		}
		revoked, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: change password: %w", err)
	}
	return revoked, nil
}

// TouchSession sets the session's last use to now.
func (db *DB) TouchSession(ctx context.Context, id string, now time.Time) error {
	if _, err := db.exec(ctx, "UPDATE sessions SET last_used_at = ? WHERE id = ?", toDB(now), id); err != nil {
		return fmt.Errorf("sqlite: touch session: %w", err)
	}
	return nil
}

// RotateRefresh replaces the session's newest refresh token id oldID by
// newID. The single writing connection makes the compare and the set one
// step.
func (db *DB) RotateRefresh(ctx context.Context, id, oldID, newID string, now time.Time) (bool, error) {
	n, err := db.execCount(ctx, `
		UPDATE sessions SET prev_refresh_id = refresh_id, refresh_id = ?1, rotated_at = ?2, last_used_at = ?2
		WHERE id = ?3 AND refresh_id = ?4 AND revoked_at IS NULL`, newID, toDB(now), id, oldID)
	if err != nil {
		return false, fmt.Errorf("sqlite: rotate refresh: %w", err)
	}
	return n == 1, nil
}

// UseToken records a single-use token's id; a second use is
// store.ErrTokenUsed.
func (db *DB) UseToken(ctx context.Context, jti string, expiresAt time.Time) error {
	_, err := db.exec(ctx, "INSERT INTO used_tokens (jti, expires_at) VALUES (?, ?)", jti, toDB(expiresAt))
	if isUniqueViolation(err) {
		return fmt.Errorf("sqlite: use token: %w", store.ErrTokenUsed)
	}
	if err != nil {
		return fmt.Errorf("sqlite: use token: %w", err)
	}
	return nil
}

// DeleteExpiredTokens forgets the used tokens expired at now.
func (db *DB) DeleteExpiredTokens(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	for _, q := range []string{
		"DELETE FROM used_tokens WHERE expires_at <= ?",
		"DELETE FROM mfa_tokens WHERE expires_at <= ?",
	} {
		res, err := db.exec(ctx, q, toDB(now))
		if err != nil {
			return 0, fmt.Errorf("sqlite: delete expired tokens: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("sqlite: delete expired tokens: %w", err)
		}
		total += n
	}
	return total, nil
}

// RevokeSession marks a session revoked at now. A session revoked already
// keeps its first revocation time; an unknown id is not an error.
func (db *DB) RevokeSession(ctx context.Context, id string, now time.Time) error {
	_, err := db.exec(ctx,
		"UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", toDB(now), id)
	if err != nil {
		return fmt.Errorf("sqlite: revoke session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes the sessions no longer live at now for
// having expired (an expiry of now included) and returns how many.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	n, err := db.execCount(ctx, "DELETE FROM sessions WHERE expires_at <= ?", toDB(now))
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete expired sessions: %w", err)
	}
	return n, nil
}

// SigningKey returns the signing key kept in the database. When there is
// none it stores one made by generate. The check and the store happen
// under the write lock, so generate runs once for all the callers and
// processes sharing the database, unless it fails.
func (db *DB) SigningKey(ctx context.Context, generate func() ([]byte, error), now time.Time) ([]byte, error) {
	key, err := signingKey(ctx, db.reader)
	if err == nil {
		return key, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: signing key: %w", err)
	}
	err = db.write(ctx, func(tx *sql.Tx) error {
		stored, err := signingKey(ctx, tx)
		if !errors.Is(err, sql.ErrNoRows) {
			key = stored // stored by another caller in the meantime
			return err
		}
		fresh, err := generate()
		if err != nil {
			return fmt.Errorf("generate: %w", err)
		}
		if len(fresh) == 0 {
			return errors.New("generated key is empty")
		}
		key = bytes.Clone(fresh)
		_, err = tx.ExecContext(ctx,
			"INSERT INTO signing_key (id, key, created_at) VALUES (1, ?, ?)", key, toDB(now))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: signing key: %w", err)
	}
	return key, nil
}

// querier is a *sql.DB or *sql.Tx.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func signingKey(ctx context.Context, q querier) ([]byte, error) {
	var key []byte
	err := q.QueryRowContext(ctx, "SELECT key FROM signing_key WHERE id = 1").Scan(&key)
	return key, err
}
