package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// statements keeps the queries run outside transactions prepared: the pool
// prepares each once per connection, which halves the cost of the small
// queries the service runs most.
type statements struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt // by query text
}

func newStatements(db *sql.DB) *statements {
	return &statements{db: db, m: make(map[string]*sql.Stmt)}
}

// prepare returns the prepared statement of query, preparing it on first
// use. A query that fails to prepare is tried again next time.
func (s *statements) prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	s.mu.Lock()
	st, ok := s.m[query]
	s.mu.Unlock()
	if ok {
		return st, nil
	}
	fresh, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.m[query]; ok {
		// Prepared by another caller meanwhile.
		fresh.Close()
		return st, nil
	}
	s.m[query] = fresh
	return fresh, nil
}

// close closes every statement.
func (s *statements) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for q, st := range s.m {
		errs = append(errs, st.Close())
		delete(s.m, q)
	}
	return errors.Join(errs...)
}

// readRow runs a query that returns at most one row on the reading pool.
func (db *DB) readRow(ctx context.Context, query string, args ...any) (*sql.Row, error) {
	st, err := db.readStmts.prepare(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryRowContext(ctx, args...), nil
}

// exec runs a statement on the writing connection, in a transaction of its
// own.
func (db *DB) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := db.writeStmts.prepare(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// execCount is exec, returning how many rows the statement changed.
func (db *DB) execCount(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := db.exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
