package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/ledger"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/server"
	"github.com/evident-dev/evident/server/servertest"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
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

// TestPendingBytes: a node holding as many submissions as MaxPendingBytes
// allows refuses more with Unavailable and a retry hint, and stores
// nothing of them; a stream's announced size is held from its header on;
// space given back admits again.
func TestPendingBytes(t *testing.T) {
	t.Parallel()
	const envMax, pendingMax = 32 << 10, 64 << 10
	n := startNode(t, servertest.Options{MaxEnvelopeSize: envMax, MaxPendingBytes: pendingMax})
	c := dial(t, n)
	ctx := context.Background()
	small := envelope(servertest.KeyPyPIMaven, "pkg:pypi/small@1", evidence.PredicateSPDX23)
	// Two big envelopes fit, and then not even the small one.
	cost := func(env []byte) int { return len(env) + 2<<10 }
	var big []byte
	for filler := 20 << 10; len(big) == 0 || 2*cost(big)+cost(small) <= pendingMax; filler += 64 {
		predicate, _ := json.Marshal(map[string]string{"filler": strings.Repeat("a", filler)})
		big = servertest.Envelope(servertest.KeyPyPIMaven, "pkg:pypi/big@1", servertest.Digest("big"), evidence.PredicateSPDX23, predicate)
	}
	if 2*cost(big) > pendingMax {
		t.Fatalf("no big envelope fits twice: %d bytes", len(big))
	}
	pendingBytes := func() float64 {
		return scrape(t, n, "evident_submissions_pending_bytes")["evident_submissions_pending_bytes"]
	}
	header := func(size int) *evidentv1.SubmitStreamRequest {
		return &evidentv1.SubmitStreamRequest{Part: &evidentv1.SubmitStreamRequest_Header{Header: &evidentv1.SubmitStreamHeader{EnvelopeSize: uint64(size)}}}
	}

	waitPending := func(want float64) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); pendingBytes() != want; {
			if time.Now().After(deadline) {
				t.Fatalf("pending bytes %v, want %v", pendingBytes(), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	chunk := func(b []byte) *evidentv1.SubmitStreamRequest {
		return &evidentv1.SubmitStreamRequest{Part: &evidentv1.SubmitStreamRequest_Chunk{Chunk: b}}
	}

	// A stream that announces a big envelope and sends nothing holds only
	// its 2 KiB; its first chunk reserves a buffer for all it announced.
	var streams []evidentv1.EvidenceService_SubmitStreamClient
	for i := range 2 {
		s, err := c.ev.SubmitStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Send(header(len(big))); err != nil {
			t.Fatal(err)
		}
		waitPending(float64(i*(len(big)+2<<10) + 2<<10))
		if err := s.Send(chunk(big[:len(big)/2])); err != nil {
			t.Fatal(err)
		}
		streams = append(streams, s)
	}
	waitPending(float64(2 * (len(big) + 2<<10)))

	// Nothing more fits: single, batch and stream are refused.
	_, err := c.ev.Submit(ctx, &evidentv1.SubmitRequest{Envelope: small})
	st := wantStatus(t, err, codes.Unavailable, "not yet logged", "retry in")
	if !hasRetryInfo(st) {
		t.Errorf("Unavailable without a RetryInfo detail: %v", st.Details())
	}
	_, err = c.ev.SubmitBatch(ctx, &evidentv1.SubmitBatchRequest{Envelopes: [][]byte{small}})
	wantStatus(t, err, codes.Unavailable, "not yet logged")
	s3, err := c.ev.SubmitStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s3.Send(header(len(small)))
	s3.Send(chunk(small))
	_, err = s3.CloseAndRecv()
	wantStatus(t, err, codes.Unavailable, "not yet logged")
	if size := n.Ledger.Size(); size != 0 {
		t.Fatalf("tree size %d after refusals, want 0", size)
	}

	// The streams finish; their space is given back and admits again.
	for _, s := range streams[:1] {
		if err := s.Send(chunk(big[len(big)/2:])); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CloseAndRecv(); err != nil {
			t.Fatalf("stream: %v", err)
		}
	}
	submit(t, c, small)
	streams[1].CloseSend()
	if _, err := streams[1].CloseAndRecv(); status.Code(err) != codes.InvalidArgument {
		t.Errorf("stream ended with half its envelope: %v, want InvalidArgument", err)
	}
	if got := pendingBytes(); got != 0 {
		t.Errorf("pending bytes %v after every submission ended, want 0", got)
	}
	if size := n.Ledger.Size(); size != 2 {
		t.Errorf("tree size %d, want 2", size)
	}
}

func hasRetryInfo(st *status.Status) bool {
	for _, d := range st.Details() {
		if _, ok := d.(*errdetails.RetryInfo); ok {
			return true
		}
	}
	return false
}

// TestWaitForCheckpointDeadline: when no checkpoint covers a submission
// before the caller's deadline, the answer still arrives in time and says
// at which index each envelope was logged, so it is not sent again as lost.
// The node stops waiting a tenth of the time left before the deadline: 5 s
// leave it half a second to answer, enough on a loaded machine.
func TestWaitForCheckpointDeadline(t *testing.T) {
	t.Parallel()
	n := startNode(t, servertest.Options{Ledger: func(o *ledger.Options) { o.CheckpointInterval = time.Hour }})
	c := dial(t, n)
	submit(t, c, envelope(servertest.KeyPyPIMaven, "pkg:pypi/first@1", evidence.PredicateSPDX23))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.ev.Submit(ctx, &evidentv1.SubmitRequest{Envelope: envelope(servertest.KeyPyPIMaven, "pkg:pypi/single@1", evidence.PredicateSPDX23), WaitForCheckpoint: true})
	wantStatus(t, err, codes.DeadlineExceeded, "logged at index 1", "fetch its proof later")

	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := c.ev.SubmitBatch(ctx, &evidentv1.SubmitBatchRequest{WaitForCheckpoint: true, Envelopes: [][]byte{
		envelope(servertest.KeyPyPIMaven, "pkg:pypi/batch@1", evidence.PredicateSPDX23),
		[]byte("garbage"),
		envelope(servertest.KeyPyPIMaven, "pkg:pypi/batch@2", evidence.PredicateSPDX23),
	}})
	if err != nil {
		t.Fatalf("SubmitBatch: %v; want an answer per item", err)
	}
	var got []string
	for _, r := range res.GetResults() {
		e := r.GetError()
		got = append(got, codes.Code(e.GetCode()).String()+": "+e.GetMessage())
	}
	for i, want := range []string{"DeadlineExceeded: logged at index 2", "InvalidArgument", "DeadlineExceeded: logged at index 3"} {
		if !strings.HasPrefix(got[i], want) {
			t.Errorf("item %d: %q, want it to start %q", i, got[i], want)
		}
	}
	if size := n.Ledger.Size(); size != 4 {
		t.Errorf("tree size %d, want 4", size)
	}
}

// TestResponseBytes: GetEntries and QueryEvidence answer in parts rather
// than past the node's response limit, never with nothing, and a client
// that follows them gets everything, in order.
func TestResponseBytes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, limit := range []int{1, 4 << 10} {
		n := startNode(t, servertest.Options{MaxResponseBytes: limit})
		c := dial(t, n)
		const count = 30
		var entries [][]byte
		for i := range count {
			res := submit(t, c, envelope(servertest.KeyPyPIMaven, fmt.Sprintf("pkg:pypi/paged@1.0.%d", i), evidence.PredicateSPDX23))
			entries = append(entries, res.GetEntry())
		}
		waitCheckpoint(t, c, count)

		var got [][]byte
		answers := 0
		for start := uint64(0); start < count; answers++ {
			res, err := c.log.GetEntries(ctx, &evidentv1.GetEntriesRequest{Start: start, Count: 1000})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.GetEntries()) == 0 {
				t.Fatalf("limit %d: no entries from %d", limit, start)
			}
			got = append(got, res.GetEntries()...)
			start += uint64(len(res.GetEntries()))
		}
		if !slices.EqualFunc(got, entries, bytes.Equal) {
			t.Errorf("limit %d: GetEntries in parts gave other entries", limit)
		}
		if answers < 2 {
			t.Errorf("limit %d: all %d entries in one answer", limit, count)
		}

		var idxs []uint64
		pages := 0
		for token := ""; pages == 0 || token != ""; pages++ {
			res, err := c.ev.QueryEvidence(ctx, &evidentv1.QueryEvidenceRequest{
				Query:    &evidentv1.QueryEvidenceRequest_PackagePurl{PackagePurl: "pkg:pypi/paged"},
				PageSize: 500, PageToken: token,
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.GetEvidence()) == 0 {
				t.Fatalf("limit %d: empty page %d", limit, pages)
			}
			if size := proto.Size(res); limit > 1 && size > limit && len(res.GetEvidence()) > 1 {
				t.Errorf("limit %d: a page of %d bytes", limit, size)
			}
			for _, ev := range res.GetEvidence() {
				idxs = append(idxs, ev.GetLogIndex())
			}
			token = res.GetNextPageToken()
		}
		want := make([]uint64, count)
		for i := range want {
			want[i] = uint64(count - 1 - i)
		}
		if !slices.Equal(idxs, want) || pages < 2 {
			t.Errorf("limit %d: %d pages of indexes %v; want several pages of %v", limit, pages, idxs, want)
		}
	}
}

// TestRateLimit: a key with a rate limit gets ResourceExhausted, with when
// to retry, for envelopes past its burst, and is admitted again once its
// rate has refilled; refused input and duplicates cost nothing; other keys
// are not limited by it.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	trust, err := evidence.NewTrustedKeys([]evidence.TrustedKey{
		{PublicKey: servertest.Public(servertest.KeyPyPIMaven), Namespaces: []string{"pkg:pypi"}, Rate: 5, Burst: 3},
		{PublicKey: servertest.Public(servertest.KeyNPM), Namespaces: []string{"pkg:npm"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	n := startNode(t, servertest.Options{Trust: trust, Now: clock})
	c := dial(t, n)
	ctx := context.Background()
	pypi := func(v int) []byte {
		return envelope(servertest.KeyPyPIMaven, fmt.Sprintf("pkg:pypi/limited@%d", v), evidence.PredicateSPDX23)
	}
	limited := func(env []byte, retry string) {
		t.Helper()
		_, err := c.ev.Submit(ctx, &evidentv1.SubmitRequest{Envelope: env})
		st := wantStatus(t, err, codes.ResourceExhausted, evidence.KeyID(servertest.Public(servertest.KeyPyPIMaven)), "5 envelopes per second", "retry in "+retry)
		if !hasRetryInfo(st) {
			t.Errorf("no RetryInfo detail: %v", st.Details())
		}
	}

	res, err := c.ev.SubmitBatch(ctx, &evidentv1.SubmitBatchRequest{Envelopes: [][]byte{pypi(1), pypi(2), []byte("garbage"), pypi(3), pypi(4)}})
	if err != nil {
		t.Fatal(err)
	}
	var codesGot []codes.Code
	for _, r := range res.GetResults() {
		codesGot = append(codesGot, codes.Code(r.GetError().GetCode()))
	}
	// The garbage costs nothing; the fourth good envelope is one too many.
	if want := []codes.Code{codes.OK, codes.OK, codes.InvalidArgument, codes.OK, codes.ResourceExhausted}; !slices.Equal(codesGot, want) {
		t.Fatalf("batch codes %v, want %v", codesGot, want)
	}
	limited(pypi(5), "200ms")
	advance(100 * time.Millisecond)
	limited(pypi(5), "100ms")
	for i := range 5 {
		submit(t, c, envelope(servertest.KeyNPM, fmt.Sprintf("pkg:npm/unlimited@%d", i), evidence.PredicateSPDX23))
	}

	// A token again; a duplicate takes it and gives it back.
	advance(100 * time.Millisecond)
	if r := submit(t, c, pypi(1)); !r.GetDuplicate() {
		t.Fatal("resubmission not a duplicate")
	}
	submit(t, c, pypi(5))
	limited(pypi(6), "200ms")
	if size := n.Ledger.Size(); size != 9 {
		t.Errorf("tree size %d, want 9", size)
	}
}

// TestSubmitNearDefaultLimit: with the default limit, an envelope just
// under 32 MiB is logged by unary Submit and by SubmitStream, and one byte
// over it is refused with ResourceExhausted.
func TestSubmitNearDefaultLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("signs and sends envelopes of 32 MiB")
	}
	t.Parallel()
	n := startNode(t, servertest.Options{})
	c := dial(t, n)
	ctx := context.Background()
	// sized returns an envelope of exactly size bytes about purl: a little
	// under it, then padded with spaces before its closing brace (outside
	// what is signed).
	sized := func(purl string, size int) []byte {
		predicate, _ := json.Marshal(map[string]string{"sbom": strings.Repeat("x", size/4*3-4096)})
		env := servertest.Envelope(servertest.KeyPyPIMaven, purl, servertest.Digest(purl), evidence.PredicateCycloneDX, predicate)
		if len(env) > size || env[len(env)-1] != '}' {
			t.Fatalf("envelope of %d bytes, want at most %d ending in }", len(env), size)
		}
		return append(append(env[:len(env)-1:len(env)-1], bytes.Repeat([]byte(" "), size-len(env))...), '}')
	}
	under := sized("pkg:pypi/sbom@1", server.DefaultMaxEnvelopeSize-64<<10)
	if _, err := c.ev.Submit(ctx, &evidentv1.SubmitRequest{Envelope: under}); err != nil {
		t.Fatalf("unary Submit of %d bytes: %v", len(under), err)
	}

	stream := func(env []byte) error {
		s, err := c.ev.SubmitStream(ctx)
		if err != nil {
			return err
		}
		s.Send(&evidentv1.SubmitStreamRequest{Part: &evidentv1.SubmitStreamRequest_Header{Header: &evidentv1.SubmitStreamHeader{EnvelopeSize: uint64(len(env))}}})
		for len(env) > 0 {
			k := min(len(env), 1<<20)
			if err := s.Send(&evidentv1.SubmitStreamRequest{Part: &evidentv1.SubmitStreamRequest_Chunk{Chunk: env[:k]}}); err != nil {
				break // refused: CloseAndRecv says why
			}
			env = env[k:]
		}
		_, err = s.CloseAndRecv()
		return err
	}
	if err := stream(sized("pkg:pypi/sbom@2", server.DefaultMaxEnvelopeSize)); err != nil {
		t.Fatalf("SubmitStream of %d bytes: %v", server.DefaultMaxEnvelopeSize, err)
	}
	wantStatus(t, stream(sized("pkg:pypi/sbom@3", server.DefaultMaxEnvelopeSize+1)), codes.ResourceExhausted, "33554432")
	if size := n.Ledger.Size(); size != 2 {
		t.Errorf("tree size %d, want 2", size)
	}
}

// TestStreamIdleTimeout: a SubmitStream whose client stops sending is cut
// off with DeadlineExceeded, saying what to do, and gives back what it
// held.
func TestStreamIdleTimeout(t *testing.T) {
	t.Parallel()
	// Chunks come 0.3 s apart, well within the 2 s allowed even on a
	// loaded machine.
	n := startNode(t, servertest.Options{StreamIdleTimeout: 2 * time.Second})
	c := dial(t, n)
	env := envelope(servertest.KeyPyPIMaven, "pkg:pypi/slow@1", evidence.PredicateSPDX23)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := c.ev.SubmitStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Send(&evidentv1.SubmitStreamRequest{Part: &evidentv1.SubmitStreamRequest_Header{Header: &evidentv1.SubmitStreamHeader{EnvelopeSize: uint64(len(env))}}})
	// Chunks in time keep the stream going.
	for _, b := range [][]byte{env[:10], env[10:20]} {
		time.Sleep(300 * time.Millisecond)
		if err := s.Send(&evidentv1.SubmitStreamRequest{Part: &evidentv1.SubmitStreamRequest_Chunk{Chunk: b}}); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	var res evidentv1.SubmitStreamResponse
	err = s.RecvMsg(&res) // without closing: the client just stops
	wantStatus(t, err, codes.DeadlineExceeded, "no message for 2s after 20 of the announced")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cut off after %v", d)
	}

	// Nor may a stream wait before its header.
	silent, err := c.ev.SubmitStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = silent.RecvMsg(&res)
	wantStatus(t, err, codes.DeadlineExceeded, "no header for 2s")
	if got := scrape(t, n, "evident_submissions_pending_bytes")["evident_submissions_pending_bytes"]; got != 0 {
		t.Errorf("pending bytes %v after the stream ended, want 0", got)
	}
	if size := n.Ledger.Size(); size != 0 {
		t.Errorf("tree size %d, want 0", size)
	}
}

// TestVerifyEnvelopesAfterTheCallEnded: a call that has ended by the time
// a verifier is free costs no verification, and says why.
func TestVerifyEnvelopesAfterTheCallEnded(t *testing.T) {
	t.Parallel()
	envs := [][]byte{envelope(servertest.KeyPyPIMaven, "pkg:pypi/late@1", evidence.PredicateSPDX23), []byte("garbage")}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	for _, tt := range []struct {
		ctx  context.Context
		code connect.Code
	}{
		{cancelled, connect.CodeCanceled},
		{expired, connect.CodeDeadlineExceeded},
	} {
		vs, errs := server.VerifyEnvelopes(tt.ctx, envs, nil, servertest.DefaultTrust())
		for i := range envs {
			if vs[i] != nil || connect.CodeOf(errs[i]) != tt.code || !strings.Contains(errs[i].Error(), "before a verifier was free") {
				t.Errorf("envelope %d: %v, %v; want nothing verified and %v", i, vs[i], errs[i], tt.code)
			}
		}
	}
	vs, errs := server.VerifyEnvelopes(context.Background(), envs, nil, servertest.DefaultTrust())
	if vs[0] == nil || errs[0] != nil || errs[1] == nil {
		t.Errorf("live call: %v, %v", vs, errs)
	}
}
