package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"connectrpc.com/connect"
	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/ledger"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

type evidenceService struct{ s *Handlers }

func (e *evidenceService) Submit(ctx context.Context, req *connect.Request[evidentv1.SubmitRequest]) (*connect.Response[evidentv1.SubmitResponse], error) {
	env := req.Msg.GetEnvelope()
	release, err := e.s.pending.admit(len(env), 1)
	if err != nil {
		return nil, err
	}
	defer release()
	res, err := e.s.submit(ctx, env, req.Msg.GetReleasePurl(), req.Msg.GetWaitForCheckpoint())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&evidentv1.SubmitResponse{Result: res}), nil
}

// streamChunkStart is the least SubmitStream's buffer grows to: it then
// doubles with the chunks received.
const streamChunkStart = 1 << 20

func (e *evidenceService) SubmitStream(ctx context.Context, stream *connect.ClientStream[evidentv1.SubmitStreamRequest]) (*connect.Response[evidentv1.SubmitStreamResponse], error) {
	idle := e.s.idleDeadline(ctx)
	if idle(); !stream.Receive() {
		if err := stream.Err(); errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, connect.NewError(connect.CodeDeadlineExceeded, fmt.Errorf("no header for %v: send the header message first, at once", e.s.opts.StreamIdleTimeout))
		} else if err != nil {
			return nil, err
		}
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("empty stream: send a header message, then the envelope in chunks"))
	}
	h := stream.Msg().GetHeader()
	if h == nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("the first message must be the header (envelope_size, optional envelope_sha256)"))
	}
	if h.GetEnvelopeSize() > uint64(e.s.opts.MaxEnvelopeSize) {
		return nil, tooLarge(int(h.GetEnvelopeSize()), e.s.opts.MaxEnvelopeSize)
	}
	// Memory is reserved as it is used: the buffer grows with the chunks
	// received, doubling up to the announced size, and each growth is
	// reserved (MaxPendingBytes) before it is made. A client that announces
	// 32 MiB and sends nothing holds 2 KiB, and one that stops sending is
	// cut off after StreamIdleTimeout.
	size := int(h.GetEnvelopeSize())
	held := int64(pendingOverhead)
	if err := e.s.pending.take(held); err != nil {
		return nil, err
	}
	defer func() { e.s.pending.used.Add(-held) }()
	var buf []byte
	for idle(); stream.Receive(); idle() {
		c := stream.Msg().GetChunk()
		if c == nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("only the first message may be a header; send chunks after it"))
		}
		if len(buf)+len(c) > size {
			return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("the chunks exceed the announced envelope_size %d", size))
		}
		if len(buf)+len(c) > cap(buf) {
			n := min(size, max(2*cap(buf), len(buf)+len(c), streamChunkStart))
			if err := e.s.pending.take(int64(n - cap(buf))); err != nil {
				return nil, err
			}
			held += int64(n - cap(buf)) // the old buffer is garbage once copied
			buf = append(make([]byte, 0, n), buf...)
		}
		buf = append(buf, c...)
	}
	if err := stream.Err(); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, connect.NewError(connect.CodeDeadlineExceeded, fmt.Errorf("no message for %v after %d of the announced %d bytes: send the chunks without pausing", e.s.opts.StreamIdleTimeout, len(buf), size))
		}
		return nil, err
	}
	if uint64(len(buf)) != h.GetEnvelopeSize() {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("stream ended after %d of the announced %d bytes: resend the whole envelope", len(buf), h.GetEnvelopeSize()))
	}
	if want := h.GetEnvelopeSha256(); len(want) > 0 {
		if got := sha256.Sum256(buf); !bytes.Equal(got[:], want) {
			return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("the envelope's SHA-256 is %x, not the announced %x: it was corrupted in transit", got, want))
		}
	}
	res, err := e.s.submit(ctx, buf, h.GetReleasePurl(), h.GetWaitForCheckpoint())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&evidentv1.SubmitStreamResponse{Result: res}), nil
}

func (e *evidenceService) SubmitBatch(ctx context.Context, req *connect.Request[evidentv1.SubmitBatchRequest]) (*connect.Response[evidentv1.SubmitBatchResponse], error) {
	envs := req.Msg.GetEnvelopes()
	size := 0
	for _, env := range envs {
		size += len(env)
	}
	release, err := e.s.pending.admit(size, len(envs))
	if err != nil {
		return nil, err
	}
	defer release()
	results, err := e.s.submitBatch(ctx, envs, req.Msg.GetReleasePurls(), req.Msg.GetWaitForCheckpoint())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&evidentv1.SubmitBatchResponse{Results: results}), nil
}

func (e *evidenceService) GetEvidence(ctx context.Context, req *connect.Request[evidentv1.GetEvidenceRequest]) (*connect.Response[evidentv1.GetEvidenceResponse], error) {
	s := e.s
	var idx uint64
	switch sel := req.Msg.GetSelector().(type) {
	case *evidentv1.GetEvidenceRequest_LogIndex:
		idx = sel.LogIndex
	case *evidentv1.GetEvidenceRequest_EnvelopeSha256:
		var d [32]byte
		copy(d[:], sel.EnvelopeSha256)
		i, err := s.ledger.IndexOfIdentity(ctx, d)
		if errors.Is(err, ledger.ErrNotFound) {
			return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("no envelope with SHA-256 %x is logged", d))
		}
		if err != nil {
			return nil, s.internal(ctx, "look up envelope", err)
		}
		idx = i
	case *evidentv1.GetEvidenceRequest_DocumentSha256:
		i, err := s.documentEntry(ctx, sel.DocumentSha256)
		if err != nil {
			return nil, err
		}
		idx = i
	}
	cp, cpSize := s.checkpoint()
	size, checkpointText := cpSize, string(cp)
	if ts := req.Msg.GetTreeSize(); ts != 0 {
		if ts > cpSize {
			return nil, connect.NewError(connect.CodeOutOfRange, fmt.Errorf("tree_size %d is beyond the latest checkpoint's %d", ts, cpSize))
		}
		size, checkpointText = ts, ""
	}
	if idx >= size {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("log index %d is not in the tree of size %d", idx, size))
	}
	ev, err := s.evidenceAt(ctx, idx, size)
	if err != nil {
		return nil, err
	}
	j := s.newJudge(size)
	ent, err := j.entry(ctx, idx)
	if err != nil {
		return nil, err
	}
	v, err := j.item(ctx, idx, ent)
	if err != nil {
		return nil, err
	}
	if err := j.mark(ctx, ev, v); err != nil {
		return nil, err
	}
	if req.Msg.GetIncludeEnvelope() {
		if ev.GetSummary().GetEnvelopeSize() > uint64(s.opts.MaxEnvelopeSize) {
			return nil, connect.NewError(connect.CodeResourceExhausted, errors.New("the envelope is too large for one message: use GetEnvelope, which streams it"))
		}
		var d [32]byte
		copy(d[:], ev.GetSummary().GetEnvelopeSha256())
		b, err := envelope(ctx, s.ledger, d)
		if err != nil {
			return nil, s.internal(ctx, "read envelope", err)
		}
		ev.Envelope = b
	}
	return connect.NewResponse(&evidentv1.GetEvidenceResponse{Evidence: ev, Checkpoint: checkpointText}), nil
}

// Query pages are ordered newest first; a page token is the log index the
// next page starts below, tagged with the query it belongs to so a token
// can't be replayed against another query.
func pageToken(query string, before uint64) string {
	b := binary.BigEndian.AppendUint64(nil, before)
	h := sha256.Sum256([]byte(query))
	return base64.RawURLEncoding.EncodeToString(append(b, h[:8]...))
}

func parsePageToken(query, tok string) (uint64, error) {
	if tok == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	h := sha256.Sum256([]byte(query))
	if err != nil || len(b) != 16 || !bytes.Equal(b[8:], h[:8]) || binary.BigEndian.Uint64(b) == 0 {
		return 0, connect.NewError(connect.CodeInvalidArgument, errors.New("page_token is not one this query returned: start again without it"))
	}
	return binary.BigEndian.Uint64(b), nil
}

const defaultPageSize = 50

func (e *evidenceService) QueryEvidence(ctx context.Context, req *connect.Request[evidentv1.QueryEvidenceRequest]) (*connect.Response[evidentv1.QueryEvidenceResponse], error) {
	s := e.s
	// A release query reads two indexes: the release's own entries, and
	// the entries about its whole package (package-level evidence).
	var index, key, pkgLevel string
	switch q := req.Msg.GetQuery().(type) {
	case *evidentv1.QueryEvidenceRequest_ReleasePurl:
		p, err := evidence.ParsePurl(q.ReleasePurl)
		if err != nil {
			return nil, invalidField("release_purl", err)
		}
		if !p.HasVersion() {
			return nil, invalidField("release_purl", errors.New("has no version: use package_purl to ask about every version"))
		}
		index, key, pkgLevel = evidence.IndexRelease, p.Release(), p.Package()
	case *evidentv1.QueryEvidenceRequest_PackagePurl:
		p, err := evidence.ParsePurl(q.PackagePurl)
		if err != nil {
			return nil, invalidField("package_purl", err)
		}
		index, key = evidence.IndexPackage, p.Package()
	case *evidentv1.QueryEvidenceRequest_ArtifactDigest:
		index, key = evidence.IndexDigest, strings.ToLower(q.ArtifactDigest)
	case *evidentv1.QueryEvidenceRequest_PredicateType:
		index, key = evidence.IndexPredicate, q.PredicateType
	case *evidentv1.QueryEvidenceRequest_DocumentDigest:
		index, key = evidence.IndexDocument, q.DocumentDigest
	}
	currentOnly := req.Msg.GetCurrentOnly()
	query := index + "\x00" + key
	if currentOnly {
		query += "\x00current"
	}
	before, err := parsePageToken(query, req.Msg.GetPageToken())
	if err != nil {
		return nil, err
	}
	// Every proof in the page is against this one checkpoint, and every
	// status is judged in its tree.
	cp, size := s.checkpoint()
	if before == 0 || before > size {
		before = size
	}
	limit := int(req.Msg.GetPageSize())
	if limit == 0 {
		limit = defaultPageSize
	}
	// Read one more than a page from each index: the newest limit of both,
	// merged, are the page, and what is left says whether more follow. A
	// current-only answer reads every index key below before, since any
	// number of superseded items may come first; keys are cheap, and the
	// judge skips superseded items without reading their entries.
	// A current-only scan is bounded too (maxCurrentOnlyScan keys per
	// index): past it the page ends where the keys read end, and the
	// token continues from there. floor is that end: every candidate at
	// or above it has been read from both indexes.
	n := limit + 1
	var floor uint64
	if currentOnly {
		n = maxCurrentOnlyScan
	}
	idxs, err := s.scan(ctx, index, key, before, n)
	if err != nil {
		return nil, err
	}
	if currentOnly && len(idxs) == n {
		floor = idxs[n-1]
	}
	fromPackage := map[uint64]bool{}
	if pkgLevel != "" {
		pidxs, err := s.scan(ctx, evidence.IndexPackageLevel, pkgLevel, before, n)
		if err != nil {
			return nil, err
		}
		if currentOnly && len(pidxs) == n {
			floor = max(floor, pidxs[n-1])
		}
		for _, i := range pidxs {
			fromPackage[i] = true
		}
		for _, i := range idxs {
			delete(fromPackage, i) // about the release itself too
		}
		idxs = mergeNewestFirst(idxs, pidxs)
	}
	// subject is what an item's status is judged about: for a release
	// query the release, or the package for package-level evidence; for
	// other queries the item as a whole ("").
	subject := func(i uint64) string {
		switch {
		case pkgLevel == "":
			return ""
		case fromPackage[i]:
			return pkgLevel
		}
		return key
	}
	j := s.newJudge(size)
	resp := &evidentv1.QueryEvidenceResponse{Checkpoint: string(cp)}
	total := len(cp) + 256 // and the page token
	var last uint64
	more := false
	for _, i := range idxs {
		if i < floor {
			break
		}
		subj := subject(i)
		if v, ok := j.known(subj, i); ok && currentOnly && v.status != evidentv1.EvidenceStatus_EVIDENCE_STATUS_CURRENT {
			continue
		}
		if len(resp.Evidence) == limit {
			more = true
			break
		}
		e, err := j.entry(ctx, i)
		if err != nil {
			return nil, err
		}
		var v verdict
		if subj == "" {
			v, err = j.item(ctx, i, e)
		} else {
			v, err = j.about(ctx, i, e, subj)
		}
		if err != nil {
			return nil, err
		}
		if currentOnly && v.status != evidentv1.EvidenceStatus_EVIDENCE_STATUS_CURRENT {
			continue
		}
		ev, err := s.evidenceAt(ctx, i, size)
		if err != nil {
			return nil, err
		}
		ev.PackageLevel = fromPackage[i]
		if err := j.mark(ctx, ev, v); err != nil {
			return nil, err
		}
		// A shorter page, never an empty one, rather than an answer the
		// client can't receive.
		if total += proto.Size(ev) + 8; len(resp.Evidence) > 0 && total > s.opts.MaxResponseBytes {
			more = true
			break
		}
		resp.Evidence = append(resp.Evidence, ev)
		last = i
	}
	switch {
	case more:
		resp.NextPageToken = pageToken(query, last)
	case floor > 0:
		// Every candidate read was judged: go on below them.
		resp.NextPageToken = pageToken(query, floor)
	}
	return connect.NewResponse(resp), nil
}

// maxCurrentOnlyScan bounds the index keys one current-only page reads
// from each index: a release's history is short, but a predicate type's is
// the whole log.
var maxCurrentOnlyScan = 1 << 16

// scan returns up to n log indexes below before filed under key in index,
// newest first.
func (s *Handlers) scan(ctx context.Context, index, key string, before uint64, n int) ([]uint64, error) {
	var idxs []uint64
	if before == 0 {
		return nil, nil
	}
	err := s.ledger.Scan(ctx, index, []byte(key), before, func(i uint64) bool {
		idxs = append(idxs, i)
		return len(idxs) < n
	})
	if err != nil {
		return nil, s.internal(ctx, "scan index", err)
	}
	return idxs, nil
}

// mergeNewestFirst merges two lists of log indexes in decreasing order
// into one, without repeats.
func mergeNewestFirst(a, b []uint64) []uint64 {
	out := make([]uint64, 0, len(a)+len(b))
	for len(a) > 0 || len(b) > 0 {
		var next uint64
		switch {
		case len(b) == 0 || len(a) > 0 && a[0] > b[0]:
			next, a = a[0], a[1:]
		case len(a) == 0 || b[0] > a[0]:
			next, b = b[0], b[1:]
		default:
			next, a, b = a[0], a[1:], b[1:]
		}
		out = append(out, next)
	}
	return out
}

// documentEntry returns the index of the newest entry whose document has
// the SHA-256 d (32 bytes).
func (s *Handlers) documentEntry(ctx context.Context, d []byte) (uint64, error) {
	_, size := s.checkpoint()
	idxs, err := s.scan(ctx, evidence.IndexDocument, "sha256:"+hex.EncodeToString(d), size, 1)
	if err != nil {
		return 0, err
	}
	if len(idxs) == 0 {
		return 0, connect.NewError(connect.CodeNotFound, fmt.Errorf("no document with SHA-256 %x is logged", d))
	}
	return idxs[0], nil
}

const envelopeChunk = 1 << 20

func (e *evidenceService) GetEnvelope(ctx context.Context, req *connect.Request[evidentv1.GetEnvelopeRequest], stream *connect.ServerStream[evidentv1.GetEnvelopeResponse]) error {
	s := e.s
	var d [32]byte
	copy(d[:], req.Msg.GetEnvelopeSha256())
	b, err := envelope(ctx, s.ledger, d)
	if errors.Is(err, ledger.ErrNotFound) {
		return connect.NewError(connect.CodeNotFound, fmt.Errorf("no envelope with SHA-256 %x is logged", d))
	}
	if err != nil {
		return s.internal(ctx, "read envelope", err)
	}
	for off := 0; off < len(b); off += envelopeChunk {
		msg := &evidentv1.GetEnvelopeResponse{Chunk: b[off:min(off+envelopeChunk, len(b))]}
		if off == 0 {
			msg.TotalSize = uint64(len(b))
		}
		if err := stream.Send(msg); err != nil {
			return err
		}
	}
	return nil
}

func (e *evidenceService) GetDocument(ctx context.Context, req *connect.Request[evidentv1.GetDocumentRequest], stream *connect.ServerStream[evidentv1.GetDocumentResponse]) error {
	s := e.s
	doc, mediaType, err := s.document(ctx, req.Msg.GetDocumentSha256())
	if err != nil {
		return err
	}
	for off := 0; off == 0 || off < len(doc); off += envelopeChunk {
		msg := &evidentv1.GetDocumentResponse{Chunk: doc[off:min(off+envelopeChunk, len(doc))]}
		if off == 0 {
			msg.TotalSize, msg.MediaType = uint64(len(doc)), mediaType
		}
		if err := stream.Send(msg); err != nil {
			return err
		}
	}
	return nil
}

// document returns the logged document with SHA-256 d (32 bytes) and its
// media type, taken out of the newest envelope that carries it.
func (s *Handlers) document(ctx context.Context, d []byte) ([]byte, string, error) {
	idx, err := s.documentEntry(ctx, d)
	if err != nil {
		return nil, "", err
	}
	b, err := s.ledger.Entry(ctx, idx)
	if err != nil {
		return nil, "", s.internal(ctx, "read entry", err)
	}
	ent, err := evidence.ParseEntry(b)
	if err != nil {
		return nil, "", s.internal(ctx, "parse logged entry", fmt.Errorf("entry %d: %w", idx, err))
	}
	env, err := envelope(ctx, s.ledger, ent.EnvelopeDigest)
	if err != nil {
		return nil, "", s.internal(ctx, "read envelope", err)
	}
	doc, _, err := evidence.DocumentOfEnvelope(env)
	if err != nil {
		return nil, "", s.internal(ctx, "take the document out of its envelope", fmt.Errorf("entry %d: %w", idx, err))
	}
	if sha256.Sum256(doc) != ent.Document.Digest {
		return nil, "", s.internal(ctx, "take the document out of its envelope", fmt.Errorf("entry %d: the document has another digest than the entry names", idx))
	}
	return doc, ent.Document.MediaType, nil
}

// evidenceAt returns the entry at idx with its summary and an inclusion
// proof in the tree of the given size.
func (s *Handlers) evidenceAt(ctx context.Context, idx, size uint64) (*evidentv1.Evidence, error) {
	b, err := s.ledger.Entry(ctx, idx)
	if errors.Is(err, ledger.ErrNotFound) {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("no entry at log index %d", idx))
	}
	if err != nil {
		return nil, s.internal(ctx, "read entry", err)
	}
	ent, err := evidence.ParseEntry(b)
	if err != nil {
		return nil, s.internal(ctx, "parse logged entry", fmt.Errorf("entry %d: %w", idx, err))
	}
	p, err := s.ledger.InclusionProof(ctx, idx, size)
	if err != nil {
		return nil, s.internal(ctx, "prove inclusion", err)
	}
	return &evidentv1.Evidence{
		LogIndex:       idx,
		Entry:          b,
		Summary:        summary(ent),
		InclusionProof: &evidentv1.InclusionProof{LogIndex: idx, TreeSize: size, Hashes: p},
	}, nil
}

func summary(e *evidence.Entry) *evidentv1.EntrySummary {
	sum := &evidentv1.EntrySummary{
		PredicateType:   e.PredicateType,
		Kind:            string(e.Kind),
		SignerKeyIds:    e.Signers,
		LoggedAt:        timestamppb.New(e.Time),
		EnvelopeSha256:  append([]byte(nil), e.EnvelopeDigest[:]...),
		EnvelopeSize:    uint64(e.EnvelopeSize),
		ArtifactDigests: e.Digests(),
		Encoding:        string(e.Encoding),
		DocumentSha256:  append([]byte(nil), e.Document.Digest[:]...),
		DocumentSize:    uint64(e.Document.Size),
		MediaType:       e.Document.MediaType,
		Format:          e.Format,
		Name:            e.Name,
	}
	for _, sub := range e.Subjects {
		sum.Subjects = append(sum.Subjects, sub.Purl)
	}
	return sum
}
