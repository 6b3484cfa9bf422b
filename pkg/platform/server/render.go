package server

import (
	"strconv"
	"sync"

	"github.com/gin-gonic/gin"
)

// jsonBuffers are the buffers WriteJSON appends bodies to; a page of history is some ten KiB.
var jsonBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// maxPooledJSON keeps the odd huge body's buffer out of the pool, so that the pool does not hold on to it.
const maxPooledJSON = 256 << 10

// WriteJSON answers status with the JSON body that appendJSON appends to the slice it is given (use
// simplemessenger/platform/jsonx), as gin's c.JSON would answer, and with a Content-Length. The length spares
// the client a chunked body and a proxy in front of the service (the gateway) its flush after every read:
// httputil.ReverseProxy streams a response of unknown length as it comes. The buffer is pooled.
func WriteJSON(c *gin.Context, status int, appendJSON func(dst []byte) []byte) {
	buf := jsonBuffers.Get().(*[]byte)
	body := appendJSON((*buf)[:0])
	c.Header("Content-Length", strconv.Itoa(len(body)))
	c.Data(status, "application/json; charset=utf-8", body)
	if cap(body) <= maxPooledJSON {
		*buf = body[:0]
		jsonBuffers.Put(buf)
	}
}
