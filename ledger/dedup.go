package ledger

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Deduplication keys are hashes, and secondary-index keys (purls, digests)
// are scattered too, so inserting them one batch at a time into B+trees
// dirties a random page per key: that, not the entries, was most of the cost
// of an append. Instead the identities, leaf hashes and index keys of the
// newest entries, those at or above the merge watermark, live in bounded
// in-memory maps, and are merged into their buckets in one sorted pass once
// there are Options.DedupMergeSize such entries (see merge for how the pass
// is spread over many transactions). This is a log-structured merge whose
// write-ahead log is the log itself: the maps are not a source of truth, Open
// rebuilds them from the entries above the watermark (running Identity and
// Index again), and the watermark moves in the transaction that puts a
// merge's last keys. So after a crash at any moment the indexes and the log
// cannot disagree, and nothing is lost.

// recent maps identities (and, with a custom identity, leaf hashes) of
// entries above the merge watermark to their indices.
type recent struct {
	ident map[[32]byte]uint64
	leaf  map[[32]byte]uint64 // nil when identity is the leaf hash
	// index maps an index's name to its keys and their entries.
	index map[string]*postings
}

func newRecent(leaves bool) recent {
	r := recent{ident: make(map[[32]byte]uint64), index: make(map[string]*postings)}
	if leaves {
		r.leaf = make(map[[32]byte]uint64)
	}
	return r
}

func (r recent) addKeys(keys []IndexKey, idx uint64) {
	for _, k := range keys {
		p := r.index[k.Name]
		if p == nil {
			p = newPostings()
			r.index[k.Name] = p
		}
		p.add(k.Key, idx)
	}
}

// dedup is the in-memory part of the deduplication index: the newest
// entries' keys (recent), and while a merge runs, the older ones it is moving
// to the buckets (frozen). Only the sequencer writes it, holding mu; readers
// hold mu for reading.
type dedup struct {
	mu sync.RWMutex
	recent
	// frozen holds the keys of the entries [merged, merging.upTo) while a
	// merge moves them to the buckets; nil when no merge runs. It is not
	// changed once frozen, and is cleared only after the merge's last step
	// has committed, so every key is always either here or on disk.
	frozen *recent
	merged uint64 // the watermark: entries below it are in the buckets
}

// batchKeys are the keys of the entries a batch appends, kept apart until
// its transaction commits.
type batchKeys struct {
	ident map[[32]byte]uint64 // also finds duplicates within the batch
	leaf  map[[32]byte]uint64 // nil when identity is the leaf hash
	keys  []indexedKeys
}

type indexedKeys struct {
	keys []IndexKey
	idx  uint64
}

func newBatchKeys(leaves bool) *batchKeys {
	b := &batchKeys{ident: make(map[[32]byte]uint64)}
	if leaves {
		b.leaf = make(map[[32]byte]uint64)
	}
	return b
}

func (d *dedup) add(b *batchKeys) {
	if len(b.ident) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, v := range b.ident {
		d.ident[k] = v
	}
	for k, v := range b.leaf {
		d.leaf[k] = v
	}
	for _, k := range b.keys {
		d.addKeys(k.keys, k.idx)
	}
}

// scanRecent returns the in-memory indices under key in index name that are
// below before, newest first, and the watermark they are all at or above.
func (d *dedup) scanRecent(name string, key []byte, before uint64) ([]uint64, uint64) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []uint64
	// recent's indices are all above frozen's.
	for _, r := range []*recent{&d.recent, d.frozen} {
		if r == nil {
			continue
		}
		if p := r.index[name]; p != nil {
			p.newestFirst(key, func(idx uint64) bool {
				if idx < before {
					out = append(out, idx)
				}
				return true
			})
		}
	}
	return out, d.merged
}

func (d *dedup) lookup(leaf bool, key [32]byte) (uint64, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.find(leaf, key)
}

// find is lookup for the sequencer, which needs no lock to read what only it
// writes.
func (d *dedup) find(leaf bool, key [32]byte) (uint64, bool) {
	for _, r := range []*recent{&d.recent, d.frozen} {
		if r == nil {
			continue
		}
		m := r.ident
		if leaf && r.leaf != nil {
			m = r.leaf
		}
		if idx, ok := m[key]; ok {
			return idx, true
		}
	}
	return 0, false
}

// A merge moves the frozen keys into their buckets in key order, a share of
// them in each batch's transaction (a step) in proportion to the entries the
// batch appends, so that the merge is done before the next one is due. One
// sorted pass touches each leaf of a bucket about once however many
// steps it takes, as the single transaction this replaced did, but no batch
// waits for more than its share: that transaction held the sequencer for
// 0.8 s at 100,000 entries, and for longer as the index grew. When no batch
// has come for a while the sequencer runs steps on its own. Until the last
// step the keys stay in memory too, and the watermark moves in the last
// step's transaction; a crash part way leaves keys of entries at or above
// the watermark in the buckets, which are correct, and which the next merge
// writes again unchanged.
type merge struct {
	upTo uint64     // the frozen keys are those of entries [merged, upTo)
	runs []mergeRun // runs[:sorted] are sorted and no longer change
	// sorted counts the runs ready, and total the keys in all of them (set
	// before the first run is ready).
	sorted atomic.Int32
	// dropped tells the sort to stop: the merge was abandoned (loadState).
	dropped atomic.Bool
	total   int
	run     int // the next key to put: runs[run].key(pos)
	pos     int
}

// mergeRun is the sorted keys (and values) a merge puts into one bucket.
// They are kept in a few flat arrays, not a slice each: a merge has hundreds
// of thousands of keys, and as many pointers made the collector's every
// cycle slower while they lived.
type mergeRun struct {
	bucket []byte
	keys   []byte // the keys, concatenated
	ends   []int  // key i is keys[ends[i-1]:ends[i]]
	vals   []byte // 8 bytes per key; nil when every value is empty
}

func (r *mergeRun) len() int { return len(r.ends) }

func (r *mergeRun) key(i int) []byte {
	start := 0
	if i > 0 {
		start = r.ends[i-1]
	}
	return r.keys[start:r.ends[i]:r.ends[i]]
}

func (r *mergeRun) val(i int) []byte {
	if r.vals == nil {
		return nil
	}
	return r.vals[8*i : 8*i+8 : 8*i+8]
}

// idleStepTime is how long a merge step the sequencer runs on its own puts
// keys before it commits, and mergeIdleDelay how long after the last batch
// it starts such steps.
const (
	idleStepTime   = 4 * time.Millisecond
	mergeIdleDelay = 50 * time.Millisecond
)

// maybeMerge starts a merge once there are Options.DedupMergeSize entries in
// memory. It runs on the sequencer after each commit.
func (l *Ledger) maybeMerge() {
	if l.merging != nil || len(l.dedup.ident) < l.opts.DedupMergeSize {
		return
	}
	m := &merge{upTo: l.seqState.size}
	l.dedup.mu.Lock()
	frozen := l.dedup.recent
	l.dedup.frozen = &frozen
	l.dedup.recent = newRecent(l.opts.Identity != nil)
	l.dedup.mu.Unlock()
	names := slices.Sorted(maps.Keys(frozen.index))
	m.runs = append(m.runs, mergeRun{bucket: bucketIdentity})
	if frozen.leaf != nil {
		m.runs = append(m.runs, mergeRun{bucket: bucketLeaves})
	}
	for _, name := range names {
		m.runs = append(m.runs, mergeRun{bucket: []byte(indexPrefix + name)})
	}
	l.merging = m
	// Sorting a merge's keys takes a few hundred milliseconds of CPU, far
	// longer than a batch: sort them off the sequencer, one run at a time,
	// so that the batches' steps can start on the first run, and paced
	// (pacer), so that the sort never holds a core for long. A sort that
	// held one for 100 ms at a stretch left a loaded node's requests one
	// core for all their work meanwhile, and their p99 latency trebled.
	// frozen no longer changes.
	l.bg.Go(func() {
		p := newPacer(func() bool { return m.dropped.Load() }, l.closing)
		defer p.timer.Stop()
		total := len(frozen.ident) + len(frozen.leaf)
		for _, name := range names {
			total += frozen.index[name].len()
		}
		m.total = total
		for i := range m.runs {
			var ok bool
			switch {
			case i == 0:
				ok = m.runs[i].sortIdentities(frozen.ident, p)
			case frozen.leaf != nil && i == 1:
				ok = m.runs[i].sortIdentities(frozen.leaf, p)
			default:
				ok = m.runs[i].sortIndex(frozen.index[names[i-len(m.runs)+len(names)]], p)
			}
			if !ok {
				return // dropped, or the ledger is closing
			}
			m.sorted.Store(int32(i + 1))
			select {
			case l.sortedRun <- struct{}{}:
			default:
			}
		}
	})
}

// pacer keeps a long background job, such as a merge's sort, to a third of
// a core, in slices short enough that no request waits behind one for
// long: the job calls rest often, and after each millisecond of work rest
// sleeps for twice as long.
type pacer struct {
	work    time.Time // when the current slice of work began
	timer   *time.Timer
	stopped func() bool
	closing <-chan struct{}
}

// Every paceEvery items a paced loop calls rest; paceSlice is the work
// between rests, and paceMaxRest the longest rest.
const (
	paceEvery   = 1024
	paceSlice   = time.Millisecond
	paceMaxRest = 10 * time.Millisecond
)

func newPacer(stopped func() bool, closing <-chan struct{}) *pacer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &pacer{work: time.Now(), timer: t, stopped: stopped, closing: closing}
}

// rest sleeps if the job has worked for paceSlice since it last did. It
// reports false when the job is to stop. A nil pacer never rests.
func (p *pacer) rest() bool {
	if p == nil {
		return true // unpaced
	}
	if p.stopped() {
		return false
	}
	// Wall time, not CPU time: a job descheduled meanwhile rests longer,
	// but no more than paceMaxRest, so that on a node short of CPU the job
	// still ends.
	worked := time.Since(p.work)
	if worked < paceSlice {
		return true
	}
	p.timer.Reset(min(2*worked, paceMaxRest))
	select {
	case <-p.timer.C:
	case <-p.closing:
		return false
	}
	p.work = time.Now()
	return true
}

// pacedSort sorts s by cmp as slices.SortStableFunc would, resting with p
// every paceEvery items: runs of paceEvery items are sorted, then merged
// pairwise. It reports false, leaving s's contents undefined, if p says
// stop.
func pacedSort[T any](s []T, cmp func(a, b T) int, p *pacer) bool {
	for lo := 0; lo < len(s); lo += paceEvery {
		slices.SortStableFunc(s[lo:min(lo+paceEvery, len(s))], cmp)
		if !p.rest() {
			return false
		}
	}
	if len(s) <= paceEvery {
		return true
	}
	src, dst := s, make([]T, len(s))
	for width := paceEvery; width < len(s); width *= 2 {
		for lo := 0; lo < len(s); lo += 2 * width {
			mid, hi := min(lo+width, len(s)), min(lo+2*width, len(s))
			i, j, k := lo, mid, lo
			for ; i < mid && j < hi; k++ {
				if cmp(src[j], src[i]) < 0 {
					dst[k] = src[j]
					j++
				} else {
					dst[k] = src[i]
					i++
				}
				if k%paceEvery == 0 && !p.rest() {
					return false
				}
			}
			k += copy(dst[k:], src[i:mid])
			copy(dst[k:], src[j:hi])
		}
		src, dst = dst, src
	}
	copy(s, src) // after an odd number of passes the result is in the copy
	return true
}

// mergeStep puts the merge's next keys within tx: its share for a batch
// that appended added entries (perhaps none: a batch of duplicates), or when
// the sequencer is idle, as many as it puts in idleStepTime. It reports
// whether the merge is done; the caller must then call mergeDone once tx has
// committed, or undo if tx fails. A merge whose keys are still being sorted
// takes no step.
func (l *Ledger) mergeStep(tx *bolt.Tx, added int, idle bool) (undo func(), done bool, err error) {
	m := l.merging
	if m == nil {
		return nil, false, nil
	}
	sorted := int(m.sorted.Load())
	if m.run >= sorted {
		return nil, false, nil
	}
	run, pos := m.run, m.pos
	undo = func() { m.run, m.pos = run, pos }
	// One and a half times the keys the batch's entries will bring to the
	// next merge (and a few more, for small batches), so that this one is
	// done when the next is two thirds due; four times that when the next
	// is already due.
	quota := 64 + int(3*int64(added)*int64(m.total)/(2*max(1, int64(m.upTo-l.seqState.merged))))
	if len(l.dedup.ident) >= l.opts.DedupMergeSize {
		quota *= 4
	}
	if l.stepKeys > 0 {
		quota = l.stepKeys
	}
	var deadline time.Time
	if idle && l.stepKeys == 0 {
		deadline, quota = time.Now().Add(idleStepTime), m.total
	}
	for put := 0; m.run < len(m.runs); m.run, m.pos = m.run+1, 0 {
		if m.run >= sorted {
			return undo, false, nil // the next run is still being sorted
		}
		r := &m.runs[m.run]
		b, err := tx.CreateBucketIfNotExists(r.bucket)
		if err != nil {
			return undo, false, err
		}
		for m.pos < r.len() {
			if put == quota || (put%64 == 63 && !deadline.IsZero() && time.Now().After(deadline)) {
				return undo, false, nil
			}
			if err := b.Put(r.key(m.pos), r.val(m.pos)); err != nil {
				return undo, false, err
			}
			m.pos++
			put++
		}
	}
	return undo, true, tx.Bucket(bucketMeta).Put(keyMerged, u64(m.upTo))
}

// mergeDone ends the merge whose last step has committed: its keys leave
// memory and the watermark moves.
func (l *Ledger) mergeDone(st *seqState) {
	m := l.merging
	l.dedup.mu.Lock()
	l.dedup.frozen = nil
	l.dedup.merged = m.upTo
	l.dedup.mu.Unlock()
	st.merged = m.upTo
	l.merging = nil
}

// idleMerge runs a merge step in a transaction of its own, and reports
// whether it could.
func (l *Ledger) idleMerge() bool {
	var undo func()
	var done bool
	err := l.db.Update(func(tx *bolt.Tx) error {
		var err error
		undo, done, err = l.mergeStep(tx, 0, true)
		return err
	})
	if err != nil {
		// Nothing is lost: memory still answers, and the next step tries
		// again from where this one began.
		if undo != nil {
			undo()
		}
		l.log.Error("couldn't merge the deduplication index", "err", err)
		return false
	}
	if done {
		l.mergeDone(l.seqState)
	}
	return true
}

// mergeReady reports whether the merge under way has keys ready to put.
func (l *Ledger) mergeReady() bool {
	m := l.merging
	return m != nil && int(m.sorted.Load()) > m.run
}

// sortIdentities fills r with ids' keys, sorted, and their indices, paced
// by p. It reports false if p says stop.
func (r *mergeRun) sortIdentities(ids map[[32]byte]uint64, p *pacer) bool {
	type item struct {
		id  [32]byte
		idx uint64
	}
	items := make([]item, 0, len(ids))
	for id, idx := range ids {
		items = append(items, item{id, idx})
		if len(items)%paceEvery == 0 && !p.rest() {
			return false
		}
	}
	// The keys are hashes: their first 8 bytes almost always decide.
	ok := pacedSort(items, func(a, b item) int {
		if c := cmp.Compare(binary.BigEndian.Uint64(a.id[:8]), binary.BigEndian.Uint64(b.id[:8])); c != 0 {
			return c
		}
		return bytes.Compare(a.id[8:], b.id[8:])
	}, p)
	if !ok {
		return false
	}
	r.keys = make([]byte, 0, 32*len(items))
	r.ends = make([]int, len(items))
	r.vals = make([]byte, 0, 8*len(items))
	for i, it := range items {
		r.keys = append(r.keys, it.id[:]...)
		r.ends[i] = len(r.keys)
		r.vals = binary.BigEndian.AppendUint64(r.vals, it.idx)
		if i%paceEvery == 0 && !p.rest() {
			return false
		}
	}
	return true
}

// sortIndex fills r with the composite keys (indexKey) of p, sorted, paced
// by pc. It reports false if pc says stop.
func (r *mergeRun) sortIndex(p *postings, pc *pacer) bool {
	// A composite key is the key's prefix then the index, and no prefix is
	// a prefix of another: so sorting the distinct prefixes and taking each
	// one's indices in order sorts the composite keys.
	// A group is a prefix, arena[start:end], and its key's record: no
	// pointers, so that the collector need not trace a merge's worth.
	type group struct{ start, end, rec uint32 }
	groups := make([]group, 0, len(p.keys))
	size, prefixes := 0, 0
	for _, k := range p.keys {
		prefixes += binary.MaxVarintLen64 + int(k.len)
		size += (int(k.len) + binary.MaxVarintLen64 + 8) * int(k.count)
	}
	if prefixes > math.MaxUint32 {
		// Four gigabytes of keys in memory: DedupMergeSize far too large.
		panic("ledger: a merge's index keys exceed 4 GiB")
	}
	arena := make([]byte, 0, prefixes)
	for i := range p.keys {
		key := p.key(uint32(i + 1))
		start := len(arena)
		arena = append(binary.AppendUvarint(arena, uint64(len(key))), key...)
		groups = append(groups, group{uint32(start), uint32(len(arena)), uint32(i + 1)})
		if len(groups)%paceEvery == 0 && !pc.rest() {
			return false
		}
	}
	if !pacedSort(groups, func(a, b group) int { return bytes.Compare(arena[a.start:a.end], arena[b.start:b.end]) }, pc) {
		return false
	}
	r.keys = make([]byte, 0, size)
	r.ends = make([]int, 0, p.len())
	var idxs []uint64
	for _, g := range groups {
		idxs = idxs[:0]
		for i := p.keys[g.rec-1].newest; i != 0; i = p.posts[i-1].prev {
			idxs = append(idxs, p.posts[i-1].idx)
		}
		for _, idx := range slices.Backward(idxs) {
			r.keys = binary.BigEndian.AppendUint64(append(r.keys, arena[g.start:g.end]...), idx)
			r.ends = append(r.ends, len(r.keys))
			if len(r.ends)%paceEvery == 0 && !pc.rest() {
				return false
			}
		}
	}
	return true
}

// loadRecent rebuilds the in-memory identities from the entries in
// [merged, size).
func (l *Ledger) loadRecent(tx *bolt.Tx, merged, size uint64) (recent, error) {
	r := newRecent(l.opts.Identity != nil)
	err := forEntries(tx.Bucket(bucketLog), merged, size, func(i uint64, e []byte) error {
		leaf := leafHash(e)
		if l.opts.Identity != nil {
			r.ident[l.opts.Identity(e)] = i
			r.leaf[leaf] = i
		} else {
			r.ident[leaf] = i
		}
		if l.opts.Index != nil {
			keys, err := l.opts.Index(e)
			if err != nil {
				return fmt.Errorf("%w: index function refuses logged entry %d: %v", errCorrupt, i, err)
			}
			r.addKeys(keys, i)
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	return r, nil
}

func readU64(b *bolt.Bucket, key []byte) (uint64, error) {
	v := b.Get(key)
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: %s is %d bytes", errCorrupt, key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}
