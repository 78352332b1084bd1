package cache

import (
	"context"
	"time"

	"authd/internal/store"
)

// Every method of store.Store is written out here, none promoted from an
// embedded store: a method added to the interface does not compile until
// someone decides what it changes in the cache.

// Reads that are not cached. Session and UserByID alone are the reads
// that decide (see store.Uncached); the read path reads both at once,
// with SessionAndUser.

func (c *Store) Session(ctx context.Context, id string) (store.Session, error) {
	return c.next.Session(ctx, id)
}

func (c *Store) UserByID(ctx context.Context, id int64) (store.User, error) {
	return c.next.UserByID(ctx, id)
}

func (c *Store) UserByUsername(ctx context.Context, username string) (store.User, error) {
	return c.next.UserByUsername(ctx, username)
}

func (c *Store) UserByIntraID(ctx context.Context, intraID int64) (store.User, error) {
	return c.next.UserByIntraID(ctx, intraID)
}

func (c *Store) ListUsers(ctx context.Context) ([]store.User, error) { return c.next.ListUsers(ctx) }

func (c *Store) UserSessions(ctx context.Context, userID int64, now time.Time) ([]store.Session, error) {
	return c.next.UserSessions(ctx, userID, now)
}

func (c *Store) RecoveryCodesLeft(ctx context.Context, userID int64) (int, error) {
	return c.next.RecoveryCodesLeft(ctx, userID)
}

func (c *Store) AccessKeys(ctx context.Context) ([]store.AccessKey, error) {
	return c.next.AccessKeys(ctx)
}

func (c *Store) Ping(ctx context.Context) error { return c.next.Ping(ctx) }

// Writes of rows the cache does not keep, or of rows no one can have
// cached yet (a new user, a new session).

func (c *Store) CreateUser(ctx context.Context, u store.NewUser, now time.Time) (store.User, error) {
	return c.next.CreateUser(ctx, u, now)
}

func (c *Store) CreateSession(ctx context.Context, s store.Session) error {
	return c.next.CreateSession(ctx, s)
}

// DeleteExpiredSessions deletes sessions no cached copy of which is
// answered as live: they expired.
func (c *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	return c.next.DeleteExpiredSessions(ctx, now)
}

func (c *Store) UseToken(ctx context.Context, jti string, expiresAt time.Time) error {
	return c.next.UseToken(ctx, jti, expiresAt)
}

func (c *Store) DeleteExpiredTokens(ctx context.Context, now time.Time) (int64, error) {
	return c.next.DeleteExpiredTokens(ctx, now)
}

func (c *Store) UseRecoveryCode(ctx context.Context, userID int64, hash string, now time.Time) (bool, error) {
	return c.next.UseRecoveryCode(ctx, userID, hash, now)
}

func (c *Store) ReplaceRecoveryCodes(ctx context.Context, userID int64, codeHashes []string) error {
	return c.next.ReplaceRecoveryCodes(ctx, userID, codeHashes)
}

func (c *Store) CountMFAAttempt(ctx context.Context, jti string, expiresAt time.Time, max int) (bool, error) {
	return c.next.CountMFAAttempt(ctx, jti, expiresAt, max)
}

func (c *Store) UseMFAToken(ctx context.Context, jti string, expiresAt time.Time) error {
	return c.next.UseMFAToken(ctx, jti, expiresAt)
}

func (c *Store) SigningKey(ctx context.Context, generate func() ([]byte, error), now time.Time) ([]byte, error) {
	return c.next.SigningKey(ctx, generate, now)
}

func (c *Store) AddAccessKey(ctx context.Context, k store.AccessKey) error {
	return c.next.AddAccessKey(ctx, k)
}

func (c *Store) DeleteAccessKey(ctx context.Context, id string) error {
	return c.next.DeleteAccessKey(ctx, id)
}

// Close closes the store beneath.
func (c *Store) Close() error { return c.next.Close() }

// Writes of cached rows: each forgets what it changed once it returns,
// whether it failed or not (a write that failed may have committed).

func (c *Store) SetPassword(ctx context.Context, userID int64, hash string) error {
	defer c.Changed(store.Change{UserID: userID})
	return c.next.SetPassword(ctx, userID, hash)
}

func (c *Store) SetDisabled(ctx context.Context, userID int64, disabled bool, now time.Time) error {
	defer c.changedUser(userID)
	return c.next.SetDisabled(ctx, userID, disabled, now)
}

func (c *Store) LinkIntra(ctx context.Context, userID int64, a store.IntraAccount, now time.Time) error {
	defer c.Changed(store.Change{UserID: userID})
	return c.next.LinkIntra(ctx, userID, a, now)
}

func (c *Store) UnlinkIntra(ctx context.Context, userID int64) error {
	defer c.Changed(store.Change{UserID: userID})
	return c.next.UnlinkIntra(ctx, userID)
}

func (c *Store) RevokeSession(ctx context.Context, id string, now time.Time) error {
	defer c.Changed(store.Change{SessionID: id})
	return c.next.RevokeSession(ctx, id, now)
}

func (c *Store) RevokeUserSessions(ctx context.Context, userID int64, keep string, now time.Time) (int64, error) {
	defer c.changedUser(userID)
	return c.next.RevokeUserSessions(ctx, userID, keep, now)
}

func (c *Store) ChangePassword(ctx context.Context, userID int64, hash, keep string, now time.Time) (int64, error) {
	defer c.changedUser(userID)
	return c.next.ChangePassword(ctx, userID, hash, keep, now)
}

func (c *Store) RotateRefresh(ctx context.Context, id, oldID, newID string, now time.Time) (bool, error) {
	defer c.Changed(store.Change{SessionID: id})
	return c.next.RotateRefresh(ctx, id, oldID, newID, now)
}

// TouchSession moves the cached session's LastUsedAt with the database's:
// nothing that decides whether a session is live is changed, so nothing
// is forgotten.
func (c *Store) TouchSession(ctx context.Context, id string, now time.Time) error {
	if err := c.next.TouchSession(ctx, id, now); err != nil {
		return err
	}
	c.mu.Lock()
	if e, ok := c.sessions[id]; ok && e.s.LastUsedAt.Before(now) {
		e.s.LastUsedAt = now
		c.sessions[id] = e
	}
	c.mu.Unlock()
	return nil
}

func (c *Store) SetPendingTOTP(ctx context.Context, userID int64, secret string) error {
	defer c.Changed(store.Change{UserID: userID})
	return c.next.SetPendingTOTP(ctx, userID, secret)
}

func (c *Store) EnableTOTP(ctx context.Context, userID int64, pending string, step int64, codeHashes []string, keep string, now time.Time) (int64, error) {
	defer c.changedUser(userID)
	return c.next.EnableTOTP(ctx, userID, pending, step, codeHashes, keep, now)
}

func (c *Store) UseTOTPStep(ctx context.Context, userID int64, secret string, step int64) (bool, error) {
	defer c.Changed(store.Change{UserID: userID})
	return c.next.UseTOTPStep(ctx, userID, secret, step)
}

func (c *Store) DisableTOTP(ctx context.Context, userID int64) (bool, error) {
	defer c.Changed(store.Change{UserID: userID})
	return c.next.DisableTOTP(ctx, userID)
}
