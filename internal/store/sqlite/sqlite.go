// Package sqlite keeps authd's users, Intra links, login sessions and
// generated signing key in a SQLite database file.
//
// Writes go through a single connection and begin their transactions with
// BEGIN IMMEDIATE, so that writers queue for the database lock (up to the
// busy timeout) instead of failing with SQLITE_BUSY; reads go through a
// separate pool of query-only connections, which write-ahead logging lets
// run beside the writer. Several processes may share the file: schema
// migrations and the generated signing key are decided under the write
// lock, so each happens once.
//
// Every time is stored as an INTEGER, microseconds since the Unix epoch in
// UTC, and read back in UTC. That is PostgreSQL's precision, so both
// backends hand back the same values, and unlike nanoseconds it also holds
// the zero time.Time and dates past the year 2262.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	modernc "modernc.org/sqlite"
	sqlitelib "modernc.org/sqlite/lib"

	"authd/internal/store"
)

// DB is a store.Store backed by a SQLite database file.
type DB struct {
	writer     *sql.DB // one connection: every write and every transaction
	reader     *sql.DB // query-only connections for single reads
	writeStmts *statements
	readStmts  *statements
}

var (
	_ store.Store    = (*DB)(nil)
	_ store.Migrator = (*DB)(nil)
)

// readers is the size of the pool of reading connections.
const readers = 4

// pragmas apply to every connection as it opens: wait up to 5 s for a lock
// another connection holds, write-ahead logging, enforced foreign keys, and
// fsync at checkpoints only (in WAL mode a power loss may lose the last
// commits but never leaves the file inconsistent). busy_timeout comes first
// so that switching a new file to WAL waits for a concurrent opener.
const pragmas = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)" +
	"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"

// Open opens the database file, creating it if needed, and applies every
// pending migration.
func Open(ctx context.Context, path string) (*DB, error) {
	db, err := OpenNoMigrate(ctx, path)
	return store.Migrated(ctx, db, err)
}

// OpenNoMigrate opens the database file, creating it if needed, and leaves
// the schema as it is.
func OpenNoMigrate(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: open: empty database path")
	}
	if err := createPrivate(path); err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	writerDSN, err := dataSource(path, pragmas+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	readerDSN, err := dataSource(path, pragmas+"&_pragma=query_only(1)")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}

	writer, err := sql.Open("sqlite", writerDSN)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	// The writer opens first: its first connection turns a new file to WAL.
	if err := checkWAL(ctx, writer); err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}

	reader, err := sql.Open("sqlite", readerDSN)
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	reader.SetMaxOpenConns(readers)
	reader.SetMaxIdleConns(readers)
	if err := reader.PingContext(ctx); err != nil {
		reader.Close()
		writer.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	return &DB{
		writer:     writer,
		reader:     reader,
		writeStmts: newStatements(writer),
		readStmts:  newStatements(reader),
	}, nil
}

// checkWAL connects and makes sure the database is in WAL mode, which
// SQLite silently declines on file systems without shared memory.
func checkWAL(ctx context.Context, db *sql.DB) error {
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, not wal: the file system does not support write-ahead logging", mode)
	}
	return nil
}

// createPrivate creates the database file, readable by its owner only,
// when it does not exist yet: it holds password hashes and the signing
// key. SQLite gives the -wal and -shm files beside it the same mode.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// uriPath escapes the characters that end or escape the path of a file:
// URI.
var uriPath = strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23")

// dataSource returns the file: URI of the database at path with the
// driver parameters params. A URI, unlike a bare file name, keeps a path
// that holds '?' intact.
func dataSource(path, params string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive letter
	}
	return "file:" + uriPath.Replace(p) + "?" + params, nil
}

// Ping reports whether the database answers to the writing connection.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.writer.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close closes every connection. Closing again does nothing.
func (db *DB) Close() error {
	// The writer closes last: the last connection to go checkpoints the
	// write-ahead log into the database file.
	err := errors.Join(
		db.readStmts.close(),
		db.writeStmts.close(),
		db.reader.Close(),
		db.writer.Close(),
	)
	if err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// write runs fn in a transaction on the writing connection, which begins
// with BEGIN IMMEDIATE and so holds the database's write lock throughout,
// and commits it when fn returns nil.
func (db *DB) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// errorCode returns the extended SQLite result code of err, or 0 when err
// does not come from SQLite.
func errorCode(err error) int {
	var e *modernc.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

// isUniqueViolation reports whether err is a UNIQUE or PRIMARY KEY
// constraint failure. SQLite names the column only in the message, so each
// caller knows which key its statement can violate.
func isUniqueViolation(err error) bool {
	switch errorCode(err) {
	case sqlitelib.SQLITE_CONSTRAINT_UNIQUE, sqlitelib.SQLITE_CONSTRAINT_PRIMARYKEY:
		return true
	}
	return false
}

// isForeignKeyViolation reports whether err is a reference to a row that
// does not exist.
func isForeignKeyViolation(err error) bool {
	return errorCode(err) == sqlitelib.SQLITE_CONSTRAINT_FOREIGNKEY
}

// toDB is t as stored: microseconds since the Unix epoch.
func toDB(t time.Time) int64 {
	return t.UnixMicro()
}

// fromDB is the time a stored value stands for, in UTC.
func fromDB(us int64) time.Time {
	return time.UnixMicro(us).UTC()
}

// dbTime is t as the database keeps it: UTC, to the microsecond.
func dbTime(t time.Time) time.Time {
	return fromDB(toDB(t))
}
