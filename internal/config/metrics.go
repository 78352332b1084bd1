package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// parseMetricsAddr reads the metrics listener's address: empty (no
// listener) or host:port with a port from 0 to 65535 and, when given, a
// host that is an IP address or a name.
func parseMetricsAddr(dst *string, v string) error {
	if v == "" {
		*dst = ""
		return nil
	}
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("%q is not host:port, for example 127.0.0.1:9090 or :9090", v)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q has no port from 0 to 65535", v)
	}
	if host != "" && !validHost(host) {
		return fmt.Errorf("%q has no valid host", v)
	}
	*dst = v
	return nil
}

// validHost reports whether h is an IP address or a DNS name.
func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if len(h) > 253 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// checkMetricsAddr refuses a metrics listener that would be the public
// one: the same port on the same host, or on a host either of which is
// every interface. Port 0 (a free port, chosen when listening) never
// clashes.
func checkMetricsAddr(addr, metrics string) error {
	if metrics == "" {
		return nil
	}
	h1, p1, err1 := net.SplitHostPort(addr)
	h2, p2, err2 := net.SplitHostPort(metrics)
	if err1 != nil || err2 != nil || p1 != p2 || p1 == "0" {
		return nil
	}
	if h1 == h2 || anyHost(h1) || anyHost(h2) {
		return errors.New("AUTHD_METRICS_ADDR: " + metrics + " is the public listener's address (AUTHD_ADDR); /metrics needs a listener of its own")
	}
	return nil
}

// anyHost reports whether a listen host means every interface.
func anyHost(h string) bool {
	if h == "" {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsUnspecified()
}
