package httpapi

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is an error a client may see: a stable snake_case code and one
// sentence a person can read. Anything that is not an *Error is an
// unexpected fault: it is logged with its cause and the client gets a
// generic internal_error.
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
)

func invalidRequest(detail string) *Error { return &Error{codeInvalidRequest, detail} }

// panicError is a handler's panic, recovered.
type panicError struct{ value any }

func (p panicError) Error() string { return fmt.Sprintf("panic: %v", p.value) }

// writeError answers with err. An *Error is written as it is. Anything
// else is logged with the request's id, never shown: a recovered panic is
// a 500 internal_error; any other failure is one of a dependency (the
// database, the shared limiter) and a 503 unavailable with Retry-After,
// since the same request can succeed once it is back.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		var p panicError
		switch {
		case r.Context().Err() != nil:
			// The client went away; nobody reads the answer.
			s.logger(r).Info("request abandoned by client", "cause", err.Error())
			e = &Error{codeUnavailable, "The request was abandoned."}
		case errors.As(err, &p):
			s.logger(r).Error("internal error", "cause", err.Error())
			e = &Error{codeInternal, "The server failed to handle the request; it has been logged."}
		default:
			s.logger(r).Error("dependency failed", "cause", err.Error())
			w.Header().Set("Retry-After", "5")
			e = &Error{codeUnavailable, "The service is temporarily unavailable; try again shortly."}
		}
	}
	status, ok := statusOf[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="authd", error="invalid_token", error_description="`+e.Detail+`"`)
	}
	encode(w, status, errorBody{Error: e.Code, Detail: e.Detail})
}

type errorBody struct {
	Error  string `json:"error"`
	Detail string `json:"detail"`
}
