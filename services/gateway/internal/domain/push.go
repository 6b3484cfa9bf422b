package domain

// Entry replies: each socket gets exactly one of each when it opens (contract). They are addressed to the
// socket's connection id, and a redelivery or a second reply to the same gateway.user.entered (the services'
// consumers are at-least-once) must not show the client a second one.
const (
	FrameMessagesUnread = "messages.unread"
	FrameFriendsPending = "friends.pending"
)

// OncePerConnection reports whether at most one frame of this type may reach a socket.
func OncePerConnection(frameType string) bool {
	return frameType == FrameMessagesUnread || frameType == FrameFriendsPending
}
