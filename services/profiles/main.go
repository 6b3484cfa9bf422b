// Command profiles serves user accounts and public profiles of SimpleMessenger.
package main

import (
	"context"

	"simplemessenger/platform/bootstrap"
	"simplemessenger/platform/server"

	"simplemessenger/services/profiles/internal/service"
)

func main() {
	// Build without options: the production password parameters.
	bootstrap.Main(service.Name, service.DefaultConfig(), func(ctx context.Context, cfg service.Config) (*server.App, error) {
		return service.Build(ctx, cfg)
	})
}
