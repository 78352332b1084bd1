package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"authd/internal/store"
)

// Timings of the feed of changes.
var (
	// changesPoll is how often PRAGMA data_version is read: the longest a
	// change made by another process goes untold.
	changesPoll = 100 * time.Millisecond
	// changesKeep is how long a row of changes is kept, and changesSweep
	// how often older rows are deleted. A process that has not polled for
	// changesStale (stopped, starved) may have missed rows: it starts
	// following again.
	changesKeep  = 5 * time.Minute
	changesSweep = time.Minute
	changesStale = time.Minute
)

var _ store.ChangeFeed = (*DB)(nil)

// WatchChanges polls, on a reading connection of its own, PRAGMA
// data_version, which moves when any other connection (of this process
// or of another) commits to the file; when it moved, it tells w of the
// rows of changes past the last one it saw. A failing poll tells w the
// feed is lost; the next that succeeds, that it follows again. It also
// deletes the rows older than changesKeep. It returns when ctx ends.
func (db *DB) WatchChanges(ctx context.Context, w store.ChangeWatcher) {
	f := changeFeed{db: db, w: w}
	defer f.close()
	poll := time.NewTicker(changesPoll)
	defer poll.Stop()
	sweep := time.NewTicker(changesSweep)
	defer sweep.Stop()
	for {
		if err := f.poll(ctx); err != nil && ctx.Err() == nil {
			f.lose(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-sweep.C:
			// Every process sweeps; the deletes are idempotent.
			_, _ = db.exec(ctx, "DELETE FROM changes WHERE at < ?", time.Now().Add(-changesKeep).Unix())
		case <-poll.C:
		}
	}
}

// changeFeed is the state of WatchChanges.
type changeFeed struct {
	db        *DB
	w         store.ChangeWatcher
	conn      *sql.Conn
	following bool
	version   int64     // data_version when last read
	last      int64     // seq of the last change told
	polled    time.Time // when a poll last succeeded
}

// poll reads data_version and, when it moved, tells the changes since the
// last; the first poll, and the first after the feed was lost, starts
// following from the newest change.
func (f *changeFeed) poll(ctx context.Context) error {
	if f.following && time.Since(f.polled) > changesStale {
		f.lose(fmt.Errorf("not polled for %v", time.Since(f.polled).Round(time.Second)))
	}
	if f.conn == nil {
		c, err := f.db.reader.Conn(ctx)
		if err != nil {
			return fmt.Errorf("sqlite: watch changes: %w", err)
		}
		f.conn = c
	}
	var version int64
	if err := f.conn.QueryRowContext(ctx, "PRAGMA data_version").Scan(&version); err != nil {
		return fmt.Errorf("sqlite: watch changes: %w", err)
	}
	if !f.following {
		// data_version first: a change committed after it is told by the
		// next poll; one committed before is older than Following.
		if err := f.conn.QueryRowContext(ctx, "SELECT coalesce(max(seq), 0) FROM changes").Scan(&f.last); err != nil {
			return fmt.Errorf("sqlite: watch changes: %w", err)
		}
		f.version, f.polled, f.following = version, time.Now(), true
		f.w.Following()
		return nil
	}
	if version != f.version {
		if err := f.tell(ctx); err != nil {
			return err
		}
		f.version = version
	}
	f.polled = time.Now()
	return nil
}

// tell tells w of the changes past the last told.
func (f *changeFeed) tell(ctx context.Context) error {
	rows, err := f.conn.QueryContext(ctx, "SELECT seq, key FROM changes WHERE seq > ? ORDER BY seq", f.last)
	if err != nil {
		return fmt.Errorf("sqlite: watch changes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			seq int64
			key string
		)
		if err := rows.Scan(&seq, &key); err != nil {
			return fmt.Errorf("sqlite: watch changes: %w", err)
		}
		if c, ok := store.ParseChange(key); ok {
			f.w.Changed(c)
		}
		f.last = seq
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: watch changes: %w", err)
	}
	return nil
}

// lose tells w the feed is lost, once, and drops the connection.
func (f *changeFeed) lose(err error) {
	if f.following {
		f.following = false
		f.w.Lost(err)
	}
	f.close()
}

func (f *changeFeed) close() {
	if f.conn != nil {
		f.conn.Close()
		f.conn = nil
	}
}
