package domain

import "testing"

func TestOnlyTheGatewaysOwnHostAndAllowedPatternsMayOpenTheSocketFromABrowser(t *testing.T) {
	p, err := NewOriginPolicy([]string{"app.example.com", " *.example.org ", "https://*.secure.example", "localhost:*", ""})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		origin, host string
		want         bool
	}{
		{"", "gw.example.net", true}, // not a browser
		{"https://gw.example.net", "gw.example.net", true},
		{"http://GW.example.net:8080", "gw.example.net:8080", true},
		{"https://gw.example.net:8443", "gw.example.net", false}, // another port is another origin
		{"https://evil.example", "gw.example.net", false},
		{"https://app.example.com", "gw.example.net", true},
		{"https://APP.example.com", "gw.example.net", true},
		{"https://x.app.example.com", "gw.example.net", false},
		{"https://a.example.org", "gw.example.net", true},
		{"https://example.org", "gw.example.net", false},
		{"https://a.secure.example", "gw.example.net", true},
		{"http://a.secure.example", "gw.example.net", false}, // the pattern names the scheme
		{"http://localhost:3000", "gw.example.net", true},
		{"null", "gw.example.net", false},
		{"file://", "gw.example.net", false},
		{"::", "gw.example.net", false},
	} {
		if got := p.Allows(c.origin, c.host); got != c.want {
			t.Errorf("Allows(%q, %q) = %v, want %v", c.origin, c.host, got, c.want)
		}
	}
	none, _ := NewOriginPolicy(nil)
	if none.Allows("https://app.example.com", "gw.example.net") || !none.Allows("https://gw.example.net", "gw.example.net") {
		t.Fatal("without patterns only the own host is allowed")
	}
	if _, err := NewOriginPolicy([]string{"[a-"}); err == nil {
		t.Fatal("malformed pattern accepted")
	}
}
