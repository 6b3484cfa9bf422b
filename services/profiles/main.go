// Command profiles serves user accounts and public profiles of SimpleMessenger.
package main

import (
	"context"
	"fmt"
	"os"

	"simplemessenger/platform/config"

	"simplemessenger/services/profiles/internal/service"
)

func main() {
	cfg := service.DefaultConfig()
	config.MustLoad(&cfg)
	if err := service.Run(context.Background(), cfg); err != nil {
		fmt.Fprintln(os.Stderr, "profiles:", err)
		os.Exit(1)
	}
}
