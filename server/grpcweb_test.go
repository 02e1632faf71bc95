package server_test

import (
	"context"
	"net/http"
	"testing"

	"connectrpc.com/connect"
	"github.com/evident-dev/evident/evidence"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/proto/evident/v1/evidentv1connect"
	"github.com/evident-dev/evident/server/servertest"
)

// TestGRPCWeb calls the node as a browser's gRPC-Web client does, over
// HTTP/1.1 on the same port: answers (their trailers in the body), and
// errors with their codes (trailers-only answers, in the headers).
func TestGRPCWeb(t *testing.T) {
	t.Parallel()
	n := startNode(t, servertest.Options{})
	ctx := context.Background()
	hc := &http.Client{Transport: &http.Transport{}} // HTTP/1.1
	ev := evidentv1connect.NewEvidenceServiceClient(hc, n.URL, connect.WithGRPCWeb())
	lg := evidentv1connect.NewLogServiceClient(hc, n.URL, connect.WithGRPCWeb())

	env := envelope(servertest.KeyPyPIMaven, "pkg:pypi/web@1.0", evidence.PredicateSPDX23)
	res, err := ev.Submit(ctx, connect.NewRequest(&evidentv1.SubmitRequest{Envelope: env, WaitForCheckpoint: true}))
	if err != nil {
		t.Fatalf("Submit over gRPC-Web: %v", err)
	}
	r := res.Msg.GetResult()
	checkEntry(t, r.GetEntry(), env)
	verifyInclusion(t, openCheckpoint(t, n, r.GetCheckpoint()), r.GetEntry(), r.GetInclusionProof())

	waitCheckpoint(t, dial(t, n), 1)
	cp, err := lg.GetCheckpoint(ctx, connect.NewRequest(&evidentv1.GetCheckpointRequest{}))
	if err != nil {
		t.Fatalf("GetCheckpoint over gRPC-Web: %v", err)
	}
	if cp.Msg.GetTreeSize() != 1 {
		t.Errorf("tree size %d, want 1", cp.Msg.GetTreeSize())
	}

	for name, tt := range map[string]struct {
		env  []byte
		code connect.Code
	}{
		"garbage":       {[]byte("garbage"), connect.CodeInvalidArgument},
		"empty":         {nil, connect.CodeInvalidArgument},
		"untrusted key": {envelope(servertest.KeyUntrusted, "pkg:pypi/web@2.0", evidence.PredicateSPDX23), connect.CodePermissionDenied},
	} {
		_, err := ev.Submit(ctx, connect.NewRequest(&evidentv1.SubmitRequest{Envelope: tt.env}))
		if connect.CodeOf(err) != tt.code {
			t.Errorf("%s: got %v, want %v", name, err, tt.code)
		}
	}
	if size := n.Ledger.Size(); size != 1 {
		t.Errorf("tree size %d after refusals, want 1", size)
	}
}
