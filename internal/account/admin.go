package account

import (
	"context"
	"errors"
	"fmt"

	"authd/internal/password"
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
// password rule, and revokes every session of theirs: whoever held one
// may be who the new password is meant to keep out.
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
	n, err := s.store.ChangePassword(ctx, u.ID, hash, "", s.now())
	if err != nil {
		return store.User{}, storeError("set password", err)
	}
	s.audit(ctx, Event{Name: EventPasswordChanged, UserID: u.ID, Reason: ReasonPasswordChanged, Revoked: n})
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
	if disabled {
		// Every session of the user's went with it, in the store.
		s.audit(ctx, Event{Name: EventSessionRevoked, UserID: u.ID, Reason: ReasonUserDisabled})
	}
	return u, nil
}

// WeighImportedHashes finds the typical iteration count of the Django
// pbkdf2 hashes left among the users (the most common one), and has every
// password verification cost that much while any are left, so that a
// login's time tells neither whether a user exists nor whether they were
// imported (see password.Hasher.SetImportedIterations). It returns the
// count, 0 when no imported hash is left.
func (s *Service) WeighImportedHashes(ctx context.Context) (int, error) {
	users, err := s.Users(ctx)
	if err != nil {
		return 0, err
	}
	counts := make(map[int]int)
	typical := 0
	for _, u := range users {
		n, ok := password.DjangoIterations(u.PasswordHash)
		if !ok {
			continue
		}
		counts[n]++
		if c, t := counts[n], counts[typical]; c > t || c == t && n > typical {
			typical = n
		}
	}
	s.hashes.SetImportedIterations(typical)
	return typical, nil
}
