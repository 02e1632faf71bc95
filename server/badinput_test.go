package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/evident-dev/evident/evidence"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/server/servertest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestBadInput sends what a node must refuse and checks, after every case,
// that nothing was stored: the tree did not grow and the envelope store holds
// no new blob.
func TestBadInput(t *testing.T) {
	t.Parallel()
	const maxEnvelope = 64 << 10
	n := startNode(t, servertest.Options{MaxEnvelopeSize: maxEnvelope})
	c := dial(t, n)
	ctx := context.Background()

	// Something is logged already, so "unchanged" is not "empty".
	submit(t, c, envelope(servertest.KeyPyPIMaven, "pkg:pypi/requests@2.32.3", evidence.PredicateSPDX23))
	submit(t, c, envelope(servertest.KeyNPM, "pkg:npm/react@19.0.0", evidence.PredicateSPDX23))

	k := servertest.KeyPyPIMaven
	signed := func(st *servertest.Statement) []byte {
		return servertest.Sign(k, evidence.PayloadTypeInToto, st.Marshal())
	}
	stmt := func(purl, digest string) *servertest.Statement {
		return servertest.NewStatement(purl, digest, evidence.PredicateSPDX23, nil)
	}
	good := func(purl string) []byte { return signed(stmt(purl, servertest.Digest(purl))) }
	// flipSig returns env with a bit of its first signature flipped.
	flipSig := func(env []byte) []byte {
		e, err := evidence.ParseEnvelope(env)
		if err != nil {
			t.Fatal(err)
		}
		e.Signatures[0].Sig[10] ^= 1
		b, err := e.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	anonymous := func(env []byte) []byte {
		e, err := evidence.ParseEnvelope(env)
		if err != nil {
			t.Fatal(err)
		}
		e.Signatures[0].KeyID = ""
		b, err := e.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	bigPredicate, _ := json.Marshal(map[string]string{"sbom": strings.Repeat("x", maxEnvelope)})
	big := servertest.Envelope(k, "pkg:pypi/big@1.0.0", servertest.Digest("big"), evidence.PredicateCycloneDX, bigPredicate)
	huge := servertest.Envelope(k, "pkg:pypi/huge@1.0.0", servertest.Digest("huge"), evidence.PredicateCycloneDX,
		[]byte(`{"sbom":"`+strings.Repeat("x", 2<<20)+`"}`))

	// sub submits env over gRPC, then as curl would, over Connect JSON:
	// both must be refused with the same code.
	sub := func(env []byte) func() error {
		return func() error {
			_, err := c.ev.Submit(ctx, &evidentv1.SubmitRequest{Envelope: env})
			body, _ := json.Marshal(map[string][]byte{"envelope": env})
			res, herr := http.Post(n.URL+"/evident.v1.EvidenceService/Submit", "application/json", bytes.NewReader(body))
			if herr != nil {
				return herr
			}
			defer res.Body.Close()
			var e struct{ Code, Message string }
			json.NewDecoder(res.Body).Decode(&e)
			if want := connect.Code(status.Code(err)).String(); e.Code != want {
				return fmt.Errorf("over gRPC: %v; over Connect JSON: %q (HTTP %d: %s)", err, e.Code, res.StatusCode, e.Message)
			}
			return err
		}
	}
	// batch submits envs in one SubmitBatch, checks each item failed with
	// its code in wants, and returns the first item's error as a gRPC
	// status error.
	batch := func(wants []codes.Code, envs ...[]byte) func() error {
		return func() error {
			res, err := c.ev.SubmitBatch(ctx, &evidentv1.SubmitBatchRequest{Envelopes: envs})
			if err != nil {
				return err
			}
			var first error
			for i, r := range res.GetResults() {
				e := r.GetError()
				if e == nil {
					return errors.New("a batch item was logged")
				}
				if got := codes.Code(e.GetCode()); got != wants[i] {
					return fmt.Errorf("batch item %d: %v (%s), want %v", i, got, e.GetMessage(), wants[i])
				}
				if i == 0 {
					first = status.Error(codes.Code(e.GetCode()), e.GetMessage())
				}
			}
			return first
		}
	}
	// stream sends a SubmitStream call of the given messages.
	stream := func(msgs ...*evidentv1.SubmitStreamRequest) func() error {
		return func() error {
			s, err := c.ev.SubmitStream(ctx)
			if err != nil {
				return err
			}
			for _, m := range msgs {
				// A node may refuse before the client has sent everything;
				// the refusal comes with CloseAndRecv.
				if err := s.Send(m); err == io.EOF {
					break
				} else if err != nil {
					return err
				}
			}
			_, err = s.CloseAndRecv()
			return err
		}
	}
	header := func(size uint64, digest []byte) *evidentv1.SubmitStreamRequest {
		return &evidentv1.SubmitStreamRequest{Part: &evidentv1.SubmitStreamRequest_Header{Header: &evidentv1.SubmitStreamHeader{EnvelopeSize: size, EnvelopeSha256: digest}}}
	}
	chunk := func(b []byte) *evidentv1.SubmitStreamRequest {
		return &evidentv1.SubmitStreamRequest{Part: &evidentv1.SubmitStreamRequest_Chunk{Chunk: b}}
	}
	streamOf := func(env []byte, announced []byte) func() error {
		return stream(header(uint64(len(env)), announced), chunk(env[:len(env)/2]), chunk(env[len(env)/2:]))
	}
	okEnv := good("pkg:pypi/requests@9.9.9")

	noSubjects := stmt("pkg:pypi/requests@1.0.0", servertest.Digest("x"))
	noSubjects.Subject = nil
	onlySHA1 := stmt("pkg:pypi/requests@1.0.0", "")
	onlySHA1.Subject[0].Digest = map[string]string{"sha1": strings.Repeat("ab", 20)}
	badType := stmt("pkg:pypi/requests@1.0.0", servertest.Digest("x"))
	badType.Type = "https://in-toto.io/Statement/v2"
	badPredicate := stmt("pkg:pypi/requests@1.0.0", servertest.Digest("x"))
	badPredicate.Predicate = json.RawMessage(`["not","an","object"]`)
	mixed := stmt("pkg:pypi/requests@1.0.0", servertest.Digest("x"))
	mixed.Subject = append(mixed.Subject, servertest.Subject{Name: "pkg:npm/react@19.0.0", Digest: map[string]string{"sha256": servertest.Digest("y")}})

	tests := []struct {
		name      string
		call      func() error
		wantCode  codes.Code
		wantMsg   []string // substrings of the message: what to fix
		wantField string   // a google.rpc.BadRequest field violation, if any
	}{
		{
			name: "malformed purl", call: sub(good("requests==2.32.3")),
			wantCode: codes.InvalidArgument, wantMsg: []string{"subject[0].name", "not a Package URL", "pkg:pypi/requests@2.32.3"},
			wantField: "envelope.subject[0].name",
		},
		{
			name: "purl of an invalid type", call: sub(good("pkg:1pypi/requests@1.0.0")),
			wantCode: codes.InvalidArgument, wantMsg: []string{"subject[0].name"},
		},
		{
			name: "file-named subject without a release", call: sub(good("requests-2.32.3.tar.gz")),
			wantCode: codes.InvalidArgument, wantMsg: []string{"subject[0].name", "not a Package URL", "--release"},
			wantField: "envelope.subject[0].name",
		},
		{
			name: "digest of the wrong length", call: sub(signed(stmt("pkg:pypi/requests@1.0.0", "abc123"))),
			wantCode: codes.InvalidArgument, wantMsg: []string{"subject[0].digest.sha256", "64 lowercase hex digits"},
			wantField: "envelope.subject[0].digest.sha256",
		},
		{
			name: "digest not hex", call: sub(signed(stmt("pkg:pypi/requests@1.0.0", strings.Repeat("z", 64)))),
			wantCode: codes.InvalidArgument, wantMsg: []string{"subject[0].digest.sha256", "hex"},
		},
		{
			name: "digest in upper case", call: sub(signed(stmt("pkg:pypi/requests@1.0.0", strings.ToUpper(servertest.Digest("x"))))),
			wantCode: codes.InvalidArgument, wantMsg: []string{"lowercase"},
		},
		{
			name: "no sha256 digest", call: sub(signed(onlySHA1)),
			wantCode: codes.InvalidArgument, wantMsg: []string{"sha256"},
		},
		{
			name: "empty subject list", call: sub(signed(noSubjects)),
			wantCode: codes.InvalidArgument, wantMsg: []string{"subject", "name the release"},
			wantField: "envelope.subject",
		},
		{
			name: "unknown statement type", call: sub(signed(badType)),
			wantCode: codes.InvalidArgument, wantMsg: []string{"_type", evidence.StatementTypeV1},
		},
		{
			name: "predicate not an object", call: sub(signed(badPredicate)),
			wantCode: codes.InvalidArgument, wantMsg: []string{"predicate", "JSON object"},
		},
		{
			name: "wrong signature", call: sub(flipSig(good("pkg:pypi/requests@1.0.0"))),
			wantCode: codes.Unauthenticated, wantMsg: []string{"does not verify", evidence.KeyID(servertest.Public(k))},
		},
		{
			name: "untrusted key", call: sub(envelope(servertest.KeyUntrusted, "pkg:pypi/requests@1.0.0", evidence.PredicateSPDX23)),
			wantCode: codes.PermissionDenied, wantMsg: []string{"not signed by a key this node trusts", evidence.KeyID(servertest.Public(servertest.KeyUntrusted))},
		},
		{
			name: "signature without keyid", call: sub(anonymous(good("pkg:pypi/requests@1.0.0"))),
			wantCode: codes.PermissionDenied, wantMsg: []string{"keyid"},
		},
		{
			name: "key outside its namespace", call: sub(envelope(servertest.KeyNPM, "pkg:pypi/requests@1.0.0", evidence.PredicateSPDX23)),
			wantCode: codes.PermissionDenied, wantMsg: []string{"pkg:pypi/requests@1.0.0", "outside the namespaces"},
		},
		{
			name: "maven key on a sibling group", call: sub(envelope(k, "pkg:maven/org.apachefoo/x@1.0", evidence.PredicateSPDX23)),
			wantCode: codes.PermissionDenied, wantMsg: []string{"pkg:maven/org.apachefoo/x@1.0"},
		},
		{
			name: "one subject outside the namespace", call: sub(signed(mixed)),
			wantCode: codes.PermissionDenied, wantMsg: []string{"pkg:npm/react@19.0.0"},
		},
		{
			name: "oversized envelope", call: sub(big),
			wantCode: codes.ResourceExhausted, wantMsg: []string{"65536"},
		},
		{
			name: "envelope over the request size limit", call: sub(huge),
			wantCode: codes.ResourceExhausted,
		},
		{
			name: "oversized envelope in a stream", call: streamOf(big, nil),
			wantCode: codes.ResourceExhausted, wantMsg: []string{"65536"},
		},
		{
			name: "wrong payloadType", call: sub(servertest.Sign(k, "application/json", stmt("pkg:pypi/requests@1.0.0", servertest.Digest("x")).Marshal())),
			wantCode: codes.InvalidArgument, wantMsg: []string{"payloadType", evidence.PayloadTypeInToto},
			wantField: "envelope.payloadType",
		},
		{
			name: "garbage bytes", call: sub([]byte("\x00\x01garbage")),
			wantCode: codes.InvalidArgument, wantMsg: []string{"envelope"},
			wantField: "envelope",
		},
		{
			name: "JSON that is not an envelope", call: sub([]byte(`{"hello":"world"}`)),
			wantCode: codes.InvalidArgument, wantMsg: []string{"payloadType, payload and signatures"},
		},
		{
			name: "bare statement", call: sub(stmt("pkg:pypi/requests@1.0.0", servertest.Digest("x")).Marshal()),
			wantCode: codes.InvalidArgument, wantMsg: []string{"sign it into a DSSE envelope"},
		},
		{
			name: "empty envelope field", call: sub(nil),
			wantCode: codes.InvalidArgument, wantMsg: []string{"envelope", "required"},
		},
		{
			name: "truncated stream", call: stream(header(1000, nil), chunk(make([]byte, 500))),
			wantCode: codes.InvalidArgument, wantMsg: []string{"500 of the announced 1000"},
		},
		{
			name: "stream longer than announced", call: stream(header(10, nil), chunk(make([]byte, 8)), chunk(make([]byte, 8))),
			wantCode: codes.InvalidArgument, wantMsg: []string{"envelope_size 10"},
		},
		{
			name: "stream not hashing to the announced sha256", call: streamOf(okEnv, sha([]byte("something else"))),
			wantCode: codes.InvalidArgument, wantMsg: []string{"SHA-256"},
		},
		{
			name: "stream without a header", call: stream(chunk(okEnv)),
			wantCode: codes.InvalidArgument, wantMsg: []string{"header"},
		},
		{
			name: "stream with two headers", call: stream(header(uint64(len(okEnv)), nil), header(uint64(len(okEnv)), nil)),
			wantCode: codes.InvalidArgument, wantMsg: []string{"header"},
		},
		{
			name: "empty stream", call: stream(),
			wantCode: codes.InvalidArgument,
		},
		{
			name: "stream announcing 0 bytes", call: stream(header(0, nil)),
			wantCode: codes.InvalidArgument, wantMsg: []string{"envelope_size"},
		},
		{
			name: "stream with an empty chunk", call: stream(header(4, nil), chunk(nil)),
			wantCode: codes.InvalidArgument, wantMsg: []string{"chunk"},
		},
		{
			name: "stream with a short announced sha256", call: stream(header(4, []byte{1, 2}), chunk([]byte("abcd"))),
			wantCode: codes.InvalidArgument, wantMsg: []string{"envelope_sha256"},
		},
		{
			name: "batch of bad envelopes", call: batch(
				[]codes.Code{codes.InvalidArgument, codes.InvalidArgument, codes.ResourceExhausted, codes.Unauthenticated, codes.PermissionDenied},
				good("requests.tar.gz"), []byte("garbage"), big, flipSig(good("pkg:pypi/x@1")),
				envelope(servertest.KeyNPM, "pkg:pypi/requests@1.0.0", evidence.PredicateSPDX23)),
			wantCode: codes.InvalidArgument, wantMsg: []string{"not a Package URL"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			size := n.Ledger.Size()
			blobs, err := n.BlobCount()
			if err != nil {
				t.Fatal(err)
			}
			st := wantStatus(t, tt.call(), tt.wantCode, tt.wantMsg...)
			if strings.Contains(st.Message(), "internal") {
				t.Errorf("message %q mentions internals", st.Message())
			}
			if tt.wantField != "" {
				if fields := fieldViolations(st); !slices.Contains(fields, tt.wantField) {
					t.Errorf("field violations %q; want %q", fields, tt.wantField)
				}
			}
			if got := n.Ledger.Size(); got != size {
				t.Errorf("tree size went from %d to %d", size, got)
			}
			if cp := waitCheckpoint(t, c, size); cp.GetTreeSize() != size {
				t.Errorf("checkpoint tree size %d; want %d", cp.GetTreeSize(), size)
			}
			if got, err := n.BlobCount(); err != nil || got != blobs {
				t.Errorf("envelope store holds %d blobs (%v); want %d", got, err, blobs)
			}
		})
	}
}
