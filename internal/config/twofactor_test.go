package config

import (
	"strings"
	"testing"

	"authd/internal/throttle"
	"authd/internal/totp"
)

func TestTwoFactorSettings(t *testing.T) {
	t.Parallel()
	c, err := Load(nil, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	minute := throttle.Rate{N: 6, Period: 60e9}
	if c.TOTPIssuer != "authd" || c.Rates[ScopeTOTP] != minute || c.Rates[ScopeLoginMFA] != minute || c.DataKey != nil {
		t.Errorf("defaults: issuer %q, totp %v, login_mfa %v, data key set %v", c.TOTPIssuer, c.Rates[ScopeTOTP], c.Rates[ScopeLoginMFA], c.DataKey != nil)
	}
	env := map[string]string{
		"AUTHD_TOTP_ISSUER":        "Example Co",
		"AUTHD_THROTTLE_TOTP":      "3/hour",
		"AUTHD_THROTTLE_LOGIN_MFA": "10/second",
		"AUTHD_DATA_KEY":           "0123456789abcdef0123456789abcdef",
	}
	c, err = Load(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.TOTPIssuer != "Example Co" || c.Rates[ScopeTOTP] != (throttle.Rate{N: 3, Period: 3600e9}) ||
		c.Rates[ScopeLoginMFA] != (throttle.Rate{N: 10, Period: 1e9}) || string(c.DataKey) != env["AUTHD_DATA_KEY"] {
		t.Errorf("set: %+v", c)
	}
	if _, err := Load([]string{"--totp-issuer", " "}, func(string) string { return "" }); err == nil {
		t.Error("a blank issuer was accepted")
	}
	longest := strings.Repeat("é", totp.MaxIssuer/2)
	if c, err := Load([]string{"--totp-issuer", longest}, func(string) string { return "" }); err != nil || c.TOTPIssuer != longest {
		t.Errorf("an issuer of %d bytes: %v", len(longest), err)
	}
	if _, err := Load([]string{"--totp-issuer", longest + "x"}, func(string) string { return "" }); err == nil {
		t.Errorf("an issuer of %d bytes was accepted", len(longest)+1)
	}
}
