package client

import (
	"context"
	"crypto/sha256"
	"fmt"

	"connectrpc.com/connect"

	"github.com/evident-dev/evident/evidence"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
)

// getEvidence asks the node for one evidence item and verifies it like
// [Client.Query] does. what names the item for errors.
func (c *Client) getEvidence(ctx context.Context, req *evidentv1.GetEvidenceRequest, what string) (Result, error) {
	resp, err := c.evidence.GetEvidence(ctx, connect.NewRequest(req))
	if err != nil {
		return Result{}, fmt.Errorf("couldn't get %s from %s: %w", what, c.name, err)
	}
	cp, cpErr := c.verifyCheckpoint([]byte(resp.Msg.GetCheckpoint()))
	return c.verifyItem(cp, cpErr, resp.Msg.GetEvidence()), nil
}

// GetByDigest fetches the evidence item whose envelope has SHA-256 digest,
// or with byDocument, whose document has (the first entry that logged it),
// and verifies it like [Client.Get] does, and that its entry names that
// digest. A node that logged no such envelope or document answers with an
// error of code [connect.CodeNotFound].
func (c *Client) GetByDigest(ctx context.Context, digest [32]byte, byDocument bool) (Result, error) {
	req := &evidentv1.GetEvidenceRequest{Selector: &evidentv1.GetEvidenceRequest_EnvelopeSha256{EnvelopeSha256: digest[:]}}
	what := fmt.Sprintf("the entry of envelope %x", digest)
	if byDocument {
		req.Selector = &evidentv1.GetEvidenceRequest_DocumentSha256{DocumentSha256: digest[:]}
		what = fmt.Sprintf("the entry of document %x", digest)
	}
	r, err := c.getEvidence(ctx, req, what)
	if err != nil || !r.Verified {
		return r, err
	}
	switch {
	case !byDocument && r.Entry.EnvelopeDigest != digest:
		r.Verified, r.Err = false, verr(PartEntry, "the node answered with entry %d, of envelope %x, not %x", r.Index, r.Entry.EnvelopeDigest, digest)
	case byDocument && r.Entry.Document.Digest != digest:
		r.Verified, r.Err = false, verr(PartEntry, "the node answered with entry %d, of document %x, not %x", r.Index, r.Entry.Document.Digest, digest)
	}
	return r, nil
}

// Document fetches the document an entry records, the exact bytes its
// project published, and checks its SHA-256 and size against the entry. A
// mismatch is a [*VerificationError].
func (c *Client) Document(ctx context.Context, e *evidence.Entry) ([]byte, error) {
	d := e.Document
	if d.Size > evidence.MaxEnvelopeSize {
		return nil, verr(PartEntry, "document size %d is over the %d-byte limit of an envelope", d.Size, evidence.MaxEnvelopeSize)
	}
	stream, err := c.evidence.GetDocument(ctx, connect.NewRequest(&evidentv1.GetDocumentRequest{DocumentSha256: d.Digest[:]}))
	if err != nil {
		return nil, fmt.Errorf("couldn't get document %x from %s: %w", d.Digest, c.name, err)
	}
	defer stream.Close()
	buf := make([]byte, 0, d.Size)
	for stream.Receive() {
		chunk := stream.Msg().GetChunk()
		if int64(len(buf)+len(chunk)) > d.Size {
			return nil, verr(PartDocument, "the node sent more than the %d bytes the entry says", d.Size)
		}
		buf = append(buf, chunk...)
	}
	if err := stream.Err(); err != nil {
		return nil, fmt.Errorf("couldn't get document %x from %s: %w", d.Digest, c.name, err)
	}
	if got := sha256.Sum256(buf); got != d.Digest || int64(len(buf)) != d.Size {
		return nil, verr(PartDocument, "%d bytes with SHA-256 %x, but the entry commits to %d bytes with %x", len(buf), got, d.Size, d.Digest)
	}
	return buf, nil
}
