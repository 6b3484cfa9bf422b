// Command auth is the SimpleMessenger auth service: login, access and refresh tokens, sessions, JWKS.
package main

import (
	"context"
	"fmt"
	"os"

	"simplemessenger/platform/config"

	"simplemessenger/services/auth/internal/service"
)

func main() {
	cfg := service.DefaultConfig()
	config.MustLoad(&cfg)
	if err := service.Run(context.Background(), cfg); err != nil {
		fmt.Fprintln(os.Stderr, "auth:", err)
		os.Exit(1)
	}
}
