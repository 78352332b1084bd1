package sqlite

import (
	"context"
	"fmt"

	"authd/internal/store"
)

// AccessKeys returns every access-token key pair, by number.
func (db *DB) AccessKeys(ctx context.Context) ([]store.AccessKey, error) {
	rows, err := db.reader.QueryContext(ctx, `
		SELECT seq, kid, alg, private_key, public_key, created_at, activates_at
		FROM access_keys ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: access keys: %w", err)
	}
	defer rows.Close()
	var keys []store.AccessKey
	for rows.Next() {
		var (
			k                  store.AccessKey
			created, activates int64
		)
		if err := rows.Scan(&k.Seq, &k.ID, &k.Alg, &k.PrivateKey, &k.PublicKey, &created, &activates); err != nil {
			return nil, fmt.Errorf("sqlite: access keys: %w", err)
		}
		k.CreatedAt, k.ActivatesAt = fromDB(created), fromDB(activates)
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: access keys: %w", err)
	}
	return keys, nil
}

// AddAccessKey stores a key pair, or returns store.ErrKeyExists.
func (db *DB) AddAccessKey(ctx context.Context, k store.AccessKey) error {
	_, err := db.exec(ctx, `
		INSERT INTO access_keys (seq, kid, alg, private_key, public_key, created_at, activates_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		k.Seq, k.ID, k.Alg, k.PrivateKey, k.PublicKey, toDB(k.CreatedAt), toDB(k.ActivatesAt))
	if isUniqueViolation(err) {
		return fmt.Errorf("sqlite: add access key: %w", store.ErrKeyExists)
	}
	if err != nil {
		return fmt.Errorf("sqlite: add access key: %w", err)
	}
	return nil
}

// DeleteAccessKey removes a key pair.
func (db *DB) DeleteAccessKey(ctx context.Context, id string) error {
	if _, err := db.exec(ctx, "DELETE FROM access_keys WHERE kid = ?", id); err != nil {
		return fmt.Errorf("sqlite: delete access key: %w", err)
	}
	return nil
}
