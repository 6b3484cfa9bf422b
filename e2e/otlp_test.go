package e2e

import (
	"compress/gzip"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// traceReceiver is an OTLP/HTTP trace endpoint (POST /v1/traces, protobuf), what a Collector or Tempo would
// be: the stack's services export their spans to it, and tests read whole traces back by id.
type traceReceiver struct {
	srv *httptest.Server

	mu      sync.Mutex
	byTrace map[string][]span
}

// span is an exported span, flattened for assertions.
type span struct {
	Service        string
	TraceID        string
	SpanID, Parent string // Parent "" for a root
	Name           string
	Kind           tracepb.Span_SpanKind
	Attrs          map[string]string
	Links          []string // span ids this span links to
	Start, End     time.Time
	Error          bool
}

func newTraceReceiver() *traceReceiver {
	r := &traceReceiver{byTrace: map[string][]span{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	return r
}

// Env points a service's OpenTelemetry SDK at the receiver: OTLP over HTTP with protobuf, every span of a
// sampled trace kept, batches sent every 200 ms so a test waits little.
func (r *traceReceiver) Env() []string {
	return []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT=" + r.srv.URL,
		"OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
		"OTEL_TRACES_SAMPLER=parentbased_always_on",
		"OTEL_BSP_SCHEDULE_DELAY=200",
	}
}

func (r *traceReceiver) Close() { r.srv.Close() }

func (r *traceReceiver) serve(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" {
		http.NotFound(w, req)
		return
	}
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		defer gz.Close()
		body = gz
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var export collectortrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(raw, &export); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.add(&export)
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (r *traceReceiver) add(export *collectortrace.ExportTraceServiceRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range export.GetResourceSpans() {
		service := attrs(rs.GetResource().GetAttributes())["service.name"]
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				sp := span{
					Service: service,
					TraceID: hex.EncodeToString(s.GetTraceId()),
					SpanID:  hex.EncodeToString(s.GetSpanId()),
					Parent:  hex.EncodeToString(s.GetParentSpanId()),
					Name:    s.GetName(),
					Kind:    s.GetKind(),
					Attrs:   attrs(s.GetAttributes()),
					Start:   time.Unix(0, int64(s.GetStartTimeUnixNano())),
					End:     time.Unix(0, int64(s.GetEndTimeUnixNano())),
					Error:   s.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR,
				}
				for _, l := range s.GetLinks() {
					sp.Links = append(sp.Links, hex.EncodeToString(l.GetSpanId()))
				}
				r.byTrace[sp.TraceID] = append(r.byTrace[sp.TraceID], sp)
			}
		}
	}
}

func attrs(kvs []*commonpb.KeyValue) map[string]string {
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		v := kv.GetValue()
		switch x := v.GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			out[kv.GetKey()] = x.StringValue
		case *commonpb.AnyValue_IntValue:
			out[kv.GetKey()] = fmt.Sprint(x.IntValue)
		case *commonpb.AnyValue_BoolValue:
			out[kv.GetKey()] = fmt.Sprint(x.BoolValue)
		case *commonpb.AnyValue_DoubleValue:
			out[kv.GetKey()] = fmt.Sprint(x.DoubleValue)
		default:
			out[kv.GetKey()] = v.String()
		}
	}
	return out
}

// Trace returns the spans of one trace received so far, in start order.
func (r *traceReceiver) Trace(traceID string) []span {
	r.mu.Lock()
	out := append([]span(nil), r.byTrace[traceID]...)
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// snapshot copies every trace received so far.
func (r *traceReceiver) snapshot() map[string][]span {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string][]span, len(r.byTrace))
	for id, ss := range r.byTrace {
		out[id] = append([]span(nil), ss...)
	}
	return out
}

// tree renders a trace as an indented tree (children under their parent, in start order); spans whose parent
// is not in the trace (the client's span, or a lost hop) are roots.
func tree(spans []span) string {
	byID := map[string]bool{}
	children := map[string][]span{}
	for _, s := range spans {
		byID[s.SpanID] = true
	}
	var roots []span
	for _, s := range spans {
		if s.Parent == "" || !byID[s.Parent] {
			roots = append(roots, s)
			continue
		}
		children[s.Parent] = append(children[s.Parent], s)
	}
	var b strings.Builder
	var walk func(s span, depth int)
	walk = func(s span, depth int) {
		kind := strings.TrimPrefix(s.Kind.String(), "SPAN_KIND_")
		fmt.Fprintf(&b, "%s%-8s %-8s %s%s (%s)\n", strings.Repeat("  ", depth), s.Service, kind, s.Name, detail(s),
			s.End.Sub(s.Start).Round(10*time.Microsecond))
		for _, c := range children[s.SpanID] {
			walk(c, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	return b.String()
}

// detail is what identifies a span in the tree beyond its name.
func detail(s span) string {
	var parts []string
	add := func(k, v string) {
		if v = strings.Join(strings.Fields(v), " "); len(v) > 48 {
			v = v[:45] + "..."
		}
		parts = append(parts, k+"="+v)
	}
	if u, err := url.Parse(s.Attrs["url.full"]); err == nil && u.Path != "" {
		add("url.path", u.Path)
	}
	for _, k := range []string{"db.system", "db.query.text", "messaging.message.type", "messaging.rabbitmq.destination.routing_key",
		"messenger.push.frame_type", "messenger.push.sockets", "http.response.status_code"} {
		if v, ok := s.Attrs[k]; ok {
			add(k, v)
		}
	}
	if s.Error {
		parts = append(parts, "ERROR")
	}
	if len(parts) == 0 {
		return ""
	}
	return " [" + strings.Join(parts, " ") + "]"
}
