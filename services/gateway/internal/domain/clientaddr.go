package domain

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// TrustedProxies are the networks of the load balancers in front of the gateway, whose X-Forwarded-For
// entries are believed.
type TrustedProxies []netip.Prefix

// ParseTrustedProxies reads CIDRs or bare addresses ("10.0.0.0/8", "192.0.2.7").
func ParseTrustedProxies(list []string) (TrustedProxies, error) {
	var out TrustedProxies
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: %w", s, err)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: %w", s, err)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Contains reports whether a is one of the trusted proxies.
func (t TrustedProxies) Contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientAddress is the address of the client a request came from: the TCP peer (remoteAddr, "host:port"), or,
// when the peer is a trusted proxy, the first hop of X-Forwarded-For (read right to left, the way the proxies
// appended them) that is not a trusted proxy. Entries left of it were written by the client and are not
// believed, so a client cannot choose its own rate-limit key.
func ClientAddress(remoteAddr string, forwardedFor []string, trusted TrustedProxies) string {
	peer, ok := parseHost(remoteAddr)
	if !ok {
		return remoteAddr
	}
	if !trusted.Contains(peer) {
		return peer.String()
	}
	hops := splitHops(forwardedFor)
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			// A trusted proxy wrote something that is no address: stop at the last hop we could read.
			break
		}
		client = a.Unmap()
		if !trusted.Contains(client) {
			break
		}
	}
	return client.String()
}

func parseHost(remoteAddr string) (netip.Addr, bool) {
	host := remoteAddr
	if h, _, err := net.SplitHostPort(remoteAddr); err == nil {
		host = h
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func splitHops(headers []string) []string {
	var hops []string
	for _, h := range headers {
		for _, part := range strings.Split(h, ",") {
			if part = strings.TrimSpace(part); part != "" {
				hops = append(hops, part)
			}
		}
	}
	return hops
}
