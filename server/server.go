// Package server is an Evident node: the EvidenceService and LogService over
// Connect, gRPC and gRPC-Web on one listener, with protovalidate in front of
// every handler, gRPC health and reflection, Prometheus metrics and the C2SP
// tlog-tiles read API.
package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"connectrpc.com/validate"
	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/ledger"
	"github.com/evident-dev/evident/ledger/evidentledger"
	"github.com/evident-dev/evident/proto/evident/v1/evidentv1connect"
	"github.com/evident-dev/evident/server/federation"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultMaxEnvelopeSize is the default for Options.MaxEnvelopeSize: SBOMs
// get large.
const DefaultMaxEnvelopeSize = 32 << 20

// DefaultMaxResponseBytes is the default for Options.MaxResponseBytes:
// under the 4 MiB that grpc-go clients receive by default.
const DefaultMaxResponseBytes = 3 << 20

// EnvelopeSizeCap is the most Options.MaxEnvelopeSize may be: the API's
// own cap on an envelope (SubmitRequest.envelope, SubmitStreamHeader's
// envelope_size), which requests over it fail validation against.
const EnvelopeSizeCap = 64 << 20

// Options configures a node.
type Options struct {
	// Ledger is the node's log, opened with LedgerOptions. Required.
	Ledger *ledger.Ledger
	// Trust says which keys may submit evidence for which purl namespaces.
	// Nil trusts no one: every submission is refused.
	Trust *evidence.TrustedSigners
	// MaxEnvelopeSize bounds one envelope in bytes. Default
	// DefaultMaxEnvelopeSize (32 MiB).
	MaxEnvelopeSize int
	// MaxPendingBytes bounds the envelope bytes held for submissions not
	// yet logged (each also counts 2 KiB for what comes with it); beyond
	// it a submission is refused with Unavailable and a retry hint.
	// Default DefaultMaxPendingBytes (256 MiB), or four envelopes of
	// MaxEnvelopeSize if that is more.
	MaxPendingBytes int64
	// MaxResponseBytes bounds an answer of GetEntries or QueryEvidence:
	// past it they stop early, as their API allows (QueryEvidence with a
	// page token). Default DefaultMaxResponseBytes.
	MaxResponseBytes int
	// StreamIdleTimeout is how long SubmitStream waits for a client's next
	// message before it gives up (DeadlineExceeded). Default 30s.
	StreamIdleTimeout time.Duration
	// Logger receives the node's logs. Default: discard.
	Logger *slog.Logger
	// Registry receives the node's metrics and is served on /metrics.
	// Default: a new registry.
	Registry *prometheus.Registry
	// Now is the clock that stamps entries. Default time.Now.
	Now func() time.Time
	// Federation, when set, is mounted (WitnessService, POST
	// /add-checkpoint, GET /misbehaviour), and queries and proofs are served
	// against its checkpoint, which carries the peers' cosignatures.
	// Default: none; the ledger's own checkpoint is served.
	Federation *federation.Federation
}

// Handlers are a node's request handlers (package node runs a whole node
// around them). Create them with New; serve Handler.
type Handlers struct {
	opts    Options
	log     *slog.Logger
	ledger  *ledger.Ledger
	metrics *rpcMetrics
	pending pending
	limits  submitLimits

	trustMu sync.RWMutex
	trust   *evidence.TrustedSigners

	mux *http.ServeMux
}

// New returns a node serving opts.Ledger.
func New(opts Options) (*Handlers, error) {
	if opts.Ledger == nil {
		return nil, errors.New("server: Options.Ledger is required")
	}
	if opts.MaxEnvelopeSize <= 0 {
		opts.MaxEnvelopeSize = DefaultMaxEnvelopeSize
	}
	if opts.StreamIdleTimeout <= 0 {
		opts.StreamIdleTimeout = 30 * time.Second
	}
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if opts.MaxEnvelopeSize > EnvelopeSizeCap {
		return nil, fmt.Errorf("MaxEnvelopeSize %d is over the API's cap of %d bytes per envelope", opts.MaxEnvelopeSize, EnvelopeSizeCap)
	}
	if opts.MaxPendingBytes <= 0 {
		opts.MaxPendingBytes = max(DefaultMaxPendingBytes, 4*int64(opts.MaxEnvelopeSize))
	}
	if opts.MaxPendingBytes < int64(opts.MaxEnvelopeSize)+pendingOverhead {
		return nil, fmt.Errorf("MaxPendingBytes %d is less than one envelope of MaxEnvelopeSize %d (and its 2 KiB): no such envelope could ever be submitted", opts.MaxPendingBytes, opts.MaxEnvelopeSize)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}

	s := &Handlers{
		opts:   opts,
		log:    opts.Logger,
		ledger: opts.Ledger,
		trust:  opts.Trust,
		mux:    http.NewServeMux(),
	}
	s.pending.max = opts.MaxPendingBytes
	m, err := newRPCMetrics(opts.Registry)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	if err := opts.Registry.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "evident_submissions_pending_bytes",
		Help: "Envelope bytes (and 2 KiB per envelope) held for submissions not yet logged; at MaxPendingBytes submissions are refused with Unavailable.",
	}, func() float64 { return float64(s.pending.used.Load()) })); err != nil {
		return nil, err
	}

	interceptors := s.HandlerOptions()[0]
	// Every handler has a read limit: connect's default is none, and a gRPC
	// message may announce 4 GiB (or inflate to any size from a small gzip
	// body). EvidenceService's admits a whole envelope, base64 in JSON
	// (4/3 of its size) for Connect JSON clients, plus framing.
	readMax := connect.WithReadMaxBytes(opts.MaxEnvelopeSize/3*4 + 1<<20)
	small := connect.WithReadMaxBytes(MaxSmallRequest)
	// Every RPC is counted: by the interceptor, or, failing before it runs,
	// by the metrics' early wrapper.
	rpcs := rpcMux{s.mux, s.metrics}
	evPath, evHandler := evidentv1connect.NewEvidenceServiceHandler(&evidenceService{s}, interceptors, readMax)
	rpcs.Handle(evPath, withResponseController(evidentv1connect.EvidenceServiceSubmitStreamProcedure, evHandler))
	rpcs.Handle(evidentv1connect.NewLogServiceHandler(&logService{s}, interceptors, small))

	services := []string{evidentv1connect.EvidenceServiceName, evidentv1connect.LogServiceName}
	if opts.Federation != nil {
		opts.Federation.Mount(rpcs, s.HandlerOptions()...)
		services = append(services, evidentv1connect.WitnessServiceName)
	}
	// Health and reflection have nothing to validate; they are counted.
	counted := connect.WithInterceptors(s.metrics.interceptor())
	rpcs.Handle(grpchealth.NewHandler(grpchealth.NewStaticChecker(services...), small, counted))
	reflector := grpcreflect.NewStaticReflector(services...)
	rpcs.Handle(grpcreflect.NewHandlerV1(reflector, small, counted))
	rpcs.Handle(grpcreflect.NewHandlerV1Alpha(reflector, small, counted))
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Registry, promhttp.HandlerOpts{Registry: opts.Registry}))
	return s, nil
}

// rpcMux mounts handlers wrapped in the metrics' early wrapper, which
// records the RPCs of a service pattern ("/pkg.Service/") that no
// interceptor recorded.
type rpcMux struct {
	mux     *http.ServeMux
	metrics *rpcMetrics
}

func (m rpcMux) Handle(pattern string, h http.Handler) {
	m.mux.Handle(pattern, m.metrics.early(strings.Trim(pattern, "/"), h))
}

// rcKey is the context key of a request's http.ResponseController.
type rcKey struct{}

// withResponseController gives the handler of procedure its request's
// http.ResponseController (in the context), which connect does not: to
// set read deadlines on a stream.
func withResponseController(procedure string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == procedure {
			r = r.WithContext(context.WithValue(r.Context(), rcKey{}, http.NewResponseController(w)))
		}
		next.ServeHTTP(w, r)
	})
}

// idleDeadline returns the function that gives the request of ctx another
// StreamIdleTimeout to send its next message.
func (s *Handlers) idleDeadline(ctx context.Context) func() {
	rc, _ := ctx.Value(rcKey{}).(*http.ResponseController)
	return func() {
		if rc != nil {
			rc.SetReadDeadline(time.Now().Add(s.opts.StreamIdleTimeout))
		}
	}
}

// MaxSmallRequest is the read limit of the node's handlers other than
// EvidenceService and WitnessService: their requests are a few fields.
const MaxSmallRequest = 64 << 10

// HandlerOptions are the options every Connect handler of the node is built
// with: metrics, then protovalidate before any handler sees a request (and
// on every message of a stream).
func (s *Handlers) HandlerOptions() []connect.HandlerOption {
	return []connect.HandlerOption{connect.WithInterceptors(
		s.metrics.interceptor(),
		validate.NewInterceptor(),
	)}
}

// checkpoint is the checkpoint reads are served against.
func (s *Handlers) checkpoint() ([]byte, uint64) {
	if s.opts.Federation != nil {
		return s.opts.Federation.Checkpoint()
	}
	return s.ledger.Checkpoint()
}

// Handle mounts another handler (tiles, witness, web pages) on the node's
// listener.
func (s *Handlers) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Handler returns the node's HTTP handler: Connect, gRPC and gRPC-Web on the
// same routes. Serve it over HTTP/2 (h2c or TLS) for gRPC clients.
func (s *Handlers) Handler() http.Handler { return s.mux }

// SetTrust replaces the trust policy, for a configuration reload.
func (s *Handlers) SetTrust(t *evidence.TrustedSigners) {
	s.trustMu.Lock()
	defer s.trustMu.Unlock()
	s.trust = t
}

func (s *Handlers) trustPolicy() *evidence.TrustedSigners {
	s.trustMu.RLock()
	defer s.trustMu.RUnlock()
	return s.trust
}

// Envelopes serves the envelopes of logged entries by SHA-256, for the
// tlog-tiles handler's /evidence/sha256/<hex>.
func (s *Handlers) Envelopes() interface {
	Open(ctx context.Context, digest [32]byte) (io.ReadCloser, int64, error)
} {
	return envelopes{s.ledger}
}

type envelopes struct{ l *ledger.Ledger }

func (e envelopes) Open(ctx context.Context, d [32]byte) (io.ReadCloser, int64, error) {
	b, err := envelope(ctx, e.l, d)
	if errors.Is(err, ledger.ErrNotFound) {
		return nil, 0, fmt.Errorf("no envelope %x: %w", d, fs.ErrNotExist)
	}
	if err != nil {
		return nil, 0, err
	}
	return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
}

// envelope returns the logged envelope with SHA-256 d: the dedup index maps
// the digest to its entry, whose blob is the envelope.
func envelope(ctx context.Context, l *ledger.Ledger, d [32]byte) ([]byte, error) {
	idx, err := l.IndexOfIdentity(ctx, d)
	if err != nil {
		return nil, err
	}
	b, err := l.Blob(ctx, idx)
	if err != nil {
		return nil, err
	}
	if sha256.Sum256(b) != d {
		return nil, fmt.Errorf("stored envelope of entry %d does not hash to %x", idx, d)
	}
	return b, nil
}

// BatchWait is how long a node's ledger waits to fill a batch (see
// ledger.Options.MaxBatchWait). Submissions reach the ledger only after
// hundreds of microseconds of verification each, so the ledger's adaptive
// default commits nearly every one alone: 4.6 entries per commit from 64
// clients, each commit paying a checkpoint signature and an fsync in CPU
// the verifications need. Waiting up to 2ms gave commits of 18 entries and
// 50% more single Submits per second, with a lower p99 (evidentbench
// -batch-wait, 2ms against 4ms and the adaptive default, two runs each).
const BatchWait = 2 * time.Millisecond

// LedgerOptions returns the ledger options a node needs: batches filled for
// up to BatchWait unless base says otherwise, and the Evident index schema
// (evidentledger.Options): entries deduplicated by envelope digest (the same
// envelope submitted twice returns the first entry) and indexed by release,
// package, artifact digest and predicate type.
func LedgerOptions(base ledger.Options) ledger.Options {
	if base.MaxBatchWait == 0 {
		base.MaxBatchWait = BatchWait
	}
	return evidentledger.Options(base)
}
