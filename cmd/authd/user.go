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

	"authd/internal/account"
	"authd/internal/password"
)

func userCommand(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		printUsage(stderr)
		return usageError{Msg: "user: want add, passwd, disable, enable, unlink, 2fa-reset or list"}
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
	case "add", "passwd", "disable", "enable", "unlink", "2fa-reset":
		if fs.NArg() != 1 {
			return usageError{Msg: fmt.Sprintf("user %s: want exactly one USERNAME after the flags", sub)}
		}
		name = fs.Arg(0)
	case "list":
		if fs.NArg() != 0 {
			return usageError{Msg: "user list takes no arguments"}
		}
	default:
		return usageError{Msg: fmt.Sprintf("user: unknown subcommand %q; want add, passwd, disable, enable, unlink, 2fa-reset or list", sub)}
	}

	st, err := openStore(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	accounts := account.New(account.Options{
		Store:     st,
		Passwords: password.NewHasher(password.Options{Concurrency: 1}),
		Logger:    newLogger(stderr, cfg.LogLevel),
	})

	switch sub {
	case "add":
		// The rules that need no password are checked before it is asked for.
		if err := account.CheckUsername(name); err != nil {
			return fmt.Errorf("user add: %q: %w", name, err)
		}
		if _, err := account.CheckEmail(*email); err != nil {
			return fmt.Errorf("user add: %q: %w", *email, err)
		}
		pw, err := readPassword(stdin, stderr, *fromStdin)
		if err != nil {
			return fmt.Errorf("user add: %w", err)
		}
		u, err := accounts.Register(ctx, account.Registration{Username: name, Password: pw, Email: *email})
		if errors.Is(err, account.ErrUsernameTaken) {
			return fmt.Errorf("user add: username %q is taken", name)
		}
		if err != nil {
			return fmt.Errorf("user add: %w", err)
		}
		fmt.Fprintf(stdout, "created user %s (id %d)\n", u.Username, u.ID)
	case "passwd":
		if _, err := accounts.User(ctx, name); err != nil {
			return err
		}
		pw, err := readPassword(stdin, stderr, *fromStdin)
		if err != nil {
			return fmt.Errorf("user passwd: %w", err)
		}
		u, err := accounts.SetPassword(ctx, name, pw)
		if err != nil {
			return fmt.Errorf("user passwd: %w", err)
		}
		fmt.Fprintf(stdout, "password of %s set and their sessions revoked\n", u.Username)
	case "unlink":
		u, err := accounts.Unlink(ctx, name)
		switch {
		case errors.Is(err, account.ErrNotLinked):
			return fmt.Errorf("user unlink: %s has no 42 account linked", name)
		case errors.Is(err, account.ErrNoOtherLogin):
			return fmt.Errorf("user unlink: %s has no password and could no longer log in; set one first with authd user passwd", name)
		case err != nil:
			return fmt.Errorf("user unlink: %w", err)
		}
		fmt.Fprintf(stdout, "unlinked the 42 account %s from %s\n", u.Intra.Login, u.Username)
	case "2fa-reset":
		u, had, err := accounts.ResetTwoFactor(ctx, name)
		if err != nil {
			return fmt.Errorf("user 2fa-reset: %w", err)
		}
		if had {
			fmt.Fprintf(stdout, "removed the two-factor authentication of %s and revoked their sessions\n", u.Username)
		} else {
			fmt.Fprintf(stdout, "%s had no two-factor authentication; their sessions are revoked\n", u.Username)
		}
	case "disable", "enable":
		u, err := accounts.SetDisabled(ctx, name, sub == "disable")
		if err != nil {
			return err
		}
		if sub == "disable" {
			fmt.Fprintf(stdout, "disabled %s and revoked their sessions\n", u.Username)
		} else {
			fmt.Fprintf(stdout, "enabled %s\n", u.Username)
		}
	case "list":
		users, err := accounts.Users(ctx)
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
	if err := account.CheckPassword(pw); err != nil {
		return "", err
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
