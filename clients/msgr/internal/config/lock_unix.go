//go:build unix

package config

import (
	"os"
	"path/filepath"
	"syscall"
)

// Lock takes the store's exclusive lock (waiting for it), so that two msgr processes never spend the same
// refresh token: the server would take the second use for a stolen token and revoke the session.
func (s *Store) Lock() (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(s.Dir, lockFile), os.O_CREATE|os.O_RDWR, FileMode)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
