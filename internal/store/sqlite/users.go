package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

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

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

func scanUser(row scanner) (store.User, error) {
	var (
		u         store.User
		createdAt int64
		intraID   sql.NullInt64
		login     sql.NullString
		email     sql.NullString
		display   sql.NullString
		image     sql.NullString
		linkedAt  sql.NullInt64
	)
	err := row.Scan(&u.ID, &u.Username, &u.Email, &u.PasswordHash, &u.Disabled, &createdAt,
		&intraID, &login, &email, &display, &image, &linkedAt)
	if err != nil {
		return store.User{}, err
	}
	u.CreatedAt = fromDB(createdAt)
	if intraID.Valid {
		u.Intra = &store.IntraAccount{
			ID:          intraID.Int64,
			Login:       login.String,
			Email:       email.String,
			DisplayName: display.String,
			ImageLink:   image.String,
			LinkedAt:    fromDB(linkedAt.Int64),
		}
	}
	return u, nil
}

// usernameKey is the form of a username that is unique: lower-cased.
func usernameKey(username string) string {
	return strings.ToLower(username)
}

// CreateUser inserts a user and, when nu.Intra is set, its Intra link in
// the same transaction, both dated now.
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
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
			INSERT INTO users (username, username_key, email, password_hash, created_at)
			VALUES (?, ?, ?, ?, ?)`,
			u.Username, usernameKey(u.Username), u.Email, u.PasswordHash, toDB(u.CreatedAt))
		if isUniqueViolation(err) {
			// The id is new, so the key violated is username_key.
			return store.ErrUsernameTaken
		}
		if err != nil {
			return err
		}
		if u.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		if u.Intra == nil {
			return nil
		}
		err = insertLink(ctx, tx, u.ID, *u.Intra)
		if isUniqueViolation(err) {
			// The user is new, so the key violated is intra_id.
			return store.ErrIntraLinked
		}
		return err
	})
	if err != nil {
		return store.User{}, fmt.Errorf("sqlite: create user: %w", err)
	}
	return u, nil
}

// insertLink links an Intra account to a user.
func insertLink(ctx context.Context, tx *sql.Tx, userID int64, a store.IntraAccount) error {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO intra_links (user_id, intra_id, login, email, display_name, image_link, linked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		userID, a.ID, a.Login, a.Email, a.DisplayName, a.ImageLink, toDB(a.LinkedAt))
	return err
}

// UserByID returns the user with the id, or store.ErrNotFound.
func (db *DB) UserByID(ctx context.Context, id int64) (store.User, error) {
	u, err := db.oneUser(ctx, selectUser+" WHERE u.id = ?", id)
	if err != nil {
		return store.User{}, fmt.Errorf("sqlite: user by id: %w", err)
	}
	return u, nil
}

// UserByUsername returns the user whose username matches without regard to
// case, or store.ErrNotFound.
func (db *DB) UserByUsername(ctx context.Context, username string) (store.User, error) {
	u, err := db.oneUser(ctx, selectUser+" WHERE u.username_key = ?", usernameKey(username))
	if err != nil {
		return store.User{}, fmt.Errorf("sqlite: user by username: %w", err)
	}
	return u, nil
}

// UserByIntraID returns the user linked to the Intra account, or
// store.ErrNotFound.
func (db *DB) UserByIntraID(ctx context.Context, intraID int64) (store.User, error) {
	u, err := db.oneUser(ctx, selectUser+" WHERE l.intra_id = ?", intraID)
	if err != nil {
		return store.User{}, fmt.Errorf("sqlite: user by intra id: %w", err)
	}
	return u, nil
}

func (db *DB) oneUser(ctx context.Context, query string, arg any) (store.User, error) {
	row, err := db.readRow(ctx, query, arg)
	if err != nil {
		return store.User{}, err
	}
	u, err := scanUser(row)
	if errors.Is(err, sql.ErrNoRows) {
		return store.User{}, store.ErrNotFound
	}
	return u, err
}

// ListUsers returns every user ordered by id.
func (db *DB) ListUsers(ctx context.Context) ([]store.User, error) {
	users, err := queryAll(ctx, db, scanUser, selectUser+" ORDER BY u.id")
	if err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", err)
	}
	return users, nil
}

// queryAll runs query on the readers and returns every row, read by scan.
func queryAll[T any](ctx context.Context, db *DB, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// SetPassword replaces a user's password hash.
func (db *DB) SetPassword(ctx context.Context, userID int64, hash string) error {
	n, err := db.execCount(ctx, "UPDATE users SET password_hash = ? WHERE id = ?", hash, userID)
	if err != nil {
		return fmt.Errorf("sqlite: set password: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("sqlite: set password: %w", store.ErrNotFound)
	}
	return nil
}

// SetDisabled disables or enables a user. Disabling revokes, in the same
// transaction, every session of theirs still live at now; enabling leaves
// revoked sessions revoked.
func (db *DB) SetDisabled(ctx context.Context, userID int64, disabled bool, now time.Time) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE users SET disabled = ? WHERE id = ?", disabled, userID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return store.ErrNotFound
		}
		if !disabled {
			return nil
		}
		_, err = tx.ExecContext(ctx, `
			UPDATE sessions SET revoked_at = ?1
			WHERE user_id = ?2 AND revoked_at IS NULL AND expires_at > ?1`,
			toDB(now), userID)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: set disabled: %w", err)
	}
	return nil
}

// LinkIntra links an Intra account to a user. Linking the same pair again
// succeeds and changes nothing. When the Intra account is linked to
// another user it returns store.ErrIntraLinked, whatever the user's own
// link; otherwise store.ErrUserLinked when the user has another link. The
// link is dated now.
func (db *DB) LinkIntra(ctx context.Context, userID int64, a store.IntraAccount, now time.Time) error {
	a.LinkedAt = dbTime(now)
	err := db.write(ctx, func(tx *sql.Tx) error {
		// The transaction holds the write lock, so what it reads stays true
		// until it commits.
		var userLink sql.NullInt64
		err := tx.QueryRowContext(ctx, `
			SELECT l.intra_id FROM users u LEFT JOIN intra_links l ON l.user_id = u.id
			WHERE u.id = ?`, userID).Scan(&userLink)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if userLink.Valid && userLink.Int64 == a.ID {
			return nil
		}
		var linked bool
		err = tx.QueryRowContext(ctx,
			"SELECT EXISTS (SELECT 1 FROM intra_links WHERE intra_id = ?)", a.ID).Scan(&linked)
		if err != nil {
			return err
		}
		switch {
		case linked:
			return store.ErrIntraLinked
		case userLink.Valid:
			return store.ErrUserLinked
		}
		return insertLink(ctx, tx, userID, a)
	})
	if err != nil {
		return fmt.Errorf("sqlite: link intra: %w", err)
	}
	return nil
}

// UnlinkIntra removes the user's Intra link, or returns store.ErrNotFound
// when there is none.
func (db *DB) UnlinkIntra(ctx context.Context, userID int64) error {
	n, err := db.execCount(ctx, "DELETE FROM intra_links WHERE user_id = ?", userID)
	if err != nil {
		return fmt.Errorf("sqlite: unlink intra: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("sqlite: unlink intra: %w", store.ErrNotFound)
	}
	return nil
}
