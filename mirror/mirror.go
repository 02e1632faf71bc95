// Package mirror keeps a verified copy of an Evident log, fetched through the
// log's c2sp.org/tlog-tiles static API only: the checkpoint, the hash tiles,
// the entry bundles and, optionally, the envelopes the entries reference.
//
// Sync brings a mirror directory up to date with the log. Everything it
// stores has been verified against the log's signed checkpoint first:
//
//   - the checkpoint is signed by the log's key (and satisfies the witness
//     policy, if one is given);
//   - the partial tiles at the right edge of the tree hash to the
//     checkpoint's root;
//   - every full tile hashes to its hash in the tile one level up, which was
//     checked the same way, up to the root;
//   - every entry hashes to its leaf hash in the level-0 tile;
//   - every envelope hashes to the digest its entry names;
//   - the tree extends the one of the checkpoint the mirror held before (an
//     RFC 6962 consistency proof computed from the new tree's tiles);
//     otherwise Sync stops with a *witness.MisbehaviourError, a proof anyone
//     can check offline with witness.VerifyMisbehaviour.
//
// The directory has the layout of the URL paths (checkpoint,
// tile/<L>/<N>[.p/<W>], tile/entries/<N>[.p/<W>], evidence/sha256/<hex>), so
// a static web server can serve it, and so can Handler, which serves only
// what the stored checkpoint covers. The checkpoint is written last: a
// mirror never claims a tree it doesn't fully hold. A Sync that stops part
// way (an error, a crash) keeps what it verified and the next one resumes
// from there.
//
// Open reads a mirror back: its entries, and proofs computed from its tiles.
package mirror

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/transparency-dev/merkle/proof"
	"golang.org/x/mod/sumdb/note"

	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/policy"
	"github.com/evident-dev/evident/tile"
	"github.com/evident-dev/evident/witness"
)

// Options configures Sync.
type Options struct {
	// URL is the log's tlog-tiles prefix: the checkpoint is at
	// URL+"/checkpoint". Required.
	URL string
	// Dir is the mirror directory; it is created if needed. Required.
	Dir string
	// LogKey verifies the log's checkpoint signatures; its name is the
	// log's origin. Required.
	LogKey note.Verifier
	// Policy, when set, must accept the checkpoint (c2sp.org/tlog-policy:
	// cosigned by a quorum of witnesses) on top of LogKey's signature.
	// Default nil: LogKey's signature suffices.
	Policy *policy.WitnessPolicy
	// Envelopes also mirrors the envelope of every entry, from
	// URL+"/evidence/sha256/<hex>", checking its digest and size. Entries
	// that aren't Evident entries (evidence.ParseEntry) are counted in
	// Result.Unparsed and skipped. Default false.
	Envelopes bool
	// HTTPClient makes the requests. Default: a client keeping up to
	// Concurrency idle connections to the log.
	HTTPClient *http.Client
	// Concurrency is how many entry bundles are fetched and verified at
	// once. Default 8.
	Concurrency int
	// Progress, when set, is called as the verified part of the log grows:
	// once when the sync starts and after every entry bundle, from one
	// goroutine at a time. It should return quickly. Default: none.
	Progress func(Progress)
	// Logger receives what Sync does. Default: discard.
	Logger *slog.Logger
	// NoSync skips fsync(2) and syncfs(2): a crash may then lose or tear
	// files the mirror believes it holds. For tests and benchmarks only.
	// Default false.
	NoSync bool
}

// Progress is how far a Sync is.
type Progress struct {
	// Size is the size of the checkpoint being mirrored.
	Size uint64
	// Start is how many entries the mirror held, verified, when the sync
	// started.
	Start uint64
	// Verified is how many entries the mirror holds verified now, Start
	// included. The sync is done when Verified == Size.
	Verified uint64
	// Envelopes is how many envelopes this sync has fetched and verified.
	Envelopes int
	// Bytes is how many response body bytes this sync has fetched.
	Bytes int64
}

// Result is what a successful Sync did.
type Result struct {
	// Checkpoint is the signed checkpoint the mirror holds now.
	Checkpoint []byte
	// Size is its size.
	Size uint64
	// Previous is the size of the checkpoint the mirror held before, 0 for
	// a new mirror.
	Previous uint64
	// Stale is true if the log served a checkpoint older than the mirror's
	// (a cache, say). It was checked to be consistent with the mirror's,
	// and the mirror was left as it was.
	Stale bool
	// Entries is how many entries this sync fetched and verified.
	Entries uint64
	// Tiles and Bundles are how many hash tiles and entry bundles it stored.
	Tiles, Bundles int
	// Envelopes is how many envelopes it fetched and verified.
	Envelopes int
	// Unparsed is how many entries weren't Evident entries, so had no
	// envelope to mirror (with Options.Envelopes).
	Unparsed int
	// Bytes is how many response body bytes it fetched.
	Bytes int64
}

// VerifyError is the error of Sync when something the log served doesn't
// verify. The resource that failed is not stored.
type VerifyError struct {
	// Path is the resource that failed, relative to the log's prefix:
	// "checkpoint", "tile/0/x001/234", "tile/entries/x001/234.p/7",
	// "evidence/sha256/<hex>". When the culprit is one of several tiles
	// that don't add up, Path lists them, separated by ", ".
	Path string
	// Index is the log index of the entry concerned, or -1.
	Index int64
	// Checkpoint is the signed checkpoint the resource was checked
	// against; nil when the checkpoint itself failed.
	Checkpoint []byte
	// Reason says what is wrong.
	Reason string
	// Err is the underlying error, if any (a note or policy error for the
	// checkpoint).
	Err error
}

func (e *VerifyError) Error() string {
	s := e.Path + " doesn't verify: " + e.Reason
	if e.Index >= 0 {
		s = fmt.Sprintf("%s (entry %d) doesn't verify: %s", e.Path, e.Index, e.Reason)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *VerifyError) Unwrap() error { return e.Err }

// flushEvery is how many entry bundles Sync verifies between two updates
// of its durable progress (one syncfs(2) each).
const flushEvery = 256

// Sync brings the mirror in opts.Dir up to date with the log at opts.URL,
// verifying everything it stores (see the package documentation). It
// returns a *VerifyError for data that doesn't verify, a
// *witness.MisbehaviourError if the log's new checkpoint is inconsistent with
// the one the mirror held, and ErrLocked if another Sync is running on the
// directory.
func Sync(ctx context.Context, opts Options) (*Result, error) {
	if opts.URL == "" || opts.Dir == "" || opts.LogKey == nil {
		return nil, errors.New("mirror: URL, Dir and LogKey are required")
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 8
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HTTPClient == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = opts.Concurrency + 1
		opts.HTTPClient = &http.Client{Transport: t}
		defer t.CloseIdleConnections()
	}
	st := newStore(opts.Dir, !opts.NoSync)
	unlock, err := st.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := st.init(); err != nil {
		return nil, fmt.Errorf("couldn't prepare mirror directory: %w", err)
	}
	old, err := st.loadCheckpoint(opts.LogKey)
	if err != nil {
		return nil, err
	}
	s := &syncer{opts: opts, st: st, f: newFetcher(opts.URL, opts.HTTPClient), old: old, log: opts.Logger, upper: make(map[tile.Tile]*authTile)}
	res, err := s.run(ctx)
	if err != nil {
		return nil, fmt.Errorf("couldn't mirror %s: %w", opts.URL, err)
	}
	return res, nil
}

// syncer is one Sync.
type syncer struct {
	opts Options
	st   *store
	f    *fetcher
	log  *slog.Logger
	old  *verified // the stored checkpoint; nil for a new mirror
	cp   *verified // the checkpoint being mirrored

	// edges are the partial tiles at the right edge of cp's tree, by
	// level, checked against its root.
	edges map[uint8][]byte
	// upper are the full tiles above level 0 that were fetched and
	// checked, kept while tiles below them are being checked.
	mu    sync.Mutex
	upper map[tile.Tile]*authTile

	entries                   atomic.Uint64
	tiles, bundles, envelopes atomic.Int64
	unparsed                  atomic.Int64
}

type authTile struct {
	done chan struct{}
	b    []byte
	err  error
}

func (s *syncer) run(ctx context.Context) (*Result, error) {
	signed, err := s.f.get(ctx, "checkpoint", maxCheckpointSize)
	if err != nil {
		return nil, fmt.Errorf("couldn't fetch checkpoint: %w", err)
	}
	if s.cp, err = s.verifyCheckpoint(signed); err != nil {
		return nil, err
	}
	cp := s.cp
	res := &Result{Checkpoint: cp.signed, Size: cp.Size}
	var oldSize uint64
	if s.old != nil {
		oldSize = s.old.Size
		res.Previous = oldSize
		switch {
		case cp.Size < oldSize:
			if err := s.checkStale(ctx); err != nil {
				return nil, err
			}
			s.log.InfoContext(ctx, "the log served an older checkpoint; the mirror is unchanged", "served", cp.Size, "mirror", oldSize)
			res.Checkpoint, res.Size, res.Stale = s.old.signed, oldSize, true
			return res, nil
		case cp.Size == oldSize:
			if cp.Hash != s.old.Hash {
				return nil, &witness.MisbehaviourError{Misbehaviour: witness.Misbehaviour{
					Origin: cp.Origin, Reason: witness.ReasonFork, A: s.old.signed, B: cp.signed,
				}}
			}
			// Same tree; the note may carry new cosignatures.
			if !bytes.Equal(cp.signed, s.old.signed) {
				if err := s.st.write("checkpoint", cp.signed, true); err != nil {
					return nil, err
				}
			}
			s.progress(0)
			return res, nil
		}
	}
	s.log.InfoContext(ctx, "mirroring", "url", s.opts.URL, "from", oldSize, "to", cp.Size)
	if cp.Size > 0 {
		if err := s.checkEdges(ctx); err != nil {
			return nil, err
		}
	} else if cp.Hash != emptyRoot {
		return nil, s.verifyError("checkpoint", -1, "a tree of size 0 has root %x, not %x", emptyRoot, cp.Hash)
	}
	if s.old != nil {
		if err := s.checkExtends(ctx, s.old); err != nil {
			return nil, err
		}
	}
	start := oldSize / tile.FullWidth // the first entry bundle to fetch
	if p := s.st.loadPending(s.opts.LogKey); p != nil && p.cp.Size <= cp.Size && p.watermark/tile.FullWidth > start {
		// A sync that stopped part way verified everything below its
		// watermark against its checkpoint; if the new tree extends that
		// one, those full tiles are the new tree's too.
		if err := s.checkExtends(ctx, p.cp); err != nil {
			return nil, err
		}
		start = p.watermark / tile.FullWidth
		s.log.InfoContext(ctx, "resuming an unfinished sync", "from", p.watermark)
	}
	if cp.Size > 0 {
		if err := s.st.writePending(cp, start*tile.FullWidth); err != nil {
			return nil, err
		}
		if err := s.download(ctx, start); err != nil {
			return nil, err
		}
	}
	if err := s.st.flush(); err != nil {
		return nil, err
	}
	// The checkpoint last: from now on the mirror serves the new tree.
	if err := s.st.write("checkpoint", cp.signed, true); err != nil {
		return nil, err
	}
	if err := s.st.clearPending(); err != nil {
		return nil, fmt.Errorf("couldn't clear sync progress: %w", err)
	}
	s.dropPartials(oldSize)
	res.Entries = s.entries.Load()
	res.Tiles, res.Bundles = int(s.tiles.Load()), int(s.bundles.Load())
	res.Envelopes, res.Unparsed = int(s.envelopes.Load()), int(s.unparsed.Load())
	res.Bytes = s.f.bytes.Load()
	s.log.InfoContext(ctx, "mirrored", "size", cp.Size, "entries", res.Entries, "bytes", res.Bytes)
	return res, nil
}

func (s *syncer) verifyError(path string, index int64, format string, args ...any) *VerifyError {
	var cp []byte
	if s.cp != nil {
		cp = s.cp.signed
	}
	return &VerifyError{Path: path, Index: index, Checkpoint: cp, Reason: fmt.Sprintf(format, args...)}
}

// verifyCheckpoint checks the checkpoint the log served.
func (s *syncer) verifyCheckpoint(signed []byte) (*verified, error) {
	v, err := verifiedCheckpoint(signed, s.opts.LogKey)
	if err != nil {
		return nil, &VerifyError{Path: "checkpoint", Index: -1, Reason: "not a checkpoint signed by " + s.opts.LogKey.Name(), Err: err}
	}
	if s.opts.Policy != nil {
		if _, err := s.opts.Policy.Verify(signed); err != nil {
			return nil, &VerifyError{Path: "checkpoint", Index: -1, Reason: "the witness policy doesn't accept it", Err: err}
		}
	}
	return v, nil
}

// checkEdges fetches the partial tiles at the right edge of the new tree
// and checks that they hash to its root. Every other tile is then checked
// against them, level by level.
func (s *syncer) checkEdges(ctx context.Context) error {
	s.edges = make(map[uint8][]byte)
	edges := tile.PartialTiles(s.cp.Size)
	var paths []string
	for _, t := range edges {
		b, err := s.f.tile(ctx, t)
		if err != nil {
			return fmt.Errorf("couldn't fetch %s: %w", t, err)
		}
		if len(b) != t.Width*tile.HashSize {
			return s.verifyError(t.String(), -1, "%d bytes, want %d hashes", len(b), t.Width)
		}
		s.edges[t.Level] = b
		paths = append(paths, t.String())
	}
	r := tile.NewTree(s.cp.Size, tile.ReaderFunc(func(_ context.Context, level uint8, n uint64, width int) ([]byte, error) {
		return s.edges[level], nil
	}))
	root, err := r.Root(ctx, s.cp.Size)
	if err != nil {
		return err
	}
	if root != s.cp.Hash {
		// Point at the level-0 tile if its entries disagree with it.
		if err := s.diagnoseEdge(ctx, edges[0]); err != nil {
			return err
		}
		return s.verifyError(strings.Join(paths, ", "), -1, "the right edge of the tree hashes to %x, not to the checkpoint's root %x", root, s.cp.Hash)
	}
	for _, t := range edges {
		if t.Level > 0 {
			if err := s.st.write(t.String(), s.edges[t.Level], false); err != nil {
				return err
			}
			s.tiles.Add(1)
		}
	}
	return nil
}

// diagnoseEdge is called when the right edge doesn't hash to the root. If
// the level-0 edge tile disagrees with its entries, it is the likely culprit
// (a changed bundle alone would leave the root right): it returns an error
// naming it.
func (s *syncer) diagnoseEdge(ctx context.Context, t tile.Tile) error {
	if t.Level != 0 {
		return nil
	}
	bt := tile.Tile{Entries: true, N: t.N, Width: t.Width}
	b, err := s.f.tile(ctx, bt)
	if err != nil {
		return nil // the root mismatch is the error to report
	}
	es, err := splitBundle(b, t.Width)
	if err != nil {
		return nil
	}
	lh := &leafHasher{}
	for i, e := range es {
		h := lh.hash(e)
		if got := s.edges[0][i*tile.HashSize : (i+1)*tile.HashSize]; !bytes.Equal(h[:], got) {
			return s.verifyError(t.String(), int64(t.N*tile.FullWidth)+int64(i), "the right edge of the tree doesn't hash to the checkpoint's root, and hash %d of this tile, %x, isn't the hash of entry %d of %s, %x", i, got, i, bt, h)
		}
	}
	return nil
}

// checkExtends checks that the new tree extends old's, with a consistency
// proof computed from the new tree's tiles (each checked up to its root).
func (s *syncer) checkExtends(ctx context.Context, old *verified) error {
	cp := s.cp
	switch {
	case old.Size == 0:
		return nil
	case old.Size == cp.Size:
		if old.Hash != cp.Hash {
			return &witness.MisbehaviourError{Misbehaviour: witness.Misbehaviour{Origin: cp.Origin, Reason: witness.ReasonFork, A: old.signed, B: cp.signed}}
		}
		return nil
	case old.Size > cp.Size:
		return fmt.Errorf("mirror: checkExtends from %d to %d", old.Size, cp.Size) // a bug
	}
	r := tile.NewTree(cp.Size, tile.ReaderFunc(s.checkedTile))
	prefix, err := r.Root(ctx, old.Size)
	if err != nil {
		return err
	}
	p, err := r.Consistency(ctx, old.Size, cp.Size)
	if err != nil {
		return err
	}
	// Every hash came from a tile checked against cp's root, so the proof
	// must lead there; if it doesn't, this code is wrong.
	if err := proof.VerifyConsistency(hasher, old.Size, cp.Size, p, prefix[:], cp.Hash[:]); err != nil {
		return fmt.Errorf("mirror: bug: a consistency proof from checked tiles fails: %v", err)
	}
	if prefix != old.Hash {
		// c2sp.org/tlog-tiles: when fetching a subsequent checkpoint, the
		// client MUST verify its consistency with the current checkpoint.
		return &witness.MisbehaviourError{Misbehaviour: witness.Misbehaviour{
			Origin: cp.Origin, Reason: witness.ReasonInconsistent,
			A: old.signed, B: cp.signed, PrefixRoot: prefix, Proof: p,
		}}
	}
	return nil
}

// checkStale checks that a checkpoint smaller than the mirror's names a
// prefix of the mirror's tree, using the stored tiles.
func (s *syncer) checkStale(ctx context.Context) error {
	cp, old := s.cp, s.old
	r := tile.NewTree(old.Size, s.st.localTiles(old.Size))
	prefix, err := r.Root(ctx, cp.Size)
	if err != nil {
		return fmt.Errorf("couldn't read the mirror: %w", err)
	}
	if prefix == cp.Hash {
		return nil
	}
	if cp.Size == 0 {
		return s.verifyError("checkpoint", -1, "a tree of size 0 has root %x, not %x", emptyRoot, cp.Hash)
	}
	p, err := r.Consistency(ctx, cp.Size, old.Size)
	if err != nil {
		return fmt.Errorf("couldn't read the mirror: %w", err)
	}
	return &witness.MisbehaviourError{Misbehaviour: witness.Misbehaviour{
		Origin: cp.Origin, Reason: witness.ReasonInconsistent,
		A: cp.signed, B: old.signed, PrefixRoot: prefix, Proof: p,
	}}
}

// checkedTile is a tile.ReaderFunc for the new tree that returns only tiles
// checked up to its root.
func (s *syncer) checkedTile(ctx context.Context, level uint8, n uint64, width int) ([]byte, error) {
	if w := tile.WidthAt(s.cp.Size, level, n); w != width {
		return nil, fmt.Errorf("mirror: bug: tile %d/%d has width %d, not %d", level, n, w, width)
	}
	return s.tile(ctx, level, n)
}

// tile returns the hash tile at level and index n of the new tree, checked
// up to the root. Full tiles above level 0 are kept (and stored) while the
// tiles under them are being checked.
func (s *syncer) tile(ctx context.Context, level uint8, n uint64) ([]byte, error) {
	w := tile.WidthAt(s.cp.Size, level, n)
	switch {
	case w == 0:
		return nil, fmt.Errorf("mirror: bug: tile %d/%d is beyond the tree of size %d", level, n, s.cp.Size)
	case w < tile.FullWidth:
		return s.edges[level], nil
	case level == 0:
		return s.fullTile(ctx, 0, n)
	}
	key := tile.Tile{Level: level, N: n, Width: tile.FullWidth}
	s.mu.Lock()
	a, ok := s.upper[key]
	if !ok {
		a = &authTile{done: make(chan struct{})}
		s.upper[key] = a
		s.mu.Unlock()
		a.b, a.err = s.fullTile(ctx, level, n)
		if a.err == nil {
			if a.err = s.st.write(key.String(), a.b, false); a.err == nil {
				s.tiles.Add(1)
			}
		}
		close(a.done)
	} else {
		s.mu.Unlock()
		select {
		case <-a.done:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
	return a.b, a.err
}

// fullTile fetches the full tile at level and index n and checks it
// against its hash in the tile above.
//
// c2sp.org/tlog-tiles: at level 1 and above, each hash in a tile is the
// Merkle Tree Hash of a full tile at the level below.
func (s *syncer) fullTile(ctx context.Context, level uint8, n uint64) ([]byte, error) {
	t := tile.Tile{Level: level, N: n, Width: tile.FullWidth}
	b, err := s.f.tile(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("couldn't fetch %s: %w", t, err)
	}
	if len(b) != tile.FullWidth*tile.HashSize {
		return nil, s.verifyError(t.String(), -1, "%d bytes, want %d hashes", len(b), tile.FullWidth)
	}
	parent, err := s.tile(ctx, level+1, n/tile.FullWidth)
	if err != nil {
		return nil, err
	}
	pos := int(n % tile.FullWidth)
	root := tile.SubtreeRoot(b)
	if want := parent[pos*tile.HashSize : (pos+1)*tile.HashSize]; !bytes.Equal(root[:], want) {
		pt := tile.Tile{Level: level + 1, N: n / tile.FullWidth, Width: len(parent) / tile.HashSize}
		return nil, s.verifyError(t.String(), -1, "its hashes hash to %x, but hash %d of %s (checked up to the checkpoint's root) is %x", root, pos, pt, want)
	}
	return b, nil
}

// verifyBundle checks the entries of bundle bt against the level-0 tile
// hashes t and returns them.
func (s *syncer) verifyBundle(bt tile.Tile, b, t []byte, lh *leafHasher) ([][]byte, error) {
	es, err := splitBundle(b, bt.Width)
	if err != nil {
		return nil, s.verifyError(bt.String(), -1, "%v", err)
	}
	base := bt.N * tile.FullWidth
	for i, e := range es {
		h := lh.hash(e)
		if want := t[i*tile.HashSize : (i+1)*tile.HashSize]; !bytes.Equal(h[:], want) {
			lt := tile.Tile{N: bt.N, Width: bt.Width}
			return nil, s.verifyError(bt.String(), int64(base)+int64(i), "entry %d of the bundle hashes to %x, but %s (checked up to the checkpoint's root) has %x", i, h, lt, want)
		}
	}
	return es, nil
}

// download fetches, checks and stores entry bundles start to the last one
// and their level-0 tiles (and the tiles above, as needed to check them),
// Concurrency at a time. Progress is recorded in order, so that a sync that
// stops resumes from the first bundle it hadn't finished.
func (s *syncer) download(ctx context.Context, start uint64) error {
	size := s.cp.Size
	last := (size - 1) / tile.FullWidth
	if start > last {
		return nil
	}
	conc := s.opts.Concurrency
	// After an error no new bundle is started, but those in flight finish,
	// so that the progress recorded for the next sync reaches the one that
	// failed.
	feed, stop := context.WithCancelCause(ctx)
	defer stop(nil)

	type result struct {
		n   uint64
		err error
	}
	jobs := make(chan uint64)
	results := make(chan result, conc)
	// window bounds how far ahead of the first unfinished bundle work may
	// run, and so the memory of finished-but-unrecorded ones.
	window := make(chan struct{}, 4*conc)
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lh := &leafHasher{}
			for n := range jobs {
				results <- result{n, s.item(ctx, n, lh)}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for n := start; n <= last; n++ {
			select {
			case window <- struct{}{}:
			case <-feed.Done():
				return
			}
			select {
			case jobs <- n:
			case <-feed.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()

	s.progress(start)
	done := make(map[uint64]bool)
	next, recorded := start, start
	var firstErr error
	for r := range results {
		if r.err != nil {
			if firstErr == nil {
				firstErr = r.err
				stop(r.err)
			}
			continue
		}
		done[r.n] = true
		moved := false
		for done[next] {
			delete(done, next)
			next++
			<-window
			moved = true
		}
		if !moved {
			continue
		}
		s.evict(next)
		if firstErr != nil {
			continue
		}
		s.progress(next)
		if next-recorded >= flushEvery && next*tile.FullWidth <= size {
			if err := s.record(next); err != nil {
				firstErr = err
				stop(err)
				continue
			}
			recorded = next
		}
	}
	if firstErr != nil {
		// Keep what was verified, for the next sync to resume from.
		if wm := min(next, size/tile.FullWidth); wm > recorded {
			if err := s.record(wm); err != nil {
				s.log.WarnContext(ctx, "couldn't record sync progress", "err", err)
			}
		}
		return firstErr
	}
	return nil
}

// record makes the bundles below bundle n durable, then says so.
func (s *syncer) record(n uint64) error {
	if err := s.st.flush(); err != nil {
		return err
	}
	return s.st.writePending(s.cp, n*tile.FullWidth)
}

// evict forgets the tiles above level 0 whose level-0 tiles are all
// checked, next being the first that isn't.
func (s *syncer) evict(next uint64) {
	if next%tile.FullWidth != 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for t, a := range s.upper {
		shift := uint(t.Level) * tile.Height
		if shift < 64 && (t.N+1) <= next>>shift {
			select {
			case <-a.done:
				delete(s.upper, t)
			default:
			}
		}
	}
}

func (s *syncer) progress(next uint64) {
	if s.opts.Progress == nil {
		return
	}
	var start uint64
	if s.old != nil {
		start = s.old.Size
	}
	s.opts.Progress(Progress{
		Size:      s.cp.Size,
		Start:     start,
		Verified:  max(start, min(next*tile.FullWidth, s.cp.Size)),
		Envelopes: int(s.envelopes.Load()),
		Bytes:     s.f.bytes.Load(),
	})
}

// item fetches, checks and stores entry bundle n and its level-0 tile.
func (s *syncer) item(ctx context.Context, n uint64, lh *leafHasher) error {
	w := tile.WidthAt(s.cp.Size, 0, n)
	t, err := s.tile(ctx, 0, n)
	if err != nil {
		return err
	}
	bt := tile.Tile{Entries: true, N: n, Width: w}
	b, err := s.f.tile(ctx, bt)
	if err != nil {
		return fmt.Errorf("couldn't fetch %s: %w", bt, err)
	}
	es, err := s.verifyBundle(bt, b, t, lh)
	if err != nil {
		return err
	}
	if s.opts.Envelopes {
		for i, e := range es {
			if err := s.envelope(ctx, n*tile.FullWidth+uint64(i), e); err != nil {
				return err
			}
		}
	}
	if err := s.st.write(tile.Tile{N: n, Width: w}.String(), t, false); err != nil {
		return err
	}
	if err := s.st.write(bt.String(), b, false); err != nil {
		return err
	}
	s.tiles.Add(1)
	s.bundles.Add(1)
	s.entries.Add(uint64(w))
	return nil
}

// envelope mirrors the envelope that the entry at index references.
func (s *syncer) envelope(ctx context.Context, index uint64, entry []byte) error {
	e, err := evidence.ParseEntry(entry)
	if err != nil {
		s.unparsed.Add(1)
		s.log.WarnContext(ctx, "not an Evident entry: no envelope to mirror", "index", index, "err", err)
		return nil
	}
	p := envelopePath(e.EnvelopeDigest)
	if s.st.exists(p) {
		return nil // content-addressed, and checked when stored
	}
	err = s.f.envelope(ctx, e.EnvelopeDigest, e.EnvelopeSize, func(fill func(io.Writer) error) error {
		return s.st.writeFrom(p, false, fill)
	})
	var ve *VerifyError
	switch {
	case ctx.Err() != nil:
		// Canceled: err may wrap the cause, another item's error.
		return context.Cause(ctx)
	case errors.As(err, &ve) && ve.Path == p:
		v := *ve
		v.Index, v.Checkpoint = int64(index), s.cp.signed
		return &v
	case err != nil:
		return fmt.Errorf("couldn't fetch %s for entry %d: %w", p, index, err)
	}
	s.envelopes.Add(1)
	return nil
}

// dropPartials deletes the partial tiles and bundle of the previous
// checkpoint that the new one superseded. Their paths stay servable: the
// mirror serves a partial tile as a prefix of a wider one.
func (s *syncer) dropPartials(oldSize uint64) {
	for _, t := range tile.PartialTiles(oldSize) {
		if tile.WidthAt(s.cp.Size, t.Level, t.N) == t.Width {
			continue
		}
		s.st.remove(t.String())
		if t.Level == 0 {
			s.st.remove(tile.Tile{Entries: true, N: t.N, Width: t.Width}.String())
		}
	}
}
