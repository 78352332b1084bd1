package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"authd/internal/account"
	"authd/internal/requestid"
	"authd/internal/throttle"
)

// TestWriteErrorAnswers: every kind of error a handler returns gets its
// one answer, and what is not the client's to see stays in the log.
func TestWriteErrorAnswers(t *testing.T) {
	t.Parallel()
	const cause = "secret cause 7f3a"
	for _, tc := range []struct {
		name       string
		err        error
		status     int
		code       string
		retryAfter string
		logged     bool // the cause is logged with the request id
	}{
		{"client error", &Error{codeInvalidState, "x"}, 403, codeInvalidState, "", false},
		{"invalid input", fmt.Errorf("register: %w", &account.InvalidInputError{Message: "The username is bad."}), 400, codeInvalidRequest, "", false},
		{"locked", &account.LockedError{RetryAfter: 2500 * time.Millisecond}, 429, codeThrottled, "3", false},
		{"throttled", throttledError{time.Millisecond}, 429, codeThrottled, "1", false},
		{"account sentinel", fmt.Errorf("login: %w", account.ErrInvalidCredentials), 400, codeInvalidCredentials, "", false},
		{"access token", account.ErrInvalidToken, 401, codeInvalidToken, "", false},
		{"dependency", fmt.Errorf("load user: %w: %w", account.ErrUnavailable, errors.New(cause)), 503, codeUnavailable, "5", true},
		{"unknown", errors.New(cause), 500, codeInternal, "", true},
		{"panic", panicError{cause}, 500, codeInternal, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			s := &Server{Deps: Deps{Logger: slog.New(requestid.Handler(slog.NewJSONHandler(&logs, nil)))}}
			rec := httptest.NewRecorder()
			r := httptest.NewRequest("GET", "/", nil)
			r = r.WithContext(requestid.NewContext(r.Context(), "req-42"))
			s.writeError(rec, r, tc.err)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), `"error":"`+tc.code+`"`) {
				t.Errorf("answer = %d %s, want %d %s", rec.Code, rec.Body, tc.status, tc.code)
			}
			if got := rec.Header().Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tc.retryAfter)
			}
			if strings.Contains(rec.Body.String(), cause) {
				t.Errorf("the answer shows the cause: %s", rec.Body)
			}
			log := logs.String()
			if got := strings.Contains(log, cause) && strings.Contains(log, `"request_id":"req-42"`); got != tc.logged {
				t.Errorf("cause logged with the request id = %v, want %v; log: %s", got, tc.logged, log)
			}
		})
	}
}

// TestAbandonedRequestIsNotAFault: an error after the client went away is
// logged at info level, not as a failure.
func TestAbandonedRequestIsNotAFault(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	s := &Server{Deps: Deps{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := httptest.NewRecorder()
	s.writeError(rec, httptest.NewRequest("GET", "/", nil).WithContext(ctx), context.Canceled)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(logs.String(), `"level":"INFO"`) {
		t.Errorf("abandoned request = %d, log %s; want 503 logged at info", rec.Code, logs.String())
	}
}

// TestNewServerRefusesWhatItCannotServe: start-up problems are errors of
// NewServer, not panics.
func TestNewServerRefusesWhatItCannotServe(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	good := e.handler.(*Server).Deps
	for name, edit := range map[string]func(*Deps){
		"no accounts":        func(d *Deps) { d.Accounts = nil },
		"scope without rate": func(d *Deps) { d.Config.Rates = map[string]throttle.Rate{} },
		"bad origin":         func(d *Deps) { d.Config.CORSOrigins = []string{"not an origin"} },
	} {
		d := good
		d.Config.Rates = maps.Clone(good.Config.Rates)
		edit(&d)
		if _, err := NewServer(d); err == nil {
			t.Errorf("%s: NewServer succeeded, want an error", name)
		}
	}
	if _, err := NewServer(good); err != nil {
		t.Errorf("NewServer of a working configuration: %v", err)
	}
}
