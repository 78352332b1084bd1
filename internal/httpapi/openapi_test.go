package httpapi

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"authd/internal/apidoc"
	"authd/internal/apidoc/apidoctest"
	"authd/internal/config"
)

// apiDoc is the OpenAPI document's validator, loaded once for all tests.
var apiDoc = sync.OnceValues(apidoctest.New)

func mustAPIDoc(t testing.TB) *apidoctest.Validator {
	t.Helper()
	v, err := apiDoc()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// checkAgainstAPIDoc fails the test unless the exchange is one the
// OpenAPI document describes. Every request the tests send through
// testEnv.do passes here: this is how the document is kept true to the
// handlers' answers, the refusals of bad input included.
func checkAgainstAPIDoc(t testing.TB, req *http.Request, reqBody string, status int, header http.Header, body []byte) {
	t.Helper()
	err := mustAPIDoc(t).Check(apidoctest.Exchange{
		Request: req, RequestBody: []byte(reqBody), Status: status, Header: header, Body: body,
	})
	if err != nil {
		t.Errorf("openapi.yaml: %v", err)
	}
}

// patternRecorder keeps the patterns routes registers.
type patternRecorder struct{ patterns []string }

func (p *patternRecorder) Handle(pattern string, _ http.Handler) {
	p.patterns = append(p.patterns, pattern)
}

// TestAPIDocHasEveryRoute checks that the document's operations are
// exactly the routes of routes.go (every optional one switched on): a
// pattern with a method is an operation, but HEAD, which only ever
// answers 405 where it is registered; patterns without one answer 405 or
// 404.
func TestAPIDocHasEveryRoute(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, func(c *config.Config) { c.Registration = true })
	rec := &patternRecorder{}
	if err := e.handler.(*Server).routes(rec); err != nil {
		t.Fatal(err)
	}
	var routes []string
	for _, p := range rec.patterns {
		method, path, ok := strings.Cut(p, " ")
		if !ok || method == http.MethodHead {
			continue
		}
		routes = append(routes, method+" "+strings.TrimSuffix(path, "{$}"))
	}
	slices.Sort(routes)
	if diff := cmp.Diff(routes, mustAPIDoc(t).Operations()); diff != "" {
		t.Errorf("operations of openapi.yaml (-routes.go +openapi.yaml):\n%s", diff)
	}
}

func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	for _, rq := range []request{{method: "GET", path: "/openapi.yaml"}, {method: "HEAD", path: "/openapi.yaml"}} {
		req := httptest.NewRequest(rq.method, rq.path, nil)
		w := httptest.NewRecorder()
		e.handler.ServeHTTP(w, req)
		res := w.Result()
		checkAgainstAPIDoc(t, req, "", res.StatusCode, res.Header, w.Body.Bytes())
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/yaml" {
			t.Errorf("%s /openapi.yaml = %d %q", rq.method, res.StatusCode, res.Header.Get("Content-Type"))
		}
		if rq.method == "GET" && w.Body.String() != string(apidoc.YAML) {
			t.Errorf("GET /openapi.yaml is not the document")
		}
	}
	if r := e.do(t, request{method: "POST", path: "/openapi.yaml"}); r.status != 405 {
		t.Errorf("POST /openapi.yaml = %d, want 405", r.status)
	}
}
