package client

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/evident-dev/evident/evidence"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
)

// MaxBatchQueries is the most queries one BatchQuery call carries (the
// API's limit); [Client.BatchQuery] splits longer lists.
const MaxBatchQueries = 1000

// BatchQuery is one query of [Client.BatchQuery]: a purl with a version (a
// release, with evidence about its whole package) or without (every
// release of a package), or an artifact digest.
type BatchQuery struct {
	// Purl is the release or package asked about; empty when Digest is set.
	Purl string
	// Digest is an artifact digest, "sha256:<hex>" or "sha512:<hex>".
	Digest string
}

func (q BatchQuery) String() string {
	if q.Purl != "" {
		return q.Purl
	}
	return q.Digest
}

// BatchAnswer is a node's answer to one query of [Client.BatchQuery].
type BatchAnswer struct {
	// Results are the items the node listed for the query, each verified
	// on its own as [Client.Query] verifies items, and also checked to be
	// about what was asked (the purl, its package or the digest). An item
	// the node listed but sent no proof for is a result with Verified
	// false.
	Results []Result
	// Truncated is true when the node had more items than
	// BatchOptions.MaxMatches; Results are the newest.
	Truncated bool
	// Err is set when the query got no answer: the node refused it (a purl
	// it can't parse) or every call for it failed. Results is then empty.
	Err error
}

// BatchOptions configures [Client.BatchQuery]. The zero value of every
// field is a sensible default.
type BatchOptions struct {
	// Envelopes asks the node to send each item's envelope with it (up to
	// 1 MiB each); they are checked against their entries and returned in
	// Result.Envelope. Default false: entries and proofs only.
	Envelopes bool
	// MaxMatches is the most items a node lists for one query, 1 to 1000.
	// Default 100.
	MaxMatches int
	// Concurrency is how many calls are in flight at once when there are
	// more than [MaxBatchQueries] queries. Default 2.
	Concurrency int
	// Attempts is how many calls are made for a chunk of queries that got
	// no answer before its queries fail. Default 3.
	Attempts int
	// Backoff is the wait before the first retry; it doubles before each
	// next one. Default 200 ms.
	Backoff time.Duration
}

// BatchQuery asks the node about many releases, packages or artifacts at
// once, [MaxBatchQueries] per call, and verifies every item it answers
// with: the checkpoint of each call (the log's signature and the policy's
// witness quorum), each item's inclusion proof in it, its entry, and that
// the entry is about what was asked. Answers are in the order of queries.
// The error is for queries that could not be asked at all (a query with
// neither a purl nor a digest, bad options); failures of calls are in the
// answers' Err.
func (c *Client) BatchQuery(ctx context.Context, queries []BatchQuery, opts BatchOptions) ([]BatchAnswer, error) {
	if opts.MaxMatches < 0 || opts.MaxMatches > 1000 || opts.Concurrency < 0 || opts.Attempts < 0 || opts.Backoff < 0 {
		return nil, fmt.Errorf("couldn't query: BatchOptions out of range: %+v", opts)
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = 2
	}
	if opts.Attempts == 0 {
		opts.Attempts = 3
	}
	if opts.Backoff == 0 {
		opts.Backoff = 200 * time.Millisecond
	}
	items := make([]*evidentv1.BatchQueryItem, len(queries))
	for i, q := range queries {
		switch {
		case q.Purl != "" && q.Digest != "", q.Purl == "" && q.Digest == "":
			return nil, fmt.Errorf("couldn't query: query %d must have a purl or a digest", i)
		case q.Digest != "":
			items[i] = &evidentv1.BatchQueryItem{Query: &evidentv1.BatchQueryItem_ArtifactDigest{ArtifactDigest: strings.ToLower(q.Digest)}}
		default:
			p, err := evidence.ParsePurl(q.Purl)
			if err != nil {
				return nil, fmt.Errorf("couldn't query: query %d: %w", i, err)
			}
			if p.HasVersion() {
				items[i] = &evidentv1.BatchQueryItem{Query: &evidentv1.BatchQueryItem_ReleasePurl{ReleasePurl: p.Release()}}
			} else {
				items[i] = &evidentv1.BatchQueryItem{Query: &evidentv1.BatchQueryItem_PackagePurl{PackagePurl: p.Package()}}
			}
		}
	}
	answers := make([]BatchAnswer, len(queries))
	p := &pool[int]{
		concurrency: opts.Concurrency,
		attempts:    opts.Attempts,
		backoff:     opts.Backoff,
		giveUpAfter: opts.Attempts,
		fail:        func(i int, err error) { answers[i].Err = err },
	}
	p.call = func(ctx context.Context, chunk []int) ([]int, []error) {
		req := &evidentv1.BatchQueryRequest{IncludeEnvelopes: opts.Envelopes, MaxMatches: uint32(opts.MaxMatches)}
		for _, i := range chunk {
			req.Queries = append(req.Queries, items[i])
		}
		got, err := c.batchCall(ctx, req, queries, chunk)
		if err != nil {
			errs := make([]error, len(chunk))
			for j := range errs {
				errs[j] = err
			}
			return chunk, errs
		}
		for j, i := range chunk {
			answers[i] = got[j]
		}
		return nil, nil
	}
	err := p.run(ctx, func(stop context.Context, send func([]int) bool) {
		for start := 0; start < len(queries); start += MaxBatchQueries {
			chunk := make([]int, 0, MaxBatchQueries)
			for i := start; i < min(start+MaxBatchQueries, len(queries)); i++ {
				chunk = append(chunk, i)
			}
			if !send(chunk) {
				for _, i := range chunk {
					answers[i].Err = fmt.Errorf("not asked: %w", context.Cause(stop))
				}
				for i := start + MaxBatchQueries; i < len(queries); i++ {
					answers[i].Err = fmt.Errorf("not asked: %w", context.Cause(stop))
				}
				return
			}
		}
	})
	if err != nil {
		// The answers say which queries it cost.
		c.log.DebugContext(ctx, "batch query stopped", "node", c.name, "err", err)
	}
	return answers, nil
}

// batchCall makes one BatchQuery call for the queries at positions chunk
// and verifies the stream. An error means the call failed as a whole (the
// network, a node that broke off the stream) and may be retried.
func (c *Client) batchCall(ctx context.Context, req *evidentv1.BatchQueryRequest, queries []BatchQuery, chunk []int) ([]BatchAnswer, error) {
	stream, err := c.evidence.BatchQuery(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, fmt.Errorf("couldn't query %s: %w", c.name, err)
	}
	defer stream.Close()
	var signed string
	got := make([]*evidentv1.BatchQueryAnswer, len(chunk))
	items := make(map[uint64]*evidentv1.Evidence)
	first := true
	for stream.Receive() {
		m := stream.Msg()
		if first {
			signed, first = m.GetCheckpoint(), false
		}
		for _, a := range m.GetAnswers() {
			q := a.GetQuery()
			if int(q) >= len(chunk) || got[q] != nil {
				return nil, fmt.Errorf("couldn't query %s: the node answered query %d, which it was not asked or had answered", c.name, q)
			}
			got[q] = a
		}
		for _, ev := range m.GetEvidence() {
			// Kept by index: a node that sends an index twice gets its
			// last copy verified.
			items[ev.GetLogIndex()] = ev
		}
		if len(items) > MaxBatchQueries*1000 {
			return nil, fmt.Errorf("couldn't query %s: the node sent more items than it may list", c.name)
		}
	}
	if err := stream.Err(); err != nil {
		return nil, fmt.Errorf("couldn't query %s: %w", c.name, err)
	}
	for j, a := range got {
		if a == nil {
			return nil, fmt.Errorf("couldn't query %s: the stream ended without an answer to %s", c.name, queries[chunk[j]])
		}
	}
	// One checkpoint for the whole call: verified once.
	cp, cpErr := c.verifyCheckpoint([]byte(signed))
	verified := make(map[uint64]Result, len(items))
	out := make([]BatchAnswer, len(chunk))
	for j, a := range got {
		q := queries[chunk[j]]
		if st := a.GetError(); st != nil {
			out[j].Err = fmt.Errorf("%s refused the query %s: %s", c.name, q, truncate(st.GetMessage()))
			continue
		}
		out[j].Truncated = a.GetTruncated()
		for _, idx := range a.GetLogIndexes() {
			r, ok := verified[idx]
			if !ok {
				r = c.verifyBatchItem(cp, cpErr, idx, items[idx])
				verified[idx] = r
			}
			out[j].Results = append(out[j].Results, aboutQuery(r, q))
		}
	}
	return out, nil
}

// verifyBatchItem verifies the item a node listed at idx; ev is nil if the
// node did not send it.
func (c *Client) verifyBatchItem(cp *VerifiedCheckpoint, cpErr error, idx uint64, ev *evidentv1.Evidence) Result {
	if ev == nil {
		return Result{Node: c.name, Index: idx, Checkpoint: cp,
			Err: verr(PartProof, "the node listed entry %d but sent neither the entry nor a proof of it", idx)}
	}
	r := c.verifyItem(cp, cpErr, ev)
	if r.Verified && ev.GetEnvelope() != nil {
		if err := checkEnvelopeDigest(r.Entry, ev.GetEnvelope()); err != nil {
			r.Verified, r.Err = false, err
		} else {
			r.Envelope = ev.GetEnvelope()
		}
	}
	return r
}

// aboutQuery checks that a verified item is about what q asked: it names
// the release (or, as package-level evidence, its whole package), the
// package, or the digest. The node's say-so is not enough: the entry must.
func aboutQuery(r Result, q BatchQuery) Result {
	if !r.Verified {
		return r
	}
	if q.Digest != "" {
		if !slices.Contains(r.Entry.Digests(), strings.ToLower(q.Digest)) {
			r.Verified, r.Err = false, verr(PartEntry, "has no subject with digest %s, which was asked about", q.Digest)
		}
		return r
	}
	p, err := evidence.ParsePurl(q.Purl)
	if err != nil {
		r.Verified, r.Err = false, err
		return r
	}
	r.PackageLevel = p.HasVersion() && !mentions(r.Entry, p) && aboutPackage(r.Entry, p)
	if !mentions(r.Entry, p) && !r.PackageLevel {
		r.Verified, r.Err = false, verr(PartEntry, "does not name %s, which was asked about", p)
	}
	return r
}
