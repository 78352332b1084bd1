// Package apidoctest checks HTTP exchanges with authd against its OpenAPI
// document (package apidoc), for tests: the unit tests of httpapi and the
// whole-program tests record what they send and receive, and every
// exchange must be one the document describes.
//
// The validation is github.com/getkin/kin-openapi's (openapi3filter), which
// reads OpenAPI 3.1 and validates with JSON Schema 2020-12. It is a
// dependency of the tests alone: authd serves the document as it is.
package apidoctest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"authd/internal/apidoc"
)

// Validator checks exchanges against the document. It is safe for
// concurrent use.
type Validator struct {
	doc    *openapi3.T
	router routers.Router
}

// New loads and validates the document.
func New() (*Validator, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(apidoc.YAML)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi.yaml is not a valid OpenAPI document: %w", err)
	}
	if !doc.IsOpenAPI31OrLater() || doc.IsOpenAPI32OrLater() {
		return nil, fmt.Errorf("openapi.yaml is OpenAPI %s, want 3.1", doc.OpenAPI)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	return &Validator{doc: doc, router: router}, nil
}

// Operations lists the document's operations, "METHOD /path", sorted.
func (v *Validator) Operations() []string {
	var ops []string
	for path, item := range v.doc.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, method+" "+path)
		}
	}
	slices.Sort(ops)
	return ops
}

// Exchange is one request and the answer it got.
type Exchange struct {
	Request     *http.Request // its body is RequestBody, read or not
	RequestBody []byte
	Status      int
	Header      http.Header
	Body        []byte
}

// Check returns why the exchange is not one the document describes, or
// nil. The answer must be documented for its operation: its status, its
// required headers, its body's schema. A request the document calls
// invalid (a body missing a field, say) may be sent, as tests of bad
// input do, but must then have been refused with a 4xx. Not checked: CORS
// preflights, which are the CORS machinery's, not an operation's; and a
// path or method the document lacks, when it was answered 404 or 405
// with the contract's JSON error. A HEAD is checked as its GET, without a
// body.
func (v *Validator) Check(ex Exchange) error {
	req := ex.Request
	if req.Method == http.MethodOptions && req.Header.Get("Access-Control-Request-Method") != "" {
		return nil
	}
	what := req.Method + " " + req.URL.Path
	asGET := req.Method == http.MethodHead
	probe := req.Clone(context.Background())
	probe.Body = io.NopCloser(bytes.NewReader(ex.RequestBody))
	probe.ContentLength = int64(len(ex.RequestBody))
	if asGET {
		probe.Method = http.MethodGet
	}
	route, params, err := v.router.FindRoute(probe)
	if err != nil {
		switch ex.Status {
		case http.StatusNotFound, http.StatusMethodNotAllowed:
			return v.checkError(what, ex)
		case http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
			// A path without its trailing slash is sent to the one with.
			return v.checkRedirect(what, ex)
		}
		return fmt.Errorf("%s = %d: not an operation of openapi.yaml (%v)", what, ex.Status, err)
	}
	body := foldKeys(route.Operation, ex.RequestBody)
	probe.Body = io.NopCloser(bytes.NewReader(body))
	probe.ContentLength = int64(len(body))
	if asGET && ex.Status == http.StatusMethodNotAllowed {
		// GET endpoints that change something answer HEAD with 405.
		return v.checkError(what, ex)
	}
	opts := &openapi3filter.Options{
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		IncludeResponseStatus: true,
		ExcludeResponseBody:   asGET,
		MultiError:            true,
	}
	in := &openapi3filter.RequestValidationInput{Request: probe, PathParams: params, Route: route, Options: opts}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil && ex.Status < 400 {
		return fmt.Errorf("%s = %d: the request breaks openapi.yaml, yet it succeeded: %v", what, ex.Status, err)
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 ex.Status,
		Header:                 ex.Header,
		Body:                   io.NopCloser(bytes.NewReader(ex.Body)),
		Options:                opts,
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return fmt.Errorf("%s = %d %s: the answer breaks openapi.yaml: %v", what, ex.Status, brief(ex.Body), err)
	}
	return nil
}

// checkRedirect checks that a redirect leads to an operation of the
// same method.
func (v *Validator) checkRedirect(what string, ex Exchange) error {
	loc, err := ex.Request.URL.Parse(ex.Header.Get("Location"))
	if err != nil {
		return fmt.Errorf("%s = %d: Location %q: %v", what, ex.Status, ex.Header.Get("Location"), err)
	}
	to := ex.Request.Clone(context.Background())
	to.URL = loc
	to.Body = http.NoBody
	if _, _, err := v.router.FindRoute(to); err != nil {
		return fmt.Errorf("%s = %d: redirected to %s, not an operation of openapi.yaml", what, ex.Status, loc.Path)
	}
	return nil
}

// foldKeys renames the keys of a JSON object body that name a property
// of the operation's request body without regard to case to that
// property's name: the service reads keys so (Go's encoding/json), and the
// document says so.
func foldKeys(op *openapi3.Operation, body []byte) []byte {
	if op == nil || op.RequestBody == nil || op.RequestBody.Value == nil {
		return body
	}
	mt := op.RequestBody.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
		return body
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil {
		return body
	}
	folded := make(map[string]json.RawMessage, len(obj))
	for k, val := range obj {
		name := k
		for p := range mt.Schema.Value.Properties {
			if strings.EqualFold(k, p) {
				name = p
				break
			}
		}
		folded[name] = val
	}
	out, err := json.Marshal(folded)
	if err != nil {
		return body
	}
	return out
}

// checkError checks that an answer to no operation is the contract's
// JSON error.
func (v *Validator) checkError(what string, ex Exchange) error {
	if ex.Request.Method == http.MethodHead {
		return nil
	}
	if ct := ex.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("%s = %d: Content-Type %q, want the JSON error", what, ex.Status, ct)
	}
	schema := v.doc.Components.Schemas["Error"]
	if schema == nil || schema.Value == nil {
		return errors.New("openapi.yaml has no Error schema")
	}
	var body any
	if err := json.Unmarshal(ex.Body, &body); err != nil {
		return fmt.Errorf("%s = %d: body %s is not JSON: %v", what, ex.Status, brief(ex.Body), err)
	}
	if err := schema.Value.VisitJSON(body, openapi3.EnableJSONSchema2020()); err != nil {
		return fmt.Errorf("%s = %d: body %s is not the JSON error: %v", what, ex.Status, brief(ex.Body), err)
	}
	return nil
}

// brief is a body cut for a message.
func brief(b []byte) string {
	if len(b) > 200 {
		return fmt.Sprintf("%q...", b[:200])
	}
	return fmt.Sprintf("%q", b)
}
