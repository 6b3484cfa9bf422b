// Command auth is the SimpleMessenger auth service: login, access and refresh tokens, sessions, JWKS.
package main

import (
	"simplemessenger/platform/bootstrap"

	"simplemessenger/services/auth/internal/service"
)

func main() { bootstrap.Main(service.Name, service.DefaultConfig(), service.Build) }
