package authdtest

import (
	"encoding/base32"
	"sync"
	"testing"
	"time"

	"authd/internal/totp"
)

// TOTPSetupResponse is the answer of POST /auth/2fa/totp/setup/.
type TOTPSetupResponse struct {
	Response   `json:"-"`
	Secret     string `json:"secret"`
	OTPAuthURL string `json:"otpauth_url"`
}

// RecoveryCodesResponse is the answer of confirm and of
// POST /auth/2fa/recovery-codes/.
type RecoveryCodesResponse struct {
	Response      `json:"-"`
	RecoveryCodes []string `json:"recovery_codes"`
}

type codeBody struct {
	Code string `json:"code"`
}

// TOTPSetup is POST /auth/2fa/totp/setup/ with an access token.
func (c *Client) TOTPSetup(access string) TOTPSetupResponse {
	c.t.Helper()
	return typed[TOTPSetupResponse](c, "totp setup", c.Call("POST", "/auth/2fa/totp/setup/", access, nil))
}

// TOTPConfirm is POST /auth/2fa/totp/confirm/ with an access token.
func (c *Client) TOTPConfirm(access, code string) RecoveryCodesResponse {
	c.t.Helper()
	return typed[RecoveryCodesResponse](c, "totp confirm", c.Call("POST", "/auth/2fa/totp/confirm/", access, codeBody{code}))
}

// TOTPDisable is POST /auth/2fa/totp/disable/ with an access token.
func (c *Client) TOTPDisable(access, code string) DetailResponse {
	c.t.Helper()
	return typed[DetailResponse](c, "totp disable", c.Call("POST", "/auth/2fa/totp/disable/", access, codeBody{code}))
}

// RecoveryCodes is POST /auth/2fa/recovery-codes/ with an access token.
func (c *Client) RecoveryCodes(access, code string) RecoveryCodesResponse {
	c.t.Helper()
	return typed[RecoveryCodesResponse](c, "recovery codes", c.Call("POST", "/auth/2fa/recovery-codes/", access, codeBody{code}))
}

// LoginMFA is POST /auth/login/mfa/, the second step of a login.
func (c *Client) LoginMFA(mfaToken, code string) TokenResponse {
	c.t.Helper()
	body := map[string]string{"mfa_token": mfaToken, "code": code}
	return typed[TokenResponse](c, "login mfa", c.Call("POST", "/auth/login/mfa/", "", body))
}

// Authenticator makes the codes of one TOTP secret as an app would, at
// the machine's time. Each code it gives is of a later time step than the
// one before, since authd accepts each step once: of the previous step
// when it can, so that three codes fit in one 30-second step, else it
// waits for the next step.
type Authenticator struct {
	t      testing.TB
	secret []byte
	mu     sync.Mutex
	last   int64
}

// NewAuthenticator reads the base32 secret of a setup.
func NewAuthenticator(t testing.TB, secret string) *Authenticator {
	t.Helper()
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		t.Fatalf("secret %q is not unpadded base32: %v", secret, err)
	}
	return &Authenticator{t: t, secret: raw}
}

// Code returns a code no other call returned a code of the same or a
// later step for.
func (a *Authenticator) Code() string {
	return a.CodeLasting(0)
}

// CodeLasting is Code for a client that takes a while to send the code, a
// browser driven by a test: the code stays acceptable for at least d (well
// under a step) after it is given. A code of step s is accepted until step
// s+Skew ends, so a code of the previous step is given only while the
// current step has d left to run.
func (a *Authenticator) CodeLasting(d time.Duration) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	for {
		now := time.Now()
		cur := totp.Step(now)
		step := max(a.last+1, totp.Step(now.Add(d))-totp.Skew)
		if step <= cur+totp.Skew-1 {
			a.last = step
			return totp.Code(a.secret, step)
		}
		// Keep a step of margin for the server's clock: wait for the next.
		next := time.Unix((cur+1)*int64(totp.Period/time.Second), 0)
		time.Sleep(time.Until(next) + 50*time.Millisecond)
	}
}

// CodeAt returns the code of the step of t moved by steps, without
// spending it: for replays and codes out of the window.
func (a *Authenticator) CodeAt(t time.Time, steps int64) string {
	return totp.Code(a.secret, totp.Step(t)+steps)
}
