package client

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/mod/sumdb/note"

	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/policy"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/proto/evident/v1/evidentv1connect"
)

// Options configures a [Client]. The zero value of every field but one of
// LogKey and LogVerifier is a sensible default.
type Options struct {
	// Name is what results from this node are labelled with, e.g. the
	// foundation running it. Default: the node's host name.
	Name string
	// LogKey is the log's public key as a note verifier key
	// ("origin+hash+base64", as `evidentd init` prints it). Either LogKey or
	// LogVerifier is required: a client that can't verify checkpoints
	// can't verify anything.
	LogKey string
	// LogVerifier is the log's key as a note.Verifier; it takes precedence
	// over LogKey.
	LogVerifier note.Verifier
	// Policy, when not nil, is a c2sp.org/tlog-policy that must accept a
	// checkpoint (it must list the log, and the checkpoint's witness
	// cosignatures must meet its quorum) before the client believes it.
	// Default: the log's signature suffices.
	Policy *policy.WitnessPolicy
	// HTTPClient carries the requests. Default: a client speaking HTTP/2,
	// cleartext (h2c, prior knowledge) for http:// URLs and over TLS for
	// https:// URLs, with a 5 minute overall timeout per request.
	HTTPClient *http.Client
	// Logger receives debug messages. Default: discard.
	Logger *slog.Logger
	// StreamThreshold is the envelope size from which Submit streams the
	// envelope in chunks (SubmitStream) rather than sending one message.
	// Default 3 MiB, below gRPC's customary 4 MiB message limit.
	StreamThreshold int
}

// DefaultStreamThreshold is the default of Options.StreamThreshold.
const DefaultStreamThreshold = 3 << 20

// streamChunk is the chunk size of SubmitStream. The API allows 4 MiB, but a
// 4 MiB chunk makes a message just over gRPC's default limit; 1 MiB fits
// every configuration.
const streamChunk = 1 << 20

// Client talks to one Evident node and verifies its answers with the key of
// the node's log. It is safe for concurrent use.
type Client struct {
	name      string
	baseURL   string
	logKey    note.Verifier
	pol       *policy.WitnessPolicy
	log       *slog.Logger
	threshold int
	hc        *http.Client
	evidence  evidentv1connect.EvidenceServiceClient
	logs      evidentv1connect.LogServiceClient
}

// New returns a client for the node at baseURL (e.g.
// "https://evident.example.org" or "http://127.0.0.1:7420").
func New(baseURL string, opts Options) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("node URL %q: want http://host:port or https://host", baseURL)
	}
	v := opts.LogVerifier
	if v == nil {
		if opts.LogKey == "" {
			return nil, errors.New("no log key: give the node's log public key (origin+hash+base64, as evidentd prints it)")
		}
		if v, err = note.NewVerifier(strings.TrimSpace(opts.LogKey)); err != nil {
			return nil, fmt.Errorf("log key %q: %w", opts.LogKey, err)
		}
	}
	c := &Client{
		name:      opts.Name,
		baseURL:   strings.TrimSuffix(baseURL, "/"),
		logKey:    v,
		pol:       opts.Policy,
		log:       opts.Logger,
		threshold: opts.StreamThreshold,
	}
	if c.name == "" {
		c.name = u.Host
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.threshold <= 0 {
		c.threshold = DefaultStreamThreshold
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient(u.Scheme)
	}
	// The node accepts envelopes up to 64 MiB; answers carry entries and
	// proofs, and envelopes stream in 1 MiB chunks.
	copts := []connect.ClientOption{connect.WithReadMaxBytes(80 << 20), connect.WithSendMaxBytes(80 << 20)}
	c.hc = hc
	c.evidence = evidentv1connect.NewEvidenceServiceClient(hc, c.baseURL, copts...)
	c.logs = evidentv1connect.NewLogServiceClient(hc, c.baseURL, copts...)
	return c, nil
}

func defaultHTTPClient(scheme string) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Protocols = new(http.Protocols)
	if scheme == "http" {
		// The node serves h2c on cleartext listeners; one HTTP/2
		// connection carries all concurrent calls.
		t.Protocols.SetUnencryptedHTTP2(true)
	} else {
		t.Protocols.SetHTTP1(true)
		t.Protocols.SetHTTP2(true)
	}
	t.MaxIdleConnsPerHost = 16
	return &http.Client{Transport: t, Timeout: 5 * time.Minute}
}

// Name returns the name results from this node are labelled with.
func (c *Client) Name() string { return c.name }

// URL returns the node's base URL.
func (c *Client) URL() string { return c.baseURL }

// Origin returns the origin of the log this client trusts: the name of its
// log key.
func (c *Client) Origin() string { return c.logKey.Name() }

// Checkpoint fetches the node's latest checkpoint and verifies it: the
// log's signature, and the policy's witness quorum if one is configured.
func (c *Client) Checkpoint(ctx context.Context) (*VerifiedCheckpoint, error) {
	resp, err := c.logs.GetCheckpoint(ctx, connect.NewRequest(&evidentv1.GetCheckpointRequest{}))
	if err != nil {
		return nil, fmt.Errorf("couldn't get checkpoint from %s: %w", c.name, err)
	}
	return c.verifyCheckpoint([]byte(resp.Msg.GetCheckpoint()))
}

func (c *Client) verifyCheckpoint(signed []byte) (*VerifiedCheckpoint, error) {
	return VerifyCheckpoint(signed, []note.Verifier{c.logKey}, c.pol)
}

// SubmitResult is a node's answer for one envelope it logged.
type SubmitResult struct {
	// Index is the log index of the envelope's entry.
	Index uint64
	// Duplicate is true if the envelope was already logged; Index is then
	// the first entry's.
	Duplicate bool
	// EnvelopeDigest is the SHA-256 of the envelope.
	EnvelopeDigest [32]byte
	// Entry is the log entry the node made.
	Entry []byte
}

// RefusedError is a node refusing an envelope: nothing was logged, and
// sending the same envelope again will be refused again.
type RefusedError struct {
	// Code is the RPC status code, e.g. connect.CodeInvalidArgument or
	// connect.CodePermissionDenied.
	Code connect.Code
	// Message is the node's explanation, meant for the submitter.
	Message string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("refused (%s): %s", e.Code, e.Message)
}

// refusalCode reports whether code means the node refused an envelope for
// what it is (malformed, untrusted signer, too large), as opposed to being
// unable to log it now (busy, shutting down, internal error).
func refusalCode(code connect.Code) bool {
	switch code {
	case connect.CodeInvalidArgument, connect.CodePermissionDenied, connect.CodeUnauthenticated,
		connect.CodeResourceExhausted, connect.CodeFailedPrecondition, connect.CodeOutOfRange:
		return true
	}
	return false
}

// refusal reports whether err is the node refusing the envelope (rather
// than the call failing), and returns it as a *RefusedError.
func refusal(err error) (*RefusedError, bool) {
	var ce *connect.Error
	if errors.As(err, &ce) && refusalCode(ce.Code()) {
		return &RefusedError{Code: ce.Code(), Message: ce.Message()}, true
	}
	return nil, false
}

// Submit logs one DSSE envelope, exactly as given. Envelopes from
// Options.StreamThreshold bytes on are streamed in chunks. A refusal by the
// node is a [*RefusedError]; other errors mean the outcome is unknown and
// the envelope may be sent again (submitting is idempotent).
func (c *Client) Submit(ctx context.Context, envelope []byte) (*SubmitResult, error) {
	return c.SubmitFor(ctx, envelope, "")
}

// SubmitFor is [Client.Submit] with release: the purl with a version under
// which the node files statement subjects named by file rather than by purl
// (SLSA provenance of a tarball, a PyPI attestation of a wheel), if the
// signed file name carries that release's name and version; or "".
func (c *Client) SubmitFor(ctx context.Context, envelope []byte, release string) (*SubmitResult, error) {
	var res *evidentv1.SubmitResult
	var err error
	if len(envelope) >= c.threshold {
		res, err = c.submitStream(ctx, envelope, release)
	} else {
		var resp *connect.Response[evidentv1.SubmitResponse]
		resp, err = c.evidence.Submit(ctx, connect.NewRequest(&evidentv1.SubmitRequest{Envelope: envelope, ReleasePurl: release}))
		if err == nil {
			res = resp.Msg.GetResult()
		}
	}
	if err != nil {
		if r, ok := refusal(err); ok {
			return nil, r
		}
		return nil, fmt.Errorf("couldn't submit to %s: %w", c.name, err)
	}
	return checkSubmitResult(res, envelope)
}

func (c *Client) submitStream(ctx context.Context, envelope []byte, release string) (*evidentv1.SubmitResult, error) {
	sum := sha256.Sum256(envelope)
	stream := c.evidence.SubmitStream(ctx)
	err := stream.Send(&evidentv1.SubmitStreamRequest{Part: &evidentv1.SubmitStreamRequest_Header{
		Header: &evidentv1.SubmitStreamHeader{EnvelopeSize: uint64(len(envelope)), EnvelopeSha256: sum[:], ReleasePurl: release},
	}})
	for rest := envelope; err == nil && len(rest) > 0; {
		n := min(len(rest), streamChunk)
		err = stream.Send(&evidentv1.SubmitStreamRequest{Part: &evidentv1.SubmitStreamRequest_Chunk{Chunk: rest[:n]}})
		rest = rest[n:]
	}
	// On a send error the real cause comes from CloseAndReceive.
	resp, cerr := stream.CloseAndReceive()
	if cerr != nil {
		return nil, cerr
	}
	if err != nil {
		return nil, err
	}
	return resp.Msg.GetResult(), nil
}

// checkSubmitResult checks that the node's answer is about envelope.
func checkSubmitResult(res *evidentv1.SubmitResult, envelope []byte) (*SubmitResult, error) {
	if res == nil {
		return nil, errors.New("the node's answer has no result")
	}
	out := &SubmitResult{Index: res.GetLogIndex(), Duplicate: res.GetDuplicate(), EnvelopeDigest: sha256.Sum256(envelope), Entry: res.GetEntry()}
	e, err := evidence.ParseEntry(res.GetEntry())
	if err != nil {
		return nil, fmt.Errorf("the node answered with a bad entry: %w", err)
	}
	if e.EnvelopeDigest != out.EnvelopeDigest {
		return nil, fmt.Errorf("the node answered with an entry for envelope %x, not the one sent (%x)", e.EnvelopeDigest, out.EnvelopeDigest)
	}
	return out, nil
}

// MaxBatch is the most envelopes [Client.SubmitBatch] sends in one call, and
// MaxBatchEnvelope the largest envelope it takes (the API's limits).
const (
	MaxBatch         = 1000
	MaxBatchEnvelope = 4 << 20
)

// BatchOutcome is the outcome of one envelope of a batch: Result, or Err.
// Err is a [*RefusedError] when the node refused the envelope; any other
// error means it was not logged this time and may be sent again.
type BatchOutcome struct {
	Result *SubmitResult
	Err    error
}

// SubmitBatch logs up to [MaxBatch] envelopes of at most [MaxBatchEnvelope]
// bytes in one call. Each envelope succeeds or is refused on its own;
// outcomes are in the order of envelopes. An error means the call as a whole
// failed and the outcome of every envelope is unknown.
func (c *Client) SubmitBatch(ctx context.Context, envelopes [][]byte) ([]BatchOutcome, error) {
	return c.SubmitBatchFor(ctx, envelopes, nil)
}

// SubmitBatchFor is [Client.SubmitBatch] with releases[i] the release of
// envelopes[i], as [Client.SubmitFor] takes it; releases is nil or has one
// element per envelope.
func (c *Client) SubmitBatchFor(ctx context.Context, envelopes [][]byte, releases []string) ([]BatchOutcome, error) {
	if releases != nil && len(releases) != len(envelopes) {
		return nil, fmt.Errorf("%d releases for %d envelopes: give one per envelope, or none", len(releases), len(envelopes))
	}
	if len(envelopes) == 0 || len(envelopes) > MaxBatch {
		return nil, fmt.Errorf("a batch holds 1 to %d envelopes, not %d", MaxBatch, len(envelopes))
	}
	for i, e := range envelopes {
		if len(e) == 0 || len(e) > MaxBatchEnvelope {
			return nil, fmt.Errorf("envelope %d is %d bytes; batches take 1 to %d bytes each, submit larger ones with Submit", i, len(e), MaxBatchEnvelope)
		}
	}
	resp, err := c.evidence.SubmitBatch(ctx, connect.NewRequest(&evidentv1.SubmitBatchRequest{Envelopes: envelopes, ReleasePurls: releases}))
	if err != nil {
		return nil, fmt.Errorf("couldn't submit a batch to %s: %w", c.name, err)
	}
	rs := resp.Msg.GetResults()
	if len(rs) != len(envelopes) {
		return nil, fmt.Errorf("the node answered %d results for %d envelopes", len(rs), len(envelopes))
	}
	out := make([]BatchOutcome, len(rs))
	for i, r := range rs {
		switch o := r.GetOutcome().(type) {
		case *evidentv1.SubmitBatchResult_Result:
			out[i].Result, out[i].Err = checkSubmitResult(o.Result, envelopes[i])
		case *evidentv1.SubmitBatchResult_Error:
			code := connect.Code(o.Error.GetCode())
			if refusalCode(code) {
				out[i].Err = &RefusedError{Code: code, Message: o.Error.GetMessage()}
			} else {
				// Not logged now; sending it again may succeed.
				out[i].Err = connect.NewError(code, errors.New(o.Error.GetMessage()))
			}
		default:
			out[i].Err = errors.New("the node's answer has neither a result nor an error")
		}
	}
	return out, nil
}

// CloseIdleConnections closes the connections the client keeps open to the
// node, if its HTTP client supports that (the default one does).
func (c *Client) CloseIdleConnections() {
	if t, ok := c.hc.Transport.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
}
