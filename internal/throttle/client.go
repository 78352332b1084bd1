package throttle

import (
	"fmt"
	"net/netip"
	"strings"
)

// Proxies is the set of trusted proxy networks: the peers whose
// X-Forwarded-For header is believed. The zero value trusts no one.
type Proxies struct {
	nets []netip.Prefix
}

// ParseProxies reads a comma-separated list of networks in CIDR notation
// ("10.0.0.0/8, 2001:db8::/32"). A bare address stands for itself alone
// (/32 or /128). Empty entries are ignored, so the empty string is the
// empty set. An IPv4-mapped IPv6 network is read as the IPv4 network.
func ParseProxies(s string) (Proxies, error) {
	var p Proxies
	for field := range strings.SplitSeq(s, ",") {
		field = strings.TrimSpace(field)
		if field == "" {
			continue
		}
		var pfx netip.Prefix
		if strings.Contains(field, "/") {
			var err error
			if pfx, err = netip.ParsePrefix(field); err != nil {
				return Proxies{}, fmt.Errorf("invalid trusted proxy %q, want a CIDR such as 10.0.0.0/8 or an IP address", field)
			}
		} else {
			a, err := netip.ParseAddr(field)
			if err != nil || a.Zone() != "" {
				return Proxies{}, fmt.Errorf("invalid trusted proxy %q, want a CIDR such as 10.0.0.0/8 or an IP address", field)
			}
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
		if a := pfx.Addr(); a.Is4In6() && pfx.Bits() >= 96 {
			pfx = netip.PrefixFrom(a.Unmap(), pfx.Bits()-96)
		}
		p.nets = append(p.nets, pfx.Masked())
	}
	return p, nil
}

// String lists the networks as ParseProxies reads them.
func (p Proxies) String() string {
	s := make([]string, len(p.nets))
	for i, n := range p.nets {
		s[i] = n.String()
	}
	return strings.Join(s, ",")
}

// trusts reports whether a (unmapped, without zone) is a trusted proxy.
func (p Proxies) trusts(a netip.Addr) bool {
	for _, n := range p.nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// ClientKey returns who a request is counted against, given its TCP peer
// address (http.Request.RemoteAddr, "ip:port") and its X-Forwarded-For
// header lines.
//
// The client is the peer, unless the peer is a trusted proxy. Only then is
// X-Forwarded-For read, from the right (the lines in order, each a
// comma-separated list): the client is the right-most address that is not
// itself a trusted proxy, or the left-most address when all are trusted.
// An entry that is not an address (optionally with a port, IPv6 in
// brackets) ends the walk: the client is then the last address read, the
// nearest proxy that vouched for it.
//
// An IPv4 client is its address ("203.0.113.7"), and so is an IPv4-mapped
// IPv6 one; an IPv6 client is its /64 network ("2001:db8:1:2::/64"), since
// one subscriber commonly holds a whole /64. A peer address that cannot be
// read (a Unix socket, say) is returned as it is.
func (p Proxies) ClientKey(remoteAddr string, xff []string) string {
	peer, ok := parsePeer(remoteAddr)
	if !ok {
		return remoteAddr
	}
	if !p.trusts(peer) {
		return clientKey(peer)
	}
	client := peer
	for i := len(xff) - 1; i >= 0; i-- {
		line := xff[i]
		for {
			hop := line
			j := strings.LastIndexByte(line, ',')
			if j >= 0 {
				hop, line = line[j+1:], line[:j]
			}
			a, ok := parseHop(hop)
			if !ok {
				return clientKey(client)
			}
			client = a
			if !p.trusts(a) {
				return clientKey(client)
			}
			if j < 0 {
				break
			}
		}
	}
	return clientKey(client)
}

// parsePeer reads a peer address, "ip:port" or a bare IP.
func parsePeer(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return normalize(ap.Addr()), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return normalize(a), true
	}
	return netip.Addr{}, false
}

// parseHop reads one X-Forwarded-For entry: an IP address, "ipv4:port",
// "[ipv6]" or "[ipv6]:port", with optional surrounding spaces.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.Trim(s, " \t")
	if a, err := netip.ParseAddr(s); err == nil {
		return normalize(a), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return normalize(ap.Addr()), true
	}
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && a.Is6() {
			return normalize(a), true
		}
	}
	return netip.Addr{}, false
}

// normalize drops an IPv6 zone and unmaps an IPv4-mapped address.
func normalize(a netip.Addr) netip.Addr {
	return a.WithZone("").Unmap()
}

// clientKey is the identity of a normalized client address.
func clientKey(a netip.Addr) string {
	if a.Is4() {
		return a.String()
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}
