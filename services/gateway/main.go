// Command gateway is SimpleMessenger's only public entry.
package main

import (
	"context"
	"fmt"
	"os"

	"simplemessenger/platform/config"

	"simplemessenger/services/gateway/internal/service"
)

func main() {
	cfg := service.DefaultConfig()
	config.MustLoad(&cfg)
	if err := service.Run(context.Background(), cfg); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}
