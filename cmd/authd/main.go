// Command authd is the authentication service: it serves the HTTP API and
// administers users and the schema. Run "authd -h" for every setting.
package main

import (
	"authd/internal/program"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/redis/go-redis/v9"
)

func main() {
	// go-redis logs its connection troubles on its own; make them JSON
	// lines like the rest (it knows no URL passwords, only addresses).
	redis.SetLogger(redisLogger{slog.New(slog.NewJSONHandler(os.Stderr, nil))})
	program.Main("authd", func(ctx context.Context) error {
		return run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	})
}

// redisLogger passes go-redis's messages to slog.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis client", "message", fmt.Sprintf(format, v...))
}

// usageError is a mistake in the command line itself.
type usageError = program.UsageError

// run is the whole program: main gives it the process's pieces, tests give
// it their own.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd, rest := "serve", args
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, rest = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, rest, getenv, stdout, stderr)
	case "healthcheck":
		return healthcheck(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return migrate(ctx, rest, getenv, stdout, stderr)
	case "user":
		return userCommand(ctx, rest, getenv, stdin, stdout, stderr)
	case "keys":
		return keysCommand(ctx, rest, getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "authd", version())
		return nil
	case "help":
		printUsage(stdout)
		return nil
	default:
		printUsage(stderr)
		return usageError{Msg: fmt.Sprintf("unknown command %q", cmd)}
	}
}
