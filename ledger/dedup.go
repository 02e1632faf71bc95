package ledger

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// Deduplication keys are hashes, so inserting them one batch at a time into
// a B+tree dirties one random page per key: that, not the entries, was most
// of the cost of an append. Instead the identities (and leaf hashes) of the
// newest entries, those at or above the merge watermark, live in a bounded
// in-memory map, and are merged into the identity and leaves buckets in one
// sorted pass once there are Options.DedupMergeSize of them. The map is not
// a source of truth: Open rebuilds it from the entries above the watermark,
// which is stored in the same transaction as each merge, so a crash at any
// moment loses nothing.

// recent maps identities (and, with a custom identity, leaf hashes) of
// entries above the merge watermark to their indices.
type recent struct {
	ident map[[32]byte]uint64
	leaf  map[[32]byte]uint64 // nil when identity is the leaf hash
}

func newRecent(leaves bool) recent {
	r := recent{ident: make(map[[32]byte]uint64)}
	if leaves {
		r.leaf = make(map[[32]byte]uint64)
	}
	return r
}

// dedup is the in-memory part of the deduplication index. Only the
// sequencer writes it, holding mu; readers hold mu for reading.
type dedup struct {
	mu sync.RWMutex
	recent
}

func (d *dedup) add(r recent) {
	if len(r.ident) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, v := range r.ident {
		d.ident[k] = v
	}
	for k, v := range r.leaf {
		d.leaf[k] = v
	}
}

func (d *dedup) lookup(leaf bool, key [32]byte) (uint64, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	m := d.ident
	if leaf && d.leaf != nil {
		m = d.leaf
	}
	idx, ok := m[key]
	return idx, ok
}

// maybeMerge merges the in-memory identities into the buckets once there
// are enough of them. It runs on the sequencer, between batches.
func (l *Ledger) maybeMerge() {
	if len(l.dedup.ident) < l.opts.DedupMergeSize {
		return
	}
	size := l.seqState.size
	err := l.db.Update(func(tx *bolt.Tx) error {
		for _, m := range []struct {
			bucket []byte
			keys   map[[32]byte]uint64
		}{{bucketIdentity, l.dedup.ident}, {bucketLeaves, l.dedup.leaf}} {
			if len(m.keys) == 0 {
				continue
			}
			keys := make([][32]byte, 0, len(m.keys))
			for k := range m.keys {
				keys = append(keys, k)
			}
			slices.SortFunc(keys, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
			b := tx.Bucket(m.bucket)
			for _, k := range keys {
				if err := b.Put(k[:], u64(m.keys[k])); err != nil {
					return err
				}
			}
		}
		return tx.Bucket(bucketMeta).Put(keyMerged, u64(size))
	})
	if err != nil {
		// Nothing is lost: the map still answers, and the next batch
		// tries again.
		l.log.Error("couldn't merge the deduplication index", "entries", len(l.dedup.ident), "err", err)
		return
	}
	l.dedup.mu.Lock()
	l.dedup.recent = newRecent(l.opts.Identity != nil)
	l.dedup.mu.Unlock()
	l.seqState.merged = size
}

// loadRecent rebuilds the in-memory identities from the entries in
// [merged, size).
func (l *Ledger) loadRecent(tx *bolt.Tx, merged, size uint64) (recent, error) {
	r := newRecent(l.opts.Identity != nil)
	bundles, tail := tx.Bucket(bucketBundles), tx.Bucket(bucketTail)
	full := size / TileWidth
	var es [][]byte
	for i := merged; i < size; i++ {
		var e []byte
		if n := i / TileWidth; n < full {
			if es == nil || i%TileWidth == 0 {
				var err error
				if es, err = splitBundle(bundles.Get(u64(n))); err != nil || len(es) != TileWidth {
					return r, fmt.Errorf("%w: bundle %d", errCorrupt, n)
				}
			}
			e = es[i%TileWidth]
		} else if e = tail.Get(u64(i)); e == nil {
			return r, fmt.Errorf("%w: entry %d missing", errCorrupt, i)
		}
		var leaf [32]byte
		copy(leaf[:], hasher.HashLeaf(e))
		if l.opts.Identity != nil {
			r.ident[l.opts.Identity(e)] = i
			r.leaf[leaf] = i
		} else {
			r.ident[leaf] = i
		}
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
