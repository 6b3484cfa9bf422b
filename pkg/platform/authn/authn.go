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
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"simplemessenger/platform/cache"

	"github.com/gin-gonic/gin"
	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"

	"simplemessenger/platform/apierr"
	"simplemessenger/platform/metrics"
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

// DefaultJWKSURL is where a local auth service (make up) publishes its keys; every service's AUTH_JWKS_URL
// defaults to it.
const DefaultJWKSURL = "http://127.0.0.1:8081/.well-known/jwks.json"

// Config is where a service that checks access tokens fetches their keys. Services embed it in their own
// Config; bootstrap.Verifier builds the Verifier from it.
type Config struct {
	// JWKSURL publishes the keys of access tokens.
	JWKSURL string `env:"AUTH_JWKS_URL"`
	// JWKSTimeout bounds one fetch of the key set.
	JWKSTimeout time.Duration `env:"AUTH_JWKS_TIMEOUT"`
}

// DefaultConfig fetches the keys of a local auth service.
func DefaultConfig() Config { return Config{JWKSURL: DefaultJWKSURL, JWKSTimeout: 5 * time.Second} }

// Validate refuses a key set address that is not an absolute URL, or a timeout that is not positive.
func (c Config) Validate() error {
	if u, err := url.ParseRequestURI(c.JWKSURL); err != nil || u.Host == "" {
		return fmt.Errorf("AUTH_JWKS_URL: %q is not a URL", c.JWKSURL)
	}
	if c.JWKSTimeout <= 0 {
		return errors.New("AUTH_JWKS_TIMEOUT must be positive")
	}
	return nil
}

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

// ErrMissingToken is returned by Verify for an empty token; it wraps ErrInvalidToken (no token is no valid
// token), so only callers that word their answer differently need to tell it apart.
var ErrMissingToken = fmt.Errorf("%w: no access token", ErrInvalidToken)

// errKeysUnavailable marks a token that could not be checked because its key set could not be fetched:
// the token may well be valid, so it is not ErrInvalidToken (the caller answers 503, not 401).
var errKeysUnavailable = errors.New("key set unavailable")

// Results of a verification (the authn_token_verifications_total label).
const (
	ResultOK          = "ok"
	ResultMissing     = "missing"
	ResultInvalid     = "invalid"
	ResultUnavailable = "unavailable"
)

// Verifier checks access tokens against the auth service's published keys.
type Verifier struct {
	jwksURL string
	client  *http.Client

	results *prometheus.CounterVec // nil: not counted

	// verified remembers tokens that verified, by their SHA-256, for a short time: a client sends the same
	// token with every request, and checking its Ed25519 signature again each time is most of the cost of
	// authenticating. A remembered token's expiry is still checked on every use.
	verified *cache.Cache[[sha256.Size]byte, Claims]
	now      func() time.Time

	mu        sync.RWMutex
	keys      map[string]ed25519.PublicKey
	lastFetch time.Time
	fetchMu   sync.Mutex
}

// Option configures a Verifier.
type Option func(*Verifier) error

// WithMetrics counts every verification in authn_token_verifications_total{result} on reg (a service's
// App.Metrics.Registerer): ok, missing (no token), invalid (forged, expired, foreign...) and unavailable (the
// key set could not be fetched). A burst of invalid tokens is someone probing; unavailable ones mean auth's
// JWKS cannot be reached. Verifiers sharing a registry share the counter.
func WithMetrics(reg prometheus.Registerer) Option {
	return func(v *Verifier) error {
		c, err := metrics.RegisterOrReuse(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authn_token_verifications_total",
			Help: "Access token verifications by result (ok, missing, invalid, unavailable).",
		}, []string{"result"}))
		if err != nil {
			return fmt.Errorf("authn metrics: %w", err)
		}
		for _, r := range []string{ResultOK, ResultMissing, ResultInvalid, ResultUnavailable} {
			c.WithLabelValues(r) // every result is exported from the start, at 0, so rates work at once
		}
		v.results = c
		return nil
	}
}

// NewVerifier verifies with the keys published at jwksURL. It panics on an option that fails (a metric
// registered twice with another shape: a programming error).
func NewVerifier(jwksURL string, client *http.Client, opts ...Option) *Verifier {
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	verified, _ := cache.New[[sha256.Size]byte, Claims](VerifiedTTL, VerifiedSize)
	v := &Verifier{jwksURL: jwksURL, client: client, keys: map[string]ed25519.PublicKey{}, verified: verified, now: time.Now}
	for _, o := range opts {
		if err := o(v); err != nil {
			panic(err)
		}
	}
	return v
}

// Verify parses and checks raw. The returned error wraps ErrInvalidToken (ErrMissingToken for an empty
// raw), unless the key set could not be fetched to check it: then the caller should answer 503.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	claims, err := v.verify(ctx, raw)
	if v.results != nil {
		v.results.WithLabelValues(Result(err)).Inc()
	}
	return claims, err
}

// Result names the outcome of Verify for metrics and logs.
func Result(err error) string {
	switch {
	case err == nil:
		return ResultOK
	case errors.Is(err, ErrMissingToken):
		return ResultMissing
	case errors.Is(err, ErrInvalidToken):
		return ResultInvalid
	}
	return ResultUnavailable
}

// VerifiedTTL and VerifiedSize bound the memory of verified tokens: a key withdrawn from the JWKS stops
// being accepted for tokens already seen at most VerifiedTTL later (tokens themselves live 15 minutes).
const (
	VerifiedTTL  = time.Minute
	VerifiedSize = 50_000
)

// leeway is the clock skew allowed on exp, nbf and iat.
const leeway = 5 * time.Second

func (v *Verifier) verify(ctx context.Context, raw string) (*Claims, error) {
	if raw == "" {
		return nil, ErrMissingToken
	}
	sum := sha256.Sum256([]byte(raw))
	now := v.now()
	if c, ok := v.verified.Get(sum, now); ok {
		if c.ExpiresAt != nil && now.After(c.ExpiresAt.Add(leeway)) {
			v.verified.Invalidate(sum)
			return nil, fmt.Errorf("%w: token is expired", ErrInvalidToken)
		}
		return &c, nil
	}
	epoch := v.verified.Begin()
	claims, err := v.check(ctx, raw)
	if err == nil {
		v.verified.Put(sum, *claims, epoch, now)
	}
	return claims, err
}

// check verifies raw's signature and claims.
func (v *Verifier) check(ctx context.Context, raw string) (*Claims, error) {
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
		jwt.WithLeeway(leeway),
	)
	if errors.Is(err, errKeysUnavailable) {
		return nil, fmt.Errorf("authn: cannot check the token: %w", err)
	}
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
		return nil, fmt.Errorf("%w: %v", errKeysUnavailable, err)
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

// Middleware requires a valid bearer token and puts its claims in the request context; otherwise 401 (503
// when the keys to check it cannot be fetched).
func Middleware(v *Verifier) gin.HandlerFunc {
	return func(c *gin.Context) {
		claims, err := v.Verify(c.Request.Context(), BearerToken(c.Request))
		switch {
		case errors.Is(err, ErrMissingToken):
			apierr.Write(c, apierr.Unauthorized("a bearer access token is required"))
			return
		case errors.Is(err, ErrInvalidToken):
			apierr.Write(c, apierr.Unauthorized("the access token is invalid or expired"))
			return
		case err != nil:
			slog.WarnContext(c.Request.Context(), "cannot verify an access token", "error", err)
			apierr.Respond(c, apierr.Unavailable("cannot verify tokens right now"))
			return
		}
		c.Request = c.Request.WithContext(WithClaims(c.Request.Context(), claims))
		c.Next()
	}
}
