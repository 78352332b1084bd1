package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"authd/internal/authdtest"
)

// TestSlowClientsAreCutOff holds a request's headers, and another's body,
// half sent: the server gives up on each at its timeout (5 s for the
// headers, 15 s for the whole request), answering the stalled body with
// the contract's 400, and serves other clients meanwhile.
func TestSlowClientsAreCutOff(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the server's read timeouts")
	}
	t.Parallel()
	s := mustRun(t, map[string]string{"AUTHD_DB": filepath.Join(t.TempDir(), "authd.db")})
	addr := s.Addr
	dial := func(partial string) (net.Conn, time.Time) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := io.WriteString(c, partial); err != nil {
			t.Fatal(err)
		}
		return c, time.Now()
	}
	headers, headersSent := dial("POST /auth/login/ HTTP/1.1\r\nHost: authd\r\nContent-Type: applic")
	body, bodySent := dial("POST /auth/login/ HTTP/1.1\r\nHost: authd\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"username\":")

	// Others are served meanwhile.
	c := authdtest.NewClient(t, s.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if r := c.Do(c.NewRequest("GET", "/healthz", "", nil).WithContext(ctx)); r.Status != 200 {
		t.Fatalf("healthz while two clients stall = %d", r.Status)
	}

	// The stalled headers: the connection is closed, with no answer, once
	// the header timeout has passed.
	headers.SetReadDeadline(time.Now().Add(readHeaderTimeout + 5*time.Second))
	n, err := headers.Read(make([]byte, 1))
	if waited := time.Since(headersSent); n != 0 || err == nil || isTimeout(err) || waited < readHeaderTimeout-time.Second {
		t.Errorf("stalled headers: read %d bytes, %v after %v; want the connection closed after about %v", n, err, waited, readHeaderTimeout)
	}

	// The stalled body: 400 invalid_request at the request timeout.
	body.SetReadDeadline(time.Now().Add(readTimeout + 10*time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(body), nil)
	if err != nil {
		t.Fatalf("stalled body: no answer: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if waited := time.Since(bodySent); resp.StatusCode != 400 || !strings.Contains(string(raw), `"invalid_request"`) || waited < readTimeout-time.Second {
		t.Errorf("stalled body: %d %s after %v; want 400 invalid_request after about %v", resp.StatusCode, raw, waited, readTimeout)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
