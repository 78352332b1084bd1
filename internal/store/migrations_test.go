package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoadMigrations(t *testing.T) {
	t.Parallel()
	good := fstest.MapFS{
		"m/0002_more.sql": {Data: []byte("B")},
		"m/0001_init.sql": {Data: []byte("A")},
		"m/README":        {Data: []byte("not a migration")},
	}
	ms, err := LoadMigrations(good, "m")
	if err != nil || len(ms) != 2 || ms[0].Name != "0001_init" || ms[1].SQL != "B" || ms[1].Version != 2 {
		t.Fatalf("LoadMigrations = %+v, %v", ms, err)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"gap":      {"m/0001_a.sql": {}, "m/0003_c.sql": {}},
		"misnamed": {"m/init.sql": {}},
		"zero":     {"m/0000_a.sql": {}},
	} {
		if _, err := LoadMigrations(fsys, "m"); err == nil || !strings.Contains(err.Error(), "migration") {
			t.Errorf("%s: err = %v, want a migration error", name, err)
		}
	}
}

func TestApplyMigrations(t *testing.T) {
	t.Parallel()
	ms := []Migration{{Version: 1, Name: "0001_a"}, {Version: 2, Name: "0002_b"}, {Version: 3, Name: "0003_c"}}
	var ran []int
	n, err := ApplyMigrations(context.Background(), ms, 1, func(_ context.Context, m Migration) (bool, error) {
		ran = append(ran, m.Version)
		return m.Version != 3, nil // another process ran 3 first
	})
	if err != nil || n != 1 || len(ran) != 2 || ran[0] != 2 || ran[1] != 3 {
		t.Errorf("ApplyMigrations from 1 = %d, %v, ran %v; want 1 applied, 2 and 3 tried", n, err, ran)
	}
	_, err = ApplyMigrations(context.Background(), ms, 0, func(_ context.Context, m Migration) (bool, error) {
		if m.Version == 2 {
			return false, errors.New("boom")
		}
		return true, nil
	})
	if err == nil || !strings.Contains(err.Error(), "0002_b") {
		t.Errorf("a failing migration gave %v, want an error naming it", err)
	}
}
