package domain

import (
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// The fuzz targets below check the gateway's parsers on arbitrary input: nothing panics, and what they return
// satisfies the documented rule. `make fuzz` runs each for a short time; the seeds run in go test.

func FuzzClientAddress(f *testing.F) {
	f.Add("203.0.113.9:5555", "", "10.0.0.0/8")
	f.Add("10.0.0.2:1234", "198.51.100.1, 203.0.113.7", "10.0.0.0/8")
	f.Add("10.0.0.2:1234", "1.2.3.4, 10.0.0.3", "10.0.0.0/8")
	f.Add("10.0.0.2:1234", "garbage, 10.0.0.3", "10.0.0.0/8,192.0.2.7")
	f.Add("[::ffff:10.0.0.2]:80", "::ffff:1.2.3.4", "10.0.0.0/8")
	f.Add("[2001:db8::1]:443", "2001:db8::2,,", "2001:db8::/32")
	f.Add("not an address", "1.2.3.4", "0.0.0.0/0")
	f.Add("127.0.0.1", "fe80::1%eth0", "127.0.0.1")
	f.Fuzz(func(t *testing.T, remote, xff, trustedList string) {
		trusted, err := ParseTrustedProxies(strings.Split(trustedList, ","))
		if err != nil {
			return
		}
		headers := strings.Split(xff, "\n")
		got := ClientAddress(remote, headers, trusted)
		peer, ok := parseHost(remote)
		if !ok {
			if got != remote {
				t.Fatalf("unparsable peer %q gave %q", remote, got)
			}
			return
		}
		a, err := netip.ParseAddr(got)
		if err != nil || a.Unmap() != a {
			t.Fatalf("ClientAddress(%q, %q) = %q, not an unmapped address", remote, xff, got)
		}
		if !trusted.Contains(peer) {
			if a != peer {
				t.Fatalf("untrusted peer %v, but the client is %v", peer, a)
			}
			return
		}
		// The answer is the peer or a hop; every hop right of the chosen one is a trusted proxy, and the
		// chosen one is untrusted unless every readable hop is trusted.
		hops := splitHops(headers)
		chosen := -1
		for i := len(hops) - 1; i >= 0; i-- {
			h, err := netip.ParseAddr(hops[i])
			if err != nil {
				break
			}
			if h.Unmap() == a {
				chosen = i
				if !trusted.Contains(a) {
					break
				}
			}
			if !trusted.Contains(h) {
				break
			}
		}
		if chosen < 0 && a != peer {
			t.Fatalf("ClientAddress(%q, %q) = %v: neither the peer nor a believed hop", remote, xff, a)
		}
	})
}

func FuzzParseTrustedProxies(f *testing.F) {
	for _, s := range []string{"", "10.0.0.0/8", "192.0.2.7", "::ffff:192.0.2.7", "2001:db8::/32", "10.0.0.1/8", "10.0.0.0/33", "fe80::1%eth0", "x", " 10.0.0.0/8 , ,127.0.0.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		ps, err := ParseTrustedProxies(strings.Split(list, ","))
		if err != nil {
			return
		}
		for _, p := range ps {
			if !p.IsValid() || p != p.Masked() || !ps.Contains(p.Addr()) {
				t.Fatalf("%q gave prefix %v", list, p)
			}
		}
	})
}

func FuzzOriginPolicy(f *testing.F) {
	f.Add("*.example.com", "https://app.example.com", "gw.example.com")
	f.Add("https://*.example.com", "http://app.example.com", "gw")
	f.Add("localhost:*", "http://localhost:5173", "gw:8080")
	f.Add("", "null", "gw")
	f.Add("", "", "gw")
	f.Add("[", "https://GW:8080", "gw:8080")
	f.Add("*", "javascript://evil.com", "gw")
	f.Add("*", "https://evil.com@gw", "gw")
	f.Fuzz(func(t *testing.T, pattern, origin, host string) {
		if none, _ := NewOriginPolicy(nil); origin != "" && none.Allows(origin, host) {
			u, err := url.Parse(origin)
			if err != nil || !strings.EqualFold(u.Host, host) || (u.Scheme != "http" && u.Scheme != "https") {
				t.Fatalf("no patterns, yet origin %q may connect to host %q", origin, host)
			}
		}
		p, err := NewOriginPolicy([]string{pattern})
		if err != nil || !p.Allows(origin, host) || origin == "" {
			return
		}
		u, err := url.Parse(origin)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			t.Fatalf("allowed origin %q (pattern %q)", origin, pattern)
		}
		if origin == "null" {
			t.Fatal("allowed the null origin")
		}
	})
}
