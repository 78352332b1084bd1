// Package postgres keeps authd's users, Intra links, login sessions and
// generated signing key in PostgreSQL. Several replicas may share one
// database: schema migrations are serialised between them, and the
// generated signing key is the same for all.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"authd/internal/store"
)

// DB is a store.Store backed by a pool of PostgreSQL connections.
type DB struct {
	pool *pgxpool.Pool
}

var (
	_ store.Store    = (*DB)(nil)
	_ store.Migrator = (*DB)(nil)
)

// Open connects to the database named by a postgres:// URL and applies
// every pending migration.
func Open(ctx context.Context, url string) (*DB, error) {
	db, err := OpenNoMigrate(ctx, url)
	return store.Migrated(ctx, db, err)
}

// OpenNoMigrate connects to the database named by a postgres:// URL and
// checks that it answers, leaving the schema as it is.
func OpenNoMigrate(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse database URL: %w", maskSecrets(err, urlSecrets(url)...))
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "authd"
	}
	secrets := append(urlSecrets(url), cfg.ConnConfig.Password)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", maskSecrets(err, secrets...))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", maskSecrets(err, secrets...))
	}
	return &DB{pool: pool}, nil
}

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close closes every connection of the pool.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// SQLSTATE codes the store acts on.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

// Unique constraints and indexes whose violation means a store sentinel.
// The names are those of migrations/0001_init.sql.
var uniqueSentinels = map[string]error{
	"users_username_lower_key": store.ErrUsernameTaken,
	"intra_links_intra_id_key": store.ErrIntraLinked,
	"intra_links_user_id_key":  store.ErrUserLinked,
}

// storeError turns a unique violation of a known constraint into the store
// sentinel it stands for, and returns any other error unchanged.
func storeError(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == uniqueViolation {
		if sentinel, ok := uniqueSentinels[pgErr.ConstraintName]; ok {
			return sentinel
		}
	}
	return err
}

// isForeignKeyViolation reports whether err is a reference to a row that
// does not exist.
func isForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == foreignKeyViolation
}

// brokenURLPassword finds the password of a URL too malformed for net/url.
var brokenURLPassword = regexp.MustCompile(`^postgres(?:ql)?://[^:/@]*:([^@]*)@`)

// urlSecrets returns the passwords written in a connection URL: in its
// user information and in password query parameters.
func urlSecrets(raw string) []string {
	var secrets []string
	if u, err := url.Parse(raw); err == nil {
		if pw, ok := u.User.Password(); ok {
			secrets = append(secrets, pw)
		}
		q := u.Query()
		secrets = append(secrets, q["password"]...)
		secrets = append(secrets, q["sslpassword"]...)
	} else if m := brokenURLPassword.FindStringSubmatch(raw); m != nil {
		secrets = append(secrets, m[1])
		if pw, err := url.PathUnescape(m[1]); err == nil {
			secrets = append(secrets, pw)
		}
	}
	return secrets
}

// maskedError is an error whose message has had passwords masked out.
type maskedError struct {
	msg string
	err error
}

func (e *maskedError) Error() string { return e.msg }
func (e *maskedError) Unwrap() error { return e.err }

// maskSecrets returns err with every secret masked out of its message, so
// that the database password never reaches a log.
func maskSecrets(err error, secrets ...string) error {
	msg := err.Error()
	masked := msg
	for _, s := range secrets {
		if s != "" {
			masked = strings.ReplaceAll(masked, s, "xxxxx")
		}
	}
	if masked == msg {
		return err
	}
	return &maskedError{msg: masked, err: err}
}
