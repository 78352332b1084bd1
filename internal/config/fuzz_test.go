package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzSetting gives any value to any setting, as a variable and as a
// flag: Load never panics, and a value it refuses gets a one-line error
// naming the variable that never shows a signing key or client secret.
func FuzzSetting(f *testing.F) {
	all := settings()
	for i, s := range all {
		f.Add(uint8(i), s.def, false)
		f.Add(uint8(i), s.def+"x", true)
	}
	f.Add(uint8(0), "127.0.0.1:0", true)
	f.Fuzz(func(t *testing.T, i uint8, value string, asFlag bool) {
		s := all[int(i)%len(all)]
		var args []string
		env := map[string]string{}
		if asFlag {
			args = []string{"--" + Flag(s.env) + "=" + value}
		} else {
			env[s.env] = value
		}
		_, err := Load(args, envOf(env))
		if err == nil {
			return
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") {
			t.Fatalf("%s=%q: error of more than one line: %q", s.env, value, msg)
		}
		if !strings.Contains(msg, s.env) && !strings.Contains(msg, "AUTHD_INTRA_") && !strings.Contains(msg, "AUTHD_COOKIE_") {
			t.Fatalf("%s=%q: error %q does not name the variable", s.env, value, msg)
		}
		secret := s.file // every setting that may be read from a file may hold a secret
		if v := strings.TrimSpace(value); secret && len(v) >= 4 && strings.Contains(msg, v) {
			t.Fatalf("%s: error %q shows the secret", s.env, msg)
		}
	})
}

// FuzzSettingFile gives any content to any setting read from a file: Load
// never panics; a value it takes is the content less one trailing
// newline; a value it refuses gets a one-line error naming the variable
// that never shows the content.
func FuzzSettingFile(f *testing.F) {
	var files []*setting
	for _, s := range settings() {
		if s.file {
			files = append(files, s)
		}
	}
	for i := range files {
		f.Add(uint8(i), []byte(strings.Repeat("k", 32)+"\n"))
		f.Add(uint8(i), []byte("short\r\n"))
		f.Add(uint8(i), []byte("\n"))
	}
	f.Add(uint8(0), []byte("postgres://u:p@h/db?password=x\n\n"))
	f.Add(uint8(0), []byte("host=db password=x"))
	f.Fuzz(func(t *testing.T, i uint8, content []byte) {
		s := files[int(i)%len(files)]
		// A mark that any echo of the content carries.
		const mark = "S3CR3T-"
		path := filepath.Join(t.TempDir(), "value")
		if err := os.WriteFile(path, append([]byte(mark), content...), 0o600); err != nil {
			t.Fatal(err)
		}
		env := map[string]string{s.env + "_FILE": path}
		if s.env == "AUTHD_INTRA_CLIENT_SECRET" {
			// The secret is taken only with the rest of the application.
			env["AUTHD_INTRA_CLIENT_ID"] = "id"
			env["AUTHD_INTRA_REDIRECT_URI"] = "https://app.example.com/cb"
		}
		c, err := Load(nil, envOf(env))
		if err != nil {
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Fatalf("%s: error of more than one line: %q", s.env, msg)
			}
			if !strings.Contains(msg, s.env) {
				t.Fatalf("%s: error %q does not name the variable", s.env, msg)
			}
			if strings.Contains(msg, mark) {
				t.Fatalf("%s: error %q shows the content", s.env, msg)
			}
			return
		}
		want := mark + string(content)
		if w, ok := strings.CutSuffix(want, "\n"); ok {
			want = strings.TrimSuffix(w, "\r")
		}
		got := map[string]string{
			"AUTHD_DB": c.DB, "AUTHD_REDIS_URL": c.RedisURL, "AUTHD_INTRA_CLIENT_SECRET": c.IntraClientSecret,
			"AUTHD_DATA_KEY": string(c.DataKey), "AUTHD_JWT_SECRET": string(bytes.Join(c.JWTSecrets, []byte(","))),
		}
		v, known := got[s.env]
		if !known {
			t.Fatalf("%s: no field to check", s.env)
		}
		if v != want {
			t.Fatalf("%s: value %q, want %q", s.env, v, want)
		}
	})
}
