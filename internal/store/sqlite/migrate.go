package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

	"authd/internal/store"
)

// migrationFiles holds the schema changes, one file each, named
// NNNN_what.sql and applied in the order of NNNN.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

const createMigrationsTable = `
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL
) STRICT`

// loadMigrations returns the embedded migrations in order.
func loadMigrations() ([]store.Migration, error) {
	return store.LoadMigrations(migrationFiles, "migrations")
}

// Migrate applies the migrations the database lacks and reports how many
// it applied. Each runs in its own transaction, which holds the write lock
// from its start, so processes that open the file at once apply each
// migration exactly once.
func (db *DB) Migrate(ctx context.Context) (int, error) {
	applied, err := store.Migrate(ctx, loadMigrations, db.Version, db.apply)
	if err != nil {
		return applied, fmt.Errorf("sqlite: %w", err)
	}
	return applied, nil
}

// apply runs one migration unless another process has run it already, and
// reports whether it ran it.
func (db *DB) apply(ctx context.Context, m store.Migration) (bool, error) {
	var done bool
	err := db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, createMigrationsTable); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var exists bool
		err := tx.QueryRowContext(ctx,
			"SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?)", m.Version).Scan(&exists)
		if err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		if exists {
			return nil
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx,
			"INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
			m.Version, m.Name, toDB(time.Now()))
		if err != nil {
			return fmt.Errorf("record version: %w", err)
		}
		done = true
		return nil
	})
	return done, err
}

// Version reports the schema version of the database: the number of the
// last migration applied, or 0 for a database never migrated.
func (db *DB) Version(ctx context.Context) (int, error) {
	var exists bool
	err := db.reader.QueryRowContext(ctx,
		"SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations')").Scan(&exists)
	if err != nil {
		return 0, fmt.Errorf("sqlite: schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	err = db.reader.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("sqlite: schema version: %w", err)
	}
	return v, nil
}
