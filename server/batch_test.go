package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"testing"

	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/server/servertest"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// readBatch reads a whole BatchQuery stream: the checkpoint, the answers
// by query, the items by log index, and how many messages came.
func readBatch(t testing.TB, c clients, req *evidentv1.BatchQueryRequest) (string, map[uint32]*evidentv1.BatchQueryAnswer, map[uint64]*evidentv1.Evidence, int) {
	t.Helper()
	stream, err := c.ev.BatchQuery(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var cp string
	answers := make(map[uint32]*evidentv1.BatchQueryAnswer)
	items := make(map[uint64]*evidentv1.Evidence)
	n := 0
	for ; ; n++ {
		m, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if (n == 0) != (m.GetCheckpoint() != "") {
			t.Errorf("message %d has checkpoint %q; only the first has one", n, m.GetCheckpoint())
		}
		if n == 0 {
			cp = m.GetCheckpoint()
		}
		for _, a := range m.GetAnswers() {
			if answers[a.GetQuery()] != nil {
				t.Errorf("query %d answered twice", a.GetQuery())
			}
			answers[a.GetQuery()] = a
		}
		for _, ev := range m.GetEvidence() {
			if items[ev.GetLogIndex()] != nil {
				t.Errorf("item %d sent twice", ev.GetLogIndex())
			}
			items[ev.GetLogIndex()] = ev
		}
	}
	return cp, answers, items, n
}

func TestBatchQuery(t *testing.T) {
	n := startNode(t, servertest.Options{})
	c := dial(t, n)
	k := servertest.KeyPyPIMaven
	// Two releases of one package, package-level evidence for both, and
	// an item about two releases at once (answered for both, sent once).
	envs := [][]byte{
		envelope(k, "pkg:pypi/requests@2.32.3", "https://slsa.dev/provenance/v1"),
		envelope(k, "pkg:pypi/requests@2.32.3", "https://openvex.dev/ns/v0.2.0"),
		envelope(k, "pkg:pypi/requests@2.31.0", "https://slsa.dev/provenance/v1"),
		servertest.Envelope(k, "pkg:pypi/requests", servertest.Digest("pkg:pypi/requests"), "https://evident.dev/attestation/security-policy/v1", []byte(`{"contact":["mailto:security@example.org"]}`)),
		servertest.Sign(k, "application/vnd.in-toto+json", (&servertest.Statement{
			Type: "https://in-toto.io/Statement/v1",
			Subject: []servertest.Subject{
				{Name: "pkg:pypi/urllib3@2.2.2", Digest: map[string]string{"sha256": servertest.Digest("u")}},
				{Name: "pkg:pypi/idna@3.7", Digest: map[string]string{"sha256": servertest.Digest("i")}},
			},
			PredicateType: "https://cyclonedx.org/bom", Predicate: []byte(`{"bomFormat":"CycloneDX"}`),
		}).Marshal()),
	}
	var idx []uint64
	for _, e := range envs {
		idx = append(idx, submit(t, c, e).GetLogIndex())
	}
	waitCheckpoint(t, c, uint64(len(envs)))

	req := &evidentv1.BatchQueryRequest{Queries: []*evidentv1.BatchQueryItem{
		{Query: &evidentv1.BatchQueryItem_ReleasePurl{ReleasePurl: "pkg:pypi/requests@2.32.3?extra=x"}},
		{Query: &evidentv1.BatchQueryItem_ReleasePurl{ReleasePurl: "pkg:pypi/urllib3@2.2.2"}},
		{Query: &evidentv1.BatchQueryItem_ReleasePurl{ReleasePurl: "pkg:pypi/idna@3.7"}},
		{Query: &evidentv1.BatchQueryItem_ReleasePurl{ReleasePurl: "pkg:pypi/nothing@1"}},
		{Query: &evidentv1.BatchQueryItem_ArtifactDigest{ArtifactDigest: "sha256:" + servertest.Digest("pkg:pypi/requests@2.31.0")}},
		{Query: &evidentv1.BatchQueryItem_PackagePurl{PackagePurl: "pkg:pypi/requests"}},
		{Query: &evidentv1.BatchQueryItem_ReleasePurl{ReleasePurl: "pkg:maven/no-namespace@1"}},
	}, IncludeEnvelopes: true}
	signed, answers, items, _ := readBatch(t, c, req)
	cp := openCheckpoint(t, n, signed)
	want := []struct {
		indexes, pkgLevel []uint64
		err               bool
	}{
		{[]uint64{idx[3], idx[1], idx[0]}, []uint64{idx[3]}, false},
		{[]uint64{idx[4]}, nil, false},
		{[]uint64{idx[4]}, nil, false},
		{nil, nil, false},
		{[]uint64{idx[2]}, nil, false},
		{[]uint64{idx[3], idx[2], idx[1], idx[0]}, nil, false},
		{nil, nil, true},
	}
	if len(answers) != len(want) {
		t.Fatalf("%d answers for %d queries", len(answers), len(want))
	}
	for q, w := range want {
		a := answers[uint32(q)]
		if !slices.Equal(a.GetLogIndexes(), w.indexes) || !slices.Equal(a.GetPackageLevel(), w.pkgLevel) || (a.GetError() != nil) != w.err || a.GetTruncated() {
			t.Errorf("query %d: answer %v; want indexes %v, package-level %v, error %v", q, a, w.indexes, w.pkgLevel, w.err)
		}
	}
	if len(items) != len(envs) {
		t.Errorf("%d items sent; want each of the %d once", len(items), len(envs))
	}
	for i, e := range envs {
		ev := items[idx[i]]
		if ev == nil {
			t.Errorf("item %d not sent", idx[i])
			continue
		}
		verifyInclusion(t, cp, ev.GetEntry(), ev.GetInclusionProof())
		checkEntry(t, ev.GetEntry(), e)
		if !bytes.Equal(ev.GetEnvelope(), e) {
			t.Errorf("item %d: envelope not sent as asked", idx[i])
		}
	}

	// Without envelopes, with one match per query: the newest, truncated.
	req.IncludeEnvelopes, req.MaxMatches = false, 1
	_, answers, items, _ = readBatch(t, c, req)
	if a := answers[0]; !slices.Equal(a.GetLogIndexes(), []uint64{idx[3]}) || !a.GetTruncated() {
		t.Errorf("max_matches 1: answer %v; want [%d], truncated", a, idx[3])
	}
	for _, ev := range items {
		if ev.GetEnvelope() != nil {
			t.Errorf("item %d carries its envelope unasked", ev.GetLogIndex())
		}
	}
}

// TestBatchQueryStreams: answers larger than the response size limit come
// in several messages, none over the limit, every item once.
func TestBatchQueryStreams(t *testing.T) {
	const limit = 16 << 10
	n := startNode(t, servertest.Options{MaxResponseBytes: limit})
	c := dial(t, n)
	var queries []*evidentv1.BatchQueryItem
	var envs [][]byte
	for i := range 60 {
		purl := fmt.Sprintf("pkg:pypi/p%d@1", i)
		envs = append(envs, envelope(servertest.KeyPyPIMaven, purl, "https://slsa.dev/provenance/v1"))
		queries = append(queries, &evidentv1.BatchQueryItem{Query: &evidentv1.BatchQueryItem_ReleasePurl{ReleasePurl: purl}})
	}
	res, err := c.ev.SubmitBatch(context.Background(), &evidentv1.SubmitBatchRequest{Envelopes: envs})
	if err != nil {
		t.Fatal(err)
	}
	waitCheckpoint(t, c, uint64(len(res.GetResults())))
	stream, err := c.ev.BatchQuery(context.Background(), &evidentv1.BatchQueryRequest{Queries: queries, IncludeEnvelopes: true})
	if err != nil {
		t.Fatal(err)
	}
	msgs, items := 0, 0
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		msgs++
		items += len(m.GetEvidence())
		// An answer and its items: a message may exceed the limit by the
		// one item that opened it, never by more.
		if sz := protoSize(m); sz > limit+8<<10 {
			t.Errorf("message of %d bytes; the limit is %d", sz, limit)
		}
	}
	if msgs < 2 || items != len(envs) {
		t.Errorf("%d messages, %d items; want several messages and %d items", msgs, items, len(envs))
	}
}

func TestBatchQueryValidation(t *testing.T) {
	n := startNode(t, servertest.Options{})
	c := dial(t, n)
	many := make([]*evidentv1.BatchQueryItem, 1001)
	for i := range many {
		many[i] = &evidentv1.BatchQueryItem{Query: &evidentv1.BatchQueryItem_PackagePurl{PackagePurl: "pkg:pypi/x"}}
	}
	for _, tt := range []struct {
		name string
		req  *evidentv1.BatchQueryRequest
	}{
		{"no queries", &evidentv1.BatchQueryRequest{}},
		{"too many", &evidentv1.BatchQueryRequest{Queries: many}},
		{"empty query", &evidentv1.BatchQueryRequest{Queries: []*evidentv1.BatchQueryItem{{}}}},
		{"bad digest", &evidentv1.BatchQueryRequest{Queries: []*evidentv1.BatchQueryItem{{Query: &evidentv1.BatchQueryItem_ArtifactDigest{ArtifactDigest: "sha1:00"}}}}},
		{"max_matches", &evidentv1.BatchQueryRequest{Queries: many[:1], MaxMatches: 1001}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stream, err := c.ev.BatchQuery(context.Background(), tt.req)
			if err == nil {
				_, err = stream.Recv()
			}
			wantStatus(t, err, codes.InvalidArgument)
		})
	}
}

func protoSize(m *evidentv1.BatchQueryResponse) int { return proto.Size(m) }
