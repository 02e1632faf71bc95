package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"

	"connectrpc.com/connect"
	"github.com/evident-dev/evident/evidence"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/proto/evident/v1/evidentv1connect"
	"github.com/evident-dev/evident/server"
	"github.com/evident-dev/evident/server/node"
	"google.golang.org/grpc/mem"
)

// verifyOnly is an EvidenceService whose Submit and SubmitBatch verify each
// envelope as a node does (server.VerifyEnvelopes: DSSE signature,
// statement, trust policy, on the node's verifier goroutines) and then
// answer, storing nothing and with no interceptors.
// It is not a node. Served over the node's transport (h2c, buffered reads)
// and called by the same client, it measures the ceiling of this machine,
// client and RPC stack: no node that verifies what it logs can be faster.
type verifyOnly struct {
	evidentv1connect.UnimplementedEvidenceServiceHandler
	trust *evidence.TrustedSigners
	next  atomic.Uint64
}

func (v *verifyOnly) verify(ctx context.Context, envs [][]byte) ([]*evidentv1.SubmitResult, []error) {
	vs, errs := server.VerifyEnvelopes(ctx, envs, nil, v.trust)
	out := make([]*evidentv1.SubmitResult, len(envs))
	for i, ver := range vs {
		if errs[i] == nil {
			out[i] = &evidentv1.SubmitResult{LogIndex: v.next.Add(1) - 1, EnvelopeSha256: ver.EnvelopeDigest[:]}
		}
	}
	return out, errs
}

func (v *verifyOnly) Submit(ctx context.Context, req *connect.Request[evidentv1.SubmitRequest]) (*connect.Response[evidentv1.SubmitResponse], error) {
	res, errs := v.verify(ctx, [][]byte{req.Msg.GetEnvelope()})
	if errs[0] != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, errs[0])
	}
	return connect.NewResponse(&evidentv1.SubmitResponse{Result: res[0]}), nil
}

func (v *verifyOnly) SubmitBatch(ctx context.Context, req *connect.Request[evidentv1.SubmitBatchRequest]) (*connect.Response[evidentv1.SubmitBatchResponse], error) {
	res, errs := v.verify(ctx, req.Msg.GetEnvelopes())
	out := make([]*evidentv1.SubmitBatchResult, len(res))
	for i, r := range res {
		if errs[i] != nil {
			out[i] = &evidentv1.SubmitBatchResult{Outcome: &evidentv1.SubmitBatchResult_Error{Error: &evidentv1.Status{Code: int32(connect.CodeInvalidArgument), Message: errs[i].Error()}}}
			continue
		}
		out[i] = &evidentv1.SubmitBatchResult{Outcome: &evidentv1.SubmitBatchResult_Result{Result: r}}
	}
	return connect.NewResponse(&evidentv1.SubmitBatchResponse{Results: out}), nil
}

// runCeiling measures verifyOnly with the single and batch envelopes, each
// phase held, as the node's are, to the faster verification span either
// side of it.
func runCeiling(ctx context.Context, cfg config, out io.Writer, pool mem.BufferPool, pub ed25519.PublicKey, msgs, sigs, single, batch [][]byte) error {
	trust, err := evidence.NewTrustedKeys([]evidence.TrustedKey{{PublicKey: pub, Namespaces: []string{cfg.purl}}})
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(evidentv1connect.NewEvidenceServiceHandler(&verifyOnly{trust: trust}))
	srv := &http.Server{Handler: mux, Protocols: new(http.Protocols)}
	srv.Protocols.SetUnencryptedHTTP2(true)
	go srv.Serve(node.BufferedListener(lis))
	defer srv.Close()
	clients, closeClients, err := dial(lis.Addr().String(), cfg.conns, pool)
	if err != nil {
		return err
	}
	defer closeClients()

	cfg.addr = "" // in this process: its CPU counts in the phases'
	bound0 := verifyBound(pub, msgs, sigs, cfg.verifyTime)
	stop, err := startProfile(cfg, "ceiling-single")
	if err != nil {
		return err
	}
	s := submitLoad(ctx, cfg, clients, single, 1, nil)
	stop()
	bound1 := verifyBound(pub, msgs, sigs, cfg.verifyTime)
	if stop, err = startProfile(cfg, "ceiling-batch"); err != nil {
		return err
	}
	b := submitLoad(ctx, cfg, clients, batch, cfg.b, nil)
	stop()
	bound2 := verifyBound(pub, msgs, sigs, cfg.verifyTime)
	if s.ok == 0 || b.ok == 0 {
		return errors.New("the verify-only handler logged nothing: " + fmt.Sprint(s.errs, b.errs))
	}
	fmt.Fprintf(out, "-ceiling: a handler that only verifies (nothing stored, no interceptors; not a node), same client and transport, in this process:\n")
	s.print(out, fmt.Sprintf("  Submit, %d clients", cfg.c), nodeStats{})
	b.print(out, fmt.Sprintf("  SubmitBatch of %d, %d clients", cfg.b, cfg.c), nodeStats{})
	singleBound, batchBound := max(bound0.mean, bound1.mean), max(bound1.mean, bound2.mean)
	fmt.Fprintf(out, "  fraction of the verification bound (%.0f/s and %.0f/s): single %.1f%%, batch %.1f%%: the most any node could reach with this client and stack here\n",
		singleBound, batchBound, 100*s.rate()/singleBound, 100*b.rate()/batchBound)
	return nil
}
