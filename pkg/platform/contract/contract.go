// Package contract holds the rules of the public contract that more than one service enforces, so that each
// is written once: the form of a user id, and the largest avatar.
package contract

import "github.com/google/uuid"

// AvatarMaxBytes is the largest avatar upload (every other request body: the platform's 64 KiB). The gateway
// refuses a larger body before forwarding it; profiles refuses it again, behind any gateway.
const AvatarMaxBytes = 1 << 20

// ValidUserID reports whether id can be a user's id: a UUID in its canonical lower-case form, the only form
// ids are issued in. Anything else names no user, so it is not worth a query or a call to another service,
// and accepting other spellings of an id would make two keys for one user.
func ValidUserID(id string) bool {
	u, err := uuid.Parse(id)
	return err == nil && u.String() == id
}
