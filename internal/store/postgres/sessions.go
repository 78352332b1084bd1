package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"authd/internal/store"
)

// nullTime is t as stored in a nullable column: NULL for the zero time.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	v := dbTime(t)
	return &v
}

// timeOf is the time a nullable column holds, in UTC: zero for NULL.
func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// sessionColumns are the columns scanSession reads, in its order.
const sessionColumns = `id, user_id, created_at, expires_at, revoked_at, method, ip, user_agent,
	auth_time, last_used_at, refresh_id, prev_refresh_id, rotated_at`

func scanSession(row pgx.Row) (store.Session, error) {
	var (
		s                                        store.Session
		revokedAt, authTime, lastUsed, rotatedAt *time.Time
	)
	err := row.Scan(&s.ID, &s.UserID, &s.CreatedAt, &s.ExpiresAt, &revokedAt, &s.Method, &s.IP, &s.UserAgent,
		&authTime, &lastUsed, &s.RefreshID, &s.PrevRefreshID, &rotatedAt)
	if err != nil {
		return store.Session{}, err
	}
	s.CreatedAt = s.CreatedAt.UTC()
	s.ExpiresAt = s.ExpiresAt.UTC()
	s.RevokedAt = timeOf(revokedAt)
	s.AuthTime = timeOf(authTime)
	s.LastUsedAt = timeOf(lastUsed)
	s.RotatedAt = timeOf(rotatedAt)
	return s, nil
}

// CreateSession stores a new session. It returns store.ErrNotFound when
// the session's user does not exist.
func (db *DB) CreateSession(ctx context.Context, s store.Session) error {
	_, err := db.pool.Exec(ctx, `
		INSERT INTO sessions (`+sessionColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		s.ID, s.UserID, dbTime(s.CreatedAt), dbTime(s.ExpiresAt), nullTime(s.RevokedAt), s.Method, s.IP, s.UserAgent,
		nullTime(s.AuthTime), nullTime(s.LastUsedAt), s.RefreshID, s.PrevRefreshID, nullTime(s.RotatedAt))
	if isForeignKeyViolation(err) {
		return fmt.Errorf("postgres: create session: %w", store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: create session: %w", err)
	}
	return nil
}

// Session returns the session with the id, or store.ErrNotFound.
func (db *DB) Session(ctx context.Context, id string) (store.Session, error) {
	s, err := scanSession(db.pool.QueryRow(ctx, "SELECT "+sessionColumns+" FROM sessions WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Session{}, fmt.Errorf("postgres: session: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("postgres: session: %w", err)
	}
	return s, nil
}

// SessionAndUser returns the session with the id and its user, in one
// query, or store.ErrNotFound.
func (db *DB) SessionAndUser(ctx context.Context, id string) (store.Session, store.User, error) {
	s, u, err := scanSessionAndUser(db.pool.QueryRow(ctx, selectSessionAndUser+" WHERE s.id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Session{}, store.User{}, fmt.Errorf("postgres: session and user: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Session{}, store.User{}, fmt.Errorf("postgres: session and user: %w", err)
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
func scanSessionAndUser(row pgx.Row) (s store.Session, u store.User, err error) {
	s, err = scanSession(scanFunc(func(sd ...any) error {
		var err error
		u, err = scanUser(scanFunc(func(ud ...any) error {
			return row.Scan(append(sd, ud...)...)
		}))
		return err
	}))
	return s, u, err
}

// scanFunc is a pgx.Row made of a function.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// UserSessions returns the user's sessions live at now, newest first.
func (db *DB) UserSessions(ctx context.Context, userID int64, now time.Time) ([]store.Session, error) {
	rows, err := db.pool.Query(ctx, "SELECT "+sessionColumns+` FROM sessions
		WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2
		ORDER BY created_at DESC, id`, userID, dbTime(now))
	if err != nil {
		return nil, fmt.Errorf("postgres: user sessions: %w", err)
	}
	defer rows.Close()
	var out []store.Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: user sessions: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: user sessions: %w", err)
	}
	return out, nil
}

// revokeUserSessions is the statement of RevokeUserSessions and
// ChangePassword.
const revokeUserSessions = `
	UPDATE sessions SET revoked_at = $1
	WHERE user_id = $2 AND id <> $3 AND revoked_at IS NULL AND expires_at > $1`

// RevokeUserSessions revokes the user's live sessions but keep.
func (db *DB) RevokeUserSessions(ctx context.Context, userID int64, keep string, now time.Time) (int64, error) {
	tag, err := db.pool.Exec(ctx, revokeUserSessions, dbTime(now), userID, keep)
	if err != nil {
		return 0, fmt.Errorf("postgres: revoke user sessions: %w", err)
	}
	return tag.RowsAffected(), nil
}

// ChangePassword sets the hash and revokes the user's other sessions in
// one transaction.
func (db *DB) ChangePassword(ctx context.Context, userID int64, hash, keep string, now time.Time) (int64, error) {
	var revoked int64
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "UPDATE users SET password_hash = $1 WHERE id = $2", hash, userID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		tag, err = tx.Exec(ctx, revokeUserSessions, dbTime(now), userID, keep)
		revoked = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: change password: %w", err)
	}
	return revoked, nil
}

// TouchSession sets the session's last use to now.
func (db *DB) TouchSession(ctx context.Context, id string, now time.Time) error {
	if _, err := db.pool.Exec(ctx, "UPDATE sessions SET last_used_at = $1 WHERE id = $2", dbTime(now), id); err != nil {
		return fmt.Errorf("postgres: touch session: %w", err)
	}
	return nil
}

// RotateRefresh replaces the session's newest refresh token id oldID by
// newID. The UPDATE locks the row and checks its WHERE again on the row
// as another transaction left it, so of racing callers one alone matches.
func (db *DB) RotateRefresh(ctx context.Context, id, oldID, newID string, now time.Time) (bool, error) {
	tag, err := db.pool.Exec(ctx, `
		UPDATE sessions SET prev_refresh_id = refresh_id, refresh_id = $1, rotated_at = $2, last_used_at = $2
		WHERE id = $3 AND refresh_id = $4 AND revoked_at IS NULL`, newID, dbTime(now), id, oldID)
	if err != nil {
		return false, fmt.Errorf("postgres: rotate refresh: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// UseToken records a single-use token's id; a second use is
// store.ErrTokenUsed.
func (db *DB) UseToken(ctx context.Context, jti string, expiresAt time.Time) error {
	tag, err := db.pool.Exec(ctx,
		"INSERT INTO used_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING", jti, dbTime(expiresAt))
	if err != nil {
		return fmt.Errorf("postgres: use token: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: use token: %w", store.ErrTokenUsed)
	}
	return nil
}

// DeleteExpiredTokens forgets the used tokens expired at now.
func (db *DB) DeleteExpiredTokens(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	for _, q := range []string{
		"DELETE FROM used_tokens WHERE expires_at <= $1",
		"DELETE FROM mfa_tokens WHERE expires_at <= $1",
	} {
		tag, err := db.pool.Exec(ctx, q, dbTime(now))
		if err != nil {
			return 0, fmt.Errorf("postgres: delete expired tokens: %w", err)
		}
		total += tag.RowsAffected()
	}
	return total, nil
}

// RevokeSession marks a session revoked at now. A session revoked already
// keeps its first revocation time; an unknown id is not an error.
func (db *DB) RevokeSession(ctx context.Context, id string, now time.Time) error {
	_, err := db.pool.Exec(ctx,
		"UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL", id, dbTime(now))
	if err != nil {
		return fmt.Errorf("postgres: revoke session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes the sessions no longer live at now for
// having expired (an expiry of now included) and returns how many.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	tag, err := db.pool.Exec(ctx, "DELETE FROM sessions WHERE expires_at <= $1", dbTime(now))
	if err != nil {
		return 0, fmt.Errorf("postgres: delete expired sessions: %w", err)
	}
	return tag.RowsAffected(), nil
}

// SigningKey returns the signing key kept in the database. When there is
// none it stores one made by generate, unless another process stores its
// own first; either way every caller gets the key that was stored.
func (db *DB) SigningKey(ctx context.Context, generate func() ([]byte, error), now time.Time) ([]byte, error) {
	key, err := db.signingKey(ctx)
	if err == nil {
		return key, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: signing key: %w", err)
	}
	fresh, err := generate()
	if err != nil {
		return nil, fmt.Errorf("postgres: signing key: generate: %w", err)
	}
	if len(fresh) == 0 {
		return nil, errors.New("postgres: signing key: generated key is empty")
	}
	_, err = db.pool.Exec(ctx, `
		INSERT INTO signing_key (id, key, created_at) VALUES (TRUE, $1, $2)
		ON CONFLICT (id) DO NOTHING`, fresh, dbTime(now))
	if err != nil {
		return nil, fmt.Errorf("postgres: signing key: store: %w", err)
	}
	key, err = db.signingKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: signing key: %w", err)
	}
	return key, nil
}

func (db *DB) signingKey(ctx context.Context) ([]byte, error) {
	var key []byte
	err := db.pool.QueryRow(ctx, "SELECT key FROM signing_key WHERE id").Scan(&key)
	return key, err
}
