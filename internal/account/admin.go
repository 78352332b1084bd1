package account

import (
	"context"
	"errors"
	"fmt"

	"authd/internal/store"
)

// User returns the user named username, compared without regard to case,
// or ErrNoSuchUser.
func (s *Service) User(ctx context.Context, username string) (store.User, error) {
	u, err := s.store.UserByUsername(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, fmt.Errorf("%w %q", ErrNoSuchUser, username)
	}
	if err != nil {
		return store.User{}, storeError(fmt.Sprintf("find user %q", username), err)
	}
	return u, nil
}

// Users returns every user, ordered by id.
func (s *Service) Users(ctx context.Context) ([]store.User, error) {
	users, err := s.store.ListUsers(ctx)
	if err != nil {
		return nil, storeError("list users", err)
	}
	return users, nil
}

// SetPassword gives the user named username a new password, after the
// password rule.
func (s *Service) SetPassword(ctx context.Context, username, pw string) (store.User, error) {
	if err := CheckPassword(pw); err != nil {
		return store.User{}, err
	}
	u, err := s.User(ctx, username)
	if err != nil {
		return store.User{}, err
	}
	hash, err := s.hashes.Hash(ctx, pw)
	if err != nil {
		return store.User{}, fmt.Errorf("hash: %w", err)
	}
	if err := s.store.SetPassword(ctx, u.ID, hash); err != nil {
		return store.User{}, storeError("set password", err)
	}
	s.log.InfoContext(ctx, "password set", "user_id", u.ID)
	return u, nil
}

// SetDisabled disables or enables the user named username; disabling
// revokes every session of theirs.
func (s *Service) SetDisabled(ctx context.Context, username string, disabled bool) (store.User, error) {
	u, err := s.User(ctx, username)
	if err != nil {
		return store.User{}, err
	}
	if err := s.store.SetDisabled(ctx, u.ID, disabled, s.now()); err != nil {
		return store.User{}, storeError("set disabled", err)
	}
	s.log.InfoContext(ctx, "user disabled or enabled", "user_id", u.ID, "disabled", disabled)
	return u, nil
}
