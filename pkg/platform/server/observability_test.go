package server_test

import (
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"simplemessenger/platform/server"
	"simplemessenger/platform/server/servertest"
)

// spans records every span of the test process (as telemetry.Setup would export them).
var spans = tracetest.NewSpanRecorder()

func TestMain(m *testing.M) {
	otel.SetTextMapPropagator(propagation.TraceContext{})
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)))
	os.Exit(m.Run())
}

func get(t *testing.T, url string, header ...string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
}

func spansOfRoute(route string) int {
	n := 0
	for _, s := range spans.Ended() {
		for _, a := range s.Attributes() {
			if a.Key == "http.route" && a.Value.AsString() == route {
				n++
			}
		}
	}
	return n
}

// A route that lasts as long as a connection (a WebSocket) is counted in requests_total, but makes no
// request span and stays out of the duration histogram and the in-flight gauge: an hours-long "request"
// would say nothing about the API's latency.
func TestALongLivedRouteIsCountedButNeitherTimedNorTraced(t *testing.T) {
	app := server.New("test", testConfig(), slog.Default())
	app.LongLived("/stream/:id")
	streaming, release := make(chan struct{}), make(chan struct{})
	app.Router.GET("/stream/:id", func(c *gin.Context) {
		close(streaming)
		<-release
		c.Status(http.StatusOK)
	})
	app.Router.GET("/quick/:id", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	base, admin := servertest.Serve(t, app)

	done := make(chan struct{})
	go func() { defer close(done); get(t, base+"/stream/1") }()
	<-streaming
	if m := servertest.Scrape(t, admin, false); !strings.Contains(m, `http_server_requests_in_flight{service="test"} 0`) {
		t.Errorf("an open long-lived request counts as in flight:\n%s", grep(m, "in_flight"))
	}
	close(release)
	<-done
	get(t, base+"/quick/1")

	m := servertest.Scrape(t, admin, false)
	if !strings.Contains(m, `http_server_requests_total{code="200",method="GET",route="/stream/:id",service="test"} 1`) {
		t.Errorf("the long-lived request is not counted:\n%s", grep(m, "http_server_requests_total"))
	}
	if strings.Contains(grep(m, "http_server_request_duration_seconds"), `route="/stream/:id"`) {
		t.Errorf("the long-lived request is in the duration histogram:\n%s", grep(m, "/stream/:id"))
	}
	if !strings.Contains(m, `http_server_request_duration_seconds_count{code="204",method="GET",route="/quick/:id",service="test"} 1`) {
		t.Errorf("an ordinary request is not timed:\n%s", grep(m, "http_server_request_duration_seconds_count"))
	}
	if n := spansOfRoute("/stream/:id"); n != 0 {
		t.Errorf("%d request spans of the long-lived route, want none", n)
	}
	if n := spansOfRoute("/quick/:id"); n != 1 {
		t.Errorf("%d request spans of the ordinary route, want 1", n)
	}
}

// The duration histogram carries the trace id of a sampled request as an exemplar (OpenMetrics), so a slow
// bucket leads to its trace; an unsampled request leaves none.
func TestRequestDurationsCarryTheirTraceIDAsAnExemplar(t *testing.T) {
	app := server.New("test", testConfig(), slog.Default())
	app.Router.GET("/sampled", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	app.Router.GET("/unsampled", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	base, admin := servertest.Serve(t, app)
	const sampled, unsampled = "4bf92f3577b34da6a3ce929d0e0e4736", "5cf92f3577b34da6a3ce929d0e0e4736"
	get(t, base+"/sampled", "traceparent", "00-"+sampled+"-00f067aa0ba902b7-01")
	get(t, base+"/unsampled", "traceparent", "00-"+unsampled+"-00f067aa0ba902b7-00")

	m := servertest.Scrape(t, admin, true)
	exemplar := regexp.MustCompile(`(?m)^http_server_request_duration_seconds_bucket\{[^}]*route="/sampled"[^}]*\} 1 # \{trace_id="` + sampled + `"\} `)
	if !exemplar.MatchString(m) {
		t.Errorf("no exemplar with the sampled request's trace id:\n%s", grep(m, `route="/sampled"`))
	}
	if strings.Contains(m, unsampled) {
		t.Errorf("an unsampled request left an exemplar:\n%s", grep(m, unsampled))
	}
	if plain := servertest.Scrape(t, admin, false); strings.Contains(plain, "trace_id") {
		t.Error("exemplars in the classic text format (only OpenMetrics carries them)")
	}
}
