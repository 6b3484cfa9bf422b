package adapters_test

import (
	"testing"
	"time"

	"simplemessenger/services/gateway/internal/adapters"
	"simplemessenger/services/gateway/internal/domain"
)

// The cache itself is tested in the platform (pkg/platform/cache); here only how the gateway sets it up.
func TestProfileCacheConfiguration(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if c, err := adapters.NewProfileCache(0, 10); c != nil || err != nil {
		t.Fatalf("a zero TTL must disable the cache: %v %v", c, err)
	}
	c, err := adapters.NewProfileCache(30*time.Second, 10)
	if err != nil || c == nil {
		t.Fatal(err)
	}
	c.Put("u1", domain.CachedProfile{ContentType: "application/json", Body: []byte(`{"id":"u1"}`)}, c.Begin(), t0)
	if p, ok := c.Get("u1", t0.Add(29*time.Second)); !ok || string(p.Body) != `{"id":"u1"}` || p.ContentType != "application/json" {
		t.Fatalf("got %+v, %v", p, ok)
	}
}
