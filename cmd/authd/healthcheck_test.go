package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestHealthcheck(t *testing.T) {
	t.Parallel()
	s := mustRun(t, map[string]string{"AUTHD_DB": filepath.Join(t.TempDir(), "authd.db")})
	_, port, _ := net.SplitHostPort(s.Addr)

	unready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"not_ready"}`, http.StatusServiceUnavailable)
	}))
	defer unready.Close()
	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hanging.Close()
	defer close(release)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	for _, tc := range []struct {
		name string
		args []string
		ok   bool
	}{
		{"authd ready", []string{"--addr", s.Addr}, true},
		{"authd on every interface", []string{"--addr", ":" + port}, true},
		{"an unready server", []string{"--addr", strings.TrimPrefix(unready.URL, "http://")}, false},
		{"nothing listening", []string{"--addr", closedAddr}, false},
		{"a server that never answers", []string{"--addr", strings.TrimPrefix(hanging.URL, "http://"), "--timeout", "300ms"}, false},
		{"port 0", []string{"--addr", "127.0.0.1:0"}, false},
	} {
		start := time.Now()
		err := run(context.Background(), append([]string{"healthcheck"}, tc.args...), func(string) string { return "" }, nil, io.Discard, io.Discard)
		if tc.ok != (err == nil) {
			t.Errorf("%s: healthcheck = %v, want ok %v", tc.name, err, tc.ok)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%s: healthcheck took %s", tc.name, took)
		}
	}
}
