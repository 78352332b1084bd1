//go:build e2e

package e2e

import (
	"maps"
	"net/http"
	"testing"

	"authd/internal/authdtest"
)

// mustEnable sets up and confirms TOTP for the session of access and
// returns the app.
func mustEnable(t *testing.T, b *authdtest.Client, access string) *authdtest.Authenticator {
	t.Helper()
	setup := b.TOTPSetup(access)
	setup.Want(t, "totp setup", http.StatusOK, "")
	app := authdtest.NewAuthenticator(t, setup.Secret)
	confirm := b.TOTPConfirm(access, app.Code())
	confirm.Want(t, "totp confirm", http.StatusOK, "")
	if len(confirm.RecoveryCodes) != 10 {
		t.Fatalf("confirm gave %d recovery codes, want 10", len(confirm.RecoveryCodes))
	}
	return app
}

// twoFactorUser registers name, logs in and turns two-factor
// authentication on, computing the code as an app would; it returns the
// session's access token, the app and the recovery codes.
func twoFactorUser(t *testing.T, b *authdtest.Client, name string) (string, *authdtest.Authenticator, []string) {
	t.Helper()
	b.MustRegister(name, password)
	access := b.MustLogin(name, password).AccessToken
	setup := b.TOTPSetup(access)
	setup.Want(t, "totp setup", http.StatusOK, "")
	app := authdtest.NewAuthenticator(t, setup.Secret)
	confirm := b.TOTPConfirm(access, app.Code())
	confirm.Want(t, "totp confirm", http.StatusOK, "")
	if len(confirm.RecoveryCodes) != 10 {
		t.Fatalf("confirm gave %d recovery codes, want 10", len(confirm.RecoveryCodes))
	}
	return access, app, confirm.RecoveryCodes
}

type contractRow = struct {
	reach   func(t *testing.T, b *authdtest.Client) map[string]string
	failure failureOf
}

// twoFactorRows are the rows of two-factor authentication among
// contractRows.
func twoFactorRows(a *authd) map[string]contractRow {
	return map[string]contractRow{
		"Login with two-factor authentication": {
			func(t *testing.T, b *authdtest.Client) map[string]string {
				twoFactorUser(t, b, "table_mfa_login")
				return map[string]string{"username": "table_mfa_login", "password": password}
			},
			failureOf{"a wrong password", func(t *testing.T, b *authdtest.Client, e endpoint, params map[string]string) *http.Request {
				p := maps.Clone(params)
				p["password"] = "not the password"
				return seedRequest(t, e, p)
			}},
		},
		"Intra login with two-factor authentication": {
			func(t *testing.T, b *authdtest.Client) map[string]string {
				b.MustRegister("table_mfa_intra", password)
				access := b.MustLogin("table_mfa_intra", password).AccessToken
				b.MustIntraIdentity("gfavre")
				b.MustIntraLink(access)
				mustEnable(t, b, access)
				b.MustIntraIdentity("gfavre")
				return nil
			},
			failureOf{"again, api_token spent", sameAgain},
		},
		"Login, second factor": {
			func(t *testing.T, b *authdtest.Client) map[string]string {
				_, app, _ := twoFactorUser(t, b, "table_mfa_step")
				r := b.Login("table_mfa_step", password)
				r.Want(t, "login", http.StatusOK, "")
				return map[string]string{"mfa_token": r.MFAToken, "code": app.Code()}
			},
			failureOf{"the same mfa_token again, used up", sameAgain},
		},
		"TOTP setup": {
			func(t *testing.T, b *authdtest.Client) map[string]string {
				b.MustRegister("table_totp_setup", password)
				return map[string]string{"bearer": b.MustLogin("table_totp_setup", password).AccessToken}
			},
			failureOf{"a user with 2FA on already", func(t *testing.T, b *authdtest.Client, e endpoint, params map[string]string) *http.Request {
				access, _, _ := twoFactorUser(t, clientOf(t, a), "table_totp_on")
				return seedRequest(t, e, map[string]string{"bearer": access})
			}},
		},
		"TOTP confirm": {
			func(t *testing.T, b *authdtest.Client) map[string]string {
				b.MustRegister("table_totp_confirm", password)
				access := b.MustLogin("table_totp_confirm", password).AccessToken
				setup := b.TOTPSetup(access)
				setup.Want(t, "totp setup", http.StatusOK, "")
				return map[string]string{"bearer": access, "code": authdtest.NewAuthenticator(t, setup.Secret).Code()}
			},
			failureOf{"confirming again, nothing pending", sameAgain},
		},
		"TOTP disable": {
			func(t *testing.T, b *authdtest.Client) map[string]string {
				access, _, codes := twoFactorUser(t, b, "table_totp_disable")
				return map[string]string{"bearer": access, "code": codes[0]}
			},
			failureOf{"disabling again, 2FA off", sameAgain},
		},
		"New recovery codes": {
			func(t *testing.T, b *authdtest.Client) map[string]string {
				access, _, codes := twoFactorUser(t, b, "table_recovery")
				return map[string]string{"bearer": access, "code": codes[0]}
			},
			failureOf{"the same recovery code again, replaced", sameAgain},
		},
	}
}

// TestTwoFactorJourney: a user turns TOTP on (their other browser's
// session ends), logs in with a password and a code of the app, renews
// the recovery codes, and turns it off with one; the codes are computed
// by the test as an app would.
func TestTwoFactorJourney(t *testing.T) {
	t.Parallel()
	a := mustAuthd(t, "authd", "", journeySettings()...)
	b, other := clientOf(t, a), clientOf(t, a)
	b.MustRegister("tess", password)
	access := b.MustLogin("tess", password).AccessToken
	other.MustLogin("tess", password)
	if b.MustMe(access).TwoFactor {
		t.Fatal("two_factor before set-up")
	}
	setup := b.TOTPSetup(access)
	setup.Want(t, "setup", http.StatusOK, "")
	app := authdtest.NewAuthenticator(t, setup.Secret)
	b.TOTPConfirm(access, "000000"+"0").Want(t, "confirm with 7 digits", http.StatusBadRequest, "invalid_code")
	confirm := b.TOTPConfirm(access, app.Code())
	confirm.Want(t, "confirm", http.StatusOK, "")
	if !b.MustMe(access).TwoFactor {
		t.Error("two_factor false once confirmed")
	}
	other.Refresh().Want(t, "the other browser's refresh after confirm", http.StatusBadRequest, "invalid_refresh_token")
	b.TOTPSetup(access).Want(t, "setup twice", http.StatusConflict, "totp_already_enabled")

	b.MustLogout(access)
	login := b.Login("tess", password)
	login.Want(t, "login", http.StatusOK, "")
	if !login.MFARequired || login.MFAToken == "" || login.AccessToken != "" || login.ExpiresIn != 300 {
		t.Fatalf("login with 2FA = %s, want mfa_required", login.Body)
	}
	b.WantCookies("after the first factor")
	b.LoginMFA(login.MFAToken, "12 345").Want(t, "a malformed code", http.StatusBadRequest, "invalid_code")
	code := app.Code()
	step := b.LoginMFA(login.MFAToken, code)
	step.Want(t, "login mfa", http.StatusOK, "")
	b.WantCookies("after the second factor", "refresh_token")
	b.MustRefresh()
	access = step.AccessToken
	b.LoginMFA(login.MFAToken, code).Want(t, "the used mfa_token", http.StatusBadRequest, "invalid_mfa_token")
	b.LoginMFA(b.Login("tess", password).MFAToken, code).Want(t, "a replayed code", http.StatusBadRequest, "invalid_code")
	if s := b.Sessions(access).Current(); s.Method != "password" {
		t.Errorf("the session's method = %q, want password", s.Method)
	}

	// Two codes of the app so far, both within one 30-second step; the
	// rest of the journey uses recovery codes, and waits for no step.
	renewed := b.RecoveryCodes(access, confirm.RecoveryCodes[1])
	renewed.Want(t, "new recovery codes", http.StatusOK, "")
	b.LoginMFA(b.Login("tess", password).MFAToken, confirm.RecoveryCodes[0]).Want(t, "an old recovery code", http.StatusBadRequest, "invalid_code")
	b.TOTPDisable(access, renewed.RecoveryCodes[0]).Want(t, "disable", http.StatusOK, "")
	if again := b.MustLogin("tess", password); again.AccessToken == "" || again.MFARequired {
		t.Errorf("login after disable = %s", again.Body)
	}
	b.TOTPDisable(access, renewed.RecoveryCodes[1]).Want(t, "disable twice", http.StatusConflict, "totp_not_enabled")
}

// TestRecoveryCodeJourney: a user without their phone logs in with a
// recovery code, which then no longer works, and turns 2FA off with
// another; a used one is refused and changes nothing.
func TestRecoveryCodeJourney(t *testing.T) {
	t.Parallel()
	a := mustAuthd(t, "authd", "", journeySettings()...)
	b := clientOf(t, a)
	access, _, codes := twoFactorUser(t, b, "rhea")
	b.MustLogout(access)

	step := b.LoginMFA(b.Login("rhea", password).MFAToken, codes[3])
	step.Want(t, "login with a recovery code", http.StatusOK, "")
	b.WantCookies("after the recovery code", "refresh_token")
	b.LoginMFA(b.Login("rhea", password).MFAToken, codes[3]).Want(t, "the same recovery code again", http.StatusBadRequest, "invalid_code")

	access = step.AccessToken
	b.TOTPDisable(access, codes[3]).Want(t, "disable with the used recovery code", http.StatusBadRequest, "invalid_code")
	if !b.MustMe(access).TwoFactor {
		t.Fatal("a refused disable turned 2FA off")
	}
	b.TOTPDisable(access, codes[4]).Want(t, "disable with another recovery code", http.StatusOK, "")
	if b.MustMe(access).TwoFactor {
		t.Error("two_factor still true after disable")
	}
}
