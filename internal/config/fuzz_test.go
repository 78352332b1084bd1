package config

import (
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
		secret := s.env == "AUTHD_JWT_SECRET" || s.env == "AUTHD_INTRA_CLIENT_SECRET"
		if v := strings.TrimSpace(value); secret && len(v) >= 4 && strings.Contains(msg, v) {
			t.Fatalf("%s: error %q shows the secret", s.env, msg)
		}
	})
}
