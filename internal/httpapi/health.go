package httpapi

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"
)

// handleHealth answers while the process serves.
func (s *Server) handleHealth() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		encode(w, http.StatusOK, map[string]string{"status": "ok"})
		return nil
	})
}

// handleReady answers 200 when every backing store answers within two
// seconds, else 503 naming (only) the ones that did not.
func (s *Server) handleReady() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		var failed []string
		for name, check := range s.Ready {
			if err := check(ctx); err != nil {
				s.Logger.WarnContext(ctx, "readiness check failed", "check", name, "cause", err.Error())
				failed = append(failed, name)
			}
		}
		if len(failed) > 0 {
			slices.Sort(failed)
			return &Error{codeNotReady, "Not ready: " + strings.Join(failed, ", ") + " did not answer."}
		}
		body := map[string]string{"status": "ok"}
		if s.Status != nil {
			for k, v := range s.Status() {
				body[k] = v
			}
		}
		encode(w, http.StatusOK, body)
		return nil
	})
}
