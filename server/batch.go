package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/evident-dev/evident/evidence"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
)

// Defaults and bounds of BatchQuery (the API's, evidence.proto).
const (
	defaultBatchMatches = 100
	// batchInlineEnvelope is the largest envelope BatchQuery carries in the
	// stream when asked to; larger ones are fetched with GetEnvelope.
	batchInlineEnvelope = 1 << 20
	// batchGroup is how many queries are answered before their items are
	// proven together: one call to proveAll per group.
	batchGroup = 128
)

func (e *evidenceService) BatchQuery(ctx context.Context, req *connect.Request[evidentv1.BatchQueryRequest], stream *connect.ServerStream[evidentv1.BatchQueryResponse]) error {
	s := e.s
	queries := req.Msg.GetQueries()
	limit := int(req.Msg.GetMaxMatches())
	if limit == 0 {
		limit = defaultBatchMatches
	}
	withEnvelopes := req.Msg.GetIncludeEnvelopes()
	// Every proof of the stream is against this one checkpoint.
	cp, size := s.checkpoint()
	out := batchWriter{stream: stream, max: s.opts.MaxResponseBytes}
	out.msg.Checkpoint = string(cp)
	out.bytes = len(cp)
	sent := make(map[uint64]bool)
	for start := 0; start < len(queries); start += batchGroup {
		group := queries[start:min(start+batchGroup, len(queries))]
		answers := make([]*evidentv1.BatchQueryAnswer, len(group))
		var fresh []uint64
		for i, q := range group {
			a, err := s.batchAnswer(ctx, q, size, limit)
			if err != nil {
				return err
			}
			a.Query = uint32(start + i)
			answers[i] = a
			for _, idx := range a.LogIndexes {
				if !sent[idx] {
					sent[idx] = true
					fresh = append(fresh, idx)
				}
			}
		}
		items, err := s.proveAll(ctx, fresh, size)
		if err != nil {
			return err
		}
		if withEnvelopes {
			if err := s.attachEnvelopes(ctx, items); err != nil {
				return err
			}
		}
		// An answer goes out before or with the items it lists.
		for _, a := range answers {
			if err := out.add(a, nil); err != nil {
				return err
			}
		}
		for _, ev := range items {
			if err := out.add(nil, ev); err != nil {
				return err
			}
		}
	}
	return out.flush()
}

// batchWriter fills the messages of a BatchQuery stream up to the node's
// response size limit.
type batchWriter struct {
	stream *connect.ServerStream[evidentv1.BatchQueryResponse]
	max    int
	msg    evidentv1.BatchQueryResponse
	bytes  int
	sent   bool
}

func (w *batchWriter) add(a *evidentv1.BatchQueryAnswer, ev *evidentv1.Evidence) error {
	var n int
	if a != nil {
		n = proto.Size(a) + 8
	} else {
		n = proto.Size(ev) + 8
	}
	// A message is never empty, and never larger than the limit unless
	// one item alone is (an entry of 64 KiB with its proof is not).
	if w.bytes+n > w.max && (len(w.msg.Answers) > 0 || len(w.msg.Evidence) > 0) {
		if err := w.flush(); err != nil {
			return err
		}
		if ev != nil && w.bytes+n > w.max && ev.Envelope != nil {
			ev.Envelope = nil // the client fetches it
			n = proto.Size(ev) + 8
		}
	}
	if a != nil {
		w.msg.Answers = append(w.msg.Answers, a)
	} else {
		w.msg.Evidence = append(w.msg.Evidence, ev)
	}
	w.bytes += n
	return nil
}

func (w *batchWriter) flush() error {
	if w.sent && len(w.msg.Answers) == 0 && len(w.msg.Evidence) == 0 {
		return nil
	}
	if err := w.stream.Send(&w.msg); err != nil {
		return err
	}
	w.sent = true
	w.msg = evidentv1.BatchQueryResponse{}
	w.bytes = 0
	return nil
}

// batchAnswer answers one query of a batch in the tree of the given size:
// the indexes filed under it, newest first, at most limit of them. A query
// the node can't parse gets an answer with an error.
func (s *Handlers) batchAnswer(ctx context.Context, q *evidentv1.BatchQueryItem, size uint64, limit int) (*evidentv1.BatchQueryAnswer, error) {
	a := &evidentv1.BatchQueryAnswer{}
	var index, key, pkgLevel string
	switch q := q.GetQuery().(type) {
	case *evidentv1.BatchQueryItem_ReleasePurl:
		p, err := evidence.ParsePurl(q.ReleasePurl)
		if err != nil || !p.HasVersion() {
			if err == nil {
				err = errors.New("has no version: use package_purl to ask about every version")
			}
			a.Error = &evidentv1.Status{Code: int32(connect.CodeInvalidArgument), Message: "release_purl: " + err.Error()}
			return a, nil
		}
		index, key, pkgLevel = evidence.IndexRelease, p.Release(), p.Package()
	case *evidentv1.BatchQueryItem_PackagePurl:
		p, err := evidence.ParsePurl(q.PackagePurl)
		if err != nil {
			a.Error = &evidentv1.Status{Code: int32(connect.CodeInvalidArgument), Message: "package_purl: " + err.Error()}
			return a, nil
		}
		index, key = evidence.IndexPackage, p.Package()
	case *evidentv1.BatchQueryItem_ArtifactDigest:
		index, key = evidence.IndexDigest, strings.ToLower(q.ArtifactDigest)
	default:
		a.Error = &evidentv1.Status{Code: int32(connect.CodeInvalidArgument), Message: "the query names nothing"}
		return a, nil
	}
	idxs, err := s.scan(ctx, index, key, size, limit+1)
	if err != nil {
		return nil, err
	}
	if pkgLevel != "" {
		pidxs, err := s.scan(ctx, evidence.IndexPackageLevel, pkgLevel, size, limit+1)
		if err != nil {
			return nil, err
		}
		own := make(map[uint64]bool, len(idxs))
		for _, i := range idxs {
			own[i] = true
		}
		idxs = mergeNewestFirst(idxs, pidxs)
		for _, i := range idxs[:min(len(idxs), limit)] {
			if !own[i] {
				a.PackageLevel = append(a.PackageLevel, i)
			}
		}
	}
	a.Truncated = len(idxs) > limit
	a.LogIndexes = idxs[:min(len(idxs), limit)]
	return a, nil
}

// proveAll returns the items at idxs with their inclusion proofs in the
// tree of the given size. It is the one place BatchQuery proves items, so
// that a ledger method proving many indexes at once, sharing the tiles
// their proofs read, can take over here.
func (s *Handlers) proveAll(ctx context.Context, idxs []uint64, size uint64) ([]*evidentv1.Evidence, error) {
	out := make([]*evidentv1.Evidence, len(idxs))
	for i, idx := range idxs {
		ev, err := s.evidenceAt(ctx, idx, size)
		if err != nil {
			return nil, err
		}
		out[i] = ev
	}
	return out, nil
}

// attachEnvelopes sets the envelope of each item of at most
// batchInlineEnvelope bytes. An entry's envelope is stored with it, under
// its log index: an entry is logged only for an envelope not logged before.
func (s *Handlers) attachEnvelopes(ctx context.Context, items []*evidentv1.Evidence) error {
	for _, ev := range items {
		sum := ev.GetSummary()
		if sum.GetEnvelopeSize() > batchInlineEnvelope {
			continue
		}
		b, err := s.ledger.Blob(ctx, ev.GetLogIndex())
		if err != nil {
			return s.internal(ctx, "read envelope", fmt.Errorf("entry %d: %w", ev.GetLogIndex(), err))
		}
		if d := sha256.Sum256(b); string(d[:]) != string(sum.GetEnvelopeSha256()) {
			return s.internal(ctx, "read envelope", fmt.Errorf("the envelope stored with entry %d does not hash to its digest", ev.GetLogIndex()))
		}
		ev.Envelope = b
	}
	return nil
}
