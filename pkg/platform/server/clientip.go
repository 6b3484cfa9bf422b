package server

import (
	"net/netip"
	"strings"

	"github.com/gin-gonic/gin"
)

// ClientIP is the address a request is throttled against: X-Real-IP, which the gateway always sets to the
// client address it determined (it overwrites whatever the client sent, and believes X-Forwarded-For only
// from its TRUSTED_PROXIES), else the peer's address (a direct caller inside the cluster or a test).
func ClientIP(c *gin.Context) string {
	if a, err := netip.ParseAddr(strings.TrimSpace(c.GetHeader("X-Real-IP"))); err == nil {
		return a.Unmap().String()
	}
	if ap, err := netip.ParseAddrPort(c.Request.RemoteAddr); err == nil {
		return ap.Addr().Unmap().String()
	}
	return c.Request.RemoteAddr
}
