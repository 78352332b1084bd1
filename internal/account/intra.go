package account

import (
	"context"
	"errors"
	"fmt"
	"time"

	"authd/internal/intra"
	"authd/internal/store"
	"authd/internal/token"
)

// APITokenTTL is the lifetime of the Intra identity token (the api_token
// cookie): the time a user has to log in or link after the provider's
// consent.
const APITokenTTL = 5 * time.Minute

// IntraToken signs the identity the provider vouched for into an api_token
// of ours; the provider's own tokens go no further than the caller.
func (s *Service) IntraToken(id intra.Identity) (string, error) {
	tok, _, err := s.tokens.Sign(token.Claims{
		Type:        token.Intra,
		IntraID:     id.ID,
		IntraLogin:  id.Login,
		Email:       id.Email,
		DisplayName: id.DisplayName,
		ImageLink:   id.ImageLink,
	}, APITokenTTL)
	if err != nil {
		return "", fmt.Errorf("sign api token: %w", err)
	}
	return tok, nil
}

// intraIdentity verifies an api_token.
func (s *Service) intraIdentity(apiToken string) (token.Claims, error) {
	c, err := s.tokens.Verify(apiToken, token.Intra)
	if err != nil {
		return token.Claims{}, ErrInvalidAPIToken
	}
	return c, nil
}

// IntraLogin starts a session for the user linked to the Intra identity in
// apiToken, creating that user first when auto-provisioning is on.
func (s *Service) IntraLogin(ctx context.Context, apiToken string) (Grant, error) {
	c, err := s.intraIdentity(apiToken)
	if err != nil {
		s.audit(ctx, Event{Name: EventLoginFailed, Method: MethodIntra, Reason: ReasonInvalidAPIToken})
		return Grant{}, err
	}
	u, err := s.store.UserByIntraID(ctx, c.IntraID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if !s.opts.IntraAutoProvision {
			s.audit(ctx, Event{Name: EventLoginFailed, Method: MethodIntra, Reason: ReasonNotLinked, IntraID: c.IntraID})
			return Grant{}, ErrNotLinked
		}
		if u, err = s.provision(ctx, c); err != nil {
			return Grant{}, fmt.Errorf("intra login: %w", err)
		}
		s.audit(ctx, Event{Name: EventUserProvisioned, UserID: u.ID, IntraID: c.IntraID})
	case err != nil:
		return Grant{}, storeError("intra login", err)
	}
	if u.Disabled {
		s.audit(ctx, Event{Name: EventLoginFailed, UserID: u.ID, Method: MethodIntra, Reason: ReasonDisabled, IntraID: c.IntraID})
		return Grant{}, ErrDisabled
	}
	if err := s.useAPIToken(ctx, c); err != nil {
		return Grant{}, err
	}
	return s.begin(ctx, u, MethodIntra, c.IntraID)
}

// provision creates a user without a password for an Intra identity,
// named after the Intra login: the first free of login, login-2, login-3,
// ..., then intra-<id>, which only this Intra account is given, then names
// with a random suffix (see usernameCandidates). Names taken by others
// cannot block it: running out of candidates is a fault of ours, not a
// state a client can cause.
func (s *Service) provision(ctx context.Context, c token.Claims) (store.User, error) {
	acct := &store.IntraAccount{
		ID: c.IntraID, Login: c.IntraLogin, Email: c.Email,
		DisplayName: c.DisplayName, ImageLink: c.ImageLink,
	}
	for _, name := range usernameCandidates(c.IntraLogin, c.IntraID) {
		u, err := s.store.CreateUser(ctx, store.NewUser{Username: name, Email: c.Email, Intra: acct}, s.now())
		switch {
		case err == nil:
			return u, nil
		case errors.Is(err, store.ErrUsernameTaken):
			continue
		case errors.Is(err, store.ErrIntraLinked):
			// A concurrent login created the user first.
			u, err := s.store.UserByIntraID(ctx, c.IntraID)
			if err != nil {
				return store.User{}, storeError("user by intra id", err)
			}
			return u, nil
		default:
			return store.User{}, storeError("create user", err)
		}
	}
	return store.User{}, fmt.Errorf("no free username for intra login %q", c.IntraLogin)
}

// LinkIntra links the Intra identity in apiToken to the user of p, whose
// session must be fresh. Linking the same pair again succeeds. The
// api_token is spent by a link that succeeds, and by nothing else.
func (s *Service) LinkIntra(ctx context.Context, p Principal, apiToken string) error {
	if err := s.Fresh(p); err != nil {
		return err
	}
	c, err := s.intraIdentity(apiToken)
	if err != nil {
		return err
	}
	// The conflicts are found before the token is spent; the store
	// settles any race after.
	switch linked, err := s.store.UserByIntraID(ctx, c.IntraID); {
	case err == nil && linked.ID != p.User.ID:
		return ErrAlreadyLinked
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return storeError("intra link", err)
	}
	if p.User.Intra != nil && p.User.Intra.ID != c.IntraID {
		return ErrAlreadyLinked
	}
	if err := s.useAPIToken(ctx, c); err != nil {
		return err
	}
	err = s.store.LinkIntra(ctx, p.User.ID, store.IntraAccount{
		ID: c.IntraID, Login: c.IntraLogin, Email: c.Email,
		DisplayName: c.DisplayName, ImageLink: c.ImageLink,
	}, s.now())
	if errors.Is(err, store.ErrIntraLinked) || errors.Is(err, store.ErrUserLinked) {
		return ErrAlreadyLinked
	}
	if err != nil {
		return storeError("intra link", err)
	}
	s.audit(ctx, Event{Name: EventIntraLinked, UserID: p.User.ID, SessionID: p.Claims.SessionID, IntraID: c.IntraID})
	return nil
}
