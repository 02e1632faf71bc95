package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"connectrpc.com/connect"
	"connectrpc.com/validate"

	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/mirror"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/proto/evident/v1/evidentv1connect"
)

// mirrorEvidence answers the pages' EvidenceService calls from a mirror's
// data: its entries, indexed in memory when the mirror is opened, the
// proofs computed from its tiles, and the documents out of the envelopes it
// holds (evident mirror --envelopes). It answers as a node does (the same
// JSON, newest first, proofs against the mirror's checkpoint), except that
// its page tokens are its own and summaries are left out: the pages read
// the entries. Submissions are a node's business (Unimplemented).
type mirrorEvidence struct {
	evidentv1connect.UnimplementedEvidenceServiceHandler
	dir string
	m   *mirror.Mirror
	// index maps an index name and key (as the node's, evidence/index.go)
	// to the entries filed under it, in ascending order.
	index map[string][]uint64
	// envelopes maps a document's SHA-256 to the first entry's envelope.
	envelopes map[[32]byte][32]byte
}

// mirrorPageMax is the most items a mirror returns in one page, as a node.
const mirrorPageMax = 500

func newMirrorEvidence(ctx context.Context, dir string, m *mirror.Mirror) (*mirrorEvidence, error) {
	e := &mirrorEvidence{dir: dir, m: m, index: map[string][]uint64{}, envelopes: map[[32]byte][32]byte{}}
	err := m.Entries(ctx, 0, m.Size(), func(i uint64, b []byte) error {
		en, err := evidence.ParseEntry(b)
		if err != nil {
			return nil // not an Evident entry: nothing to find it by
		}
		// The keys a node files the entry under (evidence/index.go).
		for _, k := range en.IndexKeys() {
			e.index[k.Index+"\x00"+k.Key] = append(e.index[k.Index+"\x00"+k.Key], i)
		}
		if _, ok := e.envelopes[en.Document.Digest]; !ok {
			e.envelopes[en.Document.Digest] = en.EnvelopeDigest
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("couldn't index the mirror: %w", err)
	}
	return e, nil
}

// hasEnvelopes tells whether the mirror holds envelopes at all.
func (e *mirrorEvidence) hasEnvelopes() bool {
	fi, err := os.Stat(filepath.Join(e.dir, "evidence", "sha256"))
	return err == nil && fi.IsDir()
}

func (e *mirrorEvidence) evidenceAt(ctx context.Context, i uint64) (*evidentv1.Evidence, error) {
	entry, err := e.m.Entry(ctx, i)
	if err != nil {
		return nil, connect.NewError(connect.CodeInternal, errors.New("couldn't read the mirror"))
	}
	proof, err := e.m.InclusionProof(ctx, i, e.m.Size())
	if err != nil {
		return nil, connect.NewError(connect.CodeInternal, errors.New("couldn't read the mirror"))
	}
	return &evidentv1.Evidence{LogIndex: i, Entry: entry, InclusionProof: &evidentv1.InclusionProof{LogIndex: i, TreeSize: e.m.Size(), Hashes: proof}}, nil
}

func (e *mirrorEvidence) GetEvidence(ctx context.Context, req *connect.Request[evidentv1.GetEvidenceRequest]) (*connect.Response[evidentv1.GetEvidenceResponse], error) {
	if req.Msg.GetTreeSize() != 0 && req.Msg.GetTreeSize() != e.m.Size() {
		return nil, connect.NewError(connect.CodeUnimplemented, errors.New("a mirror proves inclusion in its own checkpoint's tree only: leave tree_size 0"))
	}
	if req.Msg.GetIncludeEnvelope() {
		return nil, connect.NewError(connect.CodeUnimplemented, errors.New("a mirror serves envelopes at /evidence/sha256/<hex>, not in GetEvidence"))
	}
	var i uint64
	switch s := req.Msg.GetSelector().(type) {
	case *evidentv1.GetEvidenceRequest_LogIndex:
		i = s.LogIndex
	case *evidentv1.GetEvidenceRequest_DocumentSha256:
		idx := e.index[evidence.IndexDocument+"\x00sha256:"+hex.EncodeToString(s.DocumentSha256)]
		if len(idx) == 0 {
			return nil, connect.NewError(connect.CodeNotFound, errors.New("no entry in the mirror records that document"))
		}
		i = idx[0]
	default:
		return nil, connect.NewError(connect.CodeUnimplemented, errors.New("a mirror finds entries by log index or document digest"))
	}
	if i >= e.m.Size() {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("log index %d is not in the mirror's tree of size %d", i, e.m.Size()))
	}
	ev, err := e.evidenceAt(ctx, i)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&evidentv1.GetEvidenceResponse{Evidence: ev, Checkpoint: string(e.m.Checkpoint())}), nil
}

func (e *mirrorEvidence) QueryEvidence(ctx context.Context, req *connect.Request[evidentv1.QueryEvidenceRequest]) (*connect.Response[evidentv1.QueryEvidenceResponse], error) {
	var matches, pkgLevel []uint64
	switch q := req.Msg.GetQuery().(type) {
	case *evidentv1.QueryEvidenceRequest_ReleasePurl:
		p, err := evidence.ParsePurl(q.ReleasePurl)
		if err != nil || !p.HasVersion() {
			return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("release_purl must be a Package URL with a version"))
		}
		matches = e.index[evidence.IndexRelease+"\x00"+p.Release()]
		pkgLevel = e.index[evidence.IndexPackageLevel+"\x00"+p.Package()]
	case *evidentv1.QueryEvidenceRequest_PackagePurl:
		p, err := evidence.ParsePurl(q.PackagePurl)
		if err != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("package_purl must be a Package URL"))
		}
		matches = e.index[evidence.IndexPackage+"\x00"+p.Package()]
	case *evidentv1.QueryEvidenceRequest_ArtifactDigest:
		matches = e.index[evidence.IndexDigest+"\x00"+strings.ToLower(q.ArtifactDigest)]
	case *evidentv1.QueryEvidenceRequest_PredicateType:
		matches = e.index[evidence.IndexPredicate+"\x00"+q.PredicateType]
	case *evidentv1.QueryEvidenceRequest_DocumentDigest:
		matches = e.index[evidence.IndexDocument+"\x00"+q.DocumentDigest]
	}
	all := slices.Concat(matches, pkgLevel)
	slices.Sort(all)
	all = slices.Compact(all)
	// Newest first; a page token is the log index the next page starts
	// below.
	before := e.m.Size()
	if t := req.Msg.GetPageToken(); t != "" {
		b, err := strconv.ParseUint(t, 10, 64)
		if err != nil || b == 0 || b > before {
			return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("page_token is not one this mirror returned: start again without it"))
		}
		before = b
	}
	limit := int(req.Msg.GetPageSize())
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, mirrorPageMax)
	res := &evidentv1.QueryEvidenceResponse{Checkpoint: string(e.m.Checkpoint())}
	end, _ := slices.BinarySearch(all, before)
	for k := end - 1; k >= 0; k-- {
		if len(res.Evidence) == limit {
			res.NextPageToken = strconv.FormatUint(all[k+1], 10)
			break
		}
		ev, err := e.evidenceAt(ctx, all[k])
		if err != nil {
			return nil, err
		}
		// Found only through the package-level index: evidence about
		// every release.
		_, release := slices.BinarySearch(matches, all[k])
		ev.PackageLevel = !release
		res.Evidence = append(res.Evidence, ev)
	}
	return connect.NewResponse(res), nil
}

// mirrorChunk is the size of GetDocument's chunks, as a node's.
const mirrorChunk = 1 << 20

func (e *mirrorEvidence) GetDocument(ctx context.Context, req *connect.Request[evidentv1.GetDocumentRequest], stream *connect.ServerStream[evidentv1.GetDocumentResponse]) error {
	var d [32]byte
	copy(d[:], req.Msg.GetDocumentSha256())
	envDigest, ok := e.envelopes[d]
	if !ok {
		return connect.NewError(connect.CodeNotFound, errors.New("no entry in the mirror records that document"))
	}
	env, err := os.ReadFile(filepath.Join(e.dir, "evidence", "sha256", hex.EncodeToString(envDigest[:])))
	if errors.Is(err, os.ErrNotExist) {
		return connect.NewError(connect.CodeNotFound, errors.New("the mirror holds no envelope for that document: mirror with --envelopes"))
	}
	if err != nil || sha256.Sum256(env) != envDigest {
		return connect.NewError(connect.CodeInternal, errors.New("couldn't read the mirror's envelope"))
	}
	doc, mediaType, err := evidence.DocumentOfEnvelope(env)
	if err != nil || sha256.Sum256(doc) != d {
		return connect.NewError(connect.CodeInternal, errors.New("couldn't take the document out of its envelope"))
	}
	first := &evidentv1.GetDocumentResponse{TotalSize: uint64(len(doc)), MediaType: mediaType}
	r := bytes.NewReader(doc)
	for {
		msg := first
		if msg == nil {
			msg = &evidentv1.GetDocumentResponse{}
		}
		first = nil
		n := min(r.Len(), mirrorChunk)
		msg.Chunk = make([]byte, n)
		r.Read(msg.Chunk)
		if err := stream.Send(msg); err != nil {
			return err
		}
		if r.Len() == 0 {
			return nil
		}
	}
}

// mountMirrorEvidence serves e's EvidenceService on mux, with the API's
// validation rules in front, as a node does.
func mountMirrorEvidence(mux interface{ Handle(string, http.Handler) }, e *mirrorEvidence) {
	mux.Handle(evidentv1connect.NewEvidenceServiceHandler(e, connect.WithInterceptors(validate.NewInterceptor()), connect.WithReadMaxBytes(64<<10)))
}
