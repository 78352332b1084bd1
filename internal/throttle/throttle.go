// Package throttle limits how often a client may call an endpoint, with the
// semantics of Django REST Framework's throttles: a request is accepted when
// fewer than N accepted requests of the same key lie in the last period, and
// refused requests are not counted.
//
// The window is a sliding log, not a fixed interval. A request accepted at
// time t counts against every request made before t+Period; at exactly
// t+Period it has left the window (DRF drops history entries whose timestamp
// is <= now - duration). A refused request gets the time until the oldest
// counted request leaves.
//
// Limiter is the interface the HTTP layer uses: Allow, which counts, and
// Peek, the check that counts nothing. Memory is its in-process
// implementation, Failover the one that falls back to Memory while a
// shared store fails. Proxies decides who a request is counted against.
package throttle

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Rate is N requests per Period.
type Rate struct {
	N      int
	Period time.Duration
}

// units are the periods a rate may be written with, by every accepted name.
var units = map[string]time.Duration{
	"s": time.Second, "second": time.Second, "seconds": time.Second,
	"m": time.Minute, "minute": time.Minute, "minutes": time.Minute,
	"h": time.Hour, "hour": time.Hour, "hours": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
}

// ParseRate reads a rate written "N/second", "N/minute", "N/hour" or
// "N/day", with N a decimal integer of at least 1. As in DRF, the units may
// be shortened to s, m, h and d; the plural forms are accepted too, and
// case does not matter.
func ParseRate(s string) (Rate, error) {
	num, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	period, known := units[strings.ToLower(unit)]
	n, err := strconv.Atoi(num)
	if !ok || !known || err != nil || n < 1 || !isDigits(num) {
		return Rate{}, fmt.Errorf("invalid rate %q, want N/second, N/minute, N/hour or N/day with N at least 1", s)
	}
	return Rate{N: n, Period: period}, nil
}

func isDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// String writes the rate as ParseRate reads it, "6/minute", when its period
// is one of the units, and as "N/<duration>" ("5/1m30s") otherwise.
func (r Rate) String() string {
	var unit string
	switch r.Period {
	case time.Second:
		unit = "second"
	case time.Minute:
		unit = "minute"
	case time.Hour:
		unit = "hour"
	case 24 * time.Hour:
		unit = "day"
	default:
		unit = r.Period.String()
	}
	return strconv.Itoa(r.N) + "/" + unit
}

// valid reports whether the rate can be enforced.
func (r Rate) valid() bool { return r.N >= 1 && r.Period > 0 }

// Decision is the outcome of one request.
type Decision struct {
	Allowed bool
	// RetryAfter, when the request is refused, is the time until the oldest
	// counted request leaves the window; it is then always positive.
	RetryAfter time.Duration
	// Remaining is how many more requests the window accepts after this one.
	Remaining int
}

// Limiter decides whether the client named by key may make one more request
// at the given rate, and counts it if so. Keys never share state; the caller
// puts everything that should count separately (scope, client) in the key.
// An implementation backed by a shared store keeps the same semantics
// across every process that uses it, atomically; it returns an error when
// it cannot decide, and the request should then be refused.
type Limiter interface {
	Allow(ctx context.Context, key string, rate Rate) (Decision, error)

	// Peek tells what Allow would decide for key at rate, without counting
	// anything: Allowed when fewer than N accepted requests lie in the
	// window, with Remaining the requests the window still accepts; else
	// RetryAfter, the time until the oldest counted request leaves. It
	// answers for a key that was never counted as Allow would, and does
	// not start tracking it. It fails when Allow would.
	//
	// A check that must not use up the rate itself (is an account locked
	// by its failed logins?) peeks; the failures alone are counted with
	// Allow.
	Peek(ctx context.Context, key string, rate Rate) (Decision, error)
}

// RetryAfterSeconds is d in whole seconds, rounded up and at least 1: the
// value of a Retry-After header.
func RetryAfterSeconds(d time.Duration) int {
	if d <= time.Second {
		return 1
	}
	s := d / time.Second
	if d%time.Second != 0 {
		s++
	}
	return int(s)
}
