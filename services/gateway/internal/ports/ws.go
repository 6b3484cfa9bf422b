package ports

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"simplemessenger/platform/apierr"
	"simplemessenger/platform/authn"
	"simplemessenger/platform/metrics"

	"simplemessenger/services/gateway/internal/app"
	"simplemessenger/services/gateway/internal/domain"
)

// maxClientMessage bounds what a client may send: it has nothing to say (frames are server to client), so
// anything it sends is read and ignored, and a message over this closes the socket (1009).
const maxClientMessage = 4 << 10

// WebSocket serves GET /api/v1/ws: the user's push connection.
type WebSocket struct {
	hub         *app.Hub
	revocations RevocationChecker
	origins     domain.OriginPolicy
	cfg         SocketConfig
	metrics     *PushMetrics
	log         *slog.Logger
}

// SocketConfig is how the push connections are kept. A socket is pinged every PingInterval and dropped when
// it has not answered within PongTimeout; WriteTimeout bounds writing one frame; SendBuffer is how many frames
// may wait for a socket's writer before the socket is dropped as too slow.
type SocketConfig struct {
	PingInterval, PongTimeout, WriteTimeout time.Duration
	SendBuffer                              int
}

// NewWebSocket serves push connections on hub, from the pages origins allows, closing those of revoked sessions.
func NewWebSocket(hub *app.Hub, revocations RevocationChecker, origins domain.OriginPolicy, cfg SocketConfig,
	metrics *PushMetrics, log *slog.Logger) *WebSocket {
	return &WebSocket{hub: hub, revocations: revocations, origins: origins, cfg: cfg, metrics: metrics, log: log}
}

// traceConnect records the connect of a push connection as a short server span, "websocket connect": from
// the request to the socket entered (serve ends it there) or refused. The request as a whole is not traced
// (server.App.LongLived): it lasts as long as the socket. What the connect causes (the entry event, the
// entry replies pushed back) is in this span's trace.
func (ws *WebSocket) traceConnect(c *gin.Context) {
	r := c.Request
	ctx := otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, span := app.Tracer().Start(ctx, "websocket connect", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			semconv.HTTPRequestMethodKey.String(r.Method),
			semconv.HTTPRoute(c.FullPath()),
			semconv.URLPath(r.URL.Path),
			semconv.URLScheme("http"),
			semconv.ClientAddress(ClientAddress(r)),
			semconv.UserAgentOriginal(r.UserAgent()),
		))
	c.Request = r.WithContext(ctx)
	c.Next()
	// Refused before the upgrade (401, 403, 426, 429...), or the upgrade failed: the span is still open.
	if span.IsRecording() {
		status := c.Writer.Status()
		span.SetAttributes(semconv.HTTPResponseStatusCode(status))
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
		span.End()
	}
}

// connected ends the connect span: the socket is open and announced.
func connected(ctx context.Context, conn *app.Connection, err error) {
	span := trace.SpanFromContext(ctx)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "entering failed")
	} else {
		span.SetAttributes(app.AttrConnectionID.String(conn.ID))
	}
	span.SetAttributes(semconv.HTTPResponseStatusCode(http.StatusSwitchingProtocols))
	span.End()
}

// checkOrigin refuses browsers on pages of other origins (403) before anything else is looked at.
func (ws *WebSocket) checkOrigin(c *gin.Context) {
	if !ws.origins.Allows(c.GetHeader("Origin"), c.Request.Host) {
		apierr.Write(c, apierr.Forbidden("origin_not_allowed", "this page's origin may not open the push connection"))
		return
	}
	c.Next()
}

// authenticate verifies the access token of the Authorization header or, for browsers (which cannot set
// headers on a WebSocket), of the access_token query parameter; refused with 401 before any upgrade.
func (ws *WebSocket) authenticate(v *authn.Verifier) gin.HandlerFunc {
	return func(c *gin.Context) {
		raw := authn.BearerToken(c.Request)
		if raw == "" {
			raw = protocolToken(c.Request.Header)
		}
		if raw == "" {
			raw = c.Query("access_token")
		}
		claims, err := v.Verify(c.Request.Context(), raw)
		switch {
		case errors.Is(err, authn.ErrMissingToken):
			apierr.Write(c, apierr.Unauthorized("an access token is required (Authorization: Bearer, the bearer.<token> subprotocol, or ?access_token=)"))
			return
		case errors.Is(err, authn.ErrInvalidToken):
			apierr.Write(c, apierr.Unauthorized("the access token is invalid or expired"))
			return
		case err != nil:
			ws.log.WarnContext(c.Request.Context(), "cannot verify an access token", "error", err)
			apierr.Respond(c, apierr.Unavailable("cannot verify tokens right now"))
			return
		}
		c.Request = c.Request.WithContext(authn.WithClaims(c.Request.Context(), claims))
		c.Next()
	}
}

// Subprotocol is the push connection's WebSocket subprotocol. A browser cannot set an Authorization header on a
// WebSocket, so it offers its access token as a second subprotocol, "bearer.<token>" (JWTs are made of characters a
// subprotocol may hold): the token then travels in the Sec-WebSocket-Protocol header, which proxies do not log, not
// in the URL, which they do. The gateway selects Subprotocol, never the token, in its answer. (?access_token= stays
// for the clients that use it.)
const Subprotocol = "simplemessenger.v1"

// bearerProtocol prefixes the access token offered as a subprotocol.
const bearerProtocol = "bearer."

// protocolToken is the access token offered as a "bearer.<token>" subprotocol, or "".
func protocolToken(h http.Header) string {
	for _, v := range h.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); strings.HasPrefix(p, bearerProtocol) {
				return p[len(bearerProtocol):]
			}
		}
	}
	return ""
}

// requireUpgrade answers a plain GET with 426 in the contract format (the library's answer would be text).
func requireUpgrade(c *gin.Context) {
	if !headerHasToken(c.Request.Header, "Connection", "upgrade") || !headerHasToken(c.Request.Header, "Upgrade", "websocket") {
		c.Header("Upgrade", "websocket")
		apierr.Write(c, apierr.New(http.StatusUpgradeRequired, "upgrade_required", "this route only takes a WebSocket upgrade"))
		return
	}
	c.Next()
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// serve upgrades and starts the socket, then returns: the socket outlives this handler, so the request's
// goroutine, its buffers and its gin context are freed as soon as the socket is running. An idle socket then
// costs one goroutine (its reader: the library answers pings and notices the client's close only while
// reading), a timer for the next ping, and small read and write buffers. A writer goroutine runs only while
// frames wait, and a ping's goroutine only while it waits for its pong.
func (ws *WebSocket) serve(c *gin.Context) {
	claims := authn.FromContext(c.Request.Context())
	// The server's read timeout was set on the connection for this request; a hijacked connection keeps it,
	// and it would cut every socket after ReadTimeout. Liveness is the pings' job from now on.
	rc := http.NewResponseController(c.Writer)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	conn, err := websocket.Accept(leanHijacker{c.Writer}, c.Request, &websocket.AcceptOptions{
		InsecureSkipVerify: true, // checkOrigin did it, with the gateway's own rules
		CompressionMode:    websocket.CompressionDisabled,
		Subprotocols:       []string{Subprotocol}, // selected when offered; a bearer.<token> offer never is
	})
	if err != nil {
		ws.log.DebugContext(c.Request.Context(), "websocket upgrade failed", "error", err)
		return
	}
	conn.SetReadLimit(maxClientMessage)
	// The socket's own context: not the request's, which ends with this handler. It keeps only the connect
	// span's identity, for the trace ids of the socket's log lines.
	ctx, cancel := context.WithCancel(trace.ContextWithSpanContext(context.Background(), trace.SpanContextFromContext(c.Request.Context())))
	s := &socket{ws: ws, conn: conn, ctx: ctx, cancel: cancel, limit: max(ws.cfg.SendBuffer, 1)}
	go s.read()

	entered, err := ws.hub.Enter(c.Request.Context(), claims.UserID(), claims.SessionID, s)
	connected(c.Request.Context(), entered, err)
	if err != nil {
		if errors.Is(err, app.ErrStopping) {
			_ = conn.Close(websocket.StatusGoingAway, "server shutting down")
			return
		}
		ws.metrics.Dropped(app.DropEnterFailed)
		ws.log.WarnContext(ctx, "cannot enter a socket; closing it for the client to retry", "user_id", claims.UserID(), "error", err)
		_ = conn.Close(websocket.StatusInternalError, "try again")
		return
	}
	s.start(entered)
	// A revocation that arrived between the token check and the registration found no socket to close.
	if ws.revocations.IsRevoked(claims.SessionID) {
		ws.hub.Drop(entered, app.ClosePolicyViolation, app.DropRevoked, "session revoked", false)
	}
}

// write writes one frame, as a "websocket write" span under the push's delivery span (so in the trace of
// the request that caused the push), and records its delivery latency with that trace as the exemplar.
func (ws *WebSocket) write(ctx context.Context, s *socket, entered *app.Connection, f app.Frame) {
	sctx, span := app.Tracer().Start(trace.ContextWithSpanContext(ctx, f.Trace), "websocket write",
		trace.WithAttributes(app.AttrFrameType.String(f.Type), app.AttrConnectionID.String(entered.ID)))
	defer span.End()
	wctx, cancel := context.WithTimeout(sctx, ws.cfg.WriteTimeout)
	err := s.conn.Write(wctx, websocket.MessageText, f.Body)
	cancel()
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "write failed")
		ws.metrics.Frame(f.Type, app.FrameDropped)
		ws.hub.Drop(entered, app.CloseInternalError, app.DropWriteFailed, "write failed", true)
		return
	}
	ws.metrics.Frame(f.Type, app.FrameSent)
	ws.metrics.delivered(sctx, f)
}

// Buffer sizes of a socket's connection. Clients only send pongs and close frames, so the read buffer needs
// little more than a frame header; a frame larger than the write buffer is written past it, in one go.
const (
	socketReadBuffer  = 256
	socketWriteBuffer = 1 << 10
)

// leanHijacker gives the WebSocket library small buffers of its own instead of the HTTP server's (4 KiB each,
// kept for the socket's life): at 10,000 idle sockets that is the difference of some 70 MiB.
type leanHijacker struct{ gin.ResponseWriter }

func (w leanHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := w.ResponseWriter.Hijack()
	if err != nil {
		return nil, nil, err
	}
	// The 101 answer is written by the hijack; anything still buffered goes out now.
	if err := brw.Flush(); err != nil {
		_ = conn.Close()
		return nil, nil, err
	}
	// What the client sent after its request (its first frames) may already be in the server's buffer.
	var r io.Reader = conn
	if n := brw.Reader.Buffered(); n > 0 {
		early, _ := brw.Reader.Peek(n)
		r = io.MultiReader(bytes.NewReader(bytes.Clone(early)), conn)
	}
	return conn, bufio.NewReadWriter(bufio.NewReaderSize(r, socketReadBuffer), bufio.NewWriterSize(conn, socketWriteBuffer)), nil
}

// socket is the app.Socket of one WebSocket.
type socket struct {
	ws     *WebSocket
	conn   *websocket.Conn
	ctx    context.Context
	cancel context.CancelFunc
	limit  int // frames that may wait (WS_SEND_BUFFER)

	mu sync.Mutex
	// entered is set once the hub has registered the socket; frames and a close requested before that
	// wait for it (the writer needs the connection's identity).
	entered *app.Connection
	// queue holds the frames waiting for the writer; nil while idle.
	queue   []*app.Frame
	writing bool // a writer goroutine is running
	// A close was requested (Close): it goes before the frames still queued.
	closeReq bool
	code     app.CloseCode
	reason   string
	now      bool
	gone     bool // the reader has ended: the connection is closed
	ping     *time.Timer
}

func (s *socket) Send(f app.Frame) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone || s.closeReq {
		// Closing: the frame goes nowhere, but the client is not too slow.
		s.ws.metrics.Frame(f.Type, app.FrameDropped)
		return true
	}
	if len(s.queue) >= s.limit {
		return false
	}
	s.queue = append(s.queue, &f)
	s.kick()
	return true
}

func (s *socket) Close(code app.CloseCode, reason string, now bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closeReq || s.gone {
		return
	}
	s.closeReq, s.code, s.reason, s.now = true, code, reason, now
	if now {
		// Unblocks a write stuck on a client that does not read; nothing more is said to it.
		go func() { _ = s.conn.CloseNow() }()
	}
	s.kick()
}

// kick starts a writer if there is work and none runs (s.mu held).
func (s *socket) kick() {
	if s.entered == nil || s.writing || s.gone || (len(s.queue) == 0 && !s.closeReq) {
		return
	}
	s.writing = true
	go s.drain()
}

// start is called once the hub has registered the socket: the writer may run, and the pings begin. A socket
// whose client left during the registration leaves the hub at once.
func (s *socket) start(entered *app.Connection) {
	s.mu.Lock()
	if s.gone {
		s.mu.Unlock()
		s.ws.hub.Leave(entered)
		return
	}
	s.entered = entered
	s.ping = time.AfterFunc(s.ws.cfg.PingInterval, s.pingOnce)
	s.kick()
	s.mu.Unlock()
}

// drain is the writer: it writes the queued frames one at a time (one writer per socket, so one slow client
// holds up nobody else) and ends when the queue is empty, or performs the requested close.
func (s *socket) drain() {
	for {
		s.mu.Lock()
		if s.closeReq {
			s.mu.Unlock()
			s.finish()
			return
		}
		if s.gone || len(s.queue) == 0 {
			s.writing = false
			s.mu.Unlock()
			return
		}
		f := s.queue[0]
		s.queue[0] = nil
		s.queue = s.queue[1:]
		if len(s.queue) == 0 {
			s.queue = nil // an idle socket keeps no buffer
		}
		entered := s.entered
		s.mu.Unlock()
		s.ws.write(s.ctx, s, entered, *f)
	}
}

// finish closes as requested (on the writer goroutine: the closing handshake waits for the client).
func (s *socket) finish() {
	if s.now {
		_ = s.conn.CloseNow()
		return
	}
	_ = s.conn.Close(websocket.StatusCode(s.code), s.reason)
}

// read reads (and ignores) what the client sends until the connection ends, then takes the socket out of the
// hub: every way a socket ends (the client's close, a broken connection, a close of ours) ends here.
func (s *socket) read() {
	for {
		_, r, err := s.conn.Reader(s.ctx)
		if err != nil {
			break
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			break
		}
	}
	_ = s.conn.CloseNow()
	s.cancel()
	s.mu.Lock()
	s.gone = true
	entered, left := s.entered, s.queue
	s.queue = nil
	if s.ping != nil {
		s.ping.Stop()
	}
	s.mu.Unlock()
	// Frames that were waiting for this socket go nowhere.
	for _, f := range left {
		s.ws.metrics.Frame(f.Type, app.FrameDropped)
	}
	if entered != nil {
		s.ws.hub.Leave(entered)
	}
}

// pingOnce pings (on the timer's goroutine) and schedules the next ping; a pong that does not come within
// PongTimeout drops the socket.
func (s *socket) pingOnce() {
	pctx, cancel := context.WithTimeout(s.ctx, s.ws.cfg.PongTimeout)
	err := s.conn.Ping(pctx)
	cancel()
	if err != nil {
		if s.ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			s.ws.hub.Drop(s.entered, app.ClosePolicyViolation, app.DropPingTimeout, "no pong", true)
		}
		return
	}
	s.mu.Lock()
	if !s.gone {
		s.ping.Reset(s.ws.cfg.PingInterval)
	}
	s.mu.Unlock()
}

// PushMetrics are the push connection's collectors; they implement app.PushObserver.
type PushMetrics struct {
	connections prometheus.Gauge
	frames      *prometheus.CounterVec
	dropped     *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	fanout      *prometheus.HistogramVec
}

// NewPushMetrics registers the collectors on reg (nil: not exported, for unit tests).
func NewPushMetrics(reg prometheus.Registerer) (*PushMetrics, error) {
	m := &PushMetrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gateway_websocket_connections",
			Help: "Open push connections (WebSockets) on this gateway.",
		}),
		frames: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_push_frames_total",
			Help: "Push frames by type and result: sent (written to the socket), dropped (socket too slow, failed or " +
				"closed), duplicate (a second entry reply for the same connection, not sent).",
		}, []string{"type", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gateway_push_delivery_seconds",
			Help: "Time from a push's creation by its producer (the event's time, set in the transaction that " +
				"wrote it: for message.new, the send) to its frame being written to a socket, by frame type.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"type"}),
		fanout: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gateway_push_fanout_sockets",
			Help: "Sockets of this gateway a push was handed to, by frame type (0: its user has no socket here " +
				"any more, or the socket it names has closed).",
			Buckets: []float64{0, 1, 2, 3, 5, 8, 13, 21},
		}, []string{"type"}),
	}
	if err := metrics.Register(reg, m.connections, m.frames, m.latency, m.fanout); err != nil {
		return nil, err
	}
	// Every reason exists at 0 from the start (a dashboard shows 0, not "No data").
	dropped, err := metrics.NewCounts(reg, "gateway_websocket_dropped_total",
		"Push connections closed by the gateway, by reason (slow_client, write_failed, ping_timeout, revoked, "+
			"enter_failed, broker_reconnect).", "reason", app.DropReasons...)
	if err != nil {
		return nil, err
	}
	m.dropped = dropped
	return m, nil
}

func (m *PushMetrics) Connections(delta int) {
	if m != nil {
		m.connections.Add(float64(delta))
	}
}

func (m *PushMetrics) Frame(frameType, result string) {
	if m != nil {
		m.frames.WithLabelValues(frameType, result).Inc()
	}
}

func (m *PushMetrics) Dropped(reason string) {
	if m != nil {
		m.dropped.WithLabelValues(reason).Inc()
	}
}

func (m *PushMetrics) Fanout(frameType string, sockets int) {
	if m != nil {
		m.fanout.WithLabelValues(frameType).Observe(float64(sockets))
	}
}

// delivered records the frame's latency; ctx holds the write's span, whose trace becomes the exemplar.
func (m *PushMetrics) delivered(ctx context.Context, f app.Frame) {
	if m != nil && !f.Created.IsZero() {
		metrics.Observe(ctx, m.latency.WithLabelValues(f.Type), max(time.Since(f.Created).Seconds(), 0))
	}
}
