package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/server"
	"github.com/evident-dev/evident/server/servertest"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// padded returns m with an unknown field of n bytes: a request every
// handler must refuse unread beyond its limit, since a client may send
// anything.
func padded[M proto.Message](m M, n int) M {
	raw := protowire.AppendTag(nil, 999, protowire.BytesType)
	raw = protowire.AppendBytes(raw, make([]byte, n))
	m.ProtoReflect().SetUnknown(protoreflect.RawFields(raw))
	return m
}

// TestReadLimits: every service refuses a request over its read limit
// with ResourceExhausted, including those whose requests are a few fields.
func TestReadLimits(t *testing.T) {
	t.Parallel()
	n := startNode(t, servertest.Options{})
	c := dial(t, n)
	ctx := context.Background()
	over := server.MaxSmallRequest + 1

	_, err := c.log.GetCheckpoint(ctx, padded(&evidentv1.GetCheckpointRequest{}, over))
	wantStatus(t, err, codes.ResourceExhausted, "larger than configured max")
	if _, err := c.log.GetCheckpoint(ctx, padded(&evidentv1.GetCheckpointRequest{}, 1000)); err != nil {
		t.Errorf("GetCheckpoint with 1000 bytes of unknown field: %v", err)
	}

	_, err = healthpb.NewHealthClient(c.conn).Check(ctx, padded(&healthpb.HealthCheckRequest{}, over))
	wantStatus(t, err, codes.ResourceExhausted, "larger than configured max")

	stream, err := reflectionpb.NewServerReflectionClient(c.conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(padded(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
	}, over)); err != nil {
		t.Fatal(err)
	}
	_, err = stream.Recv()
	wantStatus(t, err, codes.ResourceExhausted, "larger than configured max")

	// The witness's requests carry up to 1 MiB; 2 MiB is refused unread.
	_, err = evidentv1.NewWitnessServiceClient(c.conn).AddCheckpoint(ctx, padded(&evidentv1.AddCheckpointRequest{Body: []byte("x")}, 2<<20))
	wantStatus(t, err, codes.ResourceExhausted, "larger than configured max")
}

// TestSubmitJSONNearLimit: a Connect JSON client can submit an envelope
// just under the node's size limit, though JSON carries it in base64, a
// third larger.
func TestSubmitJSONNearLimit(t *testing.T) {
	t.Parallel()
	const limit = 4 << 20
	n := startNode(t, servertest.Options{MaxEnvelopeSize: limit})
	predicate, _ := json.Marshal(map[string]string{"filler": strings.Repeat("a", limit/4*3-8192)})
	env := servertest.Envelope(servertest.KeyPyPIMaven, "pkg:pypi/big@1.0", servertest.Digest("big"), "https://example.com/big/v1", predicate)
	if len(env) > limit || len(env) < limit-64<<10 {
		t.Fatalf("envelope of %d bytes; the test wants one just under %d", len(env), limit)
	}
	body, _ := json.Marshal(map[string]string{"envelope": base64.StdEncoding.EncodeToString(env)})
	res, err := http.Post(n.URL+"/evident.v1.EvidenceService/Submit", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("Submit of a %d-byte envelope (%d bytes of JSON): status %d: %s", len(env), len(body), res.StatusCode, out.String())
	}
}
