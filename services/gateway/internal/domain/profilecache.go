package domain

import (
	"time"

	"simplemessenger/platform/cache"
)

// CachedProfile is a 200 answer of the public profile read, kept as the bytes the profiles service sent.
type CachedProfile struct {
	ContentType string
	Body        []byte
}

// ProfileCache keeps public profiles for a short time, keyed by user id. Entries leave when they expire, when
// the LRU needs room, or when the profile changes (Invalidate, on the profiles.user.updated event).
type ProfileCache = cache.Cache[string, CachedProfile]

// NewProfileCache keeps up to size profiles for ttl each; ttl or size 0 disables the cache (nil).
func NewProfileCache(ttl time.Duration, size int) (*ProfileCache, error) {
	return cache.New[string, CachedProfile](ttl, size)
}
