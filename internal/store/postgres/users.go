package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"authd/internal/store"
)

// userColumns are the columns of a user (u) and its Intra link (l) that
// scanUser reads, in its order.
const userColumns = `u.id, u.username, u.email, u.password_hash, u.disabled, u.created_at,
       l.intra_id, l.login, l.email, l.display_name, l.image_link, l.linked_at`

// selectUser reads a user with its Intra link, if any; scanUser reads its rows.
const selectUser = `
SELECT ` + userColumns + `
FROM users u
LEFT JOIN intra_links l ON l.user_id = u.id`

// collectUser is scanUser for pgx.CollectRows.
func collectUser(row pgx.CollectableRow) (store.User, error) { return scanUser(row) }

func scanUser(row pgx.Row) (store.User, error) {
	var (
		u        store.User
		intraID  *int64
		login    *string
		email    *string
		display  *string
		image    *string
		linkedAt *time.Time
	)
	err := row.Scan(&u.ID, &u.Username, &u.Email, &u.PasswordHash, &u.Disabled, &u.CreatedAt,
		&intraID, &login, &email, &display, &image, &linkedAt)
	if err != nil {
		return store.User{}, err
	}
	u.CreatedAt = u.CreatedAt.UTC()
	if intraID != nil {
		u.Intra = &store.IntraAccount{
			ID:          *intraID,
			Login:       *login,
			Email:       *email,
			DisplayName: *display,
			ImageLink:   *image,
			LinkedAt:    linkedAt.UTC(),
		}
	}
	return u, nil
}

// dbTime is t as the database keeps it: UTC, to the microsecond.
func dbTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

// CreateUser inserts a user and, when nu.Intra is set, its Intra link in
// the same transaction.
func (db *DB) CreateUser(ctx context.Context, nu store.NewUser, now time.Time) (store.User, error) {
	u := store.User{
		Username:     nu.Username,
		Email:        nu.Email,
		PasswordHash: nu.PasswordHash,
		CreatedAt:    dbTime(now),
	}
	if nu.Intra != nil {
		a := *nu.Intra
		a.LinkedAt = u.CreatedAt
		u.Intra = &a
	}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO users (username, email, password_hash, created_at)
			VALUES ($1, $2, $3, $4)
			RETURNING id`,
			u.Username, u.Email, u.PasswordHash, u.CreatedAt).Scan(&u.ID)
		if err != nil {
			return err
		}
		if u.Intra != nil {
			return insertLink(ctx, tx, u.ID, *u.Intra)
		}
		return nil
	})
	if err != nil {
		return store.User{}, fmt.Errorf("postgres: create user: %w", storeError(err))
	}
	return u, nil
}

// insertLink links an Intra account to a user.
func insertLink(ctx context.Context, tx pgx.Tx, userID int64, a store.IntraAccount) error {
	_, err := tx.Exec(ctx, `
		INSERT INTO intra_links (user_id, intra_id, login, email, display_name, image_link, linked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		userID, a.ID, a.Login, a.Email, a.DisplayName, a.ImageLink, a.LinkedAt)
	return err
}

// UserByID returns the user with the id, or store.ErrNotFound.
func (db *DB) UserByID(ctx context.Context, id int64) (store.User, error) {
	u, err := db.oneUser(ctx, selectUser+" WHERE u.id = $1", id)
	if err != nil {
		return store.User{}, fmt.Errorf("postgres: user by id: %w", err)
	}
	return u, nil
}

// UserByUsername returns the user whose username matches without regard to
// case, or store.ErrNotFound.
func (db *DB) UserByUsername(ctx context.Context, username string) (store.User, error) {
	u, err := db.oneUser(ctx, selectUser+" WHERE lower(u.username) = lower($1)", username)
	if err != nil {
		return store.User{}, fmt.Errorf("postgres: user by username: %w", err)
	}
	return u, nil
}

// UserByIntraID returns the user linked to the Intra account, or
// store.ErrNotFound.
func (db *DB) UserByIntraID(ctx context.Context, intraID int64) (store.User, error) {
	u, err := db.oneUser(ctx, selectUser+" WHERE l.intra_id = $1", intraID)
	if err != nil {
		return store.User{}, fmt.Errorf("postgres: user by intra id: %w", err)
	}
	return u, nil
}

func (db *DB) oneUser(ctx context.Context, query string, arg any) (store.User, error) {
	rows, _ := db.pool.Query(ctx, query, arg)
	u, err := pgx.CollectExactlyOneRow(rows, collectUser)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.User{}, store.ErrNotFound
	}
	return u, err
}

// ListUsers returns every user ordered by id.
func (db *DB) ListUsers(ctx context.Context) ([]store.User, error) {
	rows, _ := db.pool.Query(ctx, selectUser+" ORDER BY u.id")
	users, err := pgx.CollectRows(rows, collectUser)
	if err != nil {
		return nil, fmt.Errorf("postgres: list users: %w", err)
	}
	return users, nil
}

// SetPassword replaces a user's password hash.
func (db *DB) SetPassword(ctx context.Context, userID int64, hash string) error {
	tag, err := db.pool.Exec(ctx, "UPDATE users SET password_hash = $2 WHERE id = $1", userID, hash)
	if err != nil {
		return fmt.Errorf("postgres: set password: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: set password: %w", store.ErrNotFound)
	}
	return nil
}

// SetDisabled disables or enables a user. Disabling revokes, in the same
// transaction, every session of theirs still live at now.
func (db *DB) SetDisabled(ctx context.Context, userID int64, disabled bool, now time.Time) error {
	now = dbTime(now)
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "UPDATE users SET disabled = $2 WHERE id = $1", userID, disabled)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		if !disabled {
			return nil
		}
		_, err = tx.Exec(ctx, `
			UPDATE sessions SET revoked_at = $2
			WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2`,
			userID, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: set disabled: %w", err)
	}
	return nil
}

// LinkIntra links an Intra account to a user. Linking the same pair again
// succeeds and changes nothing. It returns store.ErrNotFound when the user
// does not exist; otherwise, when the Intra account is linked to another
// user, store.ErrIntraLinked, whatever the user's own link; otherwise
// store.ErrUserLinked when the user has another link. The link is dated
// now.
func (db *DB) LinkIntra(ctx context.Context, userID int64, a store.IntraAccount, now time.Time) error {
	a.LinkedAt = dbTime(now)
	// A link that blocks the insert is read afterwards; should it vanish in
	// between, with its user, the insert is tried again.
	for range 3 {
		tag, err := db.pool.Exec(ctx, `
			INSERT INTO intra_links (user_id, intra_id, login, email, display_name, image_link, linked_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT DO NOTHING`,
			userID, a.ID, a.Login, a.Email, a.DisplayName, a.ImageLink, a.LinkedAt)
		if isForeignKeyViolation(err) {
			return fmt.Errorf("postgres: link intra: %w", store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("postgres: link intra: %w", err)
		}
		if tag.RowsAffected() == 1 {
			return nil
		}
		var c linkState
		err = db.pool.QueryRow(ctx, `
			SELECT EXISTS (SELECT 1 FROM users WHERE id = $1),
			       (SELECT intra_id FROM intra_links WHERE user_id = $1),
			       EXISTS (SELECT 1 FROM intra_links WHERE intra_id = $2 AND user_id <> $1)`,
			userID, a.ID).Scan(&c.userExists, &c.userLink, &c.intraLinkedElsewhere)
		if err != nil {
			return fmt.Errorf("postgres: link intra: %w", err)
		}
		if decided, err := c.outcome(a.ID); decided {
			if err != nil {
				return fmt.Errorf("postgres: link intra: %w", err)
			}
			return nil
		}
	}
	return errors.New("postgres: link intra: the links changed while linking; try again")
}

// linkState is what the database holds about a user and an Intra account
// that could not be linked.
type linkState struct {
	userExists           bool
	userLink             *int64 // the Intra id linked to the user, if any
	intraLinkedElsewhere bool   // the Intra account is linked to another user
}

// outcome returns the result of linking the user to intraID, or false
// when nothing blocks the link any more.
func (c linkState) outcome(intraID int64) (decided bool, err error) {
	switch {
	case !c.userExists:
		return true, store.ErrNotFound
	case c.userLink != nil && *c.userLink == intraID:
		return true, nil
	case c.intraLinkedElsewhere:
		return true, store.ErrIntraLinked
	case c.userLink != nil:
		return true, store.ErrUserLinked
	}
	return false, nil
}

// UnlinkIntra removes the user's Intra link, or returns store.ErrNotFound
// when there is none.
func (db *DB) UnlinkIntra(ctx context.Context, userID int64) error {
	tag, err := db.pool.Exec(ctx, "DELETE FROM intra_links WHERE user_id = $1", userID)
	if err != nil {
		return fmt.Errorf("postgres: unlink intra: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: unlink intra: %w", store.ErrNotFound)
	}
	return nil
}
