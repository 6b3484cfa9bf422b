// Package authn verifies the access tokens the auth service issues, in every service (zero trust: a request
// is not trusted because it came from inside the cluster).
//
// Access tokens are JWTs signed with Ed25519 ("EdDSA", the only algorithm accepted: no "none", no HMAC, so
// algorithm-confusion attacks have nothing to work with), typ "at+jwt", with a kid naming the key. Keys come
// from the auth service's JWKS endpoint, cached; an unknown kid triggers a refetch (at most once per
// MinRefreshInterval), so a rotated key is picked up without a restart.
package authn

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"simplemessenger/platform/apierr"
)

const (
	// Issuer and Audience are checked on every token.
	Issuer   = "simplemessenger-auth"
	Audience = "simplemessenger"
	// TokenType is the JOSE typ header of access tokens (RFC 9068).
	TokenType = "at+jwt"
	// Algorithm is the one signing algorithm accepted.
	Algorithm = "EdDSA"
)

// MinRefreshInterval limits JWKS refetches caused by unknown key ids.
var MinRefreshInterval = 5 * time.Second

// Claims are an access token's claims; Subject is the user id.
type Claims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
}

// UserID is the token's subject.
func (c *Claims) UserID() string { return c.Subject }

// ErrInvalidToken is returned for every token that does not verify (the reason is wrapped for logs).
var ErrInvalidToken = errors.New("invalid access token")

// Verifier checks access tokens against the auth service's published keys.
type Verifier struct {
	jwksURL string
	client  *http.Client

	mu        sync.RWMutex
	keys      map[string]ed25519.PublicKey
	lastFetch time.Time
	fetchMu   sync.Mutex
}

// NewVerifier verifies with the keys published at jwksURL.
func NewVerifier(jwksURL string, client *http.Client) *Verifier {
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	return &Verifier{jwksURL: jwksURL, client: client, keys: map[string]ed25519.PublicKey{}}
}

// Verify parses and checks raw; the returned error wraps ErrInvalidToken (or is a fetch failure).
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	claims := &Claims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ != TokenType {
			return nil, fmt.Errorf("token type %q", typ)
		}
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("no kid")
		}
		return v.key(ctx, kid)
	},
		jwt.WithValidMethods([]string{Algorithm}),
		jwt.WithIssuer(Issuer),
		jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(5*time.Second),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if claims.Subject == "" || claims.SessionID == "" {
		return nil, fmt.Errorf("%w: missing sub or sid", ErrInvalidToken)
	}
	return claims, nil
}

func (v *Verifier) key(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	v.mu.RLock()
	k, ok := v.keys[kid]
	v.mu.RUnlock()
	if ok {
		return k, nil
	}
	if err := v.refresh(ctx); err != nil {
		return nil, err
	}
	v.mu.RLock()
	k, ok = v.keys[kid]
	v.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("unknown key id %q", kid)
	}
	return k, nil
}

// refresh refetches the key set unless that was done within MinRefreshInterval.
func (v *Verifier) refresh(ctx context.Context) error {
	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()
	v.mu.RLock()
	recent := time.Since(v.lastFetch) < MinRefreshInterval
	v.mu.RUnlock()
	if recent || v.jwksURL == "" {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.jwksURL, nil)
	if err != nil {
		return err
	}
	res, err := v.client.Do(req)
	if err != nil {
		return fmt.Errorf("fetch JWKS: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch JWKS: status %d", res.StatusCode)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(res.Body).Decode(&set); err != nil {
		return fmt.Errorf("decode JWKS: %w", err)
	}
	v.mu.Lock()
	v.lastFetch = time.Now()
	v.mu.Unlock()
	v.AddKeys(set)
	return nil
}

// AddKeys adds the Ed25519 signing keys of set (others are ignored).
func (v *Verifier) AddKeys(set jose.JSONWebKeySet) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, k := range set.Keys {
		if pub, ok := k.Key.(ed25519.PublicKey); ok && k.KeyID != "" && (k.Use == "" || k.Use == "sig") {
			v.keys[k.KeyID] = pub
		}
	}
}

// BearerToken returns the token of an "Authorization: Bearer" header, or "".
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

type claimsKey struct{}

// WithClaims returns ctx carrying the verified claims.
func WithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// FromContext returns the verified claims of the request, or nil.
func FromContext(ctx context.Context) *Claims {
	c, _ := ctx.Value(claimsKey{}).(*Claims)
	return c
}

// Middleware requires a valid bearer token and puts its claims in the request context; otherwise 401.
func Middleware(v *Verifier) gin.HandlerFunc {
	return func(c *gin.Context) {
		raw := BearerToken(c.Request)
		if raw == "" {
			apierr.Write(c, apierr.Unauthorized("a bearer access token is required"))
			return
		}
		claims, err := v.Verify(c.Request.Context(), raw)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				apierr.Respond(c, apierr.Unavailable("cannot verify tokens right now"))
				return
			}
			apierr.Write(c, apierr.Unauthorized("the access token is invalid or expired"))
			return
		}
		c.Request = c.Request.WithContext(WithClaims(c.Request.Context(), claims))
		c.Next()
	}
}
