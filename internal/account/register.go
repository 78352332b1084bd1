package account

import (
	"context"
	"errors"
	"fmt"

	"authd/internal/store"
)

// Registration is a new user with a password.
type Registration struct {
	Username string
	Password string
	Email    string // optional; surrounding spaces are dropped
}

// Register creates a user with a password, after the rules of usernames,
// passwords and email addresses. It returns an *InvalidInputError for a
// rule broken and ErrUsernameTaken for a name taken in any case.
func (s *Service) Register(ctx context.Context, r Registration) (store.User, error) {
	email, err := checkNewUser(r.Username, r.Password, r.Email)
	if err != nil {
		return store.User{}, err
	}
	// Refuse a taken name before spending a hash on it; the store's unique
	// index settles any race.
	_, err = s.store.UserByUsername(ctx, r.Username)
	if err == nil {
		return store.User{}, ErrUsernameTaken
	}
	if !errors.Is(err, store.ErrNotFound) {
		return store.User{}, storeError("register", err)
	}
	hash, err := s.hashes.Hash(ctx, r.Password)
	if err != nil {
		return store.User{}, fmt.Errorf("register: hash: %w", err)
	}
	u, err := s.store.CreateUser(ctx, store.NewUser{Username: r.Username, Email: email, PasswordHash: hash}, s.now())
	if errors.Is(err, store.ErrUsernameTaken) {
		return store.User{}, ErrUsernameTaken
	}
	if err != nil {
		return store.User{}, storeError("register", err)
	}
	s.log.InfoContext(ctx, "user registered", "user_id", u.ID)
	return u, nil
}
