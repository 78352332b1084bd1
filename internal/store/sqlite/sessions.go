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

// CreateSession stores a new session. It returns store.ErrNotFound when
// the session's user does not exist.
func (db *DB) CreateSession(ctx context.Context, s store.Session) error {
	var revokedAt sql.NullInt64
	if !s.RevokedAt.IsZero() {
		revokedAt = sql.NullInt64{Int64: toDB(s.RevokedAt), Valid: true}
	}
	_, err := db.exec(ctx, `
		INSERT INTO sessions (id, user_id, created_at, expires_at, revoked_at)
		VALUES (?, ?, ?, ?, ?)`,
		s.ID, s.UserID, toDB(s.CreatedAt), toDB(s.ExpiresAt), revokedAt)
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
	var (
		s                    store.Session
		createdAt, expiresAt int64
		revokedAt            sql.NullInt64
	)
	row, err := db.readRow(ctx, `
		SELECT id, user_id, created_at, expires_at, revoked_at
		FROM sessions WHERE id = ?`, id)
	if err != nil {
		return store.Session{}, fmt.Errorf("sqlite: session: %w", err)
	}
	err = row.Scan(&s.ID, &s.UserID, &createdAt, &expiresAt, &revokedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Session{}, fmt.Errorf("sqlite: session: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("sqlite: session: %w", err)
	}
	s.CreatedAt = fromDB(createdAt)
	s.ExpiresAt = fromDB(expiresAt)
	if revokedAt.Valid {
		s.RevokedAt = fromDB(revokedAt.Int64)
	}
	return s, nil
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
	res, err := db.exec(ctx, "DELETE FROM sessions WHERE expires_at <= ?", toDB(now))
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete expired sessions: %w", err)
	}
	n, err := res.RowsAffected()
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
