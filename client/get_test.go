package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"testing"

	"connectrpc.com/connect"

	"github.com/evident-dev/evident/evidence"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/server/servertest"
)

// documentEnvelope returns a document attestation of doc about purl, signed
// by servertest.KeyPyPIMaven.
func documentEnvelope(t *testing.T, purl string, doc []byte) []byte {
	t.Helper()
	p, err := (&evidence.Document{
		FileName:     "SECURITY.md",
		MediaType:    "text/markdown",
		Content:      doc,
		DocumentType: evidence.DocumentTypeSecurityPolicyText,
		Kind:         evidence.KindSecurityPolicy,
		Format:       "security policy (Markdown)",
	}).Predicate()
	if err != nil {
		t.Fatal(err)
	}
	return servertest.Envelope(servertest.KeyPyPIMaven, purl, servertest.Digest(purl), evidence.PredicateDocument, p)
}

func TestGetByDigestAndDocument(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	doc := []byte("# Security Policy\r\n\r\nReport vulnerabilities to <security@example.com> & we fix them.\r\n")
	docSum := sha256.Sum256(doc)
	envs := [][]byte{
		documentEnvelope(t, "pkg:pypi/requests@2.32.3", doc),
		documentEnvelope(t, "pkg:pypi/requests@2.32.4", doc), // the same document again
	}
	submitAll(t, newClient(t, n.URL, n.VerifierKey, Options{}), envs...)
	p, url := startProxy(t, n)
	c := newClient(t, url, n.VerifierKey, Options{})

	for i, env := range envs {
		r, err := c.GetByDigest(ctx, sha256.Sum256(env), false)
		if err != nil || !r.Verified || r.Index != uint64(i) {
			t.Fatalf("GetByDigest(envelope %d): index %d, verified %v, err %v / %v", i, r.Index, r.Verified, r.Err, err)
		}
	}
	r, err := c.GetByDigest(ctx, docSum, true)
	if err != nil || !r.Verified || r.Entry.Document.Digest != docSum {
		t.Fatalf("GetByDigest(document): verified %v, err %v / %v", r.Verified, r.Err, err)
	}
	entry := r.Entry
	got, err := c.Document(ctx, entry)
	if err != nil || !bytes.Equal(got, doc) {
		t.Fatalf("Document: %q, %v; want the document", got, err)
	}

	// Nothing logged with that digest.
	_, err = c.GetByDigest(ctx, sha256.Sum256([]byte("nothing")), true)
	if connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("GetByDigest of an unknown document: %v, want NotFound", err)
	}
	_, err = c.GetByDigest(ctx, docSum, false) // a document digest is no envelope's
	if connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("GetByDigest of a document digest as an envelope: %v, want NotFound", err)
	}

	// A node that answers with another entry, or changes the document.
	p.get = func(resp *evidentv1.GetEvidenceResponse) {
		other, err := p.ev.GetEvidence(ctx, connect.NewRequest(&evidentv1.GetEvidenceRequest{Selector: &evidentv1.GetEvidenceRequest_LogIndex{LogIndex: 1}}))
		if err != nil {
			t.Error(err)
			return
		}
		resp.Evidence, resp.Checkpoint = other.Msg.Evidence, other.Msg.Checkpoint
	}
	r, err = c.GetByDigest(ctx, sha256.Sum256(envs[0]), false)
	var ve *VerificationError
	if err != nil || r.Verified || !errors.As(r.Err, &ve) || ve.Part != PartEntry {
		t.Errorf("GetByDigest answered with another entry: verified %v, err %v / %v; want an entry verification failure", r.Verified, r.Err, err)
	}
	p.get = nil
	for name, change := range map[string]func([]byte) []byte{
		"changed":   func(b []byte) []byte { b[3] ^= 1; return b },
		"truncated": func(b []byte) []byte { return b[:len(b)-1] },
		"longer":    func(b []byte) []byte { return append(b, '\n') },
	} {
		p.document = change
		_, err := c.Document(ctx, entry)
		if !errors.As(err, &ve) || ve.Part != PartDocument {
			t.Errorf("Document %s by the node: %v, want a document verification failure", name, err)
		}
	}
}
