package client

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"connectrpc.com/connect"

	"github.com/evident-dev/evident/evidence"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
)

// Result is one evidence item a node returned, and whether it verified.
type Result struct {
	// Node is the name of the node that returned it (Options.Name).
	Node string
	// Index is the entry's log index, as the node said.
	Index uint64
	// RawEntry is the log entry as the node sent it.
	RawEntry []byte
	// Entry is RawEntry parsed. It is set whenever RawEntry parses, even if
	// the item failed verification, so that failures can be shown; believe
	// it only if Verified.
	Entry *evidence.Entry
	// Proof is the inclusion proof the node sent.
	Proof [][]byte
	// Checkpoint is the verified checkpoint the proof is against, or nil if
	// the checkpoint did not verify.
	Checkpoint *VerifiedCheckpoint
	// PackageLevel is true when the item answered a release query through a
	// subject that names the release's whole package: evidence that holds
	// for every release of it. It is read from the entry, not from the node.
	PackageLevel bool
	// Status is what the node says of the item (evidence/STATUS.md):
	// "current", "superseded" or "withdrawn", or "" from a node that does
	// not say. With SupersededBy or WithdrawnBy (a log index) and
	// WithdrawalReason. The client does not check them: a node that hides
	// current evidence this way is caught by reading the items they cite.
	Status           string
	SupersededBy     *uint64
	WithdrawnBy      *uint64
	WithdrawalReason string
	// Envelope is the item's envelope when the node sent it with the item
	// ([BatchOptions].Envelopes) and its SHA-256 and size are those the
	// entry commits to; nil otherwise. Its signatures are not checked here
	// ([VerifyEnvelope] does).
	Envelope []byte
	// Verified is true if the item passed every check; Err is nil then.
	Verified bool
	// Err says why the item failed verification; usually a
	// [*VerificationError].
	Err error
}

// maxQueryResults bounds how many items Query collects, so a node can't make
// the client hold unbounded amounts of data.
const maxQueryResults = 100_000

// Query asks the node for all evidence about a release ("pkg:pypi/requests@2.32.3")
// or, given a purl without a version, about every release of a package. Every
// item is verified: the page's checkpoint (log signature, policy quorum),
// the item's inclusion proof, its entry's encoding, and that the entry names
// the purl asked about. Items that fail are returned with Verified false and
// the reason in Err. The error is for failures to ask (bad purl, network).
func (c *Client) Query(ctx context.Context, purl string) ([]Result, error) {
	return c.query(ctx, purl, false)
}

// QueryCurrent is [Client.Query] for current evidence only: the node
// leaves out what is superseded or withdrawn (evidence/STATUS.md).
func (c *Client) QueryCurrent(ctx context.Context, purl string) ([]Result, error) {
	return c.query(ctx, purl, true)
}

func (c *Client) query(ctx context.Context, purl string, currentOnly bool) ([]Result, error) {
	p, err := evidence.ParsePurl(purl)
	if err != nil {
		return nil, fmt.Errorf("couldn't query: %w", err)
	}
	req := &evidentv1.QueryEvidenceRequest{PageSize: 500, CurrentOnly: currentOnly}
	if p.HasVersion() {
		req.Query = &evidentv1.QueryEvidenceRequest_ReleasePurl{ReleasePurl: p.Release()}
	} else {
		req.Query = &evidentv1.QueryEvidenceRequest_PackagePurl{PackagePurl: p.Package()}
	}
	var out []Result
	for {
		resp, err := c.evidence.QueryEvidence(ctx, connect.NewRequest(req))
		if err != nil {
			return out, fmt.Errorf("couldn't query %s: %w", c.name, err)
		}
		out = append(out, c.verifyPage(resp.Msg.GetCheckpoint(), resp.Msg.GetEvidence(), p)...)
		tok := resp.Msg.GetNextPageToken()
		if tok == "" {
			return out, nil
		}
		if len(out) >= maxQueryResults {
			return out, fmt.Errorf("couldn't query %s: more than %d results; ask about a single release", c.name, maxQueryResults)
		}
		req.PageToken = tok
	}
}

// verifyPage verifies every item of one answer against its checkpoint.
func (c *Client) verifyPage(signed string, items []*evidentv1.Evidence, want evidence.Purl) []Result {
	cp, cpErr := c.verifyCheckpoint([]byte(signed))
	out := make([]Result, 0, len(items))
	for _, ev := range items {
		r := c.verifyItem(cp, cpErr, ev)
		if r.Entry != nil {
			r.PackageLevel = want.HasVersion() && !mentions(r.Entry, want) && aboutPackage(r.Entry, want)
		}
		if r.Verified && !mentions(r.Entry, want) && !r.PackageLevel {
			r.Verified = false
			r.Err = verr(PartEntry, "does not name %s, which was asked about", want)
		}
		out = append(out, r)
	}
	return out
}

// verifyItem verifies one evidence item from a node against cp, which
// verified unless cpErr is set.
func (c *Client) verifyItem(cp *VerifiedCheckpoint, cpErr error, ev *evidentv1.Evidence) Result {
	r := Result{
		Node:             c.name,
		Index:            ev.GetLogIndex(),
		RawEntry:         ev.GetEntry(),
		Proof:            ev.GetInclusionProof().GetHashes(),
		Checkpoint:       cp,
		Status:           statusNames[ev.GetStatus()],
		SupersededBy:     ev.SupersededBy,
		WithdrawnBy:      ev.WithdrawnBy,
		WithdrawalReason: ev.GetWithdrawalReason(),
	}
	r.Entry, _ = evidence.ParseEntry(r.RawEntry)
	fail := func(err error) Result {
		r.Err = err
		return r
	}
	if cpErr != nil {
		return fail(cpErr)
	}
	ip := ev.GetInclusionProof()
	if ip == nil {
		return fail(verr(PartProof, "the node sent none"))
	}
	if ip.GetLogIndex() != r.Index || ip.GetTreeSize() != cp.Size {
		return fail(verr(PartProof, "is for index %d in a tree of %d, not index %d in the checkpoint's tree of %d",
			ip.GetLogIndex(), ip.GetTreeSize(), r.Index, cp.Size))
	}
	e, err := VerifyEvidence(cp, &Evidence{Index: r.Index, Entry: r.RawEntry, Proof: r.Proof, Envelope: ev.GetEnvelope()})
	if err != nil {
		return fail(err)
	}
	r.Entry, r.Verified = e, true
	return r
}

// aboutPackage reports whether one of e's subjects names p's whole package
// (a purl without a version): evidence for every release of it.
func aboutPackage(e *evidence.Entry, p evidence.Purl) bool {
	return slices.Contains(e.PackageLevel(), p.Package())
}

// mentions reports whether one of e's subjects is p's release (or package,
// when p has no version).
func mentions(e *evidence.Entry, p evidence.Purl) bool {
	return slices.ContainsFunc(e.Subjects, func(s evidence.EntrySubject) bool {
		sp, err := evidence.ParsePurl(s.Purl)
		if err != nil {
			return false
		}
		if p.HasVersion() {
			return sp.Release() == p.Release()
		}
		return sp.Package() == p.Package()
	})
}

// Get fetches the evidence item at a log index, verifies it like [Client.Query]
// does, and, if withEnvelope, also fetches its envelope and checks it
// against the entry.
func (c *Client) Get(ctx context.Context, index uint64, withEnvelope bool) (Result, []byte, error) {
	r, err := c.getEvidence(ctx, &evidentv1.GetEvidenceRequest{
		Selector: &evidentv1.GetEvidenceRequest_LogIndex{LogIndex: index},
	}, fmt.Sprintf("entry %d", index))
	if err != nil {
		return Result{}, nil, err
	}
	if r.Verified && r.Index != index {
		r.Verified, r.Err = false, verr(PartProof, "the node answered with entry %d, not %d", r.Index, index)
	}
	if !r.Verified || !withEnvelope {
		return r, nil, nil
	}
	env, err := c.Envelope(ctx, r.Entry)
	if err != nil {
		var ve *VerificationError
		if errors.As(err, &ve) {
			r.Verified, r.Err = false, err
			return r, nil, nil
		}
		return r, nil, err
	}
	return r, env, nil
}

// Envelope fetches the envelope an entry commits to and checks its SHA-256
// and size against the entry. A mismatch is a [*VerificationError].
func (c *Client) Envelope(ctx context.Context, e *evidence.Entry) ([]byte, error) {
	if e.EnvelopeSize > evidence.MaxEnvelopeSize {
		return nil, verr(PartEntry, "envelope size %d is over the %d-byte limit", e.EnvelopeSize, evidence.MaxEnvelopeSize)
	}
	stream, err := c.evidence.GetEnvelope(ctx, connect.NewRequest(&evidentv1.GetEnvelopeRequest{EnvelopeSha256: e.EnvelopeDigest[:]}))
	if err != nil {
		return nil, fmt.Errorf("couldn't get envelope %x from %s: %w", e.EnvelopeDigest, c.name, err)
	}
	defer stream.Close()
	buf := make([]byte, 0, e.EnvelopeSize)
	for stream.Receive() {
		chunk := stream.Msg().GetChunk()
		if int64(len(buf)+len(chunk)) > e.EnvelopeSize {
			return nil, verr(PartEnvelope, "the node sent more than the %d bytes the entry says", e.EnvelopeSize)
		}
		buf = append(buf, chunk...)
	}
	if err := stream.Err(); err != nil {
		return nil, fmt.Errorf("couldn't get envelope %x from %s: %w", e.EnvelopeDigest, c.name, err)
	}
	if err := checkEnvelopeDigest(e, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

var statusNames = map[evidentv1.EvidenceStatus]string{
	evidentv1.EvidenceStatus_EVIDENCE_STATUS_CURRENT:    "current",
	evidentv1.EvidenceStatus_EVIDENCE_STATUS_SUPERSEDED: "superseded",
	evidentv1.EvidenceStatus_EVIDENCE_STATUS_WITHDRAWN:  "withdrawn",
}
