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
