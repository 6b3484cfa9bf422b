package domain

import (
	"testing"
	"time"
)

func profile(body string) CachedProfile {
	return CachedProfile{ContentType: "application/json", Body: []byte(body)}
}

func TestACachedProfileIsServedUntilItsTTL(t *testing.T) {
	c, _ := NewProfileCache(30*time.Second, 10)
	c.Put("u1", profile(`{"id":"u1"}`), c.Begin(), t0)

	p, ok := c.Get("u1", t0.Add(29*time.Second))
	if !ok || string(p.Body) != `{"id":"u1"}` || p.ContentType != "application/json" {
		t.Fatalf("got %+v, %v", p, ok)
	}
	if _, ok := c.Get("u1", t0.Add(30*time.Second)); ok {
		t.Fatal("served after its TTL")
	}
	if _, ok := c.Get("u2", t0); ok {
		t.Fatal("served a profile never stored")
	}
}

func TestInvalidateDropsTheProfile(t *testing.T) {
	c, _ := NewProfileCache(time.Minute, 10)
	c.Put("u1", profile(`{}`), c.Begin(), t0)
	c.Put("u2", profile(`{}`), c.Begin(), t0)
	c.Invalidate("u1")
	if _, ok := c.Get("u1", t0); ok {
		t.Fatal("u1 still cached")
	}
	if _, ok := c.Get("u2", t0); !ok {
		t.Fatal("u2 dropped too")
	}
}

func TestAReadThatRacedAnInvalidationIsNotStored(t *testing.T) {
	c, _ := NewProfileCache(time.Minute, 10)
	epoch := c.Begin() // the read starts, then the profile changes before its answer is stored
	c.Invalidate("u1")
	c.Put("u1", profile(`{"display_name":"old"}`), epoch, t0)
	if _, ok := c.Get("u1", t0); ok {
		t.Fatal("a profile older than the invalidation was cached")
	}
}

func TestTheCacheIsBounded(t *testing.T) {
	c, _ := NewProfileCache(time.Minute, 2)
	for _, id := range []string{"a", "b", "c"} {
		c.Put(id, profile(`{}`), c.Begin(), t0)
	}
	if c.Len() != 2 {
		t.Fatalf("holds %d profiles", c.Len())
	}
}

func TestZeroTTLDisablesTheCache(t *testing.T) {
	c, err := NewProfileCache(0, 10)
	if err != nil || c != nil {
		t.Fatalf("got %v, %v", c, err)
	}
	c.Put("u1", profile(`{}`), c.Begin(), t0)
	if _, ok := c.Get("u1", t0); ok {
		t.Fatal("a disabled cache served")
	}
	c.Invalidate("u1")
}
