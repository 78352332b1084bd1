package account

import (
	"context"
	"log/slog"

	"authd/internal/clientip"
)

// Audit events. Every security event of an account is one log record,
// written by Service.audit alone, whose "event" attribute is one of these
// names, with the user (user_id, or username for a login of a name no
// user has), the session acted on (session_id: the new one for a login,
// the revoked one for a revocation), the client's address (client_ip,
// when the call came from a request) and the request's id (request_id,
// see package requestid). A record never carries a secret: no password,
// code, token or cookie.
//
// Some names belong to features that emit them as they are built.
const (
	EventLoginSucceeded           = "login_succeeded"
	EventLoginFailed              = "login_failed"
	EventLockout                  = "lockout"
	EventMFAFailed                = "mfa_failed"
	EventLogout                   = "logout"
	EventSessionRevoked           = "session_revoked"
	EventPasswordChanged          = "password_changed"
	EventTOTPEnabled              = "totp_enabled"
	EventTOTPDisabled             = "totp_disabled"
	EventRecoveryCodeUsed         = "recovery_code_used"
	EventRecoveryCodesRegenerated = "recovery_codes_regenerated"
	EventIntraLinked              = "intra_linked"
	EventIntraUnlinked            = "intra_unlinked"
	EventUserProvisioned          = "user_provisioned"
	EventRefreshReuseDetected     = "refresh_reuse_detected"
)

// Events lists every audit event name.
var Events = []string{
	EventLoginSucceeded, EventLoginFailed, EventLockout, EventMFAFailed,
	EventLogout, EventSessionRevoked, EventPasswordChanged,
	EventTOTPEnabled, EventTOTPDisabled, EventRecoveryCodeUsed, EventRecoveryCodesRegenerated,
	EventIntraLinked, EventIntraUnlinked, EventUserProvisioned, EventRefreshReuseDetected,
}

// How a login was made: the Method of its events, and of the session it
// began (a second factor completes a password or Intra login).
const (
	MethodPassword = "password"
	MethodIntra    = "intra"
	MethodMFA      = "mfa"
)

// Why a login failed or a session was revoked: the Reason of an event.
// A bounded set, so that metrics may count by it.
const (
	ReasonInvalidCredentials = "invalid_credentials"
	ReasonLocked             = "locked"
	ReasonDisabled           = "disabled"
	ReasonNotLinked          = "not_linked"
	ReasonInvalidAPIToken    = "invalid_api_token"
	ReasonLogout             = "logout"
	ReasonLogoutOthers       = "logout_others"
	ReasonLogoutGlobal       = "logout_global"
	ReasonEndedByUser        = "ended_by_user"
	ReasonPasswordChanged    = "password_changed"
	ReasonRefreshReused      = "refresh_reused"
	ReasonUserDisabled       = "user_disabled"
)

// Event is one security event, as audit records it and as
// Options.OnEvent receives it.
type Event struct {
	Name      string // one of the Event* names
	UserID    int64  // 0 when no user is known
	Username  string // only for a login of a name no user is known by
	SessionID string // the session acted on, if any
	Method    string // of a login: MethodPassword, MethodIntra or MethodMFA
	Reason    string // why a login failed or a session was revoked
	IntraID   int64  // the Intra account concerned, if any
	// Revoked counts the sessions an event revoked at once (other
	// sessions, all sessions), when it names none of them.
	Revoked int64
}

// audit writes the one record of event e, and passes e on to
// Options.OnEvent. Every event goes through here.
func (s *Service) audit(ctx context.Context, e Event) {
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs, slog.String("event", e.Name))
	switch {
	case e.UserID != 0:
		attrs = append(attrs, slog.Int64("user_id", e.UserID))
	case e.Username != "":
		attrs = append(attrs, slog.String("username", e.Username))
	}
	if e.SessionID != "" {
		attrs = append(attrs, slog.String("session_id", e.SessionID))
	}
	if e.Method != "" {
		attrs = append(attrs, slog.String("method", e.Method))
	}
	if e.Reason != "" {
		attrs = append(attrs, slog.String("reason", e.Reason))
	}
	if e.IntraID != 0 {
		attrs = append(attrs, slog.Int64("intra_id", e.IntraID))
	}
	if e.Revoked != 0 {
		attrs = append(attrs, slog.Int64("sessions_revoked", e.Revoked))
	}
	if ip, ok := clientip.FromContext(ctx); ok {
		attrs = append(attrs, slog.String("client_ip", ip))
	}
	level := slog.LevelInfo
	switch e.Name {
	case EventLoginFailed, EventLockout, EventMFAFailed, EventRefreshReuseDetected:
		level = slog.LevelWarn
	}
	s.log.LogAttrs(ctx, level, "audit", attrs...)
	if s.opts.OnEvent != nil {
		s.opts.OnEvent(e)
	}
}

// loginFailed audits a refused password login of username, naming the
// user by id when one of that name is known (userID != 0).
func (s *Service) loginFailed(ctx context.Context, userID int64, username, reason string) {
	e := Event{Name: EventLoginFailed, UserID: userID, Method: MethodPassword, Reason: reason}
	if userID == 0 {
		e.Username = username
	}
	s.audit(ctx, e)
}
