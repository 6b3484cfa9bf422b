package server_test

import (
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"simplemessenger/platform/server"
)

func TestClientIPIsTheGatewaysViewElseThePeer(t *testing.T) {
	for _, c := range []struct{ realIP, remote, want string }{
		{"198.51.100.7", "10.0.0.5:4711", "198.51.100.7"},
		{" ::ffff:198.51.100.7 ", "10.0.0.5:4711", "198.51.100.7"}, // IPv4-mapped: one address, one key
		{"2001:db8::1", "10.0.0.5:4711", "2001:db8::1"},
		{"", "10.0.0.5:4711", "10.0.0.5"},
		{"not an address", "[::ffff:10.0.0.5]:4711", "10.0.0.5"},
		{"", "pipe", "pipe"},
	} {
		ctx, _ := gin.CreateTestContext(httptest.NewRecorder())
		ctx.Request = httptest.NewRequest("POST", "/api/v1/users", nil)
		ctx.Request.RemoteAddr = c.remote
		if c.realIP != "" {
			ctx.Request.Header.Set("X-Real-IP", c.realIP)
		}
		if got := server.ClientIP(ctx); got != c.want {
			t.Errorf("X-Real-IP %q, peer %q: %q, want %q", c.realIP, c.remote, got, c.want)
		}
	}
}
