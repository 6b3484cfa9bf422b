package domain

import (
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// CachedProfile is a 200 answer of the public profile read, kept as the bytes the profiles service sent.
type CachedProfile struct {
	ContentType string
	Body        []byte
	expires     time.Time
}

// ProfileCache keeps public profiles for a short time, keyed by user id. Entries leave when they expire, when
// the LRU needs room, or when the profile changes (Invalidate, on the profiles.user.updated event).
type ProfileCache struct {
	ttl     time.Duration
	entries *lru.Cache[string, CachedProfile]

	// epoch counts invalidations. A read that started before an invalidation may carry the old profile, so
	// its answer is not stored (Put compares the epoch seen at Begin): the cache never brings back a
	// profile that an event already replaced.
	mu    sync.Mutex
	epoch uint64
}

// NewProfileCache keeps up to size profiles for ttl each; ttl or size 0 disables the cache (nil).
func NewProfileCache(ttl time.Duration, size int) (*ProfileCache, error) {
	if ttl <= 0 || size <= 0 {
		return nil, nil
	}
	entries, err := lru.New[string, CachedProfile](size)
	if err != nil {
		return nil, err
	}
	return &ProfileCache{ttl: ttl, entries: entries}, nil
}

// Get returns the fresh cached profile of userID.
func (c *ProfileCache) Get(userID string, now time.Time) (CachedProfile, bool) {
	if c == nil {
		return CachedProfile{}, false
	}
	p, ok := c.entries.Get(userID)
	if !ok {
		return CachedProfile{}, false
	}
	if !now.Before(p.expires) {
		c.entries.Remove(userID)
		return CachedProfile{}, false
	}
	return p, true
}

// Begin is called before fetching a profile; pass its result to Put.
func (c *ProfileCache) Begin() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.epoch
}

// Put stores a fetched profile unless an invalidation happened since Begin returned epoch.
func (c *ProfileCache) Put(userID string, p CachedProfile, epoch uint64, now time.Time) {
	if c == nil {
		return
	}
	p.expires = now.Add(c.ttl)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch != epoch {
		return
	}
	c.entries.Add(userID, p)
}

// Invalidate drops userID's profile.
func (c *ProfileCache) Invalidate(userID string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.epoch++
	c.mu.Unlock()
	c.entries.Remove(userID)
}

// Len is the number of cached profiles.
func (c *ProfileCache) Len() int {
	if c == nil {
		return 0
	}
	return c.entries.Len()
}
