package evidentv1_test

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
)

// violations validates msg and returns its violations as "field: [rule id]"
// (just "[rule id]" for message-level rules), sorted; nil if msg is valid.
func violations(t *testing.T, v protovalidate.Validator, msg proto.Message) []string {
	t.Helper()
	err := v.Validate(msg)
	if err == nil {
		return nil
	}
	var verr *protovalidate.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("Validate(%T) = %v, want nil or a *protovalidate.ValidationError (is a rule broken?)", msg, err)
	}
	var out []string
	for _, viol := range verr.Violations {
		s := "[" + viol.Proto.GetRuleId() + "]"
		if path := protovalidate.FieldPathString(viol.Proto.GetField()); path != "" {
			s = path + ": " + s
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// batchQueries returns n valid queries of a BatchQueryRequest.
func batchQueries(n int) []*evidentv1.BatchQueryItem {
	qs := make([]*evidentv1.BatchQueryItem, n)
	for i := range qs {
		qs[i] = &evidentv1.BatchQueryItem{Query: &evidentv1.BatchQueryItem_ReleasePurl{ReleasePurl: "pkg:pypi/requests@2.32.3"}}
	}
	return qs
}

func TestRequestRules(t *testing.T) {
	v, err := protovalidate.New()
	if err != nil {
		t.Fatalf("protovalidate.New() = %v", err)
	}

	var (
		sha256Digest = bytes.Repeat([]byte{0xab}, 32)
		envelope     = []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}`)
		hex64        = strings.Repeat("0f", 32)
		hex128       = strings.Repeat("0f", 64)
	)
	manyEnvelopes := func(n int) [][]byte {
		envs := make([][]byte, n)
		for i := range envs {
			envs[i] = envelope
		}
		return envs
	}
	query := func(q func(*evidentv1.QueryEvidenceRequest)) *evidentv1.QueryEvidenceRequest {
		req := &evidentv1.QueryEvidenceRequest{}
		q(req)
		return req
	}
	releasePURL := func(s string) *evidentv1.QueryEvidenceRequest {
		return query(func(r *evidentv1.QueryEvidenceRequest) {
			r.Query = &evidentv1.QueryEvidenceRequest_ReleasePurl{ReleasePurl: s}
		})
	}
	packagePURL := func(s string) *evidentv1.QueryEvidenceRequest {
		return query(func(r *evidentv1.QueryEvidenceRequest) {
			r.Query = &evidentv1.QueryEvidenceRequest_PackagePurl{PackagePurl: s}
		})
	}
	artifactDigest := func(s string) *evidentv1.QueryEvidenceRequest {
		return query(func(r *evidentv1.QueryEvidenceRequest) {
			r.Query = &evidentv1.QueryEvidenceRequest_ArtifactDigest{ArtifactDigest: s}
		})
	}
	predicateType := func(s string) *evidentv1.QueryEvidenceRequest {
		return query(func(r *evidentv1.QueryEvidenceRequest) {
			r.Query = &evidentv1.QueryEvidenceRequest_PredicateType{PredicateType: s}
		})
	}
	validQuery := func(pageSize int32, pageToken string) *evidentv1.QueryEvidenceRequest {
		req := releasePURL("pkg:pypi/requests@2.32.3")
		req.PageSize = pageSize
		req.PageToken = pageToken
		return req
	}

	tests := []struct {
		name string
		msg  proto.Message
		want []string // nil: valid
	}{
		// EvidenceService.Submit
		{"submit/ok", &evidentv1.SubmitRequest{Envelope: envelope, WaitForCheckpoint: true}, nil},
		{"submit/no envelope", &evidentv1.SubmitRequest{}, []string{"envelope: [required]"}},
		{"submit/envelope over 64 MiB", &evidentv1.SubmitRequest{Envelope: make([]byte, 64<<20+1)}, []string{"envelope: [bytes.max_len]"}},

		// EvidenceService.SubmitStream
		{"stream/header ok", &evidentv1.SubmitStreamRequest{Part: &evidentv1.SubmitStreamRequest_Header{Header: &evidentv1.SubmitStreamHeader{EnvelopeSize: 40 << 20}}}, nil},
		{"stream/header with digest", &evidentv1.SubmitStreamRequest{Part: &evidentv1.SubmitStreamRequest_Header{Header: &evidentv1.SubmitStreamHeader{EnvelopeSize: 1, EnvelopeSha256: sha256Digest}}}, nil},
		{"stream/chunk ok", &evidentv1.SubmitStreamRequest{Part: &evidentv1.SubmitStreamRequest_Chunk{Chunk: make([]byte, 4<<20)}}, nil},
		{"stream/no part", &evidentv1.SubmitStreamRequest{}, []string{"part: [required]"}},
		{"stream/empty chunk", &evidentv1.SubmitStreamRequest{Part: &evidentv1.SubmitStreamRequest_Chunk{Chunk: []byte{}}}, []string{"chunk: [bytes.min_len]"}},
		{"stream/chunk over 4 MiB", &evidentv1.SubmitStreamRequest{Part: &evidentv1.SubmitStreamRequest_Chunk{Chunk: make([]byte, 4<<20+1)}}, []string{"chunk: [bytes.max_len]"}},
		{"stream/size 0", &evidentv1.SubmitStreamRequest{Part: &evidentv1.SubmitStreamRequest_Header{Header: &evidentv1.SubmitStreamHeader{}}}, []string{"header.envelope_size: [uint64.gt_lte]"}},
		{"stream/size over 64 MiB", &evidentv1.SubmitStreamRequest{Part: &evidentv1.SubmitStreamRequest_Header{Header: &evidentv1.SubmitStreamHeader{EnvelopeSize: 64<<20 + 1}}}, []string{"header.envelope_size: [uint64.gt_lte]"}},
		{"stream/digest too short", &evidentv1.SubmitStreamRequest{Part: &evidentv1.SubmitStreamRequest_Header{Header: &evidentv1.SubmitStreamHeader{EnvelopeSize: 1, EnvelopeSha256: sha256Digest[:31]}}}, []string{"header.envelope_sha256: [bytes.len]"}},

		// EvidenceService.SubmitBatch
		{"batch/ok", &evidentv1.SubmitBatchRequest{Envelopes: manyEnvelopes(1000)}, nil},
		{"batch/empty", &evidentv1.SubmitBatchRequest{}, []string{"envelopes: [repeated.min_items]"}},
		{"batch/too many", &evidentv1.SubmitBatchRequest{Envelopes: manyEnvelopes(1001)}, []string{"envelopes: [repeated.max_items]"}},
		{"batch/empty item", &evidentv1.SubmitBatchRequest{Envelopes: [][]byte{envelope, {}}}, []string{"envelopes[1]: [bytes.min_len]"}},
		{"batch/item over 4 MiB", &evidentv1.SubmitBatchRequest{Envelopes: [][]byte{make([]byte, 4<<20+1)}}, []string{"envelopes[0]: [bytes.max_len]"}},

		// EvidenceService.GetEvidence
		{"get/by index 0", &evidentv1.GetEvidenceRequest{Selector: &evidentv1.GetEvidenceRequest_LogIndex{LogIndex: 0}}, nil},
		{"get/by index in tree", &evidentv1.GetEvidenceRequest{Selector: &evidentv1.GetEvidenceRequest_LogIndex{LogIndex: 6}, TreeSize: 7}, nil},
		{"get/by digest", &evidentv1.GetEvidenceRequest{Selector: &evidentv1.GetEvidenceRequest_EnvelopeSha256{EnvelopeSha256: sha256Digest}, TreeSize: 1, IncludeEnvelope: true}, nil},
		{"get/no selector", &evidentv1.GetEvidenceRequest{}, []string{"selector: [required]"}},
		{"get/digest too long", &evidentv1.GetEvidenceRequest{Selector: &evidentv1.GetEvidenceRequest_EnvelopeSha256{EnvelopeSha256: append(sha256Digest, 0)}}, []string{"envelope_sha256: [bytes.len]"}},
		{"get/index beyond tree", &evidentv1.GetEvidenceRequest{Selector: &evidentv1.GetEvidenceRequest_LogIndex{LogIndex: 7}, TreeSize: 7}, []string{"[log_index_in_tree]"}},
		{"get/index over int64", &evidentv1.GetEvidenceRequest{Selector: &evidentv1.GetEvidenceRequest_LogIndex{LogIndex: 1 << 63}}, []string{"log_index: [uint64.lte]"}},

		// EvidenceService.QueryEvidence
		{"query/release", releasePURL("pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1"), nil},
		{"query/release with qualifiers", releasePURL("pkg:deb/debian/curl@7.50.3-1?arch=i386&distro=jessie"), nil},
		{"query/release npm scope", releasePURL("pkg:npm/%40angular/core@16.2.0"), nil},
		{"query/release golang", releasePURL("pkg:golang/golang.org/x/mod@v0.43.0#sumdb/note"), nil},
		{"query/release without version", releasePURL("pkg:pypi/requests"), []string{"release_purl: [release_purl.format]"}},
		{"query/release empty version", releasePURL("pkg:pypi/requests@"), []string{"release_purl: [release_purl.format]"}},
		{"query/release not a purl", releasePURL("requests==2.32.3"), []string{"release_purl: [release_purl.format]"}},
		{"query/release no name", releasePURL("pkg:pypi/@2.32.3"), []string{"release_purl: [release_purl.format]"}},
		{"query/release space", releasePURL("pkg:pypi/requests@2.32.3 "), []string{"release_purl: [release_purl.format]"}},
		{"query/release type starts with digit", releasePURL("pkg:1pypi/requests@2.32.3"), []string{"release_purl: [release_purl.format]"}},
		{"query/release too long", releasePURL("pkg:generic/" + strings.Repeat("a", 1024) + "@1"), []string{"release_purl: [string.max_len]"}},
		{"query/package", packagePURL("pkg:pypi/requests"), nil},
		{"query/package with version", packagePURL("pkg:generic/openssl@3.4.0"), nil},
		{"query/package no name", packagePURL("pkg:pypi/"), []string{"package_purl: [package_purl.format]"}},
		{"query/package no type", packagePURL("pkg:requests"), []string{"package_purl: [package_purl.format]"}},
		{"query/sha256", artifactDigest("sha256:" + hex64), nil},
		{"query/sha512", artifactDigest("sha512:" + hex128), nil},
		{"query/sha256 short", artifactDigest("sha256:" + hex64[:63]), []string{"artifact_digest: [artifact_digest.format]"}},
		{"query/sha256 long", artifactDigest("sha256:" + hex64 + "0"), []string{"artifact_digest: [artifact_digest.format]"}},
		{"query/sha256 upper case", artifactDigest("sha256:" + strings.ToUpper(hex64)), []string{"artifact_digest: [artifact_digest.format]"}},
		{"query/no algorithm", artifactDigest(hex64), []string{"artifact_digest: [artifact_digest.format]"}},
		{"query/md5", artifactDigest("md5:" + hex64[:32]), []string{"artifact_digest: [artifact_digest.format]"}},
		{"query/predicate type", predicateType("https://slsa.dev/provenance/v1"), nil},
		{"query/predicate type not a URI", predicateType("slsa provenance"), []string{"predicate_type: [string.uri]"}},
		{"query/predicate type too long", predicateType("https://example.com/" + strings.Repeat("a", 493)), []string{"predicate_type: [string.max_len]"}},
		{"query/no query", &evidentv1.QueryEvidenceRequest{PageSize: 10}, []string{"query: [required]"}},
		{"query/page size 500", validQuery(500, ""), nil},
		{"query/page size 501", validQuery(501, ""), []string{"page_size: [int32.gte_lte]"}},
		{"query/page size negative", validQuery(-1, ""), []string{"page_size: [int32.gte_lte]"}},
		{"query/page token", validQuery(0, strings.Repeat("t", 256)), nil},
		{"query/page token too long", validQuery(0, strings.Repeat("t", 257)), []string{"page_token: [string.max_len]"}},

		// EvidenceService.GetEnvelope
		{"envelope/ok", &evidentv1.GetEnvelopeRequest{EnvelopeSha256: sha256Digest}, nil},
		{"envelope/no digest", &evidentv1.GetEnvelopeRequest{}, []string{"envelope_sha256: [required]"}},
		{"envelope/digest too short", &evidentv1.GetEnvelopeRequest{EnvelopeSha256: sha256Digest[:16]}, []string{"envelope_sha256: [bytes.len]"}},

		// EvidenceService.BatchQuery
		{"batch query/ok", &evidentv1.BatchQueryRequest{Queries: batchQueries(1000), MaxMatches: 1000}, nil},
		{"batch query/empty", &evidentv1.BatchQueryRequest{}, []string{"queries: [repeated.min_items]"}},
		{"batch query/too many", &evidentv1.BatchQueryRequest{Queries: batchQueries(1001)}, []string{"queries: [repeated.max_items]"}},
		{"batch query/max matches 1001", &evidentv1.BatchQueryRequest{Queries: batchQueries(1), MaxMatches: 1001}, []string{"max_matches: [uint32.lte]"}},
		{"batch query/no query", &evidentv1.BatchQueryRequest{Queries: []*evidentv1.BatchQueryItem{{}}}, []string{"queries[0].query: [required]"}},
		{"batch query/release without version", &evidentv1.BatchQueryRequest{Queries: []*evidentv1.BatchQueryItem{
			{Query: &evidentv1.BatchQueryItem_ReleasePurl{ReleasePurl: "pkg:pypi/requests"}}}}, []string{"queries[0].release_purl: [release_purl.format]"}},
		{"batch query/digest", &evidentv1.BatchQueryRequest{Queries: []*evidentv1.BatchQueryItem{
			{Query: &evidentv1.BatchQueryItem_ArtifactDigest{ArtifactDigest: "sha512:" + hex128}},
			{Query: &evidentv1.BatchQueryItem_ArtifactDigest{ArtifactDigest: "sha1:" + hex64[:40]}}}}, []string{"queries[1].artifact_digest: [artifact_digest.format]"}},

		// LogService
		{"checkpoint/ok", &evidentv1.GetCheckpointRequest{}, nil},
		{"inclusion/by index", &evidentv1.GetInclusionProofRequest{Leaf: &evidentv1.GetInclusionProofRequest_LogIndex{LogIndex: 3}}, nil},
		{"inclusion/by hash", &evidentv1.GetInclusionProofRequest{Leaf: &evidentv1.GetInclusionProofRequest_LeafHash{LeafHash: sha256Digest}, TreeSize: 10}, nil},
		{"inclusion/no leaf", &evidentv1.GetInclusionProofRequest{TreeSize: 10}, []string{"leaf: [required]"}},
		{"inclusion/hash too short", &evidentv1.GetInclusionProofRequest{Leaf: &evidentv1.GetInclusionProofRequest_LeafHash{LeafHash: sha256Digest[:31]}}, []string{"leaf_hash: [bytes.len]"}},
		{"inclusion/index beyond tree", &evidentv1.GetInclusionProofRequest{Leaf: &evidentv1.GetInclusionProofRequest_LogIndex{LogIndex: 10}, TreeSize: 10}, []string{"[log_index_in_tree]"}},
		{"consistency/ok", &evidentv1.GetConsistencyProofRequest{OldSize: 5, NewSize: 5}, nil},
		{"consistency/latest", &evidentv1.GetConsistencyProofRequest{OldSize: 5}, nil},
		{"consistency/old size 0", &evidentv1.GetConsistencyProofRequest{NewSize: 5}, []string{"old_size: [uint64.gte_lte]"}},
		{"consistency/old above new", &evidentv1.GetConsistencyProofRequest{OldSize: 6, NewSize: 5}, []string{"[old_size_not_above_new_size]"}},
		{"entries/ok", &evidentv1.GetEntriesRequest{Start: 0, Count: 1000}, nil},
		{"entries/count 0", &evidentv1.GetEntriesRequest{Start: 5}, []string{"count: [uint32.gte_lte]"}},
		{"entries/count 1001", &evidentv1.GetEntriesRequest{Count: 1001}, []string{"count: [uint32.gte_lte]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := violations(t, v, tt.msg)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("violations of %T (-want +got):\n%s", tt.msg, diff)
			}
		})
	}
}

// TestEveryRequestFieldHasRules keeps the rule "every request field is
// validated" from eroding as the API grows. Bool fields are exempt (no value
// of a bool is invalid); a message field in a required oneof is checked by
// checking its own fields.
func TestEveryRequestFieldHasRules(t *testing.T) {
	files := []protoreflect.FileDescriptor{
		evidentv1.File_evident_v1_evidence_proto,
		evidentv1.File_evident_v1_log_proto,
	}
	var check func(msg protoreflect.MessageDescriptor)
	check = func(msg protoreflect.MessageDescriptor) {
		fields := msg.Fields()
		for i := range fields.Len() {
			fd := fields.Get(i)
			switch {
			case fd.Kind() == protoreflect.BoolKind && !fd.IsList():
				// Nothing to check.
			case proto.HasExtension(fd.Options(), validate.E_Field):
				// Rules of its own; for a message field, its fields too.
				if fd.Message() != nil && fd.Message().ParentFile() == msg.ParentFile() {
					check(fd.Message())
				}
			case fd.Message() != nil && fd.ContainingOneof() != nil &&
				proto.HasExtension(fd.ContainingOneof().Options(), validate.E_Oneof):
				check(fd.Message())
			default:
				t.Errorf("%s has no buf.validate rules", fd.FullName())
			}
		}
	}
	var nRPCs int
	for _, f := range files {
		services := f.Services()
		for i := range services.Len() {
			methods := services.Get(i).Methods()
			for j := range methods.Len() {
				nRPCs++
				check(methods.Get(j).Input())
			}
		}
	}
	if nRPCs != 13 {
		t.Errorf("checked %d RPCs, want 13: was a service added to another file? Add the file above.", nRPCs)
	}
}
