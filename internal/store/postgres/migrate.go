package postgres

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"

	"authd/internal/store"
)

// migrationFiles holds the schema changes, one file each, named
// NNNN_what.sql and applied in the order of NNNN.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the advisory lock key that serialises migrations
// between processes sharing a database: the bytes "authdmig".
const migrationLock int64 = 0x61757468646d6967

const createMigrationsTable = `
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)`

// loadMigrations returns the embedded migrations in order.
func loadMigrations() ([]store.Migration, error) {
	return store.LoadMigrations(migrationFiles, "migrations")
}

// Migrate applies the migrations the database lacks and returns how many
// it applied. Each runs in its own transaction under an advisory lock, so
// replicas that start at once apply each migration exactly once.
func (db *DB) Migrate(ctx context.Context) (int, error) {
	applied, err := store.Migrate(ctx, loadMigrations, db.Version, db.apply)
	if err != nil {
		return applied, fmt.Errorf("postgres: %w", err)
	}
	return applied, nil
}

// apply runs one migration unless another process has run it already, and
// reports whether it ran it.
func (db *DB) apply(ctx context.Context, m store.Migration) (bool, error) {
	var done bool
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if _, err := tx.Exec(ctx, createMigrationsTable); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var exists bool
		err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)", m.Version).Scan(&exists)
		if err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		if exists {
			return nil
		}
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name)
		if err != nil {
			return fmt.Errorf("record version: %w", err)
		}
		done = true
		return nil
	})
	return done, err
}

// Version returns the schema version of the database: the number of the
// last migration applied, or 0 for a database never migrated.
func (db *DB) Version(ctx context.Context) (int, error) {
	var exists bool
	err := db.pool.QueryRow(ctx, "SELECT to_regclass('schema_migrations') IS NOT NULL").Scan(&exists)
	if err != nil {
		return 0, fmt.Errorf("postgres: schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	err = db.pool.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("postgres: schema version: %w", err)
	}
	return v, nil
}
