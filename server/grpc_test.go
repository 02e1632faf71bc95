package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/evident-dev/evident/evidence"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/server/servertest"
	"github.com/google/go-cmp/cmp"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
)

// These tests talk to a node over loopback with google.golang.org/grpc
// clients, as third-party gRPC tooling would.

func TestSubmitAndGetEvidence(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := startNode(t, servertest.Options{})
	c := dial(t, n)

	env0 := envelope(servertest.KeyPyPIMaven, "pkg:pypi/requests@2.32.3", evidence.PredicateSPDX23)
	env1 := envelope(servertest.KeyPyPIMaven, "pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1", evidence.PredicateCycloneDX)

	first := submit(t, c, env0)
	if first.GetLogIndex() != 0 || first.GetDuplicate() {
		t.Fatalf("first Submit: index %d duplicate %v; want 0, false", first.GetLogIndex(), first.GetDuplicate())
	}
	if !bytes.Equal(first.GetEnvelopeSha256(), sha(env0)) {
		t.Errorf("envelope_sha256 %x; want %x", first.GetEnvelopeSha256(), sha(env0))
	}
	if first.GetCheckpoint() != "" || first.GetInclusionProof() != nil {
		t.Errorf("Submit without wait_for_checkpoint returned a checkpoint or proof")
	}
	e0 := checkEntry(t, first.GetEntry(), env0)
	if got, want := e0.Signers, []string{evidence.KeyID(servertest.Public(servertest.KeyPyPIMaven))}; !slices.Equal(got, want) {
		t.Errorf("entry signers %q; want %q", got, want)
	}
	cpResp := waitCheckpoint(t, c, n.Ledger.Size())
	cp1 := openCheckpoint(t, n, cpResp.GetCheckpoint())

	t.Run("duplicate", func(t *testing.T) {
		again := submit(t, c, env0)
		if !again.GetDuplicate() || again.GetLogIndex() != first.GetLogIndex() {
			t.Errorf("second Submit of the same envelope: index %d duplicate %v; want %d, true", again.GetLogIndex(), again.GetDuplicate(), first.GetLogIndex())
		}
		if !bytes.Equal(again.GetEntry(), first.GetEntry()) {
			t.Errorf("duplicate's entry differs from the logged one")
		}
		if got := n.Ledger.Size(); got != 1 {
			t.Errorf("tree size %d after a duplicate; want 1", got)
		}
	})

	var second *evidentv1.SubmitResult
	t.Run("wait_for_checkpoint", func(t *testing.T) {
		res, err := c.ev.Submit(ctx, &evidentv1.SubmitRequest{Envelope: env1, WaitForCheckpoint: true})
		if err != nil {
			t.Fatal(err)
		}
		second = res.GetResult()
		if second.GetLogIndex() != 1 || second.GetDuplicate() {
			t.Fatalf("index %d duplicate %v; want 1, false", second.GetLogIndex(), second.GetDuplicate())
		}
		cp := openCheckpoint(t, n, second.GetCheckpoint())
		if cp.Size < 2 {
			t.Errorf("checkpoint size %d does not cover index 1", cp.Size)
		}
		checkEntry(t, second.GetEntry(), env1)
		verifyInclusion(t, cp, second.GetEntry(), second.GetInclusionProof())
	})
	if second == nil {
		t.FailNow()
	}

	cpResp = waitCheckpoint(t, c, n.Ledger.Size())
	latest := openCheckpoint(t, n, cpResp.GetCheckpoint())

	tests := []struct {
		name      string
		req       *evidentv1.GetEvidenceRequest
		wantCode  codes.Code
		wantIndex uint64
		wantEnv   []byte // the envelope; wantEnvOut: expect it in the response
		inclEnv   bool
	}{
		{name: "by index", req: &evidentv1.GetEvidenceRequest{Selector: &evidentv1.GetEvidenceRequest_LogIndex{LogIndex: 1}}, wantIndex: 1, wantEnv: env1},
		{name: "by index, envelope included", req: &evidentv1.GetEvidenceRequest{Selector: &evidentv1.GetEvidenceRequest_LogIndex{LogIndex: 0}, IncludeEnvelope: true}, wantIndex: 0, wantEnv: env0, inclEnv: true},
		{name: "by envelope digest", req: &evidentv1.GetEvidenceRequest{Selector: &evidentv1.GetEvidenceRequest_EnvelopeSha256{EnvelopeSha256: sha(env1)}}, wantIndex: 1, wantEnv: env1},
		{name: "by envelope digest, envelope included", req: &evidentv1.GetEvidenceRequest{Selector: &evidentv1.GetEvidenceRequest_EnvelopeSha256{EnvelopeSha256: sha(env1)}, IncludeEnvelope: true}, wantIndex: 1, wantEnv: env1, inclEnv: true},
		{name: "in an older tree", req: &evidentv1.GetEvidenceRequest{Selector: &evidentv1.GetEvidenceRequest_LogIndex{LogIndex: 0}, TreeSize: 1}, wantIndex: 0, wantEnv: env0},
		{name: "unknown digest", req: &evidentv1.GetEvidenceRequest{Selector: &evidentv1.GetEvidenceRequest_EnvelopeSha256{EnvelopeSha256: sha([]byte("nothing"))}}, wantCode: codes.NotFound},
		{name: "index beyond the tree", req: &evidentv1.GetEvidenceRequest{Selector: &evidentv1.GetEvidenceRequest_LogIndex{LogIndex: 2}}, wantCode: codes.NotFound},
		{name: "tree size beyond the checkpoint", req: &evidentv1.GetEvidenceRequest{Selector: &evidentv1.GetEvidenceRequest_LogIndex{LogIndex: 0}, TreeSize: 3}, wantCode: codes.OutOfRange},
		{name: "index not in the requested tree", req: &evidentv1.GetEvidenceRequest{Selector: &evidentv1.GetEvidenceRequest_LogIndex{LogIndex: 1}, TreeSize: 1}, wantCode: codes.InvalidArgument},
		{name: "short digest", req: &evidentv1.GetEvidenceRequest{Selector: &evidentv1.GetEvidenceRequest_EnvelopeSha256{EnvelopeSha256: []byte{1, 2, 3}}}, wantCode: codes.InvalidArgument},
		{name: "no selector", req: &evidentv1.GetEvidenceRequest{}, wantCode: codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.ev.GetEvidence(ctx, tt.req)
			if tt.wantCode != codes.OK {
				wantStatus(t, err, tt.wantCode)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ev := res.GetEvidence()
			if ev.GetLogIndex() != tt.wantIndex {
				t.Errorf("log index %d; want %d", ev.GetLogIndex(), tt.wantIndex)
			}
			e := checkEntry(t, ev.GetEntry(), tt.wantEnv)
			cp := latest
			if tt.req.GetTreeSize() != 0 {
				if res.GetCheckpoint() != "" {
					t.Errorf("checkpoint set for an explicit tree_size")
				}
				cp = cp1
			} else if res.GetCheckpoint() != cpResp.GetCheckpoint() {
				t.Errorf("checkpoint %q; want the latest", res.GetCheckpoint())
			}
			verifyInclusion(t, cp, ev.GetEntry(), ev.GetInclusionProof())
			if tt.inclEnv != (ev.GetEnvelope() != nil) {
				t.Errorf("envelope returned: %v; want %v", ev.GetEnvelope() != nil, tt.inclEnv)
			}
			if tt.inclEnv && !bytes.Equal(ev.GetEnvelope(), tt.wantEnv) {
				t.Errorf("envelope bytes differ from those submitted")
			}
			s := ev.GetSummary()
			var subjects []string
			for _, sub := range e.Subjects {
				subjects = append(subjects, sub.Purl)
			}
			want := &summary{
				PredicateType: e.PredicateType, Kind: string(e.Kind), Subjects: subjects,
				Digests: e.Digests(), Signers: e.Signers, EnvelopeSha256: sha(tt.wantEnv), EnvelopeSize: uint64(len(tt.wantEnv)),
			}
			got := &summary{
				PredicateType: s.GetPredicateType(), Kind: s.GetKind(), Subjects: s.GetSubjects(),
				Digests: s.GetArtifactDigests(), Signers: s.GetSignerKeyIds(), EnvelopeSha256: s.GetEnvelopeSha256(), EnvelopeSize: s.GetEnvelopeSize(),
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("summary (-from entry +got):\n%s", diff)
			}
			if !s.GetLoggedAt().AsTime().Equal(e.Time) {
				t.Errorf("logged_at %v; entry time %v", s.GetLoggedAt().AsTime(), e.Time)
			}
		})
	}

	t.Run("GetEnvelope", func(t *testing.T) {
		stream, err := c.ev.GetEnvelope(ctx, &evidentv1.GetEnvelopeRequest{EnvelopeSha256: sha(env0)})
		if err != nil {
			t.Fatal(err)
		}
		got := readEnvelope(t, stream)
		if !bytes.Equal(got, env0) {
			t.Errorf("GetEnvelope returned %d bytes that differ from the %d submitted", len(got), len(env0))
		}
		stream, err = c.ev.GetEnvelope(ctx, &evidentv1.GetEnvelopeRequest{EnvelopeSha256: sha([]byte("never logged"))})
		if err != nil {
			t.Fatal(err)
		}
		_, err = stream.Recv()
		wantStatus(t, err, codes.NotFound)
	})
}

type summary struct {
	PredicateType, Kind        string
	Subjects, Digests, Signers []string
	EnvelopeSha256             []byte
	EnvelopeSize               uint64
}

func readEnvelope(t testing.TB, stream interface {
	Recv() (*evidentv1.GetEnvelopeResponse, error)
}) []byte {
	t.Helper()
	var b []byte
	var total uint64
	for i := 0; ; i++ {
		m, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("GetEnvelope: %v", err)
		}
		if i == 0 {
			total = m.GetTotalSize()
		} else if m.GetTotalSize() != 0 {
			t.Errorf("total_size set in message %d", i)
		}
		b = append(b, m.GetChunk()...)
	}
	if uint64(len(b)) != total {
		t.Errorf("GetEnvelope sent %d bytes; announced %d", len(b), total)
	}
	return b
}

func TestQueryEvidence(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := startNode(t, servertest.Options{})
	c := dial(t, n)
	k := servertest.KeyPyPIMaven
	log4j := "pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1"
	items := [][]byte{
		0: envelope(k, "pkg:pypi/requests@2.31.0", evidence.PredicateSPDX23),
		1: servertest.Envelope(k, "pkg:pypi/requests@2.32.3", servertest.Digest("requests-2.32.3.whl"), evidence.PredicateSPDX23, nil),
		2: servertest.Envelope(k, "pkg:pypi/requests@2.32.3", servertest.Digest("requests-2.32.3.whl"), evidence.PredicateSLSAProvenance, nil),
		3: envelope(k, log4j, evidence.PredicateCycloneDX),
		4: envelope(k, "pkg:pypi/requests@2.32.4", evidence.PredicateOpenVEX),
		5: envelope(k, "pkg:pypi/urllib3@2.2.3", evidence.PredicateSPDX23),
		6: envelope(k, "pkg:pypi/requests@2.28.0", evidence.PredicateSPDX23),
	}
	for i, env := range items {
		if got := submit(t, c, env).GetLogIndex(); got != uint64(i) {
			t.Fatalf("item %d logged at %d", i, got)
		}
	}

	release := func(p string) *evidentv1.QueryEvidenceRequest {
		return &evidentv1.QueryEvidenceRequest{Query: &evidentv1.QueryEvidenceRequest_ReleasePurl{ReleasePurl: p}}
	}
	pkg := func(p string) *evidentv1.QueryEvidenceRequest {
		return &evidentv1.QueryEvidenceRequest{Query: &evidentv1.QueryEvidenceRequest_PackagePurl{PackagePurl: p}}
	}
	digest := func(d string) *evidentv1.QueryEvidenceRequest {
		return &evidentv1.QueryEvidenceRequest{Query: &evidentv1.QueryEvidenceRequest_ArtifactDigest{ArtifactDigest: d}}
	}
	predicate := func(p string) *evidentv1.QueryEvidenceRequest {
		return &evidentv1.QueryEvidenceRequest{Query: &evidentv1.QueryEvidenceRequest_PredicateType{PredicateType: p}}
	}
	tests := []struct {
		name     string
		req      *evidentv1.QueryEvidenceRequest
		want     []uint64
		wantCode codes.Code
	}{
		{name: "release", req: release("pkg:pypi/requests@2.32.3"), want: []uint64{2, 1}},
		{name: "release, non-canonical spelling", req: release("pkg:PyPI/Requests@2.32.3"), want: []uint64{2, 1}},
		{name: "release of a maven package", req: release(log4j), want: []uint64{3}},
		{name: "release with nothing logged", req: release("pkg:pypi/requests@1.0.0"), want: nil},
		{name: "package: every version", req: pkg("pkg:pypi/requests"), want: []uint64{6, 4, 2, 1, 0}},
		{name: "package given with a version", req: pkg("pkg:pypi/requests@2.32.3"), want: []uint64{6, 4, 2, 1, 0}},
		{name: "package of another name", req: pkg("pkg:pypi/urllib3"), want: []uint64{5}},
		{name: "artifact digest", req: digest("sha256:" + servertest.Digest("requests-2.32.3.whl")), want: []uint64{2, 1}},
		{name: "predicate type", req: predicate(evidence.PredicateSPDX23), want: []uint64{6, 5, 1, 0}},
		{name: "predicate type with nothing logged", req: predicate("https://example.com/nothing"), want: nil},
		{name: "release without a version", req: release("pkg:pypi/requests"), wantCode: codes.InvalidArgument},
		{name: "not a purl", req: release("requests==2.32.3"), wantCode: codes.InvalidArgument},
		{name: "digest in upper case", req: digest("sha256:" + strings.ToUpper(servertest.Digest("x"))), wantCode: codes.InvalidArgument},
		{name: "no query", req: &evidentv1.QueryEvidenceRequest{}, wantCode: codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.ev.QueryEvidence(ctx, tt.req)
			if tt.wantCode != codes.OK {
				wantStatus(t, err, tt.wantCode)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cp := openCheckpoint(t, n, res.GetCheckpoint())
			var got []uint64
			for _, ev := range res.GetEvidence() {
				got = append(got, ev.GetLogIndex())
				checkEntry(t, ev.GetEntry(), items[ev.GetLogIndex()])
				verifyInclusion(t, cp, ev.GetEntry(), ev.GetInclusionProof())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("log indexes (-want +got):\n%s", diff)
			}
			if res.GetNextPageToken() != "" {
				t.Errorf("next_page_token %q on the only page", res.GetNextPageToken())
			}
		})
	}

	t.Run("pages", func(t *testing.T) {
		req := pkg("pkg:pypi/requests")
		req.PageSize = 2
		var pages [][]uint64
		var tokens []string
		for range 10 {
			res, err := c.ev.QueryEvidence(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			cp := openCheckpoint(t, n, res.GetCheckpoint())
			var page []uint64
			for _, ev := range res.GetEvidence() {
				page = append(page, ev.GetLogIndex())
				verifyInclusion(t, cp, ev.GetEntry(), ev.GetInclusionProof())
			}
			pages = append(pages, page)
			if res.GetNextPageToken() == "" {
				break
			}
			tokens = append(tokens, res.GetNextPageToken())
			req.PageToken = res.GetNextPageToken()
		}
		if diff := cmp.Diff([][]uint64{{6, 4}, {2, 1}, {0}}, pages); diff != "" {
			t.Fatalf("pages (-want +got):\n%s", diff)
		}

		// A token belongs to its query and can't be made up.
		tok, _ := base64.RawURLEncoding.DecodeString(tokens[0])
		flipped := slices.Clone(tok)
		flipped[len(flipped)-1] ^= 1
		bad := []struct {
			name  string
			req   *evidentv1.QueryEvidenceRequest
			token string
		}{
			{"tag flipped", pkg("pkg:pypi/requests"), base64.RawURLEncoding.EncodeToString(flipped)},
			{"truncated", pkg("pkg:pypi/requests"), tokens[0][:len(tokens[0])-3]},
			{"not base64", pkg("pkg:pypi/requests"), "!!not a token!!"},
			{"another query's token", predicate(evidence.PredicateSPDX23), tokens[0]},
			{"another package's token", pkg("pkg:pypi/urllib3"), tokens[0]},
		}
		for _, b := range bad {
			t.Run(b.name, func(t *testing.T) {
				b.req.PageSize = 2
				b.req.PageToken = b.token
				_, err := c.ev.QueryEvidence(ctx, b.req)
				wantStatus(t, err, codes.InvalidArgument, "page_token")
			})
		}
	})
}

func TestLogService(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := startNode(t, servertest.Options{})
	c := dial(t, n)

	// An empty log has a signed checkpoint of size 0.
	res, err := c.log.GetCheckpoint(ctx, &evidentv1.GetCheckpointRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if cp := openCheckpoint(t, n, res.GetCheckpoint()); cp.Size != 0 || res.GetTreeSize() != 0 {
		t.Errorf("empty log: checkpoint size %d, tree_size %d", cp.Size, res.GetTreeSize())
	}

	var entries [][]byte
	checkpoints := map[uint64]string{} // by size
	for i := range 11 {
		r := submit(t, c, envelope(servertest.KeyNPM, fmt.Sprintf("pkg:npm/left-pad@1.0.%d", i), evidence.PredicateSPDX23))
		entries = append(entries, r.GetEntry())
		res := waitCheckpoint(t, c, uint64(i+1))
		cp := openCheckpoint(t, n, res.GetCheckpoint())
		if cp.Size != res.GetTreeSize() || res.GetOrigin() != servertest.Origin {
			t.Errorf("GetCheckpoint: tree_size %d origin %q; checkpoint says %d %q", res.GetTreeSize(), res.GetOrigin(), cp.Size, cp.Origin)
		}
		checkpoints[cp.Size] = res.GetCheckpoint()
	}
	size := uint64(len(entries))
	latest := openCheckpoint(t, n, checkpoints[size])

	t.Run("GetInclusionProof", func(t *testing.T) {
		byIndex := func(i, size uint64) *evidentv1.GetInclusionProofRequest {
			return &evidentv1.GetInclusionProofRequest{Leaf: &evidentv1.GetInclusionProofRequest_LogIndex{LogIndex: i}, TreeSize: size}
		}
		byHash := func(h []byte, size uint64) *evidentv1.GetInclusionProofRequest {
			return &evidentv1.GetInclusionProofRequest{Leaf: &evidentv1.GetInclusionProofRequest_LeafHash{LeafHash: h}, TreeSize: size}
		}
		leaf := func(i int) []byte { return rfc6962.DefaultHasher.HashLeaf(entries[i]) }
		tests := []struct {
			name      string
			req       *evidentv1.GetInclusionProofRequest
			wantIndex uint64
			wantCode  codes.Code
		}{
			{name: "first entry by index", req: byIndex(0, 0), wantIndex: 0},
			{name: "middle entry by index", req: byIndex(5, 0), wantIndex: 5},
			{name: "last entry by index", req: byIndex(size-1, 0), wantIndex: size - 1},
			{name: "by leaf hash", req: byHash(leaf(7), 0), wantIndex: 7},
			{name: "by index in an older tree", req: byIndex(3, 6), wantIndex: 3},
			{name: "by leaf hash in an older tree", req: byHash(leaf(2), 3), wantIndex: 2},
			{name: "unknown leaf hash", req: byHash(sha([]byte("no such leaf")), 0), wantCode: codes.NotFound},
			{name: "leaf hash of an envelope, not an entry", req: byHash(rfc6962.DefaultHasher.HashLeaf([]byte("x")), 0), wantCode: codes.NotFound},
			{name: "index beyond the tree", req: byIndex(size, 0), wantCode: codes.NotFound},
			{name: "leaf beyond the requested tree", req: byHash(leaf(9), 4), wantCode: codes.NotFound},
			{name: "tree beyond the checkpoint", req: byIndex(0, size+1), wantCode: codes.OutOfRange},
			{name: "index not below tree size", req: byIndex(4, 4), wantCode: codes.InvalidArgument},
			{name: "short leaf hash", req: byHash([]byte{1}, 0), wantCode: codes.InvalidArgument},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res, err := c.log.GetInclusionProof(ctx, tt.req)
				if tt.wantCode != codes.OK {
					wantStatus(t, err, tt.wantCode)
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				p := res.GetProof()
				if p.GetLogIndex() != tt.wantIndex {
					t.Errorf("proof for index %d; want %d", p.GetLogIndex(), tt.wantIndex)
				}
				cp := latest
				if ts := tt.req.GetTreeSize(); ts != 0 {
					if res.GetCheckpoint() != "" {
						t.Errorf("checkpoint set for an explicit tree_size")
					}
					cp = openCheckpoint(t, n, checkpoints[ts])
				} else if res.GetCheckpoint() != checkpoints[size] {
					t.Errorf("checkpoint %q; want the latest", res.GetCheckpoint())
				}
				verifyInclusion(t, cp, entries[tt.wantIndex], p)
			})
		}
	})

	t.Run("GetConsistencyProof", func(t *testing.T) {
		tests := []struct {
			name          string
			oldSize, size uint64
			wantCode      codes.Code
		}{
			{name: "1 to latest", oldSize: 1, size: 0},
			{name: "4 to latest", oldSize: 4, size: 0},
			{name: "3 to 7", oldSize: 3, size: 7},
			{name: "8 to 8", oldSize: 8, size: 8},
			{name: "latest to latest", oldSize: size, size: 0},
			{name: "old size 0", oldSize: 0, size: 3, wantCode: codes.InvalidArgument},
			{name: "old above new", oldSize: 5, size: 3, wantCode: codes.InvalidArgument},
			{name: "old beyond the tree", oldSize: size + 1, size: 0, wantCode: codes.OutOfRange},
			{name: "new beyond the checkpoint", oldSize: 1, size: size + 5, wantCode: codes.OutOfRange},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res, err := c.log.GetConsistencyProof(ctx, &evidentv1.GetConsistencyProofRequest{OldSize: tt.oldSize, NewSize: tt.size})
				if tt.wantCode != codes.OK {
					wantStatus(t, err, tt.wantCode)
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				newSize := tt.size
				if newSize == 0 {
					newSize = size
					if res.GetCheckpoint() != checkpoints[size] {
						t.Errorf("checkpoint %q; want the latest", res.GetCheckpoint())
					}
				}
				if res.GetOldSize() != tt.oldSize || res.GetNewSize() != newSize {
					t.Errorf("proof from %d to %d; want %d to %d", res.GetOldSize(), res.GetNewSize(), tt.oldSize, newSize)
				}
				oldCP, newCP := openCheckpoint(t, n, checkpoints[tt.oldSize]), openCheckpoint(t, n, checkpoints[newSize])
				if err := proof.VerifyConsistency(rfc6962.DefaultHasher, tt.oldSize, newSize, res.GetHashes(), oldCP.Hash[:], newCP.Hash[:]); err != nil {
					t.Errorf("consistency proof: %v", err)
				}
			})
		}
	})

	t.Run("GetEntries", func(t *testing.T) {
		tests := []struct {
			name         string
			start, count uint64
			want         [][]byte
			wantCode     codes.Code
		}{
			{name: "all", start: 0, count: uint64(size), want: entries},
			{name: "middle", start: 3, count: 4, want: entries[3:7]},
			{name: "more than there are", start: 9, count: 1000, want: entries[9:]},
			{name: "start at the end", start: size, count: 1, wantCode: codes.OutOfRange},
			{name: "count 0", start: 0, count: 0, wantCode: codes.InvalidArgument},
			{name: "count over 1000", start: 0, count: 1001, wantCode: codes.InvalidArgument},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res, err := c.log.GetEntries(ctx, &evidentv1.GetEntriesRequest{Start: tt.start, Count: uint32(tt.count)})
				if tt.wantCode != codes.OK {
					wantStatus(t, err, tt.wantCode)
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if res.GetStart() != tt.start {
					t.Errorf("start %d; want %d", res.GetStart(), tt.start)
				}
				if diff := cmp.Diff(tt.want, res.GetEntries()); diff != "" {
					t.Errorf("entries (-want +got):\n%s", diff)
				}
			})
		}
	})
}

func TestSubmitStreamLarge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := startNode(t, servertest.Options{})
	c := dial(t, n)

	// A ~6 MiB envelope: a 4.7 MiB predicate, base64 in the envelope.
	pred, _ := json.Marshal(map[string]string{"sbom": strings.Repeat("component ", 480<<10)})
	env := servertest.Envelope(servertest.KeyPyPIMaven, "pkg:pypi/big@1.0.0", servertest.Digest("big"), evidence.PredicateCycloneDX, pred)
	if len(env) < 6<<20 {
		t.Fatalf("test envelope is only %d bytes", len(env))
	}
	const chunk = 1 << 20
	stream, err := c.ev.SubmitStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&evidentv1.SubmitStreamRequest{Part: &evidentv1.SubmitStreamRequest_Header{Header: &evidentv1.SubmitStreamHeader{
		EnvelopeSize: uint64(len(env)), EnvelopeSha256: sha(env), WaitForCheckpoint: true,
	}}}); err != nil {
		t.Fatal(err)
	}
	chunks := 0
	for off := 0; off < len(env); off += chunk {
		if err := stream.Send(&evidentv1.SubmitStreamRequest{Part: &evidentv1.SubmitStreamRequest_Chunk{Chunk: env[off:min(off+chunk, len(env))]}}); err != nil {
			t.Fatal(err)
		}
		chunks++
	}
	res, err := stream.CloseAndRecv()
	if err != nil {
		t.Fatalf("SubmitStream of %d bytes in %d chunks: %v", len(env), chunks, err)
	}
	r := res.GetResult()
	checkEntry(t, r.GetEntry(), env)
	verifyInclusion(t, openCheckpoint(t, n, r.GetCheckpoint()), r.GetEntry(), r.GetInclusionProof())

	get, err := c.ev.GetEnvelope(ctx, &evidentv1.GetEnvelopeRequest{EnvelopeSha256: sha(env)})
	if err != nil {
		t.Fatal(err)
	}
	if got := readEnvelope(t, get); !bytes.Equal(got, env) {
		t.Errorf("GetEnvelope returned %d bytes that differ from the %d submitted", len(got), len(env))
	}
	// The envelope is over a gRPC client's default 4 MiB receive limit, so
	// GetEvidence is asked for the entry only.
	ev, err := c.ev.GetEvidence(ctx, &evidentv1.GetEvidenceRequest{Selector: &evidentv1.GetEvidenceRequest_EnvelopeSha256{EnvelopeSha256: sha(env)}})
	if err != nil {
		t.Fatal(err)
	}
	if ev.GetEvidence().GetSummary().GetEnvelopeSize() != uint64(len(env)) {
		t.Errorf("summary envelope_size %d; want %d", ev.GetEvidence().GetSummary().GetEnvelopeSize(), len(env))
	}
}

func TestSubmitBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := startNode(t, servertest.Options{})
	c := dial(t, n)

	logged := envelope(servertest.KeyPyPIMaven, "pkg:pypi/flask@3.0.0", evidence.PredicateSPDX23)
	first := submit(t, c, logged)
	good1 := envelope(servertest.KeyPyPIMaven, "pkg:pypi/flask@3.0.1", evidence.PredicateSPDX23)
	good2 := envelope(servertest.KeyNPM, "pkg:npm/react@19.0.0", evidence.PredicateSLSAProvenance)
	blobsBefore, err := n.BlobCount()
	if err != nil {
		t.Fatal(err)
	}

	envs := [][]byte{
		good1,
		[]byte("garbage"),
		good2,
		logged, // already logged
		envelope(servertest.KeyUntrusted, "pkg:pypi/flask@3.0.2", evidence.PredicateSPDX23),
		good1, // twice in one batch
		envelope(servertest.KeyNPM, "pkg:pypi/flask@3.0.3", evidence.PredicateSPDX23),
	}
	res, err := c.ev.SubmitBatch(ctx, &evidentv1.SubmitBatchRequest{Envelopes: envs, WaitForCheckpoint: true})
	if err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		Index     uint64
		Duplicate bool
		Code      codes.Code
	}
	var got []outcome
	checkpoints := map[string]bool{}
	for i, r := range res.GetResults() {
		if e := r.GetError(); e != nil {
			got = append(got, outcome{Code: codes.Code(e.GetCode())})
			if e.GetMessage() == "" {
				t.Errorf("result %d: error without a message", i)
			}
			continue
		}
		sr := r.GetResult()
		got = append(got, outcome{Index: sr.GetLogIndex(), Duplicate: sr.GetDuplicate()})
		checkpoints[sr.GetCheckpoint()] = true
		checkEntry(t, sr.GetEntry(), envs[i])
		verifyInclusion(t, openCheckpoint(t, n, sr.GetCheckpoint()), sr.GetEntry(), sr.GetInclusionProof())
	}
	want := []outcome{
		{Index: 1},
		{Code: codes.InvalidArgument},
		{Index: 2},
		{Index: first.GetLogIndex(), Duplicate: true},
		{Code: codes.PermissionDenied},
		{Index: 1, Duplicate: true},
		{Code: codes.PermissionDenied},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("batch outcomes (-want +got):\n%s", diff)
	}
	if len(checkpoints) != 1 {
		t.Errorf("the batch's proofs are against %d checkpoints; want one", len(checkpoints))
	}
	if got := n.Ledger.Size(); got != 3 {
		t.Errorf("tree size %d; want 3", got)
	}
	if blobs, err := n.BlobCount(); err != nil || blobs != blobsBefore+2 {
		t.Errorf("envelope store holds %d blobs (%v); want %d", blobs, err, blobsBefore+2)
	}

	t.Run("invalid as a whole", func(t *testing.T) {
		_, err := c.ev.SubmitBatch(ctx, &evidentv1.SubmitBatchRequest{})
		wantStatus(t, err, codes.InvalidArgument, "envelopes")
		_, err = c.ev.SubmitBatch(ctx, &evidentv1.SubmitBatchRequest{Envelopes: [][]byte{good1, {}}})
		wantStatus(t, err, codes.InvalidArgument, "envelopes")
	})
}

func TestHealthAndReflection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := startNode(t, servertest.Options{})
	c := dial(t, n)

	health := healthpb.NewHealthClient(c.conn)
	for _, svc := range []string{"", "evident.v1.EvidenceService", "evident.v1.LogService"} {
		res, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil {
			t.Fatalf("health check of %q: %v", svc, err)
		}
		if res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health of %q: %v; want SERVING", svc, res.GetStatus())
		}
	}
	_, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: "no.such.Service"})
	wantStatus(t, err, codes.NotFound)

	stream, err := reflectionpb.NewServerReflectionClient(c.conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	res, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var services []string
	for _, s := range res.GetListServicesResponse().GetService() {
		services = append(services, s.GetName())
	}
	for _, want := range []string{"evident.v1.EvidenceService", "evident.v1.LogService"} {
		if !slices.Contains(services, want) {
			t.Errorf("reflection lists %q; want it to include %q", services, want)
		}
	}
	// grpcurl describes a service by asking for the file that defines it.
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "evident.v1.EvidenceService"}}); err != nil {
		t.Fatal(err)
	}
	res, err = stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if len(res.GetFileDescriptorResponse().GetFileDescriptorProto()) == 0 {
		t.Errorf("no file descriptor for evident.v1.EvidenceService: %v", res.GetErrorResponse())
	}
	stream.CloseSend()
}
