package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// healthcheck asks the authd serving on AUTHD_ADDR's port of this machine
// whether it is ready (GET /readyz), for a container's HEALTHCHECK: it
// returns nil on 200, an error otherwise, within --timeout.
func healthcheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("authd healthcheck", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	cfg, err := loadConfig(fs, args, getenv, stderr)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{Msg: fmt.Sprintf("healthcheck takes no arguments, got %q", fs.Arg(0))}
	}
	if *timeout <= 0 {
		return usageError{Msg: "healthcheck: --timeout must be positive"}
	}
	addr, err := loopback(cfg.Addr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	client := &http.Client{
		// Never a proxy of the environment: the server is on this machine.
		Transport:     &http.Transport{Proxy: nil, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: GET /readyz = %d %s", resp.StatusCode, body)
	}
	fmt.Fprintf(stdout, "ready: %s\n", bytes.TrimSpace(body))
	return nil
}

// loopback is where the server listening on AUTHD_ADDR's address answers
// from this machine: its host when it names one, else the loopback
// address of its family.
func loopback(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("AUTHD_ADDR: %w", err)
	}
	if port == "0" {
		return "", fmt.Errorf("AUTHD_ADDR: port 0 names no server to check")
	}
	switch a, err := netip.ParseAddr(host); {
	case host == "" || (err == nil && a.Is4() && a.IsUnspecified()):
		host = "127.0.0.1"
	case err == nil && a.IsUnspecified():
		host = "::1"
	}
	return net.JoinHostPort(host, port), nil
}
