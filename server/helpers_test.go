package server_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/evident-dev/evident/checkpoint"
	"github.com/evident-dev/evident/evidence"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/server/servertest"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// startNode starts a node on loopback with its data in a test directory.
func startNode(t testing.TB, opts servertest.Options) *servertest.Node {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	n, err := servertest.Start(opts)
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("close node: %v", err)
		}
	})
	return n
}

// clients are google.golang.org/grpc clients of one node.
type clients struct {
	conn *grpc.ClientConn
	ev   evidentv1.EvidenceServiceClient
	log  evidentv1.LogServiceClient
}

func dial(t testing.TB, n *servertest.Node) clients {
	t.Helper()
	conn, err := n.Dial()
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return clients{conn: conn, ev: evidentv1.NewEvidenceServiceClient(conn), log: evidentv1.NewLogServiceClient(conn)}
}

// envelope returns a signed envelope about purl; the artifact digest and
// predicate are derived from purl and predicateType, so different arguments
// give different envelopes.
func envelope(key ed25519.PrivateKey, purl, predicateType string) []byte {
	return servertest.Envelope(key, purl, servertest.Digest(purl), predicateType,
		[]byte(fmt.Sprintf(`{"about":%q,"type":%q}`, purl, predicateType)))
}

func sha(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

// submit submits env and fails the test unless it is logged.
func submit(t testing.TB, c clients, env []byte) *evidentv1.SubmitResult {
	t.Helper()
	res, err := c.ev.Submit(context.Background(), &evidentv1.SubmitRequest{Envelope: env})
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	return res.GetResult()
}

// openCheckpoint verifies a signed checkpoint with the node's key and parses
// its body.
func openCheckpoint(t testing.TB, n *servertest.Node, signed string) checkpoint.Checkpoint {
	t.Helper()
	cp, err := checkpoint.Open([]byte(signed), note.VerifierList(n.Verifier))
	if err != nil {
		t.Fatalf("checkpoint %q does not open with the log's key: %v", signed, err)
	}
	if cp.Origin != n.Ledger.Origin() {
		t.Errorf("checkpoint origin %q; want %q", cp.Origin, n.Ledger.Origin())
	}
	return cp
}

// verifyInclusion checks that entry is the leaf at p.LogIndex of the tree
// committed to by cp.
func verifyInclusion(t testing.TB, cp checkpoint.Checkpoint, entry []byte, p *evidentv1.InclusionProof) {
	t.Helper()
	if p.GetTreeSize() != cp.Size {
		t.Errorf("proof is for tree size %d; the checkpoint is of size %d", p.GetTreeSize(), cp.Size)
	}
	leaf := rfc6962.DefaultHasher.HashLeaf(entry)
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, p.GetLogIndex(), cp.Size, leaf, p.GetHashes(), cp.Hash[:]); err != nil {
		t.Errorf("inclusion proof of index %d in size %d: %v", p.GetLogIndex(), cp.Size, err)
	}
}

// checkEntry checks that entry is a valid log entry for the envelope env.
func checkEntry(t testing.TB, entry, env []byte) *evidence.Entry {
	t.Helper()
	e, err := evidence.ParseEntry(entry)
	if err != nil {
		t.Fatalf("ParseEntry: %v", err)
	}
	if !bytes.Equal(e.EnvelopeDigest[:], sha(env)) || e.EnvelopeSize != int64(len(env)) {
		t.Errorf("entry names envelope %x (%d bytes); want %x (%d bytes)", e.EnvelopeDigest, e.EnvelopeSize, sha(env), len(env))
	}
	return e
}

// wantStatus checks err's gRPC code and that its message contains every
// substring.
func wantStatus(t testing.TB, err error, code codes.Code, substrings ...string) *status.Status {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error; want %v", code)
	}
	st := status.Convert(err)
	if st.Code() != code {
		t.Fatalf("got %v (%q); want %v", st.Code(), st.Message(), code)
	}
	for _, s := range substrings {
		if !strings.Contains(st.Message(), s) {
			t.Errorf("message %q does not contain %q", st.Message(), s)
		}
	}
	return st
}

// fieldViolations returns the fields named by st's BadRequest details.
func fieldViolations(st *status.Status) []string {
	var fields []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	return fields
}

// waitCheckpoint waits until the node serves a checkpoint of at least size
// entries and returns it. The node serves the federation's checkpoint,
// which follows the log's a moment after an append (it gathers
// cosignatures).
func waitCheckpoint(t testing.TB, c clients, size uint64) *evidentv1.GetCheckpointResponse {
	t.Helper()
	var res *evidentv1.GetCheckpointResponse
	for deadline := time.Now().Add(10 * time.Second); res.GetTreeSize() < size; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of size %d after 10s; the latest is of size %d", size, res.GetTreeSize())
		}
		var err error
		if res, err = c.log.GetCheckpoint(context.Background(), &evidentv1.GetCheckpointRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	return res
}
