package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"authd/internal/account"
	"authd/internal/throttle"
)

// Error is an error a client may see: a stable snake_case code and one
// sentence a person can read. writeError turns the account service's
// errors into one; anything else is logged with its cause and the client
// gets a generic answer.
type Error struct {
	Code   string
	Detail string
}

func (e *Error) Error() string { return e.Code + ": " + e.Detail }

// Error codes and the status each one answers with.
const (
	codeInvalidRequest      = "invalid_request"
	codeInvalidCredentials  = "invalid_credentials"
	codeAccountDisabled     = "account_disabled"
	codeInvalidToken        = "invalid_token"
	codeInvalidRefreshToken = "invalid_refresh_token"
	codeUsernameTaken       = "username_taken"
	codeThrottled           = "throttled"
	codeForbiddenOrigin     = "forbidden_origin"
	codeNotFound            = "not_found"
	codeMethodNotAllowed    = "method_not_allowed"
	codeRequestTooLarge     = "request_too_large"
	codeNotReady            = "not_ready"
	codeUnavailable         = "unavailable"
	codeInternal            = "internal_error"

	codeIntraNotConfigured = "intra_not_configured"
	codeInvalidState       = "invalid_state"
	codeAccessDenied       = "access_denied"
	codeInvalidGrant       = "invalid_grant"
	codeProviderError      = "provider_error"
	codeInvalidAPIToken    = "invalid_api_token"
	codeNotLinked          = "not_linked"
	codeAlreadyLinked      = "already_linked"

	codeReauthRequired = "reauth_required"
	codeNoOtherLogin   = "no_other_login"

	codeInvalidCode        = "invalid_code"
	codeInvalidMFAToken    = "invalid_mfa_token"
	codeTOTPAlreadyEnabled = "totp_already_enabled"
	codeTOTPNotEnabled     = "totp_not_enabled"
)

var statusOf = map[string]int{
	codeInvalidRequest:      http.StatusBadRequest,
	codeInvalidCredentials:  http.StatusBadRequest,
	codeAccountDisabled:     http.StatusBadRequest,
	codeInvalidToken:        http.StatusUnauthorized,
	codeInvalidRefreshToken: http.StatusBadRequest,
	codeUsernameTaken:       http.StatusConflict,
	codeThrottled:           http.StatusTooManyRequests,
	codeForbiddenOrigin:     http.StatusForbidden,
	codeNotFound:            http.StatusNotFound,
	codeMethodNotAllowed:    http.StatusMethodNotAllowed,
	codeRequestTooLarge:     http.StatusRequestEntityTooLarge,
	codeNotReady:            http.StatusServiceUnavailable,
	codeUnavailable:         http.StatusServiceUnavailable,
	codeInternal:            http.StatusInternalServerError,

	codeIntraNotConfigured: http.StatusInternalServerError,
	codeInvalidState:       http.StatusForbidden,
	codeAccessDenied:       http.StatusForbidden,
	codeInvalidGrant:       http.StatusForbidden,
	codeProviderError:      http.StatusBadGateway,
	codeInvalidAPIToken:    http.StatusBadRequest,
	codeNotLinked:          http.StatusBadRequest,
	codeAlreadyLinked:      http.StatusBadRequest,

	codeReauthRequired: http.StatusForbidden,
	codeNoOtherLogin:   http.StatusBadRequest,

	codeInvalidCode:        http.StatusBadRequest,
	codeInvalidMFAToken:    http.StatusBadRequest,
	codeTOTPAlreadyEnabled: http.StatusConflict,
	codeTOTPNotEnabled:     http.StatusConflict,
}

// Errors that several handlers return.
var (
	errInvalidCredentials = &Error{codeInvalidCredentials, "Unable to log in with the provided credentials."}
	errAccountDisabled    = &Error{codeAccountDisabled, "This account is disabled."}
	errInvalidToken       = &Error{codeInvalidToken, "The access token is missing, invalid or expired."}
	errInvalidRefresh     = &Error{codeInvalidRefreshToken, "The refresh token is missing, invalid or expired."}
	errForbiddenOrigin    = &Error{codeForbiddenOrigin, "Cross-origin requests from this origin are not allowed."}
	errInvalidAPIToken    = &Error{codeInvalidAPIToken, "The Intra identity cookie is missing, invalid or expired."}
	errIntraNotConfigured = &Error{codeIntraNotConfigured, "Log in with 42 is not configured on this server."}
	errNotFound           = &Error{codeNotFound, "No such endpoint."}
	errUsernameTaken      = &Error{codeUsernameTaken, "A user with that username already exists."}
	errNotLinked          = &Error{codeNotLinked, "No account is linked to this Intra account; log in and link it first."}
	errAlreadyLinked      = &Error{codeAlreadyLinked, "This Intra account or this user is already linked to another."}
	errUnavailable        = &Error{codeUnavailable, "The service is temporarily unavailable; try again shortly."}
	errAbandoned          = &Error{codeUnavailable, "The request was abandoned."}
	errInternal           = &Error{codeInternal, "The server failed to handle the request; it has been logged."}
	errReauthRequired     = &Error{codeReauthRequired, "Log in again to do this."}
	errNoOtherLogin       = &Error{codeNoOtherLogin, "Set a password before unlinking 42: it is this account's only way to log in."}
	errNoSuchSession      = &Error{codeNotFound, "No such session."}

	errInvalidCode        = &Error{codeInvalidCode, "The code is wrong, malformed or used already."}
	errInvalidMFAToken    = &Error{codeInvalidMFAToken, "The mfa_token is missing, invalid, expired or used; log in again."}
	errTOTPAlreadyEnabled = &Error{codeTOTPAlreadyEnabled, "Two-factor authentication is on already; turn it off first."}
	errTOTPNotEnabled     = &Error{codeTOTPNotEnabled, "Two-factor authentication is not set up: set it up first."}
)

// accountErrors are the answers to the account service's errors.
var accountErrors = []struct {
	err    error
	answer *Error
}{
	{account.ErrInvalidCredentials, errInvalidCredentials},
	{account.ErrDisabled, errAccountDisabled},
	{account.ErrUsernameTaken, errUsernameTaken},
	{account.ErrInvalidToken, errInvalidToken},
	{account.ErrInvalidRefreshToken, errInvalidRefresh},
	{account.ErrInvalidAPIToken, errInvalidAPIToken},
	{account.ErrNotLinked, errNotLinked},
	{account.ErrAlreadyLinked, errAlreadyLinked},
	{account.ErrReauthRequired, errReauthRequired},
	{account.ErrNoOtherLogin, errNoOtherLogin},
	{account.ErrNoSuchSession, errNoSuchSession},
	{account.ErrInvalidCode, errInvalidCode},
	{account.ErrInvalidMFAToken, errInvalidMFAToken},
	{account.ErrTOTPAlreadyEnabled, errTOTPAlreadyEnabled},
	{account.ErrTOTPNotEnabled, errTOTPNotEnabled},
}

func invalidRequest(detail string) *Error { return &Error{codeInvalidRequest, detail} }

// throttledError refuses a request over its scope's rate.
type throttledError struct{ retryAfter time.Duration }

func (e throttledError) Error() string { return fmt.Sprintf("throttled for %v", e.retryAfter) }

// panicError is a handler's panic, recovered.
type panicError struct{ value any }

func (p panicError) Error() string { return fmt.Sprintf("panic: %v", p.value) }

// writeError answers with err: an *Error as it is, an error of the
// account service as the contract says, a refusal to throttle as 429 with
// Retry-After. Anything else is logged with the request's id, never
// shown: a failure of a dependency (marked with account.ErrUnavailable
// where it failed) is a 503 with Retry-After, since the same request can
// succeed once it is back; any other error, a recovered panic included,
// is a 500.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := s.answer(w, r, err)
	status, ok := statusOf[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="authd", error="invalid_token", error_description="`+e.Detail+`"`)
	}
	encode(w, status, errorBody{Error: e.Code, Detail: e.Detail})
}

// answer returns what the client is told of err, and sets the headers
// that go with it.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, err error) *Error {
	var (
		e       *Error
		invalid *account.InvalidInputError
		locked  *account.LockedError
		thr     throttledError
	)
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &invalid):
		return invalidRequest(invalid.Message)
	case errors.As(err, &locked):
		return throttled(w, locked.RetryAfter)
	case errors.As(err, &thr):
		return throttled(w, thr.retryAfter)
	}
	for _, a := range accountErrors {
		if errors.Is(err, a.err) {
			return a.answer
		}
	}
	ctx := r.Context()
	switch {
	case ctx.Err() != nil:
		// The client went away; nobody reads the answer.
		s.Logger.InfoContext(ctx, "request abandoned by client", "cause", err.Error())
		return errAbandoned
	case errors.Is(err, account.ErrUnavailable):
		s.Logger.ErrorContext(ctx, "dependency failed", "cause", err.Error())
		w.Header().Set("Retry-After", "5")
		return errUnavailable
	default:
		s.Logger.ErrorContext(ctx, "internal error", "cause", err.Error())
		return errInternal
	}
}

// throttled is the answer to a request refused for retryAfter: 429 with
// Retry-After in whole seconds.
func throttled(w http.ResponseWriter, retryAfter time.Duration) *Error {
	secs := throttle.RetryAfterSeconds(retryAfter)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	return &Error{codeThrottled, fmt.Sprintf("Request was throttled. Expected available in %d seconds.", secs)}
}

type errorBody struct {
	Error  string `json:"error"`
	Detail string `json:"detail"`
}
