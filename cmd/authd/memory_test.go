package main

import (
	"context"
	"io"
	"math"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"authd/internal/authdtest"
	"authd/internal/config"
)

func TestMemoryLimit(t *testing.T) {
	t.Parallel()
	const pool = 2 * 19 << 20
	cfg := func(limit int64) config.Config {
		return config.Config{MemoryLimit: limit, ThrottleMaxKey: 1000}
	}
	for _, tc := range []struct {
		cfg        config.Config
		gomemlimit string
		want       int64
		log        string
	}{
		{cfg(config.MemoryLimitAuto), "", pool + 2*1000*400 + config.MemoryHeadroom, "70.8 MiB (auto: hashing pool 38 MiB + throttle tables 0.8 MiB + session cache 0 MiB + 32 MiB)"},
		{config.Config{ThrottleMaxKey: 100000, CacheSessions: 10000}, "", pool + 2*100000*400 + 10000*2048 + config.MemoryHeadroom,
			"165.8 MiB (auto: hashing pool 38 MiB + throttle tables 76.3 MiB + session cache 19.5 MiB + 32 MiB)"},
		{cfg(config.MemoryLimitAuto), "1GiB", 0, "GOMEMLIMIT=1GiB (the Go runtime's)"},
		{cfg(config.MemoryLimitAuto), "off", 0, "GOMEMLIMIT=off (the Go runtime's)"},
		{cfg(config.MemoryLimitOff), "", 0, "off (no limit, the collector left alone)"},
		{cfg(160 << 20), "", 160 << 20, "160 MiB (AUTHD_MEMORY_LIMIT)"},
		{cfg(100000000), "", 100000000, "95.4 MiB (AUTHD_MEMORY_LIMIT)"},
	} {
		got, log := memoryLimit(tc.cfg, pool, tc.gomemlimit)
		if got != tc.want || log != tc.log {
			t.Errorf("memoryLimit(%+v, %d, %q) = %d, %q; want %d, %q", tc.cfg, pool, tc.gomemlimit, got, log, tc.want, tc.log)
		}
	}
}

// TestServeLogsItsMemoryLimit: serve says which memory limit it would
// set, and, run inside a test's process, leaves the test's alone.
func TestServeLogsItsMemoryLimit(t *testing.T) {
	t.Parallel()
	before := debug.SetMemoryLimit(-1)
	env := map[string]string{
		"AUTHD_DB":               filepath.Join(t.TempDir(), "authd.db"),
		"AUTHD_HASH_CONCURRENCY": "2",
	}
	// Ready once it serves: the "listening" line is written by then.
	s := authdtest.MustStart(t, authdtest.Command{
		Name:  "authd",
		Ready: "/readyz",
		Run: func(ctx context.Context, stdout, stderr io.Writer) error {
			return run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, nil, stdout, stderr)
		},
	})
	want := `"memory_limit":"165.8 MiB (auto: hashing pool 38 MiB + throttle tables 76.3 MiB + session cache 19.5 MiB + 32 MiB), not set: authd runs inside another program"`
	if !strings.Contains(s.Log(), want) {
		t.Errorf("the log lacks %s:\n%s", want, s.Log())
	}
	if after := debug.SetMemoryLimit(-1); after != before {
		t.Errorf("memory limit of the test's process went from %d to %d", before, after)
	}
	if before != math.MaxInt64 {
		t.Logf("this test process runs with a memory limit of %d bytes", before)
	}
}
