package main

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"testing"
)

func TestRedactDSN(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		dsn, want string
		secrets   []string // none of which may be shown
	}{
		// SQLite paths are shown as they are.
		{dsn: "authd.db", want: "authd.db"},
		{dsn: "/var/lib/authd/authd.db", want: "/var/lib/authd/authd.db"},
		// URLs: the password of the user information and of the query.
		{dsn: "postgres://u:p@h/db?password=x&sslmode=disable", want: "postgres://u:xxxxx@h/db?password=xxxxx&sslmode=disable", secrets: []string{":p@", "=x&"}},
		{dsn: "postgresql://h/db?password=x", want: "postgresql://h/db?password=xxxxx"},
		{dsn: "postgres://authd:s3cr%2Ft@db.internal:5432/authd?sslmode=require", want: "postgres://authd:xxxxx@db.internal:5432/authd?sslmode=require", secrets: []string{"s3cr"}},
		{dsn: "postgres://authd@db:5432/authd?sslmode=verify-full&sslpassword=keypass&application_name=authd", want: "postgres://authd@db:5432/authd?sslmode=verify-full&sslpassword=xxxxx&application_name=authd", secrets: []string{"keypass"}},
		{dsn: "postgres://u:pw@h1:5432,h2:5433/db?target_session_attrs=read-write", want: "postgres://u:xxxxx@h1:5432,h2:5433/db?target_session_attrs=read-write", secrets: []string{"pw"}},
		{dsn: "postgres://u:pw@[::1]:5432/db", want: "postgres://u:xxxxx@[::1]:5432/db", secrets: []string{"pw"}},
		{dsn: "postgres:///authd?host=/run/postgresql&password=sock", want: "postgres:///authd?host=/run/postgresql&password=xxxxx", secrets: []string{"sock"}},
		{dsn: "postgres://u:@h/db", want: "postgres://u:xxxxx@h/db"},
		{dsn: "postgres://u@h/db", want: "postgres://u@h/db"},
		// Spellings pgx reads as password too.
		{dsn: "postgres://h/db?pass%77ord=enc&PASSWORD=upper&%20password=spaced", want: "postgres://h/db?pass%77ord=xxxxx&PASSWORD=xxxxx&%20password=xxxxx", secrets: []string{"enc", "upper", "spaced"}},
		// A pair that does not decode, or holds a password elsewhere
		// than as a key's value: the whole pair goes.
		{dsn: "postgres://h/db?sslmode=disable;password=semi", want: "postgres://h/db?xxxxx", secrets: []string{"semi"}},
		{dsn: "postgres://h/db?x=%zz&password=bad", want: "postgres://h/db?xxxxx&password=xxxxx", secrets: []string{"bad"}},
		{dsn: "postgres://h/db?%zzpassword=bad2", want: "postgres://h/db?xxxxx", secrets: []string{"bad2"}},
		// A '@' or '#' outside the user information: pgx and net/url
		// may read different passwords, so nothing is shown.
		{dsn: "postgres://u:12?34@h/db", want: dsnHidden, secrets: []string{"12", "34"}},
		{dsn: "postgres://u:12#34@h/db", want: dsnHidden, secrets: []string{"12", "34"}},
		{dsn: "postgres://u:p@h/db?application_name=a@b", want: dsnHidden, secrets: []string{":p@"}},
		// Unparsable URLs are never shown.
		{dsn: "postgres://u:pa ss@h/db", want: dsnHidden, secrets: []string{"pa ss"}},
		{dsn: "postgres://u:pass@h:port/db", want: dsnHidden, secrets: []string{"pass"}},
		{dsn: "postgres://u:pass@h/db\n", want: dsnHidden, secrets: []string{"pass"}},
		{dsn: "postgres://u:pass@[::1/db", want: dsnHidden, secrets: []string{"pass"}},
		{dsn: "POSTGRES://u:pass@h/db", want: "POSTGRES://u:xxxxx@h/db", secrets: []string{"pass"}},
		// Keyword/value strings, which config refuses, are not shown
		// either when they mention a password.
		{dsn: "host=db user=authd password=kv dbname=authd", want: dsnHidden, secrets: []string{"kv"}},
		{dsn: "host=db user=authd dbname=authd", want: "host=db user=authd dbname=authd"},
		// password= where pgx would not read it, but someone meant it.
		{dsn: "postgres://h/db password=meant", want: dsnHidden, secrets: []string{"meant"}},
		{dsn: "postgres://password=meant@h/db", want: dsnHidden, secrets: []string{"meant"}},
		{dsn: "host=a://b password=meant", want: dsnHidden, secrets: []string{"meant"}},
	} {
		got := redactDSN(tc.dsn)
		if got != tc.want {
			t.Errorf("redactDSN(%q) = %q, want %q", tc.dsn, got, tc.want)
		}
		for _, s := range tc.secrets {
			if strings.Contains(got, s) {
				t.Errorf("redactDSN(%q) = %q shows %q", tc.dsn, got, s)
			}
		}
	}
}

// TestDatabaseErrorsHideThePassword checks the places that print the
// database setting when it cannot be opened: serve, migrate and the user
// commands, on an address whose server does not answer.
func TestDatabaseErrorsHideThePassword(t *testing.T) {
	t.Parallel()
	const password = "pw-that-must-not-be-shown"
	// Port 1 on the loopback refuses connections at once.
	dsn := "postgres://authd:" + password + "@127.0.0.1:1/authd?sslmode=disable&password=" + password + "&connect_timeout=2"
	env := map[string]string{"AUTHD_DB": dsn}
	getenv := func(k string) string { return env[k] }
	for _, args := range [][]string{
		{"serve", "--addr", "127.0.0.1:0"},
		{"migrate"},
		{"user", "list"},
	} {
		var out strings.Builder
		err := run(context.Background(), args, getenv, strings.NewReader(""), &out, &out)
		if err == nil {
			t.Errorf("%v: no error from a database that refuses connections", args)
			continue
		}
		shown := err.Error() + out.String()
		if strings.Contains(shown, password) {
			t.Errorf("%v: the password is shown: %s", args, shown)
		}
		if !strings.Contains(shown, "postgres://authd:xxxxx@127.0.0.1:1/authd?") {
			t.Errorf("%v: the error does not say which database: %s", args, shown)
		}
	}
}

// TestDatabaseSettingsThatLookLikeAddressesAreRefused checks that a
// mistyped URL or a keyword/value string never becomes a SQLite file
// path, whose errors would show it whole.
func TestDatabaseSettingsThatLookLikeAddressesAreRefused(t *testing.T) {
	t.Parallel()
	const password = "pw-that-must-not-be-shown"
	for _, db := range []string{
		"postgress://authd:" + password + "@db/authd",
		"POSTGRES://authd:" + password + "@db/authd",
		"host=db user=authd password=" + password + " dbname=authd",
	} {
		env := map[string]string{"AUTHD_DB": db}
		err := run(context.Background(), []string{"migrate"}, func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "AUTHD_DB") || strings.Contains(err.Error(), password) {
			t.Errorf("AUTHD_DB=%q: error %v, want one naming AUTHD_DB without the password", redactDSN(db), err)
		}
		if _, err := os.Stat(db); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("AUTHD_DB=%q: a file of that name exists (%v)", redactDSN(db), err)
			os.Remove(db)
		}
	}
}

// FuzzRedactDSN writes a marked password into database settings of every
// shape, around any other text: the mark is never shown.
func FuzzRedactDSN(f *testing.F) {
	f.Add(uint8(0), "authd", "pw", "db:5432/authd?sslmode=disable")
	f.Add(uint8(1), "", "pw", "h/db")
	f.Add(uint8(2), "", "x&y=z", "h/db?sslmode=disable")
	f.Add(uint8(3), "", "pw", "db user=authd")
	f.Add(uint8(0), "u", "p/w", "h/db")
	f.Add(uint8(1), "", "pw", "a://b")
	f.Fuzz(func(t *testing.T, shape uint8, user, password, rest string) {
		const mark = "S3CR3T"
		if strings.Contains(strings.ToUpper(user+rest), mark) {
			return
		}
		password = mark + password
		var dsn string
		switch shape % 4 {
		case 0:
			dsn = "postgres://" + user + ":" + password + "@" + rest
		case 1:
			dsn = "postgresql://" + rest + "?password=" + password
		case 2:
			dsn = "postgres://" + user + "@" + rest + "&sslpassword=" + password
		case 3:
			dsn = "host=" + rest + " password=" + password
		}
		if got := redactDSN(dsn); strings.Contains(strings.ToUpper(got), mark) {
			t.Fatalf("redactDSN(%q) = %q shows the password", dsn, got)
		}
	})
}
