package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"authd/internal/throttle"
)

// The choices of AUTHD_MEMORY_LIMIT besides a size, as Config.MemoryLimit
// holds them.
const (
	// MemoryLimitAuto is GOMEMLIMIT when the environment sets it, else a
	// limit made from what authd holds at most: see AutoMemoryLimit.
	MemoryLimitAuto int64 = 0
	// MemoryLimitOff sets no limit.
	MemoryLimitOff int64 = -1
)

// MemoryHeadroom is what the automatic memory limit allows beside the
// memory of the hashing pool, of the throttles' tables and of the read
// path's cache: the rest of
// authd's heap (connections, requests, the database's caches), its
// goroutines' stacks and the Go runtime's own.
const MemoryHeadroom = 32 << 20

// HashIdleRelease is how long no password may have been hashed before
// authd gives the hashes' memory back to the system (unless
// AUTHD_MEMORY_LIMIT is off).
const HashIdleRelease = 5 * time.Second

// minMemoryLimit is the smallest memory limit accepted: under it the
// collector would hardly ever stop.
const minMemoryLimit = 32 << 20

// AutoMemoryLimit is the memory limit of MemoryLimitAuto, in bytes, for a
// hashing pool whose hashes take poolMemory bytes at once: that, the
// most the in-process throttles' two tables hold (clients, and usernames
// with failed logins; AUTHD_THROTTLE_MAX_CLIENTS keys each), what the
// read path's cache holds (AUTHD_CACHE_SESSIONS), and MemoryHeadroom. A limit under what authd holds would keep the
// collector running, as a flood of clients filling the tables would.
func (c Config) AutoMemoryLimit(poolMemory int64) int64 {
	return poolMemory + c.ThrottleMemory() + c.CacheMemory() + MemoryHeadroom
}

// ThrottleMemory is the most the in-process throttles' two tables hold,
// in bytes.
func (c Config) ThrottleMemory() int64 { return 2 * int64(c.ThrottleMaxKey) * throttle.KeyBytes }

// cacheEntryBytes is what the read path's cache holds a session: the
// session and its user, about 1 KiB each.
const cacheEntryBytes = 2 << 10

// CacheMemory is about the most the read path's cache of sessions and
// users holds, in bytes.
func (c Config) CacheMemory() int64 { return int64(c.CacheSessions) * cacheEntryBytes }

// memorySettings are the settings of authd's memory.
func memorySettings() []*setting {
	return []*setting{
		{env: "AUTHD_MEMORY_LIMIT", def: "auto", help: "the Go runtime's soft memory limit, near which the collector runs sooner and gives freed memory back to the system: " +
			"auto (GOMEMLIMIT when that is set; else AUTHD_HASH_CONCURRENCY × 19 MiB, plus AUTHD_THROTTLE_MAX_CLIENTS × " + strconv.Itoa(2*throttle.KeyBytes) + " bytes for the throttles' tables, plus AUTHD_CACHE_SESSIONS × " + strconv.Itoa(cacheEntryBytes>>10) + " KiB for the cache, plus " + strconv.Itoa(MemoryHeadroom>>20) + " MiB) or a size such as 160MiB (B, KiB, MiB or GiB, at least " + strconv.Itoa(minMemoryLimit>>20) + " MiB); " +
			"with either, authd also collects garbage as each password hash ends, so that the next reuses its 19 MiB, and gives the hashes' memory back once none has been hashed for " + HashIdleRelease.String() + "; " +
			"off: no limit, and the collector left alone. A size or off with GOMEMLIMIT set too is an error",
			set: func(c *Config, v string) error {
				n, err := parseMemoryLimit(v)
				if err != nil {
					return err
				}
				c.MemoryLimit = n
				return nil
			}},
	}
}

// parseMemoryLimit reads auto, off or a size in bytes with a unit, as
// GOMEMLIMIT writes it (B, KiB, MiB, GiB, TiB; no unit is bytes).
func parseMemoryLimit(v string) (int64, error) {
	switch strings.ToLower(v) {
	case "auto":
		return MemoryLimitAuto, nil
	case "off":
		return MemoryLimitOff, nil
	}
	digits, unit := v, int64(1)
	for _, u := range []struct {
		suffix string
		bytes  int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"B", 1}} {
		if d, ok := strings.CutSuffix(v, u.suffix); ok {
			digits, unit = d, u.bytes
			break
		}
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	switch {
	case err != nil || n < 0 || digits == "" || digits[0] == '+':
		return 0, fmt.Errorf("invalid value %q, want auto, off, or a size such as 160MiB (B, KiB, MiB, GiB or TiB)", v)
	case n > math.MaxInt64/unit:
		return 0, fmt.Errorf("%q is too large", v)
	case n*unit < minMemoryLimit:
		return 0, fmt.Errorf("%q is under %d MiB", v, minMemoryLimit>>20)
	}
	return n * unit, nil
}

// checkMemoryLimit refuses AUTHD_MEMORY_LIMIT set to a size or off while
// GOMEMLIMIT is set too: which one should win would be a guess.
func checkMemoryLimit(c Config, getenv func(string) string) error {
	if c.MemoryLimit != MemoryLimitAuto && getenv("GOMEMLIMIT") != "" {
		return errors.New("AUTHD_MEMORY_LIMIT and GOMEMLIMIT are both set; set only one (AUTHD_MEMORY_LIMIT=auto keeps GOMEMLIMIT)")
	}
	return nil
}
