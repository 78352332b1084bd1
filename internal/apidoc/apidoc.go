// Package apidoc holds the OpenAPI 3.1 document of authd's HTTP API,
// embedded in the binary and served at GET /openapi.yaml. Tests keep it
// true: every route of httpapi is in it and nothing else, and every
// exchange the tests record validates against it (see apidoctest).
package apidoc

import _ "embed"

// YAML is the document.
//
//go:embed openapi.yaml
var YAML []byte
