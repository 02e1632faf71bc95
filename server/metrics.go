package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// rpcMetrics are the node's per-RPC metrics:
//
//	evident_rpc_requests_total{procedure,code}   counter: finished RPCs
//	evident_rpc_duration_seconds{procedure,code} histogram: RPC latency
type rpcMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newRPCMetrics(reg prometheus.Registerer) (*rpcMetrics, error) {
	m := &rpcMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "evident_rpc_requests_total",
			Help: "RPCs handled, by procedure and result code.",
		}, []string{"procedure", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "evident_rpc_duration_seconds",
			Help:    "RPC latency, by procedure and result code.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"procedure", "code"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func codeLabel(err error) string {
	if err == nil {
		return "ok"
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Code().String()
	}
	return connect.CodeUnknown.String()
}

func (m *rpcMetrics) observe(procedure string, start time.Time, err error) {
	code := codeLabel(err)
	m.requests.WithLabelValues(procedure, code).Inc()
	m.duration.WithLabelValues(procedure, code).Observe(time.Since(start).Seconds())
}

// interceptor records every RPC, validation failures included (it runs
// outside the validation interceptor).
func (m *rpcMetrics) interceptor() connect.Interceptor { return metricsInterceptor{m} }

type metricsInterceptor struct{ m *rpcMetrics }

func (i metricsInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		start := time.Now()
		markSeen(ctx)
		res, err := next(ctx, req)
		i.m.observe(req.Spec().Procedure, start, err)
		return res, err
	}
}

func (i metricsInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i metricsInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		start := time.Now()
		markSeen(ctx)
		err := next(ctx, conn)
		i.m.observe(conn.Spec().Procedure, start, err)
		return err
	}
}

// seenKey is the context key of the flag the interceptor sets on the
// requests it records.
type seenKey struct{}

// early records the RPCs of one service that fail before any interceptor
// runs: connect reads and decodes a unary request first, so a request over
// the read limit, or one that does not decode, never reaches the
// interceptor. Only the service's own procedures are recorded (labels must
// stay few whatever paths clients send).
func (m *rpcMetrics) early(service string, next http.Handler) http.Handler {
	procedures := map[string]bool{}
	for _, method := range methodsOf(service) {
		procedures["/"+service+"/"+method] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !procedures[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		seen := new(bool)
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), seenKey{}, seen)))
		if !*seen {
			code := sw.code()
			m.requests.WithLabelValues(r.URL.Path, code).Inc()
			m.duration.WithLabelValues(r.URL.Path, code).Observe(time.Since(start).Seconds())
		}
	})
}

// otherMethods are the methods of the services the node mounts whose
// descriptors are not registered under these names: connect's health and
// reflection handlers register theirs under a prefix of their own.
var otherMethods = map[string][]string{
	"grpc.health.v1.Health":                    {"Check", "Watch"},
	"grpc.reflection.v1.ServerReflection":      {"ServerReflectionInfo"},
	"grpc.reflection.v1alpha.ServerReflection": {"ServerReflectionInfo"},
}

// methodsOf returns the method names of a service the node mounts.
func methodsOf(service string) []string {
	if ms, ok := otherMethods[service]; ok {
		return ms
	}
	var out []string
	if d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(service)); err == nil {
		if sd, ok := d.(protoreflect.ServiceDescriptor); ok {
			for i := range sd.Methods().Len() {
				out = append(out, string(sd.Methods().Get(i).Name()))
			}
		}
	}
	return out
}

// markSeen tells early that the interceptor recorded the request.
func markSeen(ctx context.Context) {
	if seen, ok := ctx.Value(seenKey{}).(*bool); ok {
		*seen = true
	}
}

// statusWriter remembers the HTTP status of a response, to tell an early
// failure's code.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush and Unwrap keep what connect and http.ResponseController need of
// the writer underneath.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// code is the RPC code of the response: the gRPC status (gRPC sends it as
// a trailer, gRPC-Web and trailers-only answers as a header), else the
// Connect protocol's HTTP status for the codes a request can fail with
// before it is decoded.
func (w *statusWriter) code() string {
	h := w.Header()
	for _, k := range []string{http.TrailerPrefix + "Grpc-Status", "Grpc-Status"} {
		if v := h.Get(k); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 16 {
				return connect.CodeUnknown.String()
			}
			if n == 0 {
				return "ok"
			}
			return connect.Code(n).String()
		}
	}
	// The Connect protocol's HTTP statuses, each read as the code a request
	// failing before it is decoded has (400 is also failed_precondition and
	// out_of_range, 409 also already_exists, 500 also unknown and
	// data_loss); 415 and 405 are a wrong content type or method.
	code, ok := map[int]connect.Code{
		http.StatusBadRequest:           connect.CodeInvalidArgument,
		http.StatusUnauthorized:         connect.CodeUnauthenticated,
		http.StatusForbidden:            connect.CodePermissionDenied,
		http.StatusNotFound:             connect.CodeNotFound,
		http.StatusMethodNotAllowed:     connect.CodeUnimplemented,
		http.StatusConflict:             connect.CodeAborted,
		http.StatusUnsupportedMediaType: connect.CodeUnimplemented,
		http.StatusTooManyRequests:      connect.CodeResourceExhausted,
		499:                             connect.CodeCanceled,
		http.StatusInternalServerError:  connect.CodeInternal,
		http.StatusNotImplemented:       connect.CodeUnimplemented,
		http.StatusServiceUnavailable:   connect.CodeUnavailable,
		http.StatusGatewayTimeout:       connect.CodeDeadlineExceeded,
	}[w.status]
	switch {
	case w.status == 0 || w.status == http.StatusOK:
		return "ok"
	case ok:
		return code.String()
	}
	return connect.CodeUnknown.String()
}
