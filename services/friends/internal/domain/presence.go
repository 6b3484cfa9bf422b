package domain

import "time"

// Presence is whether a user is online (at least one socket open on some gateway) and when they were last seen.
type Presence struct {
	UserID string
	Online bool
	// LastSeen is the newest statement of any gateway about the user (zero: never seen).
	LastSeen time.Time
	// Version counts the user's changes of Online: of two things said about a user, the higher version is newer.
	Version uint64
}

// Lease is what one gateway says about a user's sockets there: connected or not, as of its statement Seq (one
// order per gateway; a later statement wins), made at At and holding until Expires.
type Lease struct {
	UserID, GatewayID string
	Seq               uint64
	Connected         bool
	At, Expires       time.Time
}
