// Package brokertest gives each test its own topology on the real RabbitMQ (AMQP_URL; default
// amqp://guest:guest@127.0.0.1:5672/), deleted when the test ends, so tests run in parallel and twice in a
// row without receiving each other's events.
package brokertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"simplemessenger/platform/broker"
)

var unsafe = regexp.MustCompile(`[^a-z0-9_-]+`)

// Config returns the default configuration with a unique exchange "test.<test name>.<random>" and registers a
// cleanup that deletes the exchange, its push exchange, its dead-letter exchange and queue, and the durable
// queues that consumers declared under it.
//
// Call it before dialling: cleanups run last-registered-first, so the Conns closed and consumers stopped in
// later cleanups (or defers) are gone before the topology is deleted and cannot re-declare it.
func Config(t testing.TB) broker.Config {
	t.Helper()
	cfg := broker.DefaultConfig()
	if v := os.Getenv("AMQP_URL"); v != "" {
		cfg.URL = v
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := strings.Trim(unsafe.ReplaceAllString(strings.ToLower(t.Name()), "_"), "_")
	if len(name) > 60 {
		name = name[:60]
	}
	cfg.Exchange = "test." + name + "." + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		// Retried: a test that restarts the broker may leave it coming back up.
		for {
			err := broker.DeleteTopology(ctx, cfg)
			if err == nil {
				return
			}
			select {
			case <-ctx.Done():
				t.Errorf("brokertest: delete topology of %s: %v", cfg.Exchange, err)
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	})
	return cfg
}
