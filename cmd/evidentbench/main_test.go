package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/server/servertest"
)

// TestRun runs the whole tool on a few envelopes: every phase must log
// every envelope, against the node and the verify-only handler.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node and runs every phase")
	}
	var out bytes.Buffer
	cfg := config{
		purl: "pkg:pypi/evidentbench", n: 60, c: 4, b: 10, conns: 2, predicate: 64,
		verifyTime: 50 * time.Millisecond, pacedTime: 200 * time.Millisecond,
		phaseTimeout: time.Minute, ceiling: true,
	}
	if err := run(context.Background(), cfg, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"Submit, 4 clients: 60 envelopes",
		"SubmitBatch of 10, 4 clients: 60 envelopes",
		"-ceiling: a handler that only verifies",
		"  Submit, 4 clients: 60 envelopes",
		"  SubmitBatch of 10, 4 clients: 60 envelopes",
		"p99 at half the single peak",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "not logged as new") {
		t.Errorf("some envelopes were not logged:\n%s", got)
	}
}

// TestVerifyOnlyVerifies: the ceiling handler must do the node's checks, or
// it would measure less than a node's work.
// flipSignature returns env with one bit of its signature flipped.
func flipSignature(t *testing.T, env []byte) []byte {
	var e map[string]any
	if err := json.Unmarshal(env, &e); err != nil {
		t.Fatal(err)
	}
	sig := e["signatures"].([]any)[0].(map[string]any)
	b, err := base64.StdEncoding.DecodeString(sig["sig"].(string))
	if err != nil {
		t.Fatal(err)
	}
	b[10] ^= 1
	sig["sig"] = base64.StdEncoding.EncodeToString(b)
	out, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestVerifyOnlyVerifies(t *testing.T) {
	sets, err := signEnvelopes(servertest.KeyPyPIMaven, "pkg:pypi/evidentbench", "test", 1, 2, 64)
	if err != nil {
		t.Fatal(err)
	}
	v := &verifyOnly{trust: servertest.DefaultTrust()}
	good := sets[0][0]
	if _, err := v.Submit(context.Background(), connect.NewRequest(&evidentv1.SubmitRequest{Envelope: good})); err != nil {
		t.Fatalf("good envelope: %v", err)
	}
	untrusted, err := signEnvelopes(servertest.KeyUntrusted, "pkg:pypi/evidentbench", "test", 1, 1, 64)
	if err != nil {
		t.Fatal(err)
	}
	badSig := flipSignature(t, good)
	for name, env := range map[string][]byte{
		"untrusted key": untrusted[0][0],
		"bad signature": badSig,
		"garbage":       []byte("{"),
	} {
		_, err := v.Submit(context.Background(), connect.NewRequest(&evidentv1.SubmitRequest{Envelope: env}))
		if connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("%s: got %v, want InvalidArgument", name, err)
		}
	}
	res, err := v.SubmitBatch(context.Background(), connect.NewRequest(&evidentv1.SubmitBatchRequest{Envelopes: [][]byte{good, untrusted[0][0], sets[0][1]}}))
	if err != nil {
		t.Fatal(err)
	}
	rs := res.Msg.GetResults()
	if len(rs) != 3 || rs[0].GetResult() == nil || rs[1].GetError() == nil || rs[2].GetResult() == nil {
		t.Errorf("batch results = %v, want ok, error, ok", rs)
	}
}
