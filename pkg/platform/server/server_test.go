package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"simplemessenger/platform/apierr"
	"simplemessenger/platform/config"
	"simplemessenger/platform/server"
	"simplemessenger/platform/server/servertest"
)

func testConfig() config.HTTP {
	return config.HTTP{ShutdownTimeout: 5 * time.Second, ReadHeaderTimeout: time.Second, ReadTimeout: 5 * time.Second, IdleTimeout: time.Minute}
}

func errorBody(t *testing.T, res *http.Response) (code string) {
	t.Helper()
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatalf("status %d: body is not a contract error: %v", res.StatusCode, err)
	}
	if body.Error.Code == "" || body.Error.Message == "" {
		t.Fatalf("status %d: empty error code or message", res.StatusCode)
	}
	return body.Error.Code
}

func TestContractErrorsForUnknownRoutesMethodsBodiesAndPanics(t *testing.T) {
	app := server.New("test", testConfig(), slog.Default())
	app.Router.POST("/echo", func(c *gin.Context) {
		var v map[string]any
		if server.BindJSON(c, &v) {
			c.JSON(200, v)
		}
	})
	app.Router.GET("/panic", func(c *gin.Context) { panic("boom") })
	base, _ := servertest.Serve(t, app)

	cases := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"unknown route", "GET", "/nope", "", 404, "not_found"},
		{"wrong method", "PUT", "/echo", "{}", 405, "method_not_allowed"},
		{"malformed JSON", "POST", "/echo", `{"a":`, 400, "invalid_json"},
		{"trailing garbage", "POST", "/echo", `{"a":1} x`, 400, "invalid_json"},
		{"body over 64 KiB", "POST", "/echo", `{"a":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "body_too_large"},
		{"panic", "GET", "/panic", "", 500, "internal"},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, base+c.path, strings.NewReader(c.body))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d", c.name, res.StatusCode, c.status)
		}
		if got := errorBody(t, res); got != c.code {
			t.Errorf("%s: code %q, want %q", c.name, got, c.code)
		}
		if res.Header.Get(server.RequestIDHeader) == "" {
			t.Errorf("%s: no X-Request-ID", c.name)
		}
		res.Body.Close()
	}
}

func TestStreamedBodyOverTheLimitIs413(t *testing.T) {
	app := server.New("test", testConfig(), slog.Default())
	app.Router.POST("/echo", func(c *gin.Context) {
		var v map[string]any
		if server.BindJSON(c, &v) {
			c.JSON(200, v)
		}
	})
	base, _ := servertest.Serve(t, app)
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte(`{"a":"` + strings.Repeat("x", 70<<10) + `"}`))
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", base+"/echo", pr) // no Content-Length: chunked
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 413 {
		t.Fatalf("status %d, want 413", res.StatusCode)
	}
}

func TestRouteBodyLimitOverride(t *testing.T) {
	app := server.New("test", testConfig(), slog.Default())
	app.Router.PUT("/big", func(c *gin.Context) {
		if b, ok := server.ReadBody(c); ok {
			c.String(200, "%d", len(b))
		}
	})
	app.SetBodyLimit("/big", 1<<20)
	base, _ := servertest.Serve(t, app)
	for size, want := range map[int]int{900 << 10: 200, 1<<20 + 1: 413} {
		req, _ := http.NewRequest("PUT", base+"/big", strings.NewReader(strings.Repeat("x", size)))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("%d bytes: status %d, want %d", size, res.StatusCode, want)
		}
	}
}

func TestRequestIDIsEchoedOrGenerated(t *testing.T) {
	app := server.New("test", testConfig(), slog.Default())
	app.Router.GET("/x", func(c *gin.Context) { c.Status(204) })
	base, _ := servertest.Serve(t, app)
	req, _ := http.NewRequest("GET", base+"/x", nil)
	req.Header.Set(server.RequestIDHeader, "client-chosen-42")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Get(server.RequestIDHeader); got != "client-chosen-42" {
		t.Errorf("echoed id %q", got)
	}
	req.Header.Set(server.RequestIDHeader, "bad id with spaces")
	res, _ = http.DefaultClient.Do(req)
	res.Body.Close()
	if got := res.Header.Get(server.RequestIDHeader); got == "" || strings.Contains(got, " ") {
		t.Errorf("an unusable client id must be replaced, got %q", got)
	}
}

func TestAdminEndpointsAndReadiness(t *testing.T) {
	app := server.New("test", testConfig(), slog.Default())
	healthy := true
	app.AddReadyCheck("dependency", func(context.Context) error {
		if !healthy {
			return errors.New("down")
		}
		return nil
	})
	app.Router.GET("/users/:id", func(c *gin.Context) { c.Status(204) })
	base, admin := servertest.Serve(t, app)
	for _, p := range []string{"/users/1", "/users/2"} {
		res, _ := http.Get(base + p)
		res.Body.Close()
	}
	status := func(path string) int {
		res, err := http.Get(admin + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if status("/healthz") != 200 || status("/readyz") != 200 {
		t.Fatal("healthz/readyz not 200 while healthy")
	}
	healthy = false
	if status("/readyz") != 503 {
		t.Error("readyz must be 503 when a dependency is down")
	}
	if status("/healthz") != 200 {
		t.Error("liveness must not depend on dependencies")
	}
	res, _ := http.Get(admin + "/metrics")
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := string(body)
	if !strings.Contains(m, `http_server_requests_total{code="204",method="GET",route="/users/:id",service="test"} 2`) {
		t.Errorf("RED metrics must be labelled by route template:\n%s", grep(m, "http_server_requests_total"))
	}
	if strings.Contains(m, `route="/users/1"`) {
		t.Error("raw paths must never be metric labels")
	}
	if res, _ := http.Get(base + "/metrics"); res.StatusCode != 404 {
		t.Errorf("/metrics on the public port: %d", res.StatusCode)
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestShutdownDrainsInFlightRequestsThenRunsTheDrainsThenStopsWorkersThenClosers(t *testing.T) {
	app := server.New("test", testConfig(), slog.Default())
	entered := make(chan struct{})
	app.Router.GET("/slow", func(c *gin.Context) {
		close(entered)
		time.Sleep(500 * time.Millisecond)
		c.String(200, "done")
	})
	var order []string
	workerStopped := make(chan struct{})
	app.Go(func(ctx context.Context) error {
		<-ctx.Done()
		order = append(order, "worker")
		close(workerStopped)
		return ctx.Err()
	})
	app.OnShutdown(func(context.Context) error { order = append(order, "db"); return nil })
	app.OnShutdown(func(context.Context) error { order = append(order, "broker"); return nil })
	// A drain runs once the listeners are closed, while the workers still run (the gateway's push consumer
	// delivers to the sockets it has not closed yet).
	app.OnDrain(func(ctx context.Context) {
		select {
		case <-workerStopped:
			order = append(order, "drain-after-worker")
		default:
			order = append(order, "drain")
		}
		if ctx.Err() != nil {
			order = append(order, "drain-context-done")
		}
	})
	base, _, stop := servertest.Start(t, app)

	result := make(chan string, 1)
	go func() {
		res, err := http.Get(base + "/slow")
		if err != nil {
			result <- "error: " + err.Error()
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		result <- string(b)
	}()
	<-entered
	stop() // SIGTERM equivalent: returns only after the drain
	if got := <-result; got != "done" {
		t.Fatalf("in-flight request was cut: %q", got)
	}
	if strings.Join(order, ",") != "drain,worker,broker,db" {
		t.Fatalf("shutdown order %v, want the drain, the worker, then closers last-registered first", order)
	}
	if _, err := http.Get(base + "/slow"); err == nil {
		t.Fatal("server still accepts after shutdown")
	}
}

func TestAbortRunsTheClosersOnceLastRegisteredFirst(t *testing.T) {
	app := server.New("test", testConfig(), slog.Default())
	var order []string
	app.OnShutdown(func(context.Context) error { order = append(order, "db"); return nil })
	app.OnShutdown(func(context.Context) error { order = append(order, "broker"); return errors.New("already closed") })
	app.Abort(context.Background())
	app.Abort(context.Background())
	if strings.Join(order, ",") != "broker,db" {
		t.Fatalf("abort ran %v, want broker, then db, once each", order)
	}
}

// A handler waiting on a silent dependency is cut at the handler timeout with a 503; a long-lived route keeps
// a context without that deadline; 0 turns the deadline off.
func TestHandlerTimeoutAnswers503AndSparesLongLivedRoutes(t *testing.T) {
	cfg := testConfig()
	cfg.HandlerTimeout = 200 * time.Millisecond
	app := server.New("test", cfg, slog.Default())
	silent := func(c *gin.Context) {
		select {
		case <-c.Request.Context().Done():
			apierr.Respond(c, fmt.Errorf("query: %w", c.Request.Context().Err()))
		case <-time.After(2 * time.Second):
			c.String(200, "answered")
		}
	}
	app.Router.GET("/silent", silent)
	app.Router.GET("/stream", func(c *gin.Context) {
		if _, ok := c.Request.Context().Deadline(); ok {
			c.String(500, "a long-lived route got a deadline")
			return
		}
		c.String(200, "no deadline")
	})
	app.LongLived("/stream")
	app.Router.PUT("/upload", func(c *gin.Context) {
		dl, ok := c.Request.Context().Deadline()
		if left := time.Until(dl); !ok || left < 4*time.Second {
			c.String(500, "deadline in %v: an upload route must get the read timeout on top", left)
			return
		}
		c.String(200, "room to read")
	})
	app.SetBodyLimit("/upload", 1<<20)
	base, _ := servertest.Serve(t, app)

	start := time.Now()
	res, err := http.Get(base + "/silent")
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if res.StatusCode != 503 || errorBody(t, res) != "unavailable" || res.Header.Get("Retry-After") == "" {
		t.Fatalf("status %d, want 503 unavailable with Retry-After", res.StatusCode)
	}
	res.Body.Close()
	if took > time.Second {
		t.Fatalf("the silent handler answered after %v, want about the 200ms handler timeout", took)
	}
	res, err = http.Get(base + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("long-lived route: %d %s", res.StatusCode, body)
	}

	req, _ := http.NewRequest("PUT", base+"/upload", strings.NewReader("x"))
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("upload route: %d %s", res.StatusCode, body)
	}

	app.SetHandlerTimeout(0)
	res, err = http.Get(base + "/silent")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "answered" {
		t.Fatalf("with no handler timeout: %d %s, want the handler's own answer", res.StatusCode, body)
	}
}
