package account

import (
	"context"
	"strings"

	"authd/internal/throttle"
)

// lockout counts the failed logins of each username, whoever sends them,
// and decides when a username is locked: once rate.N failures lie in the
// window, until the oldest leaves it. An unknown username is counted like
// a known one, so that the lockout tells nothing about which names exist.
type lockout struct {
	limiter throttle.Limiter
	rate    throttle.Rate
}

func (l lockout) on() bool { return l.rate.N > 0 }

// key is the limiter key of a username's failures. Usernames are unique
// without regard to case, and so is the key.
func (l lockout) key(username string) string {
	return "login_account|" + strings.ToLower(username)
}

// check returns a *LockedError when username is locked, counting nothing.
func (l lockout) check(ctx context.Context, username string) error {
	if !l.on() {
		return nil
	}
	d, err := l.limiter.Peek(ctx, l.key(username), l.rate)
	if err != nil {
		// Without a working limiter the protection is gone: refuse rather
		// than answer unprotected.
		return unavailable("login lockout", err)
	}
	if !d.Allowed {
		return &LockedError{RetryAfter: d.RetryAfter}
	}
	return nil
}

// fail counts one failed login of username. It returns a *LockedError,
// counting nothing, when the username is locked already, and reports
// whether this failure locked it.
func (l lockout) fail(ctx context.Context, username string) (locked bool, err error) {
	if !l.on() {
		return false, nil
	}
	d, err := l.limiter.Allow(ctx, l.key(username), l.rate)
	if err != nil {
		return false, unavailable("login lockout", err)
	}
	if !d.Allowed {
		return false, &LockedError{RetryAfter: d.RetryAfter}
	}
	return d.Remaining == 0, nil
}
