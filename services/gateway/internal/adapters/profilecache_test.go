package domain

import (
	"testing"
	"time"
)

// The cache itself is tested in the platform (pkg/platform/cache); here only how the gateway sets it up.
func TestProfileCacheConfiguration(t *testing.T) {
	if c, err := NewProfileCache(0, 10); c != nil || err != nil {
		t.Fatalf("a zero TTL must disable the cache: %v %v", c, err)
	}
	c, err := NewProfileCache(30*time.Second, 10)
	if err != nil || c == nil {
		t.Fatal(err)
	}
	c.Put("u1", CachedProfile{ContentType: "application/json", Body: []byte(`{"id":"u1"}`)}, c.Begin(), t0)
	if p, ok := c.Get("u1", t0.Add(29*time.Second)); !ok || string(p.Body) != `{"id":"u1"}` || p.ContentType != "application/json" {
		t.Fatalf("got %+v, %v", p, ok)
	}
}
