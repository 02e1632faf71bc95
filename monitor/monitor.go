// Package monitor checks that an Evident node's query index hides nothing.
//
// Run mirrors the node's log through its static c2sp.org/tlog-tiles API
// (package mirror), verifying every entry against the signed checkpoint,
// and rebuilds from the entries the index the node should have: which
// entries are about each release, package, artifact digest and predicate
// type (ENTRY.md, "Indexing"). It then asks the node's QueryEvidence API
// each of those questions, page by page, checks every item of every answer
// (the checkpoint is signed by the log and consistent with the mirror, the
// inclusion proof verifies, the entry is about what was asked) and compares:
// a verified entry the answer should have had and didn't is an Omission,
// which Run can write to a file that anyone can check offline with
// VerifyOmission and the log's public key. OMISSION.md specifies the file.
package monitor

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"connectrpc.com/connect"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/evident-dev/evident/checkpoint"
	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/mirror"
	"github.com/evident-dev/evident/policy"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/proto/evident/v1/evidentv1connect"
	"github.com/evident-dev/evident/witness"
)

// Options configures Run.
type Options struct {
	// URL is the node's base URL: its tlog-tiles prefix and its Connect
	// API. Required.
	URL string
	// LogKey verifies the log's checkpoints. Required.
	LogKey note.Verifier
	// Policy, when set, must accept the checkpoint the mirror syncs to
	// (see mirror.Options.Policy). Answers' checkpoints need only the
	// log's signature: that is all an omission proof needs. Default nil.
	Policy *policy.WitnessPolicy
	// Mirror is a mirror directory to bring up to date and read the log
	// from, kept for next time. Default "": a temporary directory, removed
	// when Run returns.
	Mirror string
	// OmissionDir, when set, is where Run writes each omission as a file
	// (OMISSION.md), named omission-<index>-<kind>-<hash of key>.txt.
	// Default "": no files; the omissions are in the Report.
	OmissionDir string
	// HTTPClient makes every request. Default: http.DefaultClient for
	// queries, and mirror's default for tiles.
	HTTPClient *http.Client
	// PageSize is the page size of queries. Default 500, the most the API
	// allows.
	PageSize int
	// Concurrency is how many queries are in flight at once, and how many
	// entry bundles the mirror fetches at once. Default 8.
	Concurrency int
	// Progress, when set, is called as Run advances, from one goroutine at
	// a time. It should return quickly. Default: none.
	Progress func(Progress)
	// Logger receives what Run does. Default: discard.
	Logger *slog.Logger
	// NoSync is passed to the mirror: for tests only. Default false.
	NoSync bool
}

// Phase is a step of Run.
type Phase string

const (
	PhaseMirror Phase = "mirror" // syncing the mirror
	PhaseIndex  Phase = "index"  // reading the entries
	PhaseQuery  Phase = "query"  // asking the node
)

// Progress is how far Run is.
type Progress struct {
	Phase Phase
	// Mirror is the mirror's progress, in PhaseMirror.
	Mirror mirror.Progress
	// Entries is how many entries are indexed.
	Entries uint64
	// Queries is how many queries there are to ask, Done how many are
	// answered and checked, in PhaseQuery.
	Queries, Done int
	// Omissions is how many omissions were found so far.
	Omissions int
}

// Report is what Run found.
type Report struct {
	// Checkpoint is the mirror's signed checkpoint the index was built
	// from, and Size its size.
	Checkpoint []byte
	Size       uint64
	// Entries is how many entries were indexed; Unparsed lists the indices
	// of entries that aren't Evident entries, which no query can find.
	Entries  uint64
	Unparsed []uint64
	// Queries is how many queries were asked, Pages how many pages were
	// answered and Items how many items they held.
	Queries, Pages, Items int
	// Uncovered counts the matches of queries that were newer than the
	// checkpoint the answer came with, so that the answer couldn't include
	// them and they weren't checked. A node whose answers lag its published
	// checkpoint has some; one whose answers keep lagging hides new evidence.
	Uncovered int
	// Omissions are the entries that answers left out.
	Omissions []Omission
	// OmissionFiles are the files written for them (Options.OmissionDir).
	OmissionFiles []string
	// BadAnswers are answers, or items of answers, that don't verify.
	BadAnswers []BadAnswer
	// Misbehaviour holds proofs that a checkpoint an answer came with
	// conflicts with the log's tree as mirrored.
	Misbehaviour []witness.Misbehaviour
	// Skipped are queries not asked, or refused by the node as invalid (for
	// example digests of algorithms the API doesn't take).
	Skipped []Skipped
	// Failed are queries the node didn't answer (network or server errors).
	Failed []Failed
}

// OK reports whether the node answered every query it could be asked,
// completely and verifiably.
func (r *Report) OK() bool {
	return len(r.Omissions) == 0 && len(r.BadAnswers) == 0 && len(r.Misbehaviour) == 0 && len(r.Failed) == 0
}

// BadAnswer is an answer, or an item of one, that doesn't verify.
type BadAnswer struct {
	Query Query
	// Index is the log index of the item concerned, or -1 for the answer
	// as a whole.
	Index int64
	// Reason says what is wrong.
	Reason string
	// Checkpoint is the signed checkpoint the answer came with.
	Checkpoint []byte
}

// Skipped is a query that wasn't asked, or that the node refused as invalid.
type Skipped struct {
	Query  Query
	Reason string
}

// Failed is a query the node didn't answer.
type Failed struct {
	Query Query
	Err   string
}

// queryableDigest is the artifact_digest rule of QueryEvidenceRequest.
var queryableDigest = regexp.MustCompile(`^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$`)

// Run checks the node at opts.URL (see the package documentation). It
// returns an error only if it couldn't do the check (the mirror couldn't be
// synced: a *mirror.VerifyError or *witness.MisbehaviourError then says why,
// and is itself a finding); what it found is in the Report.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if opts.URL == "" || opts.LogKey == nil {
		return nil, errors.New("monitor: URL and LogKey are required")
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 500
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 8
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &run{opts: opts, log: opts.Logger, report: &Report{}, cps: make(map[string]*answerCP)}
	dir := opts.Mirror
	if dir == "" {
		d, err := os.MkdirTemp("", "evident-monitor-*")
		if err != nil {
			return nil, fmt.Errorf("couldn't create a mirror directory: %w", err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	r.dir = dir
	if err := r.sync(ctx); err != nil {
		return nil, err
	}
	idx, err := r.index(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.query(ctx, idx); err != nil {
		return nil, err
	}
	if err := r.settle(ctx); err != nil {
		return nil, err
	}
	return r.report, nil
}

type run struct {
	opts   Options
	log    *slog.Logger
	dir    string
	m      *mirror.Mirror
	client evidentv1connect.EvidenceServiceClient

	mu     sync.Mutex
	report *Report
	cps    map[string]*answerCP // by signed note
	// missing are the omissions found, whose proofs are made at the end
	// (settle), once the mirror covers every answer's checkpoint.
	missing []missing
	done    int
	total   int
}

// answerCP is a checkpoint an answer came with.
type answerCP struct {
	signed []byte
	c      checkpoint.Checkpoint
	// checked is set once its root has been compared with the mirror's
	// tree; consistent says whether it matched.
	checked, consistent bool
}

type missing struct {
	q     Query
	index uint64
	cp    *answerCP
}

func (r *run) progress(p Progress) {
	if r.opts.Progress == nil {
		return
	}
	p.Omissions = len(r.missing)
	r.opts.Progress(p)
}

// sync brings the mirror up to date and opens it.
func (r *run) sync(ctx context.Context) error {
	res, err := mirror.Sync(ctx, mirror.Options{
		URL: r.opts.URL, Dir: r.dir, LogKey: r.opts.LogKey, Policy: r.opts.Policy,
		HTTPClient: r.opts.HTTPClient, Concurrency: r.opts.Concurrency, Logger: r.log, NoSync: r.opts.NoSync,
		Progress: func(p mirror.Progress) { r.progress(Progress{Phase: PhaseMirror, Mirror: p}) },
	})
	if err != nil {
		return err
	}
	if r.m, err = mirror.Open(r.dir, r.opts.LogKey); err != nil {
		return err
	}
	r.log.InfoContext(ctx, "mirror synced", "size", res.Size, "fetched", res.Entries)
	return nil
}

// index reads every entry of the mirror and files its index under the keys
// a node files it under.
func (r *run) index(ctx context.Context) (map[Query][]uint64, error) {
	idx := make(map[Query][]uint64)
	rep := r.report
	rep.Checkpoint, rep.Size = r.m.Checkpoint(), r.m.Size()
	skipped := make(map[Query]bool)
	pkgLevel := make(map[string][]uint64) // package purl -> entries about it as a whole
	err := r.m.Entries(ctx, 0, r.m.Size(), func(i uint64, b []byte) error {
		e, err := evidence.ParseEntry(b)
		if err != nil {
			rep.Unparsed = append(rep.Unparsed, i)
			return nil
		}
		rep.Entries++
		add := func(q Query) { idx[q] = append(idx[q], i) }
		for _, k := range e.Releases() {
			add(Query{QueryRelease, k})
		}
		for _, k := range e.Packages() {
			add(Query{QueryPackage, k})
		}
		for _, k := range e.Digests() {
			q := Query{QueryDigest, strings.ToLower(k)}
			if !queryableDigest.MatchString(q.Key) {
				if !skipped[q] {
					skipped[q] = true
					rep.Skipped = append(rep.Skipped, Skipped{q, "the query API takes sha256 and sha512 digests only"})
				}
				continue
			}
			add(q)
		}
		add(Query{QueryPredicate, e.PredicateType})
		add(Query{QueryDocument, "sha256:" + hex.EncodeToString(e.Document.Digest[:])})
		for _, p := range e.PackageLevel() {
			pkgLevel[p] = append(pkgLevel[p], i)
		}
		if rep.Entries%4096 == 0 {
			r.progress(Progress{Phase: PhaseIndex, Entries: rep.Entries})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.progress(Progress{Phase: PhaseIndex, Entries: rep.Entries})
	// A node answers a release query with the evidence about the release's
	// whole package too (ENTRY.md, "Indexing").
	for q, idxs := range idx {
		if q.Kind != QueryRelease {
			continue
		}
		p, err := evidence.ParsePurl(q.Key)
		if err != nil {
			continue
		}
		if more := pkgLevel[p.Package()]; len(more) > 0 {
			idx[q] = mergeAscending(idxs, more)
		}
	}
	// Entries file each key once, in order, so the lists are sorted and
	// without duplicates.
	return idx, nil
}

// query asks every query, Concurrency at a time.
func (r *run) query(ctx context.Context, idx map[Query][]uint64) error {
	client := r.opts.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	r.client = evidentv1connect.NewEvidenceServiceClient(client, strings.TrimSuffix(r.opts.URL, "/"))
	qs := make([]Query, 0, len(idx))
	for q := range idx {
		qs = append(qs, q)
	}
	slices.SortFunc(qs, func(a, b Query) int { return strings.Compare(a.String(), b.String()) })
	r.total = len(qs)
	r.progress(Progress{Phase: PhaseQuery, Queries: r.total})

	jobs := make(chan Query)
	var wg sync.WaitGroup
	for range r.opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for q := range jobs {
				r.ask(ctx, q, idx[q])
				r.mu.Lock()
				r.done++
				r.progress(Progress{Phase: PhaseQuery, Queries: r.total, Done: r.done})
				r.mu.Unlock()
			}
		}()
	}
	for _, q := range qs {
		select {
		case jobs <- q:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(jobs)
	wg.Wait()
	return ctx.Err()
}

// mergeAscending merges two ascending lists of indices without repeats.
func mergeAscending(a, b []uint64) []uint64 {
	out := make([]uint64, 0, len(a)+len(b))
	for len(a) > 0 || len(b) > 0 {
		switch {
		case len(b) == 0 || len(a) > 0 && a[0] < b[0]:
			out, a = append(out, a[0]), a[1:]
		case len(a) == 0 || b[0] < a[0]:
			out, b = append(out, b[0]), b[1:]
		default:
			out, a, b = append(out, a[0]), a[1:], b[1:]
		}
	}
	return out
}

// page is what the monitor keeps of one page of an answer.
type page struct {
	cp *answerCP
	// the page answers for indices in [lo, hi)
	lo, hi uint64
}

// ask asks q, page by page, checks the answers and records what they left
// out of want (the indices the mirror files under q, ascending).
func (r *run) ask(ctx context.Context, q Query, want []uint64) {
	req := &evidentv1.QueryEvidenceRequest{PageSize: int32(r.opts.PageSize)}
	switch q.Kind {
	case QueryRelease:
		req.Query = &evidentv1.QueryEvidenceRequest_ReleasePurl{ReleasePurl: q.Key}
	case QueryPackage:
		req.Query = &evidentv1.QueryEvidenceRequest_PackagePurl{PackagePurl: q.Key}
	case QueryDigest:
		req.Query = &evidentv1.QueryEvidenceRequest_ArtifactDigest{ArtifactDigest: q.Key}
	case QueryPredicate:
		req.Query = &evidentv1.QueryEvidenceRequest_PredicateType{PredicateType: q.Key}
	case QueryDocument:
		req.Query = &evidentv1.QueryEvidenceRequest_DocumentDigest{DocumentDigest: q.Key}
	}
	var pages []page
	got := make(map[uint64]bool)
	tokens := make(map[string]bool)
	empty := 0
	for {
		resp, err := r.client.QueryEvidence(ctx, connect.NewRequest(req))
		if err != nil {
			r.mu.Lock()
			if connect.CodeOf(err) == connect.CodeInvalidArgument && len(pages) == 0 {
				r.report.Skipped = append(r.report.Skipped, Skipped{q, "the node refused the query: " + err.Error()})
			} else {
				r.report.Failed = append(r.report.Failed, Failed{q, err.Error()})
			}
			r.mu.Unlock()
			return
		}
		msg := resp.Msg
		cp, reason := r.answerCheckpoint([]byte(msg.GetCheckpoint()))
		if cp == nil {
			r.bad(BadAnswer{Query: q, Index: -1, Reason: reason, Checkpoint: []byte(msg.GetCheckpoint())})
			return // nothing in this answer can be checked
		}
		// The page answers for every match below the previous page's
		// last item (or the checkpoint's size, for the first page).
		hi := cp.c.Size
		if len(pages) > 0 {
			hi = min(hi, pages[len(pages)-1].lo)
		}
		pg := page{cp: cp, hi: hi}
		prev := hi
		for _, ev := range msg.GetEvidence() {
			i := ev.GetLogIndex()
			if why := r.checkItem(q, cp, ev); why != "" {
				r.bad(BadAnswer{Query: q, Index: int64(i), Reason: why, Checkpoint: cp.signed})
				continue
			}
			// Newest first, each once, below the page's bound.
			if i >= prev {
				r.bad(BadAnswer{Query: q, Index: int64(i), Reason: fmt.Sprintf("out of order: answers are newest first, and this item comes after %d (or the page's bound)", prev), Checkpoint: cp.signed})
				continue
			}
			prev = i
			got[i] = true
		}
		r.mu.Lock()
		r.report.Pages++
		r.report.Items += len(msg.GetEvidence())
		r.mu.Unlock()
		next := msg.GetNextPageToken()
		if next == "" {
			pg.lo = 0
			pages = append(pages, pg)
			break
		}
		pg.lo = prev
		pages = append(pages, pg)
		// A page may hold fewer items even when more follow, but a node
		// must not lead a client round in circles.
		if prev == hi {
			empty++
		} else {
			empty = 0
		}
		if tokens[next] || empty > 100 {
			r.bad(BadAnswer{Query: q, Index: -1, Reason: "the answer's pages go round in circles (a repeated page token, or over 100 pages in a row without a verified item)", Checkpoint: cp.signed})
			return
		}
		tokens[next] = true
		req.PageToken = next
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.report.Queries++
	// Every match below the answer's bound (the first page's checkpoint,
	// and the mirror's size) must have been returned.
	for _, i := range want {
		if i >= pages[0].hi {
			r.report.Uncovered++
			continue
		}
		if got[i] {
			continue
		}
		pg := pages[0]
		for _, p := range pages {
			if p.lo <= i && i < p.hi {
				pg = p
				break
			}
		}
		r.missing = append(r.missing, missing{q: q, index: i, cp: pg.cp})
		r.log.WarnContext(ctx, "the node's answer left out an entry", "query", q.String(), "index", i)
	}
}

func (r *run) bad(b BadAnswer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.report.BadAnswers = append(r.report.BadAnswers, b)
}

// answerCheckpoint verifies the checkpoint of an answer, once per note.
func (r *run) answerCheckpoint(signed []byte) (*answerCP, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cp, ok := r.cps[string(signed)]; ok {
		return cp, ""
	}
	c, err := checkpoint.Open(signed, note.VerifierList(r.opts.LogKey))
	if errors.Is(err, checkpoint.ErrMalformed) {
		return nil, "the answer's checkpoint doesn't parse: " + err.Error()
	}
	if err != nil {
		return nil, "the answer's checkpoint isn't signed by the log: " + err.Error()
	}
	if c.Origin != r.opts.LogKey.Name() {
		return nil, fmt.Sprintf("the answer's checkpoint has origin %q, not %q", c.Origin, r.opts.LogKey.Name())
	}
	cp := &answerCP{signed: bytes.Clone(signed), c: c}
	r.cps[string(signed)] = cp
	return cp, ""
}

// checkItem returns why an item of an answer to q doesn't verify against
// the answer's checkpoint, or "".
func (r *run) checkItem(q Query, cp *answerCP, ev *evidentv1.Evidence) string {
	i, p := ev.GetLogIndex(), ev.GetInclusionProof()
	switch {
	case i >= cp.c.Size:
		return fmt.Sprintf("index %d is beyond the answer's checkpoint of size %d", i, cp.c.Size)
	case p.GetLogIndex() != i || p.GetTreeSize() != cp.c.Size:
		return fmt.Sprintf("the inclusion proof is for index %d in a tree of %d, not %d in the checkpoint's %d", p.GetLogIndex(), p.GetTreeSize(), i, cp.c.Size)
	}
	leaf := rfc6962.DefaultHasher.HashLeaf(ev.GetEntry())
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, i, cp.c.Size, leaf, p.GetHashes(), cp.c.Hash[:]); err != nil {
		return "the inclusion proof doesn't verify: " + err.Error()
	}
	e, err := evidence.ParseEntry(ev.GetEntry())
	if err != nil {
		return "the entry isn't an Evident entry: " + err.Error()
	}
	if !q.Matches(e) {
		return "the entry isn't about " + q.String()
	}
	return ""
}

// settle checks the answers' checkpoints against the mirror (syncing it
// again if an answer came with a newer one) and makes the omissions' proofs.
func (r *run) settle(ctx context.Context) error {
	for _, cp := range r.cps {
		if cp.c.Size > r.m.Size() {
			r.log.InfoContext(ctx, "an answer came with a newer checkpoint; syncing the mirror again", "size", cp.c.Size)
			if err := r.sync(ctx); err != nil {
				return err
			}
			break
		}
	}
	mcp := r.m.Checkpoint()
	for _, cp := range r.cps {
		if err := r.checkAgainstMirror(ctx, cp); err != nil {
			return err
		}
	}
	slices.SortFunc(r.missing, func(a, b missing) int {
		if c := cmp.Compare(a.index, b.index); c != 0 {
			return c
		}
		return strings.Compare(a.q.String(), b.q.String())
	})
	for _, ms := range r.missing {
		// The proof is against the answer's checkpoint, unless the mirror
		// can't prove that (a checkpoint it doesn't have, or one that
		// conflicts with it): then against the mirror's, which is older
		// than the answer's or on the log's honest side of a fork.
		signed, size := ms.cp.signed, ms.cp.c.Size
		if !ms.cp.consistent || size > r.m.Size() {
			signed, size = mcp, r.m.Size()
		}
		entry, err := r.m.Entry(ctx, ms.index)
		if err != nil {
			return err
		}
		p, err := r.m.InclusionProof(ctx, ms.index, size)
		if err != nil {
			return err
		}
		o := Omission{Query: ms.q, Index: ms.index, Entry: entry, Proof: p, Checkpoint: signed}
		b, err := o.Marshal()
		if err != nil {
			return err
		}
		// Check it as anyone would: the mirror trusts its files, a proof
		// must not.
		if _, err := VerifyOmission(b, r.opts.LogKey); err != nil {
			return fmt.Errorf("monitor: the omission of %d from %s doesn't verify: %w", ms.index, ms.q, err)
		}
		r.report.Omissions = append(r.report.Omissions, o)
		if r.opts.OmissionDir != "" {
			f, err := r.writeOmission(o, b)
			if err != nil {
				return err
			}
			r.report.OmissionFiles = append(r.report.OmissionFiles, f)
		}
	}
	return nil
}

// checkAgainstMirror compares an answer's checkpoint with the mirror's tree.
func (r *run) checkAgainstMirror(ctx context.Context, cp *answerCP) error {
	if cp.checked || cp.c.Size > r.m.Size() {
		if !cp.checked {
			r.report.BadAnswers = append(r.report.BadAnswers, BadAnswer{Index: -1, Checkpoint: cp.signed,
				Reason: fmt.Sprintf("an answer came with a checkpoint of size %d, beyond the log's published checkpoint of size %d", cp.c.Size, r.m.Size())})
			cp.checked = true
		}
		return nil
	}
	cp.checked = true
	root, err := r.m.RootAt(ctx, cp.c.Size)
	if err != nil {
		return err
	}
	if root == cp.c.Hash {
		cp.consistent = true
		return nil
	}
	mcp := r.m.Checkpoint()
	if cp.c.Size == r.m.Size() {
		r.report.Misbehaviour = append(r.report.Misbehaviour, witness.Misbehaviour{Origin: cp.c.Origin, Reason: witness.ReasonFork, A: cp.signed, B: mcp})
		return nil
	}
	p, err := r.m.ConsistencyProof(ctx, cp.c.Size, r.m.Size())
	if err != nil {
		return err
	}
	r.report.Misbehaviour = append(r.report.Misbehaviour, witness.Misbehaviour{
		Origin: cp.c.Origin, Reason: witness.ReasonInconsistent, A: cp.signed, B: mcp, PrefixRoot: root, Proof: p,
	})
	return nil
}

func (r *run) writeOmission(o Omission, b []byte) (string, error) {
	if err := os.MkdirAll(r.opts.OmissionDir, 0o755); err != nil {
		return "", fmt.Errorf("couldn't write omission: %w", err)
	}
	h := sha256.Sum256([]byte(o.Query.Key))
	name := filepath.Join(r.opts.OmissionDir, fmt.Sprintf("omission-%d-%s-%x.txt", o.Index, o.Query.Kind, h[:4]))
	if err := os.WriteFile(name, b, 0o644); err != nil {
		return "", fmt.Errorf("couldn't write omission: %w", err)
	}
	return name, nil
}
