// Package config keeps the user's sessions (one per server) in the user's config directory, and hands out
// access tokens, refreshing them with the refresh token when they are about to expire.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// File and directory modes: the tokens are credentials, readable by the user only.
const (
	DirMode  fs.FileMode = 0o700
	FileMode fs.FileMode = 0o600
)

const (
	credentialsFile = "credentials.json"
	lockFile        = ".lock"
)

// Session is a login on one server.
type Session struct {
	Server       string    `json:"server"`
	UserID       string    `json:"user_id"`
	Nickname     string    `json:"nickname"`
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token"`
	ExpiresAt    time.Time `json:"expires_at"`    // when the access token expires
	RefreshAfter time.Time `json:"refresh_after"` // when to refresh it, ahead of ExpiresAt
}

// SetTokens records a new token pair issued at now and valid for expiresIn. The token is refreshed when 30 s
// (or, for short lifetimes, a quarter of it) are left, so a request never races the expiry.
func (s *Session) SetTokens(access, refresh string, expiresIn time.Duration, now time.Time) {
	s.AccessToken, s.RefreshToken = access, refresh
	s.ExpiresAt = now.Add(expiresIn)
	s.RefreshAfter = now.Add(max(expiresIn-30*time.Second, expiresIn*3/4))
}

// Expiring reports whether the access token should be refreshed before use.
func (s *Session) Expiring(now time.Time) bool { return !now.Before(s.RefreshAfter) }

type credentials struct {
	Sessions map[string]Session `json:"sessions"` // by server URL
}

// Store is the config directory.
type Store struct {
	Dir string
}

// DefaultDir is os.UserConfigDir()/simplemessenger.
func DefaultDir() (string, error) {
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no config directory: %w (use --config-dir)", err)
	}
	return filepath.Join(base, "simplemessenger"), nil
}

// Open uses dir (DefaultDir when empty), creating it with mode 0700 and narrowing an existing one to it.
func Open(dir string) (*Store, error) {
	if dir == "" {
		d, err := DefaultDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, DirMode); err != nil {
		return nil, err
	}
	return &Store{Dir: dir}, nil
}

// Path is the credentials file.
func (s *Store) Path() string { return filepath.Join(s.Dir, credentialsFile) }

func (s *Store) read() (credentials, error) {
	c := credentials{Sessions: map[string]Session{}}
	b, err := os.ReadFile(s.Path())
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s is damaged (%v); remove it and log in again", s.Path(), err)
	}
	if c.Sessions == nil {
		c.Sessions = map[string]Session{}
	}
	return c, nil
}

// write replaces the file atomically (a reader never sees half a file) with mode 0600.
func (s *Store) write(c credentials) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(s.Dir, credentialsFile+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after a successful rename there is nothing left to remove
	if err := f.Chmod(FileMode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), s.Path())
}

// Session is the stored session of server, if any.
func (s *Store) Session(server string) (Session, bool, error) {
	c, err := s.read()
	if err != nil {
		return Session{}, false, err
	}
	sess, ok := c.Sessions[server]
	return sess, ok, nil
}

// Save stores sess as the session of sess.Server.
func (s *Store) Save(sess Session) error {
	return s.update(func(c *credentials) { c.Sessions[sess.Server] = sess })
}

// Delete forgets the session of server.
func (s *Store) Delete(server string) error {
	return s.update(func(c *credentials) { delete(c.Sessions, server) })
}

func (s *Store) update(fn func(*credentials)) error {
	unlock, err := s.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	return s.updateLocked(fn)
}

func (s *Store) updateLocked(fn func(*credentials)) error {
	c, err := s.read()
	if err != nil {
		return err
	}
	fn(&c)
	return s.write(c)
}
