// Command friends serves friend requests and friendships of SimpleMessenger.
package main

import (
	"simplemessenger/platform/bootstrap"

	"simplemessenger/services/friends/internal/service"
)

func main() {
	bootstrap.Main(service.Name, service.DefaultConfig(), service.Build)
}
