package config

import (
	"fmt"
	"time"
)

// sessionSettings are the settings of fresh sessions, idle sessions and
// refresh-token rotation.
func sessionSettings() []*setting {
	return []*setting{
		{env: "AUTHD_REAUTH_WINDOW", def: "10m", help: "how long after logging in a session counts as fresh: changing the password, linking and unlinking 42, and setting up, turning off or renewing the recovery codes of two-factor authentication need a fresh one (Go duration)",
			set: func(c *Config, v string) error { return parseTTL(&c.ReauthWindow, v) }},
		{env: "AUTHD_SESSION_IDLE_TTL", def: "0", help: "a session not refreshed for this long is refused like an expired one (Go duration; 0 turns this off)",
			set: func(c *Config, v string) error {
				if v == "0" {
					c.SessionIdleTTL = 0
					return nil
				}
				return parseTTL(&c.SessionIdleTTL, v)
			}},
		{env: "AUTHD_REFRESH_ROTATION", def: "false", help: "each refresh sets a new refresh_token cookie, and reusing a replaced one revokes its session",
			set: func(c *Config, v string) error { return parseBool(&c.RefreshRotation, v) }},
		{env: "AUTHD_REFRESH_REUSE_INTERVAL", def: "10s", help: "with rotation, how long the refresh token just replaced still answers, with the newest one (Go duration; 0: not at all)",
			set: func(c *Config, v string) error {
				d, err := time.ParseDuration(v)
				if err != nil || d < 0 {
					return fmt.Errorf("invalid duration %q, want a Go duration such as 10s, or 0", v)
				}
				c.RefreshReuseInterval = d
				return nil
			}},
	}
}
