// Command messages serves the chats of SimpleMessenger: sending to a friend, history, read markers, the chat
// list, and the unread messages a user gets on entering the messenger.
package main

import (
	"simplemessenger/platform/bootstrap"

	"simplemessenger/services/messages/internal/service"
)

func main() {
	bootstrap.Main(service.Name, service.DefaultConfig(), service.Build)
}
