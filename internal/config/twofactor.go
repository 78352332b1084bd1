package config

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"authd/internal/totp"
)

// twoFactorSettings are the settings of two-factor authentication; its
// throttle scopes (totp, login_mfa) are among Scopes, and its data key is
// AUTHD_DATA_KEY.
func twoFactorSettings() []*setting {
	return []*setting{
		{env: "AUTHD_TOTP_ISSUER", def: "authd", help: fmt.Sprintf("the issuer authenticator apps show beside a user's codes, at most %d bytes", totp.MaxIssuer),
			set: func(c *Config, v string) error {
				if v == "" || !utf8.ValidString(v) {
					return errors.New("must be non-empty UTF-8 text")
				}
				if len(v) > totp.MaxIssuer {
					// The otpauth URL would make a QR code too dense to scan.
					return fmt.Errorf("must be at most %d bytes", totp.MaxIssuer)
				}
				c.TOTPIssuer = v
				return nil
			}},
	}
}
