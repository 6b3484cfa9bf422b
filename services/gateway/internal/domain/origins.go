package domain

import (
	"fmt"
	"net/url"
	"path"
	"strings"
)

// WebSocketPath is the push connection's route. The gateway serves it itself, so it is not in Routes (which
// lists the calls forwarded to a service).
const WebSocketPath = "/api/v1/ws"

// OriginPolicy decides which web pages may open the push connection. Browsers send the page's Origin with a
// WebSocket handshake and, unlike with fetch, no CORS check stops a foreign page from opening one with the
// user's cookies or a token it got hold of; so a request with an Origin must come from the gateway's own host
// or match one of the configured patterns. Requests without an Origin come from non-browser clients, which
// cannot be tricked into connecting, and are allowed.
type OriginPolicy struct {
	patterns []string
}

// NewOriginPolicy accepts, besides the request's own host, origins matching patterns: shell patterns
// (path.Match, case-insensitive) over the origin's host[:port] ("app.example.com", "*.example.com",
// "localhost:*") or, when the pattern has a scheme, over the whole origin ("https://*.example.com").
func NewOriginPolicy(patterns []string) (OriginPolicy, error) {
	var out []string
	for _, p := range patterns {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == "" {
			continue
		}
		if _, err := path.Match(p, ""); err != nil {
			return OriginPolicy{}, fmt.Errorf("origin pattern %q: %w", p, err)
		}
		out = append(out, p)
	}
	return OriginPolicy{patterns: out}, nil
}

// Allows reports whether a request to host (its Host header) with the given Origin header may upgrade.
func (p OriginPolicy) Allows(origin, host string) bool {
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		// "null" (sandboxed pages, file://) and anything unparsable.
		return false
	}
	originHost := strings.ToLower(u.Host)
	if originHost == strings.ToLower(host) {
		return true
	}
	full := strings.ToLower(u.Scheme) + "://" + originHost
	for _, pat := range p.patterns {
		subject := originHost
		if strings.Contains(pat, "://") {
			subject = full
		}
		if ok, _ := path.Match(pat, subject); ok {
			return true
		}
	}
	return false
}
