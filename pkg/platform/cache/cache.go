// Package cache is a bounded, expiring in-process cache for answers another service owns, kept correct by
// events: an entry leaves when it expires, when the LRU needs room, or when an event says it changed
// (Invalidate); a read that started before an invalidation cannot put the old answer back.
//
// It is a per-replica read cache, never the place where state lives: a replica that starts empty or loses
// every entry answers the same, only slower.
package cache

import (
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

type entry[V any] struct {
	value   V
	expires time.Time
}

// Cache keeps up to a fixed number of values for a fixed time each. A nil *Cache is a disabled cache: it
// stores nothing and finds nothing.
type Cache[K comparable, V any] struct {
	ttl     time.Duration
	entries *lru.Cache[K, entry[V]]

	// epoch counts invalidations. A read that started before an invalidation may carry the old value, so its
	// answer is not stored (Put compares the epoch seen at Begin).
	mu    sync.Mutex
	epoch uint64
}

// New keeps up to size values for ttl each; ttl or size 0 disables the cache (nil).
func New[K comparable, V any](ttl time.Duration, size int) (*Cache[K, V], error) {
	if ttl <= 0 || size <= 0 {
		return nil, nil
	}
	entries, err := lru.New[K, entry[V]](size)
	if err != nil {
		return nil, err
	}
	return &Cache[K, V]{ttl: ttl, entries: entries}, nil
}

// Get returns the fresh value of key.
func (c *Cache[K, V]) Get(key K, now time.Time) (V, bool) {
	var zero V
	if c == nil {
		return zero, false
	}
	e, ok := c.entries.Get(key)
	if !ok {
		return zero, false
	}
	if !now.Before(e.expires) {
		c.entries.Remove(key)
		return zero, false
	}
	return e.value, true
}

// Begin is called before fetching a value from its owner; pass its result to Put.
func (c *Cache[K, V]) Begin() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.epoch
}

// Put stores a fetched value unless an invalidation happened since Begin returned epoch.
func (c *Cache[K, V]) Put(key K, value V, epoch uint64, now time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch != epoch {
		return
	}
	c.entries.Add(key, entry[V]{value: value, expires: now.Add(c.ttl)})
}

// Invalidate drops key's value.
func (c *Cache[K, V]) Invalidate(key K) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.epoch++
	c.entries.Remove(key)
	c.mu.Unlock()
}

// Purge drops every value (after a gap in the invalidating events, e.g. a broker reconnection).
func (c *Cache[K, V]) Purge() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.epoch++
	c.entries.Purge()
	c.mu.Unlock()
}

// Len is the number of values held (expired ones included until they are looked up or evicted).
func (c *Cache[K, V]) Len() int {
	if c == nil {
		return 0
	}
	return c.entries.Len()
}
