package httpapi

import (
	"encoding/json"
	"net/http"
	"time"
)

// codeField is a string field of a two-factor request whose every other
// JSON value (a number, null, an object) reads as "", so that a code sent
// as a number is refused as a code (invalid_code), as the contract says,
// rather than as a body (invalid_request).
type codeField struct{ value string }

func (c *codeField) UnmarshalJSON(b []byte) error {
	// Anything but a string leaves value "".
	_ = json.Unmarshal(b, &c.value)
	return nil
}

type codeRequest struct {
	Code codeField `json:"code"`
}

type mfaLoginRequest struct {
	MFAToken codeField `json:"mfa_token"`
	Code     codeField `json:"code"`
}

type totpSetupResponse struct {
	Secret     string `json:"secret"`
	OTPAuthURL string `json:"otpauth_url"`
}

type recoveryCodesResponse struct {
	RecoveryCodes []string `json:"recovery_codes"`
}

// mfaRequiredResponse answers a first factor of a user with two-factor
// authentication: no session yet, no cookie.
type mfaRequiredResponse struct {
	MFARequired bool   `json:"mfa_required"`
	MFAToken    string `json:"mfa_token"`
	ExpiresIn   int64  `json:"expires_in"`
}

// handleTOTPSetup gives the Bearer user a pending TOTP secret (see
// account.Service.SetupTOTP). It reads no body.
func (s *Server) handleTOTPSetup() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		setup, err := s.Accounts.SetupTOTP(r.Context(), principalFrom(r.Context()))
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, totpSetupResponse{Secret: setup.Secret, OTPAuthURL: setup.URL})
		return nil
	})
}

// handleTOTPConfirm activates the pending secret with a code of it and
// answers the recovery codes, once.
func (s *Server) handleTOTPConfirm() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		var req codeRequest
		if err := decode(w, r, &req); err != nil {
			return err
		}
		codes, err := s.Accounts.ConfirmTOTP(r.Context(), principalFrom(r.Context()), req.Code.value)
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, recoveryCodesResponse{RecoveryCodes: codes})
		return nil
	})
}

// handleTOTPDisable removes the Bearer user's second factor, given a code
// or a recovery code.
func (s *Server) handleTOTPDisable() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		p := principalFrom(r.Context())
		if err := s.Accounts.Fresh(p); err != nil {
			return err
		}
		var req codeRequest
		if err := decode(w, r, &req); err != nil {
			return err
		}
		if err := s.Accounts.DisableTOTP(r.Context(), p, req.Code.value); err != nil {
			return err
		}
		encode(w, http.StatusOK, detailBody{Detail: "Two-factor authentication is off."})
		return nil
	})
}

// handleRecoveryCodes replaces the Bearer user's recovery codes, given a
// code or a recovery code, and answers the new ones, once.
func (s *Server) handleRecoveryCodes() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		p := principalFrom(r.Context())
		if err := s.Accounts.Fresh(p); err != nil {
			return err
		}
		var req codeRequest
		if err := decode(w, r, &req); err != nil {
			return err
		}
		codes, err := s.Accounts.NewRecoveryCodes(r.Context(), p, req.Code.value)
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, recoveryCodesResponse{RecoveryCodes: codes})
		return nil
	})
}

// handleLoginMFA is the second step of a login of a user with two-factor
// authentication: the mfa_token of the first and a code start the
// session, and set its refresh_token cookie.
func (s *Server) handleLoginMFA() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		var req mfaLoginRequest
		if err := decode(w, r, &req); err != nil {
			return err
		}
		g, err := s.Accounts.LoginMFA(s.withClient(r), req.MFAToken.value, req.Code.value)
		if err != nil {
			return err
		}
		s.writeGrant(w, g)
		return nil
	})
}

// writeMFARequired answers a first factor passed by a user who has a
// second one: the mfa_token alone, no cookie.
func writeMFARequired(w http.ResponseWriter, token string, ttl time.Duration) {
	encode(w, http.StatusOK, mfaRequiredResponse{MFARequired: true, MFAToken: token, ExpiresIn: int64(ttl / time.Second)})
}
