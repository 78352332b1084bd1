package authdtest

import (
	"testing"
	"time"

	"authd/internal/totp"
)

// TestCodeLasting: each code is of a later step than the one before, and
// of a step authd still accepts d after it was given.
func TestCodeLasting(t *testing.T) {
	t.Parallel()
	secret := totp.NewSecret()
	app := NewAuthenticator(t, totp.EncodeSecret(secret))
	const d = 10 * time.Second
	last := int64(-1)
	for range 2 {
		before := time.Now()
		code := app.CodeLasting(d)
		after := time.Now()
		// The steps it may be of: still accepted d after the call began,
		// and not ahead of the step of its end.
		found := int64(-1)
		for s := totp.Step(before.Add(d)) - totp.Skew; s <= totp.Step(after); s++ {
			if totp.Code(secret, s) == code {
				found = s
			}
		}
		if found < 0 || found <= last {
			t.Fatalf("code %s given between %v and %v: of no step from %d accepted %v later, after step %d",
				code, before.Format(time.TimeOnly), after.Format(time.TimeOnly), totp.Step(before.Add(d))-totp.Skew, d, last)
		}
		last = found
	}
}
