//go:build !unix

package config

// Lock is a no-op where flock is missing: concurrent refreshes of one session are then the user's concern.
func (s *Store) Lock() (unlock func(), err error) { return func() {}, nil }
