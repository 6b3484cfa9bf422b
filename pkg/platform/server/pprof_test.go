package server_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"simplemessenger/platform/config"
	"simplemessenger/platform/logging"
	"simplemessenger/platform/server"
)

func TestAdminServesRuntimeProfilesOnlyWhenEnabled(t *testing.T) {
	off := server.New("svc", config.HTTPDefaults("127.0.0.1:0", "127.0.0.1:0"), logging.New("svc", "error"))
	rec := httptest.NewRecorder()
	off.AdminHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/pprof/", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("admin GET /debug/pprof/ without ADMIN_PPROF: %d, want 404", rec.Code)
	}

	cfg := config.HTTPDefaults("127.0.0.1:0", "127.0.0.1:0")
	cfg.Profiling = true
	app := server.New("svc", cfg, logging.New("svc", "error"))
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap?gc=1", "/debug/pprof/goroutine?debug=1"} {
		rec := httptest.NewRecorder()
		app.AdminHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK || rec.Body.Len() == 0 {
			t.Errorf("admin GET %s: %d, %d bytes", path, rec.Code, rec.Body.Len())
		}
	}
	// Never on the public port.
	rec = httptest.NewRecorder()
	app.Router.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/pprof/", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("public GET /debug/pprof/: %d, want 404", rec.Code)
	}
}
