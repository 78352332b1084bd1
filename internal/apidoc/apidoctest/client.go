package apidoctest

import (
	"io"
	"net/http"
	"sync"
	"testing"

	"authd/internal/authdtest"
)

// shared is the validator of every client's checks, loaded once.
var shared = sync.OnceValues(New)

// CheckClient is an option of authdtest's client that checks every
// exchange it has with authd at host (as its base URL names it) against
// the document, failing t for each that breaks it.
func CheckClient(t testing.TB, host string) authdtest.ClientOption {
	t.Helper()
	v, err := shared()
	if err != nil {
		t.Fatal(err)
	}
	return authdtest.Observe(func(req *http.Request, r authdtest.Response) {
		if req.URL.Host != host {
			return
		}
		var body []byte
		if req.GetBody != nil {
			if rc, err := req.GetBody(); err == nil {
				body, _ = io.ReadAll(rc)
				rc.Close()
			}
		}
		ex := Exchange{Request: req, RequestBody: body, Status: r.Status, Header: r.Header, Body: r.Body}
		if err := v.Check(ex); err != nil {
			t.Errorf("openapi.yaml: %v", err)
		}
	})
}
