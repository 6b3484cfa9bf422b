package server

import (
	"net/http"
	"net/http/pprof"
)

// addProfiling serves the runtime profiles (net/http/pprof) on the admin mux, next to /metrics and never on
// the public port: `go tool pprof http://<admin>/debug/pprof/heap` for a live service, goroutine dumps
// (`/debug/pprof/goroutine?debug=1`) to find where a leak starts, and `heap?gc=1` to measure the live heap
// after a collection (the soak test compares live heaps before and after its load).
func addProfiling(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}
