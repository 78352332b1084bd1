package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"authd/internal/store"
)

// AccessKeys returns every access-token key pair, by number.
func (db *DB) AccessKeys(ctx context.Context) ([]store.AccessKey, error) {
	rows, _ := db.pool.Query(ctx, `
		SELECT seq, kid, alg, private_key, public_key, created_at, activates_at
		FROM access_keys ORDER BY seq`)
	keys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.AccessKey, error) {
		var k store.AccessKey
		err := row.Scan(&k.Seq, &k.ID, &k.Alg, &k.PrivateKey, &k.PublicKey, &k.CreatedAt, &k.ActivatesAt)
		k.CreatedAt, k.ActivatesAt = k.CreatedAt.UTC(), k.ActivatesAt.UTC()
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: access keys: %w", err)
	}
	return keys, nil
}

// AddAccessKey stores a key pair, or returns store.ErrKeyExists.
func (db *DB) AddAccessKey(ctx context.Context, k store.AccessKey) error {
	_, err := db.pool.Exec(ctx, `
		INSERT INTO access_keys (seq, kid, alg, private_key, public_key, created_at, activates_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		k.Seq, k.ID, k.Alg, k.PrivateKey, k.PublicKey, dbTime(k.CreatedAt), dbTime(k.ActivatesAt))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == uniqueViolation {
		return fmt.Errorf("postgres: add access key: %w", store.ErrKeyExists)
	}
	if err != nil {
		return fmt.Errorf("postgres: add access key: %w", err)
	}
	return nil
}

// DeleteAccessKey removes a key pair.
func (db *DB) DeleteAccessKey(ctx context.Context, id string) error {
	if _, err := db.pool.Exec(ctx, "DELETE FROM access_keys WHERE kid = $1", id); err != nil {
		return fmt.Errorf("postgres: delete access key: %w", err)
	}
	return nil
}
