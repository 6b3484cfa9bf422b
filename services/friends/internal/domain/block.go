package domain

import (
	"errors"
	"time"

	"simplemessenger/platform/rules"
)

// Block is one user blocking another: the blocked user can no longer befriend the blocker (nor, since a block
// ends their friendship, message them). Each direction is a block of its own.
type Block struct {
	BlockerID, BlockedID string
	Since                time.Time
}

// Refusals about blocks.
var (
	ErrCannotBlockSelf error = rules.New("cannot_block_self", "you cannot block yourself")
	// ErrYouBlocked: a request to someone the caller blocks; unblock first.
	ErrYouBlocked = errors.New("you blocked this user")
)
