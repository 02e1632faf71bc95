package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/evident-dev/evident/evidence"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/server/servertest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// documentEnvelope returns an envelope carrying doc, byte for byte, in a
// document attestation about subject (a purl with or without a version).
func documentEnvelope(t testing.TB, subject string, digest map[string]string, doc []byte) []byte {
	t.Helper()
	p, err := (&evidence.Document{
		FileName: "SECURITY.md", MediaType: "text/markdown", Content: doc,
		DocumentType: evidence.DocumentTypeSecurityPolicyText, Kind: evidence.KindSecurityPolicy,
		Format: "security policy (Markdown)", Title: "Security Policy",
	}).Predicate()
	if err != nil {
		t.Fatal(err)
	}
	st := &servertest.Statement{
		Type:          evidence.StatementTypeV1,
		Subject:       []servertest.Subject{{Name: subject, Digest: digest}},
		PredicateType: evidence.PredicateDocument,
		Predicate:     p,
	}
	return servertest.Sign(servertest.KeyPyPIMaven, evidence.PayloadTypeInToto, st.Marshal())
}

func readDocument(t testing.TB, c clients, d []byte) ([]byte, string, error) {
	t.Helper()
	stream, err := c.ev.GetDocument(context.Background(), &evidentv1.GetDocumentRequest{DocumentSha256: d})
	if err != nil {
		return nil, "", err
	}
	var b []byte
	var mediaType string
	var total uint64
	for i := 0; ; i++ {
		m, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, "", err
		}
		if i == 0 {
			total, mediaType = m.GetTotalSize(), m.GetMediaType()
		}
		b = append(b, m.GetChunk()...)
	}
	if uint64(len(b)) != total {
		t.Errorf("GetDocument sent %d bytes; announced %d", len(b), total)
	}
	return b, mediaType, nil
}

// TestDocuments: a document is served byte for byte by its digest, found
// by its digest for every release it was logged for, and evidence about a
// whole package answers queries about each of its releases, marked so.
func TestDocuments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := startNode(t, servertest.Options{})
	c := dial(t, n)

	// A policy with bytes a JSON re-encoding would change.
	doc := []byte("# Security Policy\r\n\r\nReport to <security@example.org> & we answer in 3 days.\n")
	sum := sha256.Sum256(doc)
	docDigest := "sha256:" + hex.EncodeToString(sum[:])
	pkgLevel := documentEnvelope(t, "pkg:pypi/requests", map[string]string{"sha256": hex.EncodeToString(sum[:])}, doc)
	release := documentEnvelope(t, "pkg:pypi/urllib3@2.2.3", map[string]string{"sha256": servertest.Digest("urllib3")}, doc)
	sbom := envelope(servertest.KeyPyPIMaven, "pkg:pypi/requests@2.32.3", evidence.PredicateSPDX23)
	for _, env := range [][]byte{pkgLevel, release, sbom} {
		submit(t, c, env)
	}
	waitCheckpoint(t, c, 3)

	t.Run("GetDocument", func(t *testing.T) {
		got, mediaType, err := readDocument(t, c, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, doc) || mediaType != "text/markdown" {
			t.Errorf("GetDocument = %q (%s); want the file, text/markdown", got, mediaType)
		}
		// The SBOM's document is its predicate, as signed.
		e, err := evidence.ParseEnvelope(sbom)
		if err != nil {
			t.Fatal(err)
		}
		var st struct{ Predicate json.RawMessage }
		if err := json.Unmarshal(e.Payload, &st); err != nil {
			t.Fatal(err)
		}
		psum := sha256.Sum256(st.Predicate)
		got, mediaType, err = readDocument(t, c, psum[:])
		if err != nil || !bytes.Equal(got, st.Predicate) || mediaType != "application/json" {
			t.Errorf("GetDocument of a predicate = %q (%s), %v", got, mediaType, err)
		}
		other := sha256.Sum256([]byte("nothing"))
		if _, _, err := readDocument(t, c, other[:]); status.Code(err) != codes.NotFound {
			t.Errorf("unknown document: %v; want NotFound", err)
		}
	})

	t.Run("query by document digest", func(t *testing.T) {
		resp, err := c.ev.QueryEvidence(ctx, &evidentv1.QueryEvidenceRequest{Query: &evidentv1.QueryEvidenceRequest_DocumentDigest{DocumentDigest: docDigest}})
		if err != nil {
			t.Fatal(err)
		}
		var subjects []string
		for _, ev := range resp.GetEvidence() {
			s := ev.GetSummary()
			if !bytes.Equal(s.GetDocumentSha256(), sum[:]) || s.GetDocumentSize() != uint64(len(doc)) || s.GetMediaType() != "text/markdown" ||
				s.GetName() != "Security Policy" || s.GetKind() != "security-policy" || s.GetEncoding() != "dsse" {
				t.Errorf("summary %v", s)
			}
			subjects = append(subjects, s.GetSubjects()...)
		}
		if strings.Join(subjects, " ") != "pkg:pypi/urllib3@2.2.3 pkg:pypi/requests" {
			t.Errorf("the document was logged for %q", subjects)
		}
		ge, err := c.ev.GetEvidence(ctx, &evidentv1.GetEvidenceRequest{Selector: &evidentv1.GetEvidenceRequest_DocumentSha256{DocumentSha256: sum[:]}})
		if err != nil || ge.GetEvidence().GetLogIndex() != 1 {
			t.Errorf("GetEvidence by document: index %d, %v; want the newest, 1", ge.GetEvidence().GetLogIndex(), err)
		}
	})

	t.Run("package-level evidence in a release query", func(t *testing.T) {
		var got []string
		var token string
		for {
			resp, err := c.ev.QueryEvidence(ctx, &evidentv1.QueryEvidenceRequest{
				Query:     &evidentv1.QueryEvidenceRequest_ReleasePurl{ReleasePurl: "pkg:pypi/requests@2.32.3"},
				PageSize:  1,
				PageToken: token,
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range resp.GetEvidence() {
				got = append(got, ev.GetSummary().GetKind()+" "+map[bool]string{true: "package", false: "release"}[ev.GetPackageLevel()])
			}
			if token = resp.GetNextPageToken(); token == "" {
				break
			}
		}
		if want := "sbom release,security-policy package"; strings.Join(got, ",") != want {
			t.Errorf("release query, one item a page: %q; want %q", got, want)
		}
		// Another release of another package sees none of it.
		resp, err := c.ev.QueryEvidence(ctx, &evidentv1.QueryEvidenceRequest{Query: &evidentv1.QueryEvidenceRequest_ReleasePurl{ReleasePurl: "pkg:pypi/requests-oauthlib@1.0.0"}})
		if err != nil || len(resp.GetEvidence()) != 0 {
			t.Errorf("unrelated release: %d items, %v", len(resp.GetEvidence()), err)
		}
	})
}

// TestReleasePurl: a statement about a file is filed under the release the
// submitter names, if the file name carries it.
func TestReleasePurl(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := startNode(t, servertest.Options{})
	c := dial(t, n)
	st := servertest.NewStatement("requests-2.32.3-py3-none-any.whl", servertest.Digest("whl"), evidence.PredicateSLSAProvenance, nil)
	env := servertest.Sign(servertest.KeyPyPIMaven, evidence.PayloadTypeInToto, st.Marshal())

	_, err := c.ev.Submit(ctx, &evidentv1.SubmitRequest{Envelope: env})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "--release") {
		t.Errorf("no release_purl: %v", err)
	}
	_, err = c.ev.Submit(ctx, &evidentv1.SubmitRequest{Envelope: env, ReleasePurl: "pkg:pypi/requests@2.32.4"})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "does not carry") {
		t.Errorf("wrong release_purl: %v", err)
	}
	res, err := c.ev.Submit(ctx, &evidentv1.SubmitRequest{Envelope: env, ReleasePurl: "pkg:pypi/requests@2.32.3"})
	if err != nil {
		t.Fatal(err)
	}
	e, err := evidence.ParseEntry(res.GetResult().GetEntry())
	if err != nil {
		t.Fatal(err)
	}
	if e.Subjects[0].Purl != "pkg:pypi/requests@2.32.3" || e.Kind != evidence.KindProvenance {
		t.Errorf("entry files the wheel under %s as %s", e.Subjects[0].Purl, e.Kind)
	}
	// In a batch, one release per envelope; a count that does not match is
	// refused as a whole.
	br, err := c.ev.SubmitBatch(ctx, &evidentv1.SubmitBatchRequest{Envelopes: [][]byte{env, env}, ReleasePurls: []string{"pkg:pypi/requests@2.32.3", ""}})
	if err != nil {
		t.Fatal(err)
	}
	if !br.GetResults()[0].GetResult().GetDuplicate() || br.GetResults()[1].GetError().GetCode() != int32(codes.InvalidArgument) {
		t.Errorf("batch results %v", br.GetResults())
	}
	if _, err := c.ev.SubmitBatch(ctx, &evidentv1.SubmitBatchRequest{Envelopes: [][]byte{env, env}, ReleasePurls: []string{"pkg:pypi/requests@2.32.3"}}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("batch with one release for two envelopes: %v", err)
	}
}
