// Package store defines what authd keeps: users, their Intra links, login
// sessions and the generated signing key. Backends (SQLite, PostgreSQL) sit
// behind the Store interface and all pass the conformance suite in storetest;
// a backend whose schema changes by numbered migrations is also a Migrator.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors a Store returns for conditions callers act on. Any other error
// means the backend itself failed (unreachable, I/O, corrupt).
var (
	// ErrNotFound: no user or session matches.
	ErrNotFound = errors.New("store: not found")
	// ErrUsernameTaken: another user has the username, compared without regard to case.
	ErrUsernameTaken = errors.New("store: username taken")
	// ErrIntraLinked: the Intra account is already linked to another user.
	ErrIntraLinked = errors.New("store: intra account linked to another user")
	// ErrUserLinked: the user is already linked to another Intra account.
	ErrUserLinked = errors.New("store: user linked to another intra account")
	// ErrTokenUsed: a single-use token's id was used already.
	ErrTokenUsed = errors.New("store: token already used")
	// ErrKeyExists: a key with that number or id is stored already.
	ErrKeyExists = errors.New("store: key exists")
)

// User is an account. PasswordHash is empty for a user who has no password
// (created by an Intra login). Intra is nil when no Intra account is linked.
type User struct {
	ID           int64
	Username     string
	Email        string
	PasswordHash string
	Disabled     bool
	CreatedAt    time.Time
	Intra        *IntraAccount
}

// IntraAccount is the 42 Intra identity linked to a user.
type IntraAccount struct {
	ID          int64 // the provider's user id
	Login       string
	Email       string
	DisplayName string
	ImageLink   string
	LinkedAt    time.Time
}

// NewUser describes a user to create. With Intra set, the user and the
// link are created together, atomically; Intra.LinkedAt is ignored, the
// link being as old as the user.
type NewUser struct {
	Username     string
	Email        string
	PasswordHash string
	Intra        *IntraAccount
}

// Session is a login session; refresh tokens name it by ID.
type Session struct {
	ID        string
	UserID    int64
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt time.Time // zero while the session is not revoked

	// Method is how the session began: "password" or "intra" (empty for
	// sessions older than the column).
	Method string
	// IP and UserAgent describe the client that began the session.
	IP        string
	UserAgent string
	// AuthTime is when the user last proved who they are in this session;
	// LastUsedAt moves on every refresh. Zero for sessions older than the
	// columns, which count from CreatedAt.
	AuthTime   time.Time
	LastUsedAt time.Time
	// RefreshID is the jti of the session's newest refresh token, and
	// PrevRefreshID that of the one it replaced at RotatedAt (refresh-token
	// rotation); empty and zero before any rotation.
	RefreshID     string
	PrevRefreshID string
	RotatedAt     time.Time
}

// Live reports whether the session can still be used at now.
func (s Session) Live(now time.Time) bool {
	return s.RevokedAt.IsZero() && now.Before(s.ExpiresAt)
}

// AccessKey is an asymmetric key pair that signs access tokens, numbered
// in the order keys were added. It signs from ActivatesAt until the next
// key's ActivatesAt; PrivateKey and PublicKey are in the form of Alg's
// library (crypto/ed25519 for "EdDSA").
type AccessKey struct {
	Seq         int64
	ID          string // the kid of its tokens
	Alg         string
	PrivateKey  []byte
	PublicKey   []byte
	CreatedAt   time.Time
	ActivatesAt time.Time
}

// Store is the persistence authd needs. Implementations are safe for
// concurrent use.
type Store interface {
	// CreateUser inserts a user (and its Intra link, if any), both dated
	// now. It returns ErrUsernameTaken when the username exists in any
	// case, and ErrIntraLinked when the Intra account is linked to someone
	// already.
	CreateUser(ctx context.Context, u NewUser, now time.Time) (User, error)
	// UserByID, UserByUsername (case-insensitive) and UserByIntraID return
	// ErrNotFound when no user matches.
	UserByID(ctx context.Context, id int64) (User, error)
	UserByUsername(ctx context.Context, username string) (User, error)
	UserByIntraID(ctx context.Context, intraID int64) (User, error)
	// ListUsers returns every user ordered by id.
	ListUsers(ctx context.Context) ([]User, error)
	// SetPassword replaces a user's password hash.
	SetPassword(ctx context.Context, userID int64, hash string) error
	// SetDisabled disables or enables a user; disabling also revokes every
	// live session of theirs.
	SetDisabled(ctx context.Context, userID int64, disabled bool, now time.Time) error
	// LinkIntra links an Intra account to a user, dated now (a.LinkedAt is
	// ignored). Linking the same pair again succeeds and changes nothing;
	// it returns ErrIntraLinked or ErrUserLinked on conflict.
	LinkIntra(ctx context.Context, userID int64, a IntraAccount, now time.Time) error

	// CreateSession stores a new session.
	CreateSession(ctx context.Context, s Session) error
	// Session returns a session by id, or ErrNotFound.
	Session(ctx context.Context, id string) (Session, error)
	// SessionAndUser returns a session by id with its user, in one round
	// trip, or ErrNotFound when there is no such session.
	SessionAndUser(ctx context.Context, id string) (Session, User, error)
	// RevokeSession marks a session revoked at now; revoking a revoked or
	// unknown session is not an error.
	RevokeSession(ctx context.Context, id string, now time.Time) error
	// DeleteExpiredSessions removes sessions that expired before now and
	// returns how many.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error)
	// UserSessions returns the sessions of a user that are neither revoked
	// nor expired at now, newest first (by CreatedAt, then ID).
	UserSessions(ctx context.Context, userID int64, now time.Time) ([]Session, error)
	// RevokeUserSessions revokes, at now, every live session of a user but
	// the one called keep ("" keeps none) and returns how many it revoked.
	RevokeUserSessions(ctx context.Context, userID int64, keep string, now time.Time) (int64, error)
	// ChangePassword replaces a user's password hash and, in the same
	// transaction, revokes every live session of theirs but keep ("" keeps
	// none); it returns how many sessions it revoked, or ErrNotFound when
	// there is no such user.
	ChangePassword(ctx context.Context, userID int64, hash, keep string, now time.Time) (int64, error)
	// TouchSession sets a session's LastUsedAt to now; an unknown id is not
	// an error.
	TouchSession(ctx context.Context, id string, now time.Time) error
	// RotateRefresh makes newID the session's newest refresh token id,
	// keeping oldID as the previous one, dated now (RotatedAt and
	// LastUsedAt), if and only if the session is not revoked and oldID is
	// its newest refresh token id still. It reports whether it rotated:
	// of callers racing with the same oldID, one alone succeeds, in one
	// process or several sharing the database.
	RotateRefresh(ctx context.Context, id, oldID, newID string, now time.Time) (bool, error)
	// UnlinkIntra removes the Intra link of a user; ErrNotFound when the
	// user has none.
	UnlinkIntra(ctx context.Context, userID int64) error

	// UseToken records that the single-use token jti, valid until
	// expiresAt, has been used; it returns ErrTokenUsed when it was
	// already, in one process or several sharing the database.
	UseToken(ctx context.Context, jti string, expiresAt time.Time) error
	// DeleteExpiredTokens forgets the used tokens expired at now, which no
	// verification accepts any more, and returns how many.
	DeleteExpiredTokens(ctx context.Context, now time.Time) (int64, error)

	// TwoFactorStore keeps TOTP secrets, recovery codes and the attempts
	// of mfa_tokens.
	TwoFactorStore

	// SigningKey returns the signing key kept in the store, creating it
	// with generate when there is none. Concurrent callers, in one process
	// or several sharing the database, all get the same key.
	// A key it creates is dated now.
	SigningKey(ctx context.Context, generate func() ([]byte, error), now time.Time) ([]byte, error)

	// AccessKeys returns every access-token key pair, by Seq.
	AccessKeys(ctx context.Context) ([]AccessKey, error)
	// AddAccessKey stores a key pair. It returns ErrKeyExists when its Seq
	// or its ID is taken: of processes adding key n at once, one succeeds.
	AddAccessKey(ctx context.Context, k AccessKey) error
	// DeleteAccessKey removes the key pair with the id; an unknown id is
	// not an error.
	DeleteAccessKey(ctx context.Context, id string) error

	// Ping reports whether the backend answers.
	Ping(ctx context.Context) error
	// Close releases the backend's resources.
	Close() error
}

// Migrator is implemented by a Store whose schema is brought up to date by
// numbered migrations (see Migration). Opening such a store migrates it;
// a backend also offers to open it without migrating, for the migrate
// command.
type Migrator interface {
	// Migrate applies the migrations the database lacks and returns how
	// many it applied. Processes that migrate one database at once apply
	// each migration exactly once between them.
	Migrate(ctx context.Context) (int, error)
	// Version returns the number of the last migration applied, or 0 for
	// a database never migrated.
	Version(ctx context.Context) (int, error)
}
