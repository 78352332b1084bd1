package store

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migration is one schema change of a backend, read from a file named
// NNNN_what.sql.
type Migration struct {
	Version int
	Name    string // the file name without .sql
	SQL     string
}

// LoadMigrations reads the *.sql files of dir in fsys (a backend's
// embedded migrations) in version order. Versions start at 1 and have no
// gaps, so a missing or misnamed file is an error, not a skipped change.
func LoadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name is not NNNN_what.sql", base)
		}
		text, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: strings.TrimSuffix(base, ".sql"), SQL: string(text)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s: want version %d", m.Name, i+1)
		}
	}
	return ms, nil
}

// Migrated applies every pending migration of db, which opening it has
// just returned with err, and closes it when that fails: the Open of a
// backend is its OpenNoMigrate followed by Migrated.
func Migrated[DB interface {
	Migrator
	Close() error
}](ctx context.Context, db DB, err error) (DB, error) {
	var none DB
	if err != nil {
		return none, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return none, err
	}
	return db, nil
}

// Migrate brings a database to the newest of the migrations load
// returns: it reads the database's version, then applies every migration
// above it with apply, in order, and returns how many apply reported it
// ran. The backends differ only in load's files, version and apply.
func Migrate(ctx context.Context, load func() ([]Migration, error), version func(context.Context) (int, error), apply func(context.Context, Migration) (bool, error)) (int, error) {
	ms, err := load()
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	// An up-to-date database needs no lock and no privilege beyond reading.
	current, err := version(ctx)
	if err != nil {
		return 0, err
	}
	return ApplyMigrations(ctx, ms, current, apply)
}

// ApplyMigrations runs apply for each migration above version current, in
// order, and returns how many apply reported it ran (another process may
// have run one first). It stops at the first error.
func ApplyMigrations(ctx context.Context, ms []Migration, current int, apply func(context.Context, Migration) (bool, error)) (int, error) {
	applied := 0
	for _, m := range ms {
		if m.Version <= current {
			continue
		}
		done, err := apply(ctx, m)
		if err != nil {
			return applied, fmt.Errorf("migrate to %s: %w", m.Name, err)
		}
		if done {
			applied++
		}
	}
	return applied, nil
}
