package config

import (
	"errors"
	"unicode/utf8"
)

// twoFactorSettings are the settings of two-factor authentication; its
// throttle scopes (totp, login_mfa) are among Scopes, and its data key is
// AUTHD_DATA_KEY.
func twoFactorSettings() []*setting {
	return []*setting{
		{env: "AUTHD_TOTP_ISSUER", def: "authd", help: "the issuer authenticator apps show beside a user's codes",
			set: func(c *Config, v string) error {
				if v == "" || !utf8.ValidString(v) {
					return errors.New("must be non-empty UTF-8 text")
				}
				c.TOTPIssuer = v
				return nil
			}},
	}
}
