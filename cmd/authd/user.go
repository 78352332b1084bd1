package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"authd/internal/password"
	"authd/internal/store"
	"authd/internal/store/postgres"
	"authd/internal/store/sqlite"
)

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("authd migrate", flag.ContinueOnError)
	cfg, err := loadConfig(fs, args, getenv, stderr)
	if err != nil {
		return err
	}
	type migrator interface {
		Migrate(context.Context) (int, error)
		Version(context.Context) (int, error)
		Close() error
	}
	var db migrator
	if isPostgres(cfg.DB) {
		db, err = postgres.OpenNoMigrate(ctx, cfg.DB)
	} else {
		db, err = sqlite.OpenNoMigrate(ctx, cfg.DB)
	}
	if err != nil {
		return fmt.Errorf("open database %s: %w", redactDSN(cfg.DB), err)
	}
	defer db.Close()
	n, err := db.Migrate(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	v, err := db.Version(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	fmt.Fprintf(stdout, "applied %d migration(s); schema version %d\n", n, v)
	return nil
}

func userCommand(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		printUsage(stderr)
		return usageError{"user: want add, passwd, disable, enable or list"}
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("authd user "+sub, flag.ContinueOnError)
	email := fs.String("email", "", "the user's email address (user add)")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input instead of prompting")
	cfg, err := loadConfig(fs, args, getenv, stderr)
	if err != nil {
		return err
	}
	var name string
	switch sub {
	case "add", "passwd", "disable", "enable":
		if fs.NArg() != 1 {
			return usageError{fmt.Sprintf("user %s: want exactly one USERNAME after the flags", sub)}
		}
		name = fs.Arg(0)
	case "list":
		if fs.NArg() != 0 {
			return usageError{"user list takes no arguments"}
		}
	default:
		return usageError{fmt.Sprintf("user: unknown subcommand %q; want add, passwd, disable, enable or list", sub)}
	}

	st, err := openStore(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	hasher := password.NewHasher(password.Options{Concurrency: 1})

	switch sub {
	case "add":
		if !store.ValidUsername(name) {
			return fmt.Errorf("user add: username %q must be 3 to 32 ASCII letters, digits, '_', '-' or '.'", name)
		}
		if *email != "" && !strings.Contains(*email, "@") {
			return fmt.Errorf("user add: %q is not an email address", *email)
		}
		pw, err := readPassword(stdin, stderr, *fromStdin)
		if err != nil {
			return fmt.Errorf("user add: %w", err)
		}
		hash, err := hasher.Hash(ctx, pw)
		if err != nil {
			return fmt.Errorf("user add: %w", err)
		}
		u, err := st.CreateUser(ctx, store.NewUser{Username: name, Email: *email, PasswordHash: hash}, time.Now())
		if errors.Is(err, store.ErrUsernameTaken) {
			return fmt.Errorf("user add: username %q is taken", name)
		}
		if err != nil {
			return fmt.Errorf("user add: %w", err)
		}
		fmt.Fprintf(stdout, "created user %s (id %d)\n", u.Username, u.ID)
	case "passwd":
		u, err := findUser(ctx, st, name)
		if err != nil {
			return err
		}
		pw, err := readPassword(stdin, stderr, *fromStdin)
		if err != nil {
			return fmt.Errorf("user passwd: %w", err)
		}
		hash, err := hasher.Hash(ctx, pw)
		if err != nil {
			return fmt.Errorf("user passwd: %w", err)
		}
		if err := st.SetPassword(ctx, u.ID, hash); err != nil {
			return fmt.Errorf("user passwd: %w", err)
		}
		fmt.Fprintf(stdout, "password of %s set\n", u.Username)
	case "disable", "enable":
		u, err := findUser(ctx, st, name)
		if err != nil {
			return err
		}
		if err := st.SetDisabled(ctx, u.ID, sub == "disable", time.Now()); err != nil {
			return fmt.Errorf("user %s: %w", sub, err)
		}
		if sub == "disable" {
			fmt.Fprintf(stdout, "disabled %s and revoked their sessions\n", u.Username)
		} else {
			fmt.Fprintf(stdout, "enabled %s\n", u.Username)
		}
	case "list":
		users, err := st.ListUsers(ctx)
		if err != nil {
			return fmt.Errorf("user list: %w", err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tUSERNAME\tEMAIL\tINTRA\tPASSWORD\tDISABLED\tCREATED")
		for _, u := range users {
			intraLogin := "-"
			if u.Intra != nil {
				intraLogin = u.Intra.Login
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%t\t%t\t%s\n", u.ID, u.Username, dash(u.Email), intraLogin,
				u.PasswordHash != "", u.Disabled, u.CreatedAt.UTC().Format(time.RFC3339))
		}
		return tw.Flush()
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func findUser(ctx context.Context, st store.Store, name string) (store.User, error) {
	u, err := st.UserByUsername(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, fmt.Errorf("no user %q", name)
	}
	if err != nil {
		return store.User{}, fmt.Errorf("find user %q: %w", name, err)
	}
	return u, nil
}

// readPassword reads the new password: one line of stdin with
// --password-stdin, else typed twice at a terminal prompt without echo.
func readPassword(stdin io.Reader, stderr io.Writer, fromStdin bool) (string, error) {
	var pw string
	if fromStdin {
		line, err := readLine(bufio.NewReader(stdin))
		if err != nil {
			return "", fmt.Errorf("read password from standard input: %w", err)
		}
		pw = line
	} else {
		first, err := promptNoEcho(stdin, stderr, "Password: ")
		if err != nil {
			return "", err
		}
		again, err := promptNoEcho(stdin, stderr, "Password (again): ")
		if err != nil {
			return "", err
		}
		if first != again {
			return "", errors.New("the two passwords differ")
		}
		pw = first
	}
	if !password.Valid(pw) {
		return "", fmt.Errorf("the password must be %d to %d bytes of UTF-8", password.MinLen, password.MaxLen)
	}
	return pw, nil
}

// readLine reads one line without its line ending, refusing lines longer
// than any valid password so a stray file cannot be read whole.
func readLine(r *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		c, err := r.ReadByte()
		if err == io.EOF {
			if b.Len() == 0 {
				return "", errors.New("no password given")
			}
			break
		}
		if err != nil {
			return "", err
		}
		if c == '\n' {
			break
		}
		if b.Len() > password.MaxLen {
			return "", fmt.Errorf("line longer than %d bytes", password.MaxLen)
		}
		b.WriteByte(c)
	}
	return strings.TrimSuffix(b.String(), "\r"), nil
}
