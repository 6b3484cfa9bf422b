package domain

// CachedProfile is a 200 answer of the public profile read, kept as the bytes the profiles service sent.
// Profiles are kept for a short time, keyed by user id, and leave when they expire, when the cache needs room,
// or when the profile changes (events.UserUpdated).
type CachedProfile struct {
	ContentType string
	Body        []byte
}
