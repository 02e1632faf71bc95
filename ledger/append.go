package ledger

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/evident-dev/evident/checkpoint"
	"github.com/evident-dev/evident/tile"
	"github.com/transparency-dev/merkle/proof"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"
)

// errCorrupt marks stored state that contradicts itself.
var errCorrupt = errors.New("ledger: corrupt")

// request is one Append call waiting for the sequencer.
type request struct {
	entries [][]byte
	blobs   [][]byte // nil, or one (possibly nil) per entry
	bytes   int64
	leaves  [][32]byte
	idents  [][32]byte // nil when identity is the leaf hash
	keys    [][]IndexKey
	// onDisk holds, per entry, 1 + the index the identity bucket gave its
	// identity (0: not there), as the caller looked it up before queueing,
	// when the merge watermark was checkedAt. The sequencer trusts it only
	// if no merge has moved identities to the bucket since.
	onDisk    []uint64
	checkedAt uint64
	res       []Appended
	err       error
	done      chan struct{}
}

// seqState is the right edge of the tree, owned by the sequencer goroutine.
type seqState struct {
	size   uint64
	edge   tile.Edge // the compact range, and the last tile of each level
	root   [32]byte  // of the tree of size
	cpSize uint64
	cpRoot []byte
	cpNote []byte
	cpTime time.Time
	merged uint64 // identities below this index are in the buckets
}

// Append adds entries to the log and returns, in order, the index of each:
// a new one, or the existing one for an entry whose identity is already
// logged. It returns only once the entries are durable. It returns
// ErrPushback when too many entries are queued, ErrInvalidEntry for an empty
// or oversized entry or one the Index option refused; then nothing is stored.
//
// If ctx ends while the entries are queued, Append returns ctx.Err() and the
// entries may or may not be logged; appending them again is safe, since
// duplicates are returned their first index.
func (l *Ledger) Append(ctx context.Context, entries [][]byte) ([]Appended, error) {
	return l.AppendWithBlobs(ctx, entries, nil)
}

// AppendWithBlobs is Append, and stores blobs[i] (when not nil) with
// entries[i], in the same transaction, if that entry is new: the node keeps
// each envelope with its entry, so an entry is never durable without its
// envelope and a refused or failed append stores neither. Blobs are keyed by
// log index, so a batch writes them sequentially. Read them with Blob.
func (l *Ledger) AppendWithBlobs(ctx context.Context, entries, blobs [][]byte) ([]Appended, error) {
	return l.AppendIndexed(ctx, entries, blobs, nil)
}

// AppendIndexed is AppendWithBlobs for a caller that already has each
// entry's secondary-index keys: keys[i] must be what Options.Index returns
// for entries[i] (it is what Open runs to rebuild the newest keys, and what
// Verify checks the index against), and is used instead of running it again.
// A nil keys runs Options.Index.
func (l *Ledger) AppendIndexed(ctx context.Context, entries, blobs [][]byte, keys [][]IndexKey) ([]Appended, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	if blobs != nil && len(blobs) != len(entries) {
		return nil, fmt.Errorf("%w: %d blobs for %d entries", ErrInvalidEntry, len(blobs), len(entries))
	}
	if keys != nil && (len(keys) != len(entries) || l.opts.Index == nil) {
		return nil, fmt.Errorf("%w: %d index key sets for %d entries (Index option set: %v)", ErrInvalidEntry, len(keys), len(entries), l.opts.Index != nil)
	}
	if len(entries) > l.opts.MaxPending {
		return nil, fmt.Errorf("%w: %d entries in one call, at most %d", ErrInvalidEntry, len(entries), l.opts.MaxPending)
	}
	r := &request{
		entries: entries,
		blobs:   blobs,
		leaves:  make([][32]byte, len(entries)),
		done:    make(chan struct{}),
	}
	for _, b := range blobs {
		r.bytes += int64(len(b))
	}
	if l.opts.Identity != nil {
		r.idents = make([][32]byte, len(entries))
	}
	if l.opts.Index != nil {
		r.keys = make([][]IndexKey, len(entries))
	}
	var err error
	for i, e := range entries {
		if len(e) == 0 || len(e) > MaxEntrySize {
			return nil, fmt.Errorf("%w: entry %d is %d bytes, want 1 to %d", ErrInvalidEntry, i, len(e), MaxEntrySize)
		}
		r.bytes += int64(len(e))
		r.leaves[i] = leafHash(e)
		if l.opts.Identity != nil {
			r.idents[i] = l.opts.Identity(e)
		}
		if l.opts.Index != nil {
			var ks []IndexKey
			if keys != nil {
				ks = keys[i]
			} else if ks, err = l.opts.Index(e); err != nil {
				return nil, fmt.Errorf("%w: entry %d: %w", ErrInvalidEntry, i, err)
			}
			for _, k := range ks {
				// Checked now: a key the buckets cannot hold would
				// fail a merge step, and the batch that took it, long
				// after this entry was logged.
				if k.Name == "" || len(k.Name) > MaxIndexNameSize || len(k.Key) == 0 || len(k.Key) > MaxIndexKeySize {
					return nil, fmt.Errorf("%w: entry %d: index %q key of %d bytes: names are 1 to %d bytes, keys 1 to %d", ErrInvalidEntry, i, k.Name, len(k.Key), MaxIndexNameSize, MaxIndexKeySize)
				}
			}
			r.keys[i] = ks
		}
	}

	l.closeMu.RLock()
	if l.closed {
		l.closeMu.RUnlock()
		return nil, ErrClosed
	}
	// Look the identities up in the on-disk index here, in parallel with
	// other callers, rather than on the single sequencer.
	r.onDisk = make([]uint64, len(entries))
	// The watermark is read before the transaction starts, and a merge
	// stores it before the sequencer publishes it: so the bucket this
	// transaction reads holds every identity below checkedAt.
	l.dedup.mu.RLock()
	r.checkedAt = l.dedup.merged
	l.dedup.mu.RUnlock()
	err = l.db.View(func(tx *bolt.Tx) error {
		identB := tx.Bucket(bucketIdentity)
		for i := range entries {
			id := r.leaves[i]
			if r.idents != nil {
				id = r.idents[i]
			}
			if v := identB.Get(id[:]); len(v) == 8 {
				r.onDisk[i] = 1 + binary.BigEndian.Uint64(v)
			}
		}
		return nil
	})
	if err != nil {
		l.closeMu.RUnlock()
		return nil, fmt.Errorf("couldn't read the deduplication index: %w", err)
	}

	if n := l.pending.Add(int64(len(entries))); n > int64(l.opts.MaxPending) {
		l.pending.Add(-int64(len(entries)))
		l.closeMu.RUnlock()
		l.metrics.pushback()
		return nil, ErrPushback
	}
	if b := l.pendingB.Add(r.bytes); b > l.opts.MaxPendingBytes && b != r.bytes {
		l.pendingB.Add(-r.bytes)
		l.pending.Add(-int64(len(entries)))
		l.closeMu.RUnlock()
		l.metrics.pushback()
		return nil, ErrPushback
	}
	l.q.push(r)
	l.closeMu.RUnlock()

	select {
	case <-r.done:
		return r.res, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// queue holds the requests waiting for the sequencer. It is a slice rather
// than a channel of MaxPending slots, which the garbage collector would scan
// on every cycle.
type queue struct {
	mu   sync.Mutex
	reqs []*request
	wake chan struct{} // capacity 1: "there is something to take"
}

func (q *queue) push(r *request) {
	q.mu.Lock()
	q.reqs = append(q.reqs, r)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.reqs)
}

// take appends to batch queued requests until it holds max entries (or one
// request, if that alone is larger) and returns it with its entry count.
func (q *queue) take(batch []*request, n, max int, maxBytes int64) ([]*request, int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var bytes int64
	for _, r := range batch {
		bytes += r.bytes
	}
	i := 0
	for ; i < len(q.reqs) && (n == 0 || (n+len(q.reqs[i].entries) <= max && bytes+q.reqs[i].bytes <= maxBytes)); i++ {
		batch = append(batch, q.reqs[i])
		n += len(q.reqs[i].entries)
		bytes += q.reqs[i].bytes
	}
	rest := copy(q.reqs, q.reqs[i:])
	clear(q.reqs[rest:])
	q.reqs = q.reqs[:rest]
	if rest > 0 {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
	return batch, n
}

// maxLinger bounds how long a batch waits for the callers the last one
// answered, whatever that commit took.
const maxLinger = 5 * time.Millisecond

// sequence is the single writer: it takes queued requests in batches and
// commits each batch in one transaction.
func (l *Ledger) sequence() {
	defer close(l.done)
	var tick <-chan time.Time
	if l.opts.CheckpointInterval > 0 {
		t := time.NewTicker(l.opts.CheckpointInterval)
		defer t.Stop()
		tick = t.C
	}
	max := l.opts.MaxBatchSize
	var batch []*request
	var lastCommit time.Duration // how long the last batch took to commit
	var answered int             // and how many requests it answered
	// A merge takes steps of its own once no batch has come for
	// mergeIdleDelay: the sequencer's being idle for a moment does not
	// mean the CPUs are (they verify what the next batch brings).
	idle := time.NewTimer(mergeIdleDelay)
	defer idle.Stop()
	for {
		var idleC <-chan time.Time
		if l.mergeReady() {
			idleC = idle.C
		}
		select {
		case <-l.q.wake:
		case <-tick:
			l.checkpointNow()
			continue
		case <-l.sortedRun:
			continue // idleC may be ready now
		case <-idleC:
			if l.q.len() == 0 {
				if l.idleMerge() {
					idle.Reset(0) // and the next step at once while still idle
				} else {
					idle.Reset(time.Second) // logged; try again later
				}
				continue
			}
		case <-l.closing:
			// Commit whatever was queued before Close.
			for {
				var n int
				if batch, n = l.q.take(batch[:0], 0, max, l.opts.MaxBatchBytes); n == 0 {
					break
				}
				l.commit(batch)
			}
			if l.opts.CheckpointInterval > 0 {
				l.checkpointNow()
			}
			return
		}
		var n int
		batch, n = l.q.take(batch[:0], 0, max, l.opts.MaxBatchBytes)
		if n == 0 {
			continue
		}
		wait := l.opts.MaxBatchWait
		if wait == 0 {
			// Callers that the last commit answered often come straight
			// back with more. Without waiting for them the load splits
			// into two halves that take turns, each committing half as
			// much per fsync. So wait for as many callers as the last
			// batch answered, for at most half its commit time: latency
			// grows by at most half when they don't come. (Measured with
			// cmd/ledgerbench: a quarter gave batches of 43 at 64
			// appenders, half gives 59 and 20% more appends per second.)
			wait = min(lastCommit/2, maxLinger)
			if len(batch) >= answered {
				wait = 0
			}
		}
		if wait > 0 && n < max {
			timeout := time.NewTimer(wait)
			// A fixed wait ends early once entries stop coming for a
			// quarter of it, so that a lone append is not held for all of
			// it.
			var quiet <-chan time.Time
			var lull *time.Timer
			if l.opts.MaxBatchWait > 0 {
				lull = time.NewTimer(wait / 4)
				quiet = lull.C
			}
		fill:
			for n < max && (l.opts.MaxBatchWait != 0 || len(batch) < answered) {
				select {
				case <-l.q.wake:
					before := n
					batch, n = l.q.take(batch, n, max, l.opts.MaxBatchBytes)
					if n == before && l.q.len() > 0 {
						break fill // full by bytes: the rest waits for the next batch
					}
					if lull != nil && n > before {
						lull.Reset(wait / 4)
					}
				case <-quiet:
					break fill
				case <-timeout.C:
					break fill
				case <-l.closing:
					break fill
				}
			}
			timeout.Stop()
			if lull != nil {
				lull.Stop()
			}
		}
		lastCommit, answered = l.commit(batch), len(batch)
		idle.Reset(mergeIdleDelay)
		clear(batch)
	}
}

func (l *Ledger) batchLen(batch []*request) int {
	n := 0
	for _, r := range batch {
		n += len(r.entries)
	}
	return n
}

// commit writes one batch in one transaction and answers its requests.
func (l *Ledger) commit(batch []*request) (took time.Duration) {
	start := time.Now()
	n := l.batchLen(batch)
	added, err := l.writeBatch(batch)
	took = time.Since(start)
	if err != nil {
		l.log.Error("couldn't commit batch", "entries", n, "err", err)
		// The transaction rolled back; rebuild the right edge from disk.
		if fresh, lerr := l.loadState(context.Background()); lerr == nil {
			l.seqState = fresh
		} else {
			l.log.Error("couldn't reload ledger state after failed commit", "err", lerr)
		}
		for _, r := range batch {
			r.res, r.err = nil, fmt.Errorf("couldn't commit entries: %w", err)
		}
	}
	l.publish(l.seqState)
	for _, r := range batch {
		l.pending.Add(-int64(len(r.entries)))
		l.pendingB.Add(-r.bytes)
		close(r.done)
	}
	l.metrics.batch(n, added, took)
	if err == nil {
		// After answering: the batch is durable, and its callers need not
		// wait for the merge's transaction too.
		l.maybeMerge()
	}
	return took
}

// writeBatch assigns indices, writes entries, tiles, indexes and (unless on
// an interval) a new checkpoint, all in one transaction. It updates
// l.seqState only when the transaction committed.
func (l *Ledger) writeBatch(batch []*request) (added int, err error) {
	old := l.seqState
	st := &seqState{
		size:   old.size,
		cpSize: old.cpSize, cpRoot: old.cpRoot, cpNote: old.cpNote, cpTime: old.cpTime,
		merged: old.merged,
	}
	var leaves [][32]byte // of the new entries
	fresh := newBatchKeys(l.opts.Identity != nil)
	var mergeUndo func()
	var mergeFinished bool
	err = l.db.Update(func(tx *bolt.Tx) error {
		identB := tx.Bucket(bucketIdentity)
		// Keys are appended in order at the right end of the log (before
		// only the state), so leaves can be filled completely.
		logB := tx.Bucket(bucketLog)
		logB.FillPercent = 1
		for _, r := range batch {
			r.res = make([]Appended, len(r.entries))
			for i, e := range r.entries {
				id := r.leaves[i]
				if r.idents != nil {
					id = r.idents[i]
				}
				if idx, ok := l.dedup.find(false, id); ok {
					r.res[i] = Appended{Index: idx, Duplicate: true}
					continue
				}
				if idx, ok := fresh.ident[id]; ok {
					r.res[i] = Appended{Index: idx, Duplicate: true}
					continue
				}
				if r.checkedAt == st.merged {
					if r.onDisk[i] != 0 {
						r.res[i] = Appended{Index: r.onDisk[i] - 1, Duplicate: true}
						continue
					}
				} else if v := identB.Get(id[:]); v != nil {
					r.res[i] = Appended{Index: binary.BigEndian.Uint64(v), Duplicate: true}
					continue
				}
				idx := st.size
				if idx >= MaxTreeSize {
					return fmt.Errorf("the log is full: it holds %d entries, the most a ledger can", idx)
				}
				r.res[i] = Appended{Index: idx}
				fresh.ident[id] = idx
				if r.idents != nil {
					fresh.leaf[r.leaves[i]] = idx
				}
				if err := logB.Put(u64(idx), e); err != nil {
					return err
				}
				if r.blobs != nil && r.blobs[i] != nil {
					if err := putBlob(logB, blobKey(idx), r.blobs[i]); err != nil {
						return err
					}
				}
				leaves = append(leaves, r.leaves[i])
				st.size++
				added++
				if r.keys != nil {
					fresh.keys = append(fresh.keys, indexedKeys{r.keys[i], idx})
				}
			}
		}
		// The tree: the tiles the new leaves change, computed without I/O,
		// then stored. Integrate appends to old's tiles only beyond the
		// length old sees, so old stays intact if the transaction fails.
		next, err := tile.Integrate(old.edge, leaves)
		if err != nil {
			return fmt.Errorf("%w: %v", errCorrupt, err)
		}
		st.edge, st.root = next.Edge, next.Root
		if err := writeTiles(tx, next.Tiles); err != nil {
			return err
		}
		if l.opts.CheckpointInterval <= 0 {
			if err := l.signCheckpoint(tx, st); err != nil {
				return err
			}
		}
		// The batch's share of the merge under way, in its transaction:
		// no fsync of its own. A batch of duplicates appends nothing, and
		// still takes its step: retried submissions must not hold a merge
		// up.
		mergeUndo, mergeFinished, err = l.mergeStep(tx, added, false)
		return err
	})
	if err != nil {
		if mergeUndo != nil {
			mergeUndo()
		}
		return 0, err
	}
	l.seqState = st
	l.dedup.add(fresh)
	if mergeFinished {
		l.mergeDone(st)
	}
	return added, nil
}

// writeTiles stores the tiles a batch changed, as tile.Integrate lists
// them. Full tiles are written once into tiles; the partial tile at the
// right edge of each level, the only one a batch rewrites, into the log's
// state, which holds none for a level that ends on a full tile.
func writeTiles(tx *bolt.Tx, changed []tile.Hashes) error {
	logB, tilesB := tx.Bucket(bucketLog), tx.Bucket(bucketTiles)
	tilesB.FillPercent = 1
	for i, h := range changed {
		t := h.Tile
		if !t.Partial() {
			if err := tilesB.Put(tileKey(t.Level, t.N), h.Hashes); err != nil {
				return err
			}
		}
		if i+1 < len(changed) && changed[i+1].Tile.Level == t.Level {
			continue // not the last tile of its level
		}
		if !t.Partial() {
			if err := logB.Delete(edgeKey(t.Level)); err != nil {
				return err
			}
			continue
		}
		v := make([]byte, 8, 8+len(h.Hashes))
		binary.BigEndian.PutUint64(v, t.N)
		if err := logB.Put(edgeKey(t.Level), append(v, h.Hashes...)); err != nil {
			return err
		}
	}
	return nil
}

// checkpointNow signs a checkpoint for the current size if it has grown.
func (l *Ledger) checkpointNow() {
	st := l.seqState
	if st.size == st.cpSize && st.cpNote != nil {
		return
	}
	next := *st
	err := l.db.Update(func(tx *bolt.Tx) error { return l.signCheckpoint(tx, &next) })
	if err != nil {
		l.log.Error("couldn't sign checkpoint", "size", st.size, "err", err)
		return
	}
	l.seqState = &next
	l.publish(&next)
}

// signCheckpoint signs a checkpoint of st's tree within tx, after checking
// it is consistent with the last signed one, and records it in st.
func (l *Ledger) signCheckpoint(tx *bolt.Tx, st *seqState) error {
	root := append([]byte(nil), st.root[:]...)
	// c2sp.org/tlog-checkpoint: a log MUST NOT sign a checkpoint which is
	// inconsistent with any checkpoint it previously signed. Prove the new
	// tree from the stored tiles (not from the in-memory range that made
	// root) and check the proof against the last signed root.
	if st.cpNote != nil {
		if st.size < st.cpSize {
			return fmt.Errorf("%w: tree size %d is smaller than the last checkpoint's %d", errCorrupt, st.size, st.cpSize)
		}
		if st.size == st.cpSize {
			if !bytes.Equal(root, st.cpRoot) {
				return fmt.Errorf("%w: root at size %d differs from the signed checkpoint", errCorrupt, st.size)
			}
			return nil
		}
		// Tiles that were full at the last checkpoint are committed and
		// immutable, so their cached interiors are safe to use here. The
		// tiles are read within tx, which no context could cut short.
		tree := treeIn(tx, st.size).UseCache(l.tiles, st.cpSize)
		p, err := tree.Consistency(context.Background(), st.cpSize, st.size)
		if err != nil {
			return err
		}
		if err := proof.VerifyConsistency(hasher, st.cpSize, st.size, p, st.cpRoot, root); err != nil {
			return fmt.Errorf("%w: refusing to sign size %d, inconsistent with signed size %d: %v", errCorrupt, st.size, st.cpSize, err)
		}
	}
	var c checkpoint.Checkpoint
	c.Origin = l.origin
	c.Size = st.size
	copy(c.Hash[:], root)
	signed, err := note.Sign(&note.Note{Text: string(c.Marshal())}, l.opts.Signer)
	if err != nil {
		return fmt.Errorf("couldn't sign checkpoint: %w", err)
	}
	if st.size == 0 {
		if err := tx.Bucket(bucketMeta).Put(keyCheckpoint0, signed); err != nil {
			return err
		}
	} else if err := tx.Bucket(bucketLog).Put(checkpointKey(st.size), signed); err != nil {
		return err
	}
	st.cpSize, st.cpRoot, st.cpNote, st.cpTime = st.size, root, signed, l.opts.now()
	return nil
}
