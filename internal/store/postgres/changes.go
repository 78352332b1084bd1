package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"authd/internal/store"
)

// changesChannel is the channel the triggers of migration 0005 notify.
const changesChannel = "authd_changes"

// Timings of the feed of changes.
var (
	// listenHeartbeat: a listening connection silent for this long is
	// asked a query, so that one that died without a word is noticed.
	listenHeartbeat = 5 * time.Second
	// listenTimeout bounds connecting, LISTEN and the heartbeat's query.
	listenTimeout = 5 * time.Second
	// listenRetry is the first wait before connecting again after the
	// feed is lost, doubling up to listenRetryMax.
	listenRetry    = 100 * time.Millisecond
	listenRetryMax = 2 * time.Second
)

var _ store.ChangeFeed = (*DB)(nil)

// WatchChanges listens on a connection of its own (application_name
// authd-changes) for the notifications of the database's triggers, and
// tells w of each. When the connection breaks it tells w the feed is
// lost, connects again, and tells w it follows once LISTEN has taken
// effect. It returns when ctx ends.
func (db *DB) WatchChanges(ctx context.Context, w store.ChangeWatcher) {
	wait := listenRetry
	following := false
	for ctx.Err() == nil {
		err := db.listen(ctx, func() {
			following = true
			wait = listenRetry
			w.Following()
		}, w.Changed)
		if ctx.Err() != nil {
			return
		}
		if following {
			following = false
			w.Lost(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, listenRetryMax)
	}
}

// listen connects, listens, calls follow, then changed for every change
// notified, until the connection fails or ctx ends; it returns why.
func (db *DB) listen(ctx context.Context, follow func(), changed func(store.Change)) error {
	cfg := db.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = "authd-changes"
	cctx, cancel := context.WithTimeout(ctx, listenTimeout)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		cancel()
		return fmt.Errorf("connect: %w", maskSecrets(err, cfg.Password))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(cctx, "LISTEN "+changesChannel)
	cancel()
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	follow()
	for {
		wctx, cancel := context.WithTimeout(ctx, listenHeartbeat)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			if c, ok := store.ParseChange(n.Payload); ok {
				changed(c)
			}
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			// Quiet: make sure the connection still answers.
			hctx, cancel := context.WithTimeout(ctx, listenTimeout)
			_, err := conn.Exec(hctx, "SELECT 1")
			cancel()
			if err != nil {
				return fmt.Errorf("heartbeat: %w", err)
			}
		default:
			return fmt.Errorf("wait for notification: %w", err)
		}
	}
}
