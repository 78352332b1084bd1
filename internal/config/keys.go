package config

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// The algorithms of access tokens.
const (
	AlgHS256 = "HS256"
	AlgEdDSA = "EdDSA"
)

// keySettings are those of the keys of access tokens and of the services
// that verify them.
func keySettings() []*setting {
	return []*setting{
		{env: "AUTHD_ACCESS_ALG", def: AlgHS256, help: "algorithm of access tokens: HS256 (a key shared with the services that verify them) or EdDSA (Ed25519 key pairs kept in the database, public keys at /.well-known/jwks.json)",
			set: func(c *Config, v string) error {
				switch {
				case strings.EqualFold(v, AlgHS256):
					c.AccessAlg = AlgHS256
				case strings.EqualFold(v, AlgEdDSA):
					c.AccessAlg = AlgEdDSA
				default:
					return fmt.Errorf("unknown algorithm %q, want HS256 or EdDSA", v)
				}
				return nil
			}},
		{env: "AUTHD_KEY_PUBLISH_DELAY", def: "10m", help: "how long a key added by `authd keys rotate` is published before it signs, so that verifiers caching the JWKS (5 minutes) know it first (Go duration)",
			set: func(c *Config, v string) error {
				d, err := time.ParseDuration(v)
				if err != nil || d < 0 {
					return fmt.Errorf("invalid duration %q, want a Go duration such as 10m, or 0", v)
				}
				c.KeyPublishDelay = d
				return nil
			}},
		{env: "AUTHD_AUDIENCE", help: "comma-separated aud of access tokens; when set, access tokens without one of them are refused (unset: no aud)",
			set: func(c *Config, v string) error {
				c.Audience = nil
				for _, a := range splitList(v) {
					if !utf8.ValidString(a) {
						return errors.New("an audience is not valid UTF-8")
					}
					c.Audience = append(c.Audience, a)
				}
				return nil
			}},
	}
}
