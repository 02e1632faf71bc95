package ledger

import (
	"hash/maphash"
	"math"
)

// postings is one secondary index's keys of the entries in memory (see
// recent), each with the indices of the entries that have it. It holds no
// pointers but a few chunks': a map from strings to slices held two small
// objects per key, some 260,000 of them for a merge's worth of entries, and
// the collector traced them all in every cycle, long enough (25 ms of CPU a
// cycle) to show in a busy node's p99 latency.
type postings struct {
	seed  maphash.Seed
	mask  uint64            // applied to hashes: all ones, but in tests of collisions
	heads map[uint64]uint32 // hash of a key -> 1 + its newest keyRec with that hash
	keys  []keyRec          // in order of first appearance
	posts []posting
	// chunks hold the keys' bytes. A key never spans two, so chunks do not
	// move once written, and growing them copies nothing.
	chunks [][]byte
}

type keyRec struct {
	chunk, off, len uint32 // the key is chunks[chunk][off:off+len]
	sameHash        uint32 // 1 + the keyRec before it with the same hash; 0: none
	newest          uint32 // 1 + the key's newest posting
	count           uint32 // postings of the key
}

type posting struct {
	idx  uint64
	prev uint32 // 1 + the key's posting before this one; 0: none
}

// Chunks of key bytes start at postingsFirstChunk bytes and double up to
// postingsChunk; a longer key gets a chunk of its own.
const (
	postingsFirstChunk = 4 << 10
	postingsChunk      = 256 << 10
)

func newPostings() *postings {
	return &postings{seed: maphash.MakeSeed(), mask: math.MaxUint64, heads: make(map[uint64]uint32)}
}

// find returns the keyRec of key (1 + its position in p.keys) and the hash
// of key, or 0 if it has none.
func (p *postings) find(key []byte) (rec uint32, h uint64) {
	h = maphash.Bytes(p.seed, key) & p.mask
	for r := p.heads[h]; r != 0; r = p.keys[r-1].sameHash {
		if string(p.key(r)) == string(key) {
			return r, h
		}
	}
	return 0, h
}

// key returns the bytes of keyRec r (1-based).
func (p *postings) key(r uint32) []byte {
	k := &p.keys[r-1]
	return p.chunks[k.chunk][k.off : k.off+k.len : k.off+k.len]
}

// add records that the entry at idx has key. Indices come in ascending
// order.
func (p *postings) add(key []byte, idx uint64) {
	if len(p.posts) >= math.MaxUint32-1 || len(p.keys) >= math.MaxUint32-1 {
		// Four billion postings in memory: Options.DedupMergeSize is far
		// too large for this to happen with any memory to hold them.
		panic("ledger: more than 2^32 index postings in memory")
	}
	r, h := p.find(key)
	if r == 0 {
		last := len(p.chunks) - 1
		if last < 0 || len(p.chunks[last])+len(key) > cap(p.chunks[last]) {
			size := postingsFirstChunk
			if last >= 0 {
				size = min(2*cap(p.chunks[last]), postingsChunk)
			}
			p.chunks = append(p.chunks, make([]byte, 0, max(size, len(key))))
			last++
		}
		c := p.chunks[last]
		p.keys = append(p.keys, keyRec{chunk: uint32(last), off: uint32(len(c)), len: uint32(len(key)), sameHash: p.heads[h]})
		p.chunks[last] = append(c, key...)
		r = uint32(len(p.keys))
		p.heads[h] = r
	}
	k := &p.keys[r-1]
	if k.newest != 0 && p.posts[k.newest-1].idx == idx {
		return // an index function naming a key twice for one entry
	}
	p.posts = append(p.posts, posting{idx: idx, prev: k.newest})
	k.newest = uint32(len(p.posts))
	k.count++
}

// newestFirst calls fn with the indices that have key, newest first, until
// fn returns false.
func (p *postings) newestFirst(key []byte, fn func(idx uint64) bool) {
	r, _ := p.find(key)
	if r == 0 {
		return
	}
	for i := p.keys[r-1].newest; i != 0; i = p.posts[i-1].prev {
		if !fn(p.posts[i-1].idx) {
			return
		}
	}
}

// len returns the number of postings: the keys a merge puts.
func (p *postings) len() int { return len(p.posts) }
