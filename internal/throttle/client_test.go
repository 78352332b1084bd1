package throttle

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mustParseProxies(t *testing.T, s string) Proxies {
	t.Helper()
	p, err := ParseProxies(s)
	if err != nil {
		t.Fatalf("ParseProxies(%q): %v", s, err)
	}
	return p
}

func TestParseProxies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
	}{
		{"", ""},
		{" , ", ""},
		{"10.0.0.0/8", "10.0.0.0/8"},
		{"10.0.0.0/8, 192.168.1.7 ,2001:db8::/32", "10.0.0.0/8,192.168.1.7/32,2001:db8::/32"},
		{"2001:db8::1", "2001:db8::1/128"},
		{"10.1.2.3/8", "10.0.0.0/8"},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8"},
		{"::ffff:10.0.0.1", "10.0.0.1/32"},
		{"0.0.0.0/0,::/0", "0.0.0.0/0,::/0"},
	} {
		got := mustParseProxies(t, tc.in).String()
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ParseProxies(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestParseProxiesRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, bad string }{
		{"10.0.0.0/33", "10.0.0.0/33"},
		{"10.0.0.0/8, proxy.example.com", "proxy.example.com"},
		{"10.0.0.0/8,10.0.0", "10.0.0"},
		{"2001:db8::/129", "2001:db8::/129"},
		{"fe80::1%eth0", "fe80::1%eth0"},
		{"10.0.0.1:80", "10.0.0.1:80"},
		{"10.0.0.0/", "10.0.0.0/"},
		{"*", "*"},
	} {
		_, err := ParseProxies(tc.in)
		if err == nil {
			t.Errorf("ParseProxies(%q): no error", tc.in)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, `"`+tc.bad+`"`) {
			t.Errorf("ParseProxies(%q): error %q does not name %q", tc.in, msg, tc.bad)
		}
	}
}

func TestClientKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		trusted string
		remote  string
		xff     []string
		want    string
	}{
		{"peer only", "", "203.0.113.7:5123", nil, "203.0.113.7"},
		{"no proxies: XFF ignored", "", "203.0.113.7:5123", []string{"198.51.100.1"}, "203.0.113.7"},
		{"untrusted peer: spoofed XFF ignored", "10.0.0.0/8", "203.0.113.7:5123", []string{"198.51.100.1"}, "203.0.113.7"},
		{"trusted proxy without XFF", "10.0.0.0/8", "10.0.0.1:5123", nil, "10.0.0.1"},
		{"trusted proxy, single XFF", "10.0.0.0/8", "10.0.0.1:5123", []string{"198.51.100.1"}, "198.51.100.1"},
		{"spoofed left-most entry", "10.0.0.0/8", "10.0.0.1:5123", []string{"1.1.1.1, 198.51.100.1"}, "198.51.100.1"},
		{"chain of trusted proxies", "10.0.0.0/8, 192.168.0.0/16", "10.0.0.1:5123",
			[]string{"1.1.1.1, 198.51.100.1, 192.168.3.4, 10.2.3.4"}, "198.51.100.1"},
		{"every address trusted: the left-most", "10.0.0.0/8", "10.0.0.1:5123", []string{"10.9.9.9, 10.2.3.4"}, "10.9.9.9"},
		{"several header lines", "10.0.0.0/8", "10.0.0.1:5123",
			[]string{"1.1.1.1, 2.2.2.2", "198.51.100.1, 10.0.0.5", "10.0.0.6"}, "198.51.100.1"},
		{"several header lines, client in the first", "10.0.0.0/8", "10.0.0.1:5123",
			[]string{"1.1.1.1, 2.2.2.2", "10.0.0.5", "10.0.0.6"}, "2.2.2.2"},
		{"spaces and tabs", "10.0.0.0/8", "10.0.0.1:5123", []string{" \t198.51.100.1 ,\t10.0.0.5 "}, "198.51.100.1"},
		{"addresses with ports", "10.0.0.0/8, 2001:db8:ffff::/48", "10.0.0.1:5123",
			[]string{"198.51.100.1:4711, [2001:db8:ffff::1]:443, [2001:db8:ffff::2]"}, "198.51.100.1"},

		{"IPv6 peer by its /64", "", "[2001:db8:1:2:3:4:5:6]:5123", nil, "2001:db8:1:2::/64"},
		{"IPv6 peer with a zone", "", "[fe80::1%eth0]:5123", nil, "fe80::/64"},
		{"IPv6 client by its /64", "10.0.0.0/8", "10.0.0.1:5123", []string{"2001:db8:1:2::ffff"}, "2001:db8:1:2::/64"},
		{"IPv6 proxy, IPv4 client", "2001:db8:ffff::/48", "[2001:db8:ffff::1]:5123", []string{"198.51.100.1"}, "198.51.100.1"},
		{"IPv4-mapped peer", "", "[::ffff:203.0.113.7]:5123", nil, "203.0.113.7"},
		{"IPv4-mapped proxy is trusted", "10.0.0.0/8", "[::ffff:10.0.0.1]:5123", []string{"198.51.100.1"}, "198.51.100.1"},
		{"IPv4-mapped client", "10.0.0.0/8", "10.0.0.1:5123", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"IPv4-mapped trusted hop", "10.0.0.0/8", "10.0.0.1:5123", []string{"198.51.100.1, ::ffff:10.0.0.9"}, "198.51.100.1"},

		{"malformed right-most entry: the proxy", "10.0.0.0/8", "10.0.0.1:5123", []string{"198.51.100.1, garbage"}, "10.0.0.1"},
		{"malformed entry behind a trusted hop", "10.0.0.0/8", "10.0.0.1:5123", []string{"198.51.100.1, unknown, 10.0.0.5"}, "10.0.0.5"},
		{"malformed entry left of the client", "10.0.0.0/8", "10.0.0.1:5123", []string{"<script>, 198.51.100.1"}, "198.51.100.1"},
		{"empty entry", "10.0.0.0/8", "10.0.0.1:5123", []string{"198.51.100.1,,10.0.0.5"}, "10.0.0.5"},
		{"empty header line", "10.0.0.0/8", "10.0.0.1:5123", []string{"198.51.100.1", ""}, "10.0.0.1"},
		{"trailing comma", "10.0.0.0/8", "10.0.0.1:5123", []string{"198.51.100.1,"}, "10.0.0.1"},
		{"bad port", "10.0.0.0/8", "10.0.0.1:5123", []string{"198.51.100.1:99999"}, "10.0.0.1"},
		{"IPv4 in brackets", "10.0.0.0/8", "10.0.0.1:5123", []string{"[198.51.100.1]"}, "10.0.0.1"},
		{"half a bracket", "10.0.0.0/8", "10.0.0.1:5123", []string{"[2001:db8::1"}, "10.0.0.1"},
		{"bracket only", "10.0.0.0/8", "10.0.0.1:5123", []string{"[", "]", "[]"}, "10.0.0.1"},
		{"an RFC 7239 element", "10.0.0.0/8", "10.0.0.1:5123", []string{"for=198.51.100.1"}, "10.0.0.1"},

		{"peer without a port", "", "203.0.113.7", nil, "203.0.113.7"},
		{"unreadable peer", "0.0.0.0/0", "@", []string{"198.51.100.1"}, "@"},
		{"empty peer", "", "", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := mustParseProxies(t, tc.trusted).ClientKey(tc.remote, tc.xff)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ClientKey(%q, %q) with proxies %q (-want +got):\n%s", tc.remote, tc.xff, tc.trusted, diff)
			}
		})
	}
}

func TestClientKeyLongHeader(t *testing.T) {
	t.Parallel()
	p := mustParseProxies(t, "10.0.0.0/8")
	hops := strings.Repeat("10.1.1.1, ", 100_000) + "10.2.2.2"
	if got, want := p.ClientKey("10.0.0.1:1", []string{"198.51.100.1, " + hops}), "198.51.100.1"; got != want {
		t.Errorf("ClientKey = %q, want %q", got, want)
	}
}

func FuzzClientKey(f *testing.F) {
	f.Add("10.0.0.1:1", "198.51.100.1, 10.0.0.5")
	f.Add("[2001:db8::1]:1", "[::ffff:1.2.3.4]:80,,x")
	p, err := ParseProxies("10.0.0.0/8, 2001:db8::/32")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		got := p.ClientKey(remote, strings.Split(xff, "\n"))
		// The key is the peer itself, an address, or a /64.
		if got == remote {
			return
		}
		if _, err := ParseProxies(got); err != nil {
			t.Errorf("ClientKey(%q, %q) = %q, not an address or network", remote, xff, got)
		}
	})
}

// FuzzParseProxies checks that a list ParseProxies reads writes back to
// the same networks.
func FuzzParseProxies(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8, 2001:db8::/32", "192.0.2.7", "::ffff:10.0.0.0/104", "fe80::1%eth0", ", ,", "10.0.0.0/33", "1.2.3.4/0,::/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseProxies(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("ParseProxies(%q): error of more than one line: %q", s, err)
			}
			return
		}
		back, err := ParseProxies(p.String())
		if err != nil || back.String() != p.String() {
			t.Fatalf("ParseProxies(%q) writes as %q, which reads back as %q, %v", s, p.String(), back.String(), err)
		}
	})
}
