package httpapi

import (
	"net/http"

	"authd/internal/apidoc"
)

// patternMux is where routes registers its patterns: the server's
// http.ServeMux, or a test's recorder of them.
type patternMux interface {
	Handle(pattern string, handler http.Handler)
}

// handleOpenAPI serves the OpenAPI document of this API.
func (s *Server) handleOpenAPI() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "application/yaml")
		w.WriteHeader(http.StatusOK)
		// A failed write is a client gone: nobody to answer.
		_, _ = w.Write(apidoc.YAML)
		return nil
	})
}
