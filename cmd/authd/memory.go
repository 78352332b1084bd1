package main

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"

	"authd/internal/config"
	"authd/internal/password"
	"authd/internal/program"
)

// memoryLimit returns the Go memory limit serve sets for cfg, in bytes
// (0: none), and what to log of it: poolMemory is what the hashing pool's
// hashes take at once, gomemlimit the GOMEMLIMIT the runtime read, if
// any.
func memoryLimit(cfg config.Config, poolMemory int64, gomemlimit string) (int64, string) {
	switch {
	case cfg.MemoryLimit == config.MemoryLimitOff:
		return 0, "off (no limit, the collector left alone)"
	case cfg.MemoryLimit > 0:
		return cfg.MemoryLimit, mebibytes(cfg.MemoryLimit) + " (AUTHD_MEMORY_LIMIT)"
	case gomemlimit != "":
		return 0, "GOMEMLIMIT=" + gomemlimit + " (the Go runtime's)"
	}
	n := cfg.AutoMemoryLimit(poolMemory)
	return n, fmt.Sprintf("%s (auto: hashing pool %s + throttle tables %s + session cache %s + %s)", mebibytes(n),
		mebibytes(poolMemory), mebibytes(cfg.ThrottleMemory()), mebibytes(cfg.CacheMemory()), mebibytes(config.MemoryHeadroom))
}

func mebibytes(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// tuneMemory has hashOpts collect garbage after each hash and return the
// hashes' memory to the operating system once the pool has been idle for
// config.HashIdleRelease, and sets the Go memory limit of cfg for the hashing
// pool of hashOpts; with AUTHD_MEMORY_LIMIT=off, it does none of these.
// It does so only when authd is its own process (program.OwnsRuntime): a
// test running it keeps its runtime as it is. It returns the attribute
// the "listening" line logs.
func tuneMemory(ctx context.Context, cfg config.Config, getenv func(string) string, hashOpts *password.Options) slog.Attr {
	limit, how := memoryLimit(cfg, hashOpts.PoolMemory(), getenv("GOMEMLIMIT"))
	if !program.OwnsRuntime(ctx) {
		return slog.String("memory_limit", how+", not set: authd runs inside another program")
	}
	if cfg.MemoryLimit == config.MemoryLimitOff {
		return slog.String("memory_limit", how)
	}
	if limit > 0 {
		debug.SetMemoryLimit(limit)
	}
	// Each argon2id hash allocates its memory anew (19 MiB) and drops it
	// when done. Left to the collector, those blocks pile up until the
	// heap doubles; under a memory limit alone, the next hash takes
	// fresh pages while the last one's are given back, a page fault every
	// 4 KiB. A collection as each hash ends, before its slot goes to the
	// next caller, hands the block to the next hash: the heap holds about
	// one block a slot. The login answers meanwhile; a collection took
	// 2.6 ms at the median in the load test on a busy machine, about
	// what the page faults it saves cost.
	hashOpts.Reclaim = runtime.GC
	// Once the pool is idle, a forced collection returns the freed blocks
	// to the system at once, rather than as the background scavenger gets
	// to them. It runs in a goroutine of its own, never on a request's
	// way.
	hashOpts.OnIdle, hashOpts.IdleAfter = debug.FreeOSMemory, config.HashIdleRelease
	return slog.String("memory_limit", how)
}
