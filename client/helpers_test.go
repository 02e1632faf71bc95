package client

import (
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"connectrpc.com/connect"
	"golang.org/x/mod/sumdb/note"

	"github.com/evident-dev/evident/checkpoint"
	"github.com/evident-dev/evident/evidence"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/proto/evident/v1/evidentv1connect"
	"github.com/evident-dev/evident/server/servertest"
)

// startNode runs a real node in-process, on loopback.
func startNode(t *testing.T) *servertest.Node {
	t.Helper()
	n, err := servertest.Start(servertest.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func newClient(t *testing.T, url, vkey string, opts Options) *Client {
	t.Helper()
	opts.LogKey = vkey
	c, err := New(url, opts)
	if err != nil {
		t.Fatal(err)
	}
	// Before the node stops (cleanups run last first): a node's shutdown
	// waits for open HTTP/2 connections to go idle.
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// testEnvelope returns an envelope signed by servertest.KeyPyPIMaven (which
// test nodes trust for pkg:pypi) about purl; n makes it unique.
func testEnvelope(purl string, n int) []byte {
	pred := json.RawMessage(fmt.Sprintf(`{"spdxVersion":"SPDX-2.3","name":%q,"n":%d}`, purl, n))
	return servertest.Envelope(servertest.KeyPyPIMaven, purl, servertest.Digest(fmt.Sprint(purl, n)), evidence.PredicateSPDX23, pred)
}

func submitAll(t *testing.T, c *Client, envs ...[]byte) []*SubmitResult {
	t.Helper()
	var out []*SubmitResult
	for _, e := range envs {
		r, err := c.Submit(context.Background(), e)
		if err != nil {
			t.Fatalf("Submit: %v", err)
		}
		out = append(out, r)
	}
	return out
}

func signerKeys() []crypto.PublicKey {
	return []crypto.PublicKey{servertest.Public(servertest.KeyPyPIMaven), servertest.Public(servertest.KeyNPM)}
}

// forgeCheckpoint signs a checkpoint of the node's origin with its note key.
func forgeCheckpoint(t *testing.T, n *servertest.Node, size uint64, root [32]byte) []byte {
	t.Helper()
	s, err := note.NewSigner(n.NoteKey)
	if err != nil {
		t.Fatal(err)
	}
	body := checkpoint.Checkpoint{Origin: s.Name(), Size: size, Hash: root}.Marshal()
	signed, err := note.Sign(&note.Note{Text: string(body)}, s)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// proxy is a node that forwards to a real one and lets a test change the
// answers: a misbehaving or broken node. Nil hooks pass answers through.
type proxy struct {
	evidentv1connect.UnimplementedEvidenceServiceHandler
	evidentv1connect.UnimplementedLogServiceHandler
	ev   evidentv1connect.EvidenceServiceClient
	logs evidentv1connect.LogServiceClient

	checkpoint  func(signed string) string
	consistency func(*evidentv1.GetConsistencyProofResponse)
	query       func(*evidentv1.QueryEvidenceResponse)
	get         func(*evidentv1.GetEvidenceResponse)
	envelope    func([]byte) []byte
	document    func([]byte) []byte
	// batch sees each message of a BatchQuery stream; it may change it,
	// and returns false to leave it out.
	batch func(*evidentv1.BatchQueryResponse) bool
	// submit and submitBatch see each request first; an error they return
	// is the answer instead of the node's.
	submit      func(*evidentv1.SubmitRequest) error
	submitBatch func(*evidentv1.SubmitBatchRequest) error
}

// startProxy serves a proxy of n and returns it and its URL.
func startProxy(t *testing.T, n *servertest.Node) (*proxy, string) {
	t.Helper()
	p := &proxy{
		ev:   evidentv1connect.NewEvidenceServiceClient(http.DefaultClient, n.URL),
		logs: evidentv1connect.NewLogServiceClient(http.DefaultClient, n.URL),
	}
	mux := http.NewServeMux()
	mux.Handle(evidentv1connect.NewEvidenceServiceHandler(p))
	mux.Handle(evidentv1connect.NewLogServiceHandler(p))
	srv := httptest.NewUnstartedServer(mux)
	// Like a node: HTTP/1.1 and h2c, which the client's default transport
	// speaks for http:// URLs.
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	return p, srv.URL
}

func (p *proxy) Submit(ctx context.Context, req *connect.Request[evidentv1.SubmitRequest]) (*connect.Response[evidentv1.SubmitResponse], error) {
	if p.submit != nil {
		if err := p.submit(req.Msg); err != nil {
			return nil, err
		}
	}
	return p.ev.Submit(ctx, req)
}

func (p *proxy) SubmitBatch(ctx context.Context, req *connect.Request[evidentv1.SubmitBatchRequest]) (*connect.Response[evidentv1.SubmitBatchResponse], error) {
	if p.submitBatch != nil {
		if err := p.submitBatch(req.Msg); err != nil {
			return nil, err
		}
	}
	return p.ev.SubmitBatch(ctx, req)
}

func (p *proxy) GetCheckpoint(ctx context.Context, req *connect.Request[evidentv1.GetCheckpointRequest]) (*connect.Response[evidentv1.GetCheckpointResponse], error) {
	resp, err := p.logs.GetCheckpoint(ctx, req)
	if err == nil && p.checkpoint != nil {
		resp.Msg.Checkpoint = p.checkpoint(resp.Msg.Checkpoint)
	}
	return resp, err
}

func (p *proxy) GetConsistencyProof(ctx context.Context, req *connect.Request[evidentv1.GetConsistencyProofRequest]) (*connect.Response[evidentv1.GetConsistencyProofResponse], error) {
	resp, err := p.logs.GetConsistencyProof(ctx, req)
	if err == nil && p.consistency != nil {
		p.consistency(resp.Msg)
	}
	return resp, err
}

func (p *proxy) QueryEvidence(ctx context.Context, req *connect.Request[evidentv1.QueryEvidenceRequest]) (*connect.Response[evidentv1.QueryEvidenceResponse], error) {
	resp, err := p.ev.QueryEvidence(ctx, req)
	if err == nil {
		if p.checkpoint != nil {
			resp.Msg.Checkpoint = p.checkpoint(resp.Msg.Checkpoint)
		}
		if p.query != nil {
			p.query(resp.Msg)
		}
	}
	return resp, err
}

func (p *proxy) GetEvidence(ctx context.Context, req *connect.Request[evidentv1.GetEvidenceRequest]) (*connect.Response[evidentv1.GetEvidenceResponse], error) {
	resp, err := p.ev.GetEvidence(ctx, req)
	if err == nil {
		if p.checkpoint != nil {
			resp.Msg.Checkpoint = p.checkpoint(resp.Msg.Checkpoint)
		}
		if p.get != nil {
			p.get(resp.Msg)
		}
	}
	return resp, err
}

func (p *proxy) BatchQuery(ctx context.Context, req *connect.Request[evidentv1.BatchQueryRequest], out *connect.ServerStream[evidentv1.BatchQueryResponse]) error {
	in, err := p.ev.BatchQuery(ctx, req)
	if err != nil {
		return err
	}
	defer in.Close()
	for in.Receive() {
		m := in.Msg()
		if p.checkpoint != nil && m.GetCheckpoint() != "" {
			m.Checkpoint = p.checkpoint(m.GetCheckpoint())
		}
		if p.batch != nil && !p.batch(m) {
			continue
		}
		if err := out.Send(m); err != nil {
			return err
		}
	}
	return in.Err()
}

func (p *proxy) GetEnvelope(ctx context.Context, req *connect.Request[evidentv1.GetEnvelopeRequest], out *connect.ServerStream[evidentv1.GetEnvelopeResponse]) error {
	in, err := p.ev.GetEnvelope(ctx, req)
	if err != nil {
		return err
	}
	defer in.Close()
	var buf []byte
	for in.Receive() {
		buf = append(buf, in.Msg().GetChunk()...)
	}
	if err := in.Err(); err != nil {
		return err
	}
	if p.envelope != nil {
		buf = p.envelope(buf)
	}
	return out.Send(&evidentv1.GetEnvelopeResponse{Chunk: buf, TotalSize: uint64(len(buf))})
}

func (p *proxy) GetDocument(ctx context.Context, req *connect.Request[evidentv1.GetDocumentRequest], out *connect.ServerStream[evidentv1.GetDocumentResponse]) error {
	in, err := p.ev.GetDocument(ctx, req)
	if err != nil {
		return err
	}
	defer in.Close()
	var buf []byte
	mediaType := ""
	for in.Receive() {
		if mediaType == "" {
			mediaType = in.Msg().GetMediaType()
		}
		buf = append(buf, in.Msg().GetChunk()...)
	}
	if err := in.Err(); err != nil {
		return err
	}
	if p.document != nil {
		buf = p.document(buf)
	}
	return out.Send(&evidentv1.GetDocumentResponse{Chunk: buf, TotalSize: uint64(len(buf)), MediaType: mediaType})
}
