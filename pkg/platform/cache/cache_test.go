package cache_test

import (
	"testing"
	"time"

	"simplemessenger/platform/cache"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestAValueIsServedUntilItsTTL(t *testing.T) {
	c, _ := cache.New[string, int](30*time.Second, 10)
	c.Put("a", 1, c.Begin(), t0)
	if v, ok := c.Get("a", t0.Add(29*time.Second)); !ok || v != 1 {
		t.Fatalf("got %v %v", v, ok)
	}
	if _, ok := c.Get("a", t0.Add(30*time.Second)); ok {
		t.Fatal("served after its TTL")
	}
	if _, ok := c.Get("b", t0); ok {
		t.Fatal("served a value never stored")
	}
}

func TestInvalidateAndPurge(t *testing.T) {
	c, _ := cache.New[string, int](time.Minute, 10)
	c.Put("a", 1, c.Begin(), t0)
	c.Put("b", 2, c.Begin(), t0)
	c.Invalidate("a")
	if _, ok := c.Get("a", t0); ok {
		t.Fatal("a still cached")
	}
	if _, ok := c.Get("b", t0); !ok {
		t.Fatal("b dropped too")
	}
	c.Purge()
	if _, ok := c.Get("b", t0); ok || c.Len() != 0 {
		t.Fatal("purge left values")
	}
}

func TestAReadThatRacedAnInvalidationIsNotStored(t *testing.T) {
	for name, invalidate := range map[string]func(*cache.Cache[string, int]){
		"invalidate": func(c *cache.Cache[string, int]) { c.Invalidate("a") },
		"purge":      func(c *cache.Cache[string, int]) { c.Purge() },
	} {
		c, _ := cache.New[string, int](time.Minute, 10)
		epoch := c.Begin() // the read starts, then the value changes before its answer is stored
		invalidate(c)
		c.Put("a", 1, epoch, t0)
		if _, ok := c.Get("a", t0); ok {
			t.Fatalf("%s: a value older than the invalidation was cached", name)
		}
	}
}

func TestTheLeastRecentlyUsedLeavesFirst(t *testing.T) {
	c, _ := cache.New[int, int](time.Minute, 2)
	c.Put(1, 1, c.Begin(), t0)
	c.Put(2, 2, c.Begin(), t0)
	c.Get(1, t0)
	c.Put(3, 3, c.Begin(), t0)
	if _, ok := c.Get(2, t0); ok {
		t.Fatal("2 was the least recently used and should have left")
	}
	if _, ok := c.Get(1, t0); !ok {
		t.Fatal("1 was used last and left")
	}
}

func TestDisabled(t *testing.T) {
	for _, c := range []*cache.Cache[string, int]{mustNew(0, 10), mustNew(time.Minute, 0)} {
		if c != nil {
			t.Fatal("a zero TTL or size must disable the cache")
		}
		c.Put("a", 1, c.Begin(), t0)
		c.Invalidate("a")
		c.Purge()
		if _, ok := c.Get("a", t0); ok || c.Len() != 0 {
			t.Fatal("a disabled cache found a value")
		}
	}
}

func mustNew(ttl time.Duration, size int) *cache.Cache[string, int] {
	c, err := cache.New[string, int](ttl, size)
	if err != nil {
		panic(err)
	}
	return c
}
