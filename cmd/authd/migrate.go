package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"authd/internal/config"
	"authd/internal/store/postgres"
	"authd/internal/store/sqlite"
)

// migrate applies the pending schema migrations of the configured
// database and reports the schema version.
func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("authd migrate", flag.ContinueOnError)
	cfg, err := loadConfig(fs, args, getenv, stderr)
	if err != nil {
		return err
	}
	type migrator interface {
		Migrate(context.Context) (int, error)
		Version(context.Context) (int, error)
		Close() error
	}
	var db migrator
	if config.IsPostgres(cfg.DB) {
		db, err = postgres.OpenNoMigrate(ctx, cfg.DB)
	} else {
		db, err = sqlite.OpenNoMigrate(ctx, cfg.DB)
	}
	if err != nil {
		return fmt.Errorf("open database %s: %w", redactDSN(cfg.DB), err)
	}
	defer db.Close()
	n, err := db.Migrate(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	v, err := db.Version(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	fmt.Fprintf(stdout, "applied %d migration(s); schema version %d\n", n, v)
	return nil
}
