package domain

import "testing"

func TestClientAddress(t *testing.T) {
	trusted, err := ParseTrustedProxies([]string{"10.0.0.0/8", "192.0.2.7", " "})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted TrustedProxies
		want    string
	}{
		{"the peer when no proxy is trusted", "203.0.113.5:4242", nil, nil, "203.0.113.5"},
		{"a client's X-Forwarded-For is ignored without trusted proxies", "203.0.113.5:4242", []string{"198.51.100.1"}, nil, "203.0.113.5"},
		{"an untrusted peer's X-Forwarded-For is ignored", "203.0.113.5:4242", []string{"198.51.100.1"}, trusted, "203.0.113.5"},
		{"the hop a trusted proxy saw", "10.1.2.3:80", []string{"198.51.100.1"}, trusted, "198.51.100.1"},
		{"the first untrusted hop from the right, not what the client wrote", "10.1.2.3:80",
			[]string{"6.6.6.6, 198.51.100.1", "10.9.9.9"}, trusted, "198.51.100.1"},
		{"a bare trusted address", "192.0.2.7:80", []string{"198.51.100.2"}, trusted, "198.51.100.2"},
		{"the leftmost hop when every hop is trusted", "10.1.2.3:80", []string{"10.0.0.9, 10.0.0.8"}, trusted, "10.0.0.9"},
		{"the trusted peer when there is no header", "10.1.2.3:80", nil, trusted, "10.1.2.3"},
		{"the last readable hop before garbage", "10.1.2.3:80", []string{"garbage, 10.0.0.4"}, trusted, "10.0.0.4"},
		{"IPv6 peers", "[2001:db8::1]:443", nil, trusted, "2001:db8::1"},
		{"IPv4-mapped IPv6 is the IPv4 address", "[::ffff:203.0.113.5]:443", nil, nil, "203.0.113.5"},
		{"IPv4-mapped trusted peer", "[::ffff:10.1.2.3]:80", []string{"198.51.100.3"}, trusted, "198.51.100.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ClientAddress(tt.remote, tt.xff, tt.trusted); got != tt.want {
				t.Fatalf("ClientAddress(%q, %q) = %q, want %q", tt.remote, tt.xff, got, tt.want)
			}
		})
	}
}

func TestParseTrustedProxiesRejectsMalformedEntries(t *testing.T) {
	for _, bad := range []string{"10.0.0.0/33", "not-an-ip", "10.0.0/8"} {
		if _, err := ParseTrustedProxies([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
