package adapters

import (
	"time"

	"simplemessenger/platform/cache"

	"simplemessenger/services/gateway/internal/domain"
)

// NewProfileCache keeps up to size public profiles for ttl each, in the platform's LRU cache; ttl or size 0
// disables the cache (nil).
func NewProfileCache(ttl time.Duration, size int) (*cache.Cache[string, domain.CachedProfile], error) {
	return cache.New[string, domain.CachedProfile](ttl, size)
}
