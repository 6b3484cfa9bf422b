// Command gateway is SimpleMessenger's only public entry.
package main

import (
	"simplemessenger/platform/bootstrap"

	"simplemessenger/services/gateway/internal/service"
)

func main() { bootstrap.Main(service.Name, service.DefaultConfig(), service.Build) }
