package metrics

import (
	"context"
	"errors"
	"time"

	"authd/internal/store"
)

// Store returns s counting its failures in authd_store_errors_total: the
// errors that are not one of the store's conditions (not found, a name
// taken, a link in conflict) nor the caller's context ending. Methods it
// does not list pass through uncounted.
func (m *Metrics) Store(s store.Store) store.Store {
	return countingStore{Store: s, m: m}
}

type countingStore struct {
	store.Store
	m *Metrics
}

// count counts err when it is a failure of the database, and returns it.
func (c countingStore) count(ctx context.Context, err error) error {
	switch {
	case err == nil, ctx.Err() != nil,
		errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrUsernameTaken),
		errors.Is(err, store.ErrIntraLinked), errors.Is(err, store.ErrUserLinked):
		return err
	}
	c.m.storeErrors.Inc()
	return err
}

func (c countingStore) CreateUser(ctx context.Context, u store.NewUser, now time.Time) (store.User, error) {
	got, err := c.Store.CreateUser(ctx, u, now)
	return got, c.count(ctx, err)
}

func (c countingStore) UserByID(ctx context.Context, id int64) (store.User, error) {
	u, err := c.Store.UserByID(ctx, id)
	return u, c.count(ctx, err)
}

func (c countingStore) UserByUsername(ctx context.Context, username string) (store.User, error) {
	u, err := c.Store.UserByUsername(ctx, username)
	return u, c.count(ctx, err)
}

func (c countingStore) UserByIntraID(ctx context.Context, intraID int64) (store.User, error) {
	u, err := c.Store.UserByIntraID(ctx, intraID)
	return u, c.count(ctx, err)
}

func (c countingStore) ListUsers(ctx context.Context) ([]store.User, error) {
	us, err := c.Store.ListUsers(ctx)
	return us, c.count(ctx, err)
}

func (c countingStore) SetPassword(ctx context.Context, userID int64, hash string) error {
	return c.count(ctx, c.Store.SetPassword(ctx, userID, hash))
}

func (c countingStore) SetDisabled(ctx context.Context, userID int64, disabled bool, now time.Time) error {
	return c.count(ctx, c.Store.SetDisabled(ctx, userID, disabled, now))
}

func (c countingStore) LinkIntra(ctx context.Context, userID int64, a store.IntraAccount, now time.Time) error {
	return c.count(ctx, c.Store.LinkIntra(ctx, userID, a, now))
}

func (c countingStore) CreateSession(ctx context.Context, s store.Session) error {
	return c.count(ctx, c.Store.CreateSession(ctx, s))
}

func (c countingStore) Session(ctx context.Context, id string) (store.Session, error) {
	s, err := c.Store.Session(ctx, id)
	return s, c.count(ctx, err)
}

func (c countingStore) RevokeSession(ctx context.Context, id string, now time.Time) error {
	return c.count(ctx, c.Store.RevokeSession(ctx, id, now))
}

func (c countingStore) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	n, err := c.Store.DeleteExpiredSessions(ctx, now)
	return n, c.count(ctx, err)
}

func (c countingStore) Ping(ctx context.Context) error {
	return c.count(ctx, c.Store.Ping(ctx))
}

func (c countingStore) SessionAndUser(ctx context.Context, id string) (store.Session, store.User, error) {
	s, u, err := c.Store.SessionAndUser(ctx, id)
	return s, u, c.count(ctx, err)
}
