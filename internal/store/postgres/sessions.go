package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"authd/internal/store"
)

// CreateSession stores a new session. It returns store.ErrNotFound when
// the session's user does not exist.
func (db *DB) CreateSession(ctx context.Context, s store.Session) error {
	var revokedAt *time.Time
	if !s.RevokedAt.IsZero() {
		t := dbTime(s.RevokedAt)
		revokedAt = &t
	}
	_, err := db.pool.Exec(ctx, `
		INSERT INTO sessions (id, user_id, created_at, expires_at, revoked_at)
		VALUES ($1, $2, $3, $4, $5)`,
		s.ID, s.UserID, dbTime(s.CreatedAt), dbTime(s.ExpiresAt), revokedAt)
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
	var (
		s         store.Session
		revokedAt *time.Time
	)
	err := db.pool.QueryRow(ctx, `
		SELECT id, user_id, created_at, expires_at, revoked_at
		FROM sessions WHERE id = $1`, id).
		Scan(&s.ID, &s.UserID, &s.CreatedAt, &s.ExpiresAt, &revokedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Session{}, fmt.Errorf("postgres: session: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("postgres: session: %w", err)
	}
	s.CreatedAt = s.CreatedAt.UTC()
	s.ExpiresAt = s.ExpiresAt.UTC()
	if revokedAt != nil {
		s.RevokedAt = revokedAt.UTC()
	}
	return s, nil
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
