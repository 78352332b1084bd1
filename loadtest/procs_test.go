package main

import (
	"bytes"
	"testing"
)

func TestStatusField(t *testing.T) {
	t.Parallel()
	status := []byte("Name:\tauthd\nVmPeak:\t  812345 kB\nVmHWM:\t   45678 kB\nVmRSS:\t   40000 kB\n")
	got, err := statusField(status, "VmHWM")
	if err != nil || got != 45678*1024 {
		t.Errorf("statusField(VmHWM) = %d, %v; want %d", got, err, 45678*1024)
	}
	if _, err := statusField(status, "VmSwap"); err == nil {
		t.Error("statusField(VmSwap) found a missing field")
	}
	if _, err := statusField([]byte("VmHWM:\t12 MB\n"), "VmHWM"); err == nil {
		t.Error("statusField accepted a unit other than kB")
	}
}

func TestListeningAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line, want string
		ok         bool
	}{
		{`{"time":"2026-01-01T00:00:00Z","level":"INFO","msg":"listening","addr":"127.0.0.1:40123","version":"devel"}`, "127.0.0.1:40123", true},
		{`{"level":"INFO","msg":"migrated"}`, "", false},
		{`{"msg":"listening"}`, "", false},
		{`authd: AUTHD_ADDR: bad`, "", false},
	}
	for _, tt := range tests {
		got, ok := listeningAddr(tt.line)
		if got != tt.want || ok != tt.ok {
			t.Errorf("listeningAddr(%s) = %q, %v; want %q, %v", tt.line, got, ok, tt.want, tt.ok)
		}
	}
}

func TestLineWatcher(t *testing.T) {
	t.Parallel()
	var log bytes.Buffer
	found := make(chan string, 1)
	w := &lineWatcher{w: &log, match: listeningAddr, found: found}
	out := `{"msg":"starting"}` + "\n" + `{"msg":"listen` + "|" + `ing","addr":"127.0.0.1:1"}` + "\n" + `{"msg":"listening","addr":"127.0.0.1:2"}` + "\n"
	for _, part := range bytes.Split([]byte(out), []byte("|")) {
		if _, err := w.Write(part); err != nil {
			t.Fatal(err)
		}
	}
	if got := <-found; got != "127.0.0.1:1" {
		t.Errorf("found %q, want the first listening line's address", got)
	}
	if got := log.String(); got != string(bytes.ReplaceAll([]byte(out), []byte("|"), nil)) {
		t.Errorf("log = %q, want all output", got)
	}
}
