// Package program is what authd's programs (authd, fakeintra, authd-demo)
// share about their life as processes: main's exit status, and serving
// until asked to stop, then draining.
package program

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// UsageError is a mistake in the command line (or the settings): the
// program exits with status 2.
type UsageError struct{ Msg string }

func (e UsageError) Error() string { return e.Msg }

// Main runs run with a context that SIGINT and SIGTERM end, and that
// says the program owns its process (see OwnsRuntime), and exits: 0 when
// it succeeds or was asked for -h, 2 on a UsageError, 1 on any other
// error, which is printed on stderr after the program's name.
func Main(name string, run func(ctx context.Context) error) {
	ctx, stop := signal.NotifyContext(processContext(context.Background()), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	os.Exit(exitStatus(name, err))
}

// ownsRuntime is the key of the context value that Main sets.
type ownsRuntime struct{}

// processContext is ctx marked as the context of a program that is its
// process.
func processContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, ownsRuntime{}, true)
}

// OwnsRuntime reports whether ctx comes from Main: the program runs as a
// process of its own, and may tune the Go runtime (its memory limit, when
// it returns memory to the operating system). A program that a test runs
// inside its own process gets another context, and leaves the test's
// runtime as it is.
func OwnsRuntime(ctx context.Context) bool {
	owns, _ := ctx.Value(ownsRuntime{}).(bool)
	return owns
}

// exitStatus prints err, if it is to be printed, and returns the status.
func exitStatus(name string, err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(os.Stderr, name+":", err)
	if errors.As(err, new(UsageError)) {
		return 2
	}
	return 1
}

// Serve serves srv on ln until ctx ends or serving fails. Then it calls
// stopping, if not nil (to log, or to release calls a fault holds), and
// drains the requests in flight for at most drain.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, drain time.Duration, stopping func()) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	if stopping != nil {
		stopping()
	}
	shutdown, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
