package ledger

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// Deduplication keys are hashes, and secondary-index keys (purls, digests)
// are scattered too, so inserting them one batch at a time into B+trees
// dirties a random page per key: that, not the entries, was most of the cost
// of an append. Instead the identities, leaf hashes and index keys of the
// newest entries, those at or above the merge watermark, live in bounded
// in-memory maps, and are merged into their buckets in one sorted pass once
// there are Options.DedupMergeSize such entries. This is a log-structured
// merge whose write-ahead log is the log itself: the maps are not a source of
// truth, Open rebuilds them from the entries above the watermark (running
// Identity and Index again), and the watermark is stored in the same
// transaction as each merge. So after a crash at any moment the indexes and
// the log cannot disagree, and nothing is lost.

// recent maps identities (and, with a custom identity, leaf hashes) of
// entries above the merge watermark to their indices.
type recent struct {
	ident map[[32]byte]uint64
	leaf  map[[32]byte]uint64 // nil when identity is the leaf hash
	// index maps index name -> key -> log indices, ascending.
	index map[string]map[string][]uint64
}

func newRecent(leaves bool) recent {
	r := recent{ident: make(map[[32]byte]uint64), index: make(map[string]map[string][]uint64)}
	if leaves {
		r.leaf = make(map[[32]byte]uint64)
	}
	return r
}

func (r recent) addKeys(keys []IndexKey, idx uint64) {
	for _, k := range keys {
		m := r.index[k.Name]
		if m == nil {
			m = make(map[string][]uint64)
			r.index[k.Name] = m
		}
		m[string(k.Key)] = append(m[string(k.Key)], idx)
	}
}

// dedup is the in-memory part of the deduplication index. Only the
// sequencer writes it, holding mu; readers hold mu for reading.
type dedup struct {
	mu sync.RWMutex
	recent
	merged uint64 // the watermark: entries below it are in the buckets
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
	for name, keys := range r.index {
		m := d.index[name]
		if m == nil {
			m = make(map[string][]uint64)
			d.index[name] = m
		}
		for k, idxs := range keys {
			m[k] = append(m[k], idxs...)
		}
	}
}

// scanRecent returns the in-memory indices under key in index name that are
// below before, newest first, and the watermark they are all at or above.
func (d *dedup) scanRecent(name string, key []byte, before uint64) ([]uint64, uint64) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	idxs := d.index[name][string(key)]
	var out []uint64
	for i := len(idxs) - 1; i >= 0; i-- {
		if idxs[i] < before {
			out = append(out, idxs[i])
		}
	}
	return out, d.merged
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
		for name, keys := range l.dedup.index {
			b, err := tx.CreateBucketIfNotExists([]byte(indexPrefix + name))
			if err != nil {
				return err
			}
			var composite [][]byte
			for k, idxs := range keys {
				for _, i := range idxs {
					composite = append(composite, indexKey([]byte(k), i))
				}
			}
			slices.SortFunc(composite, bytes.Compare)
			for _, k := range composite {
				if err := b.Put(k, nil); err != nil {
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
	l.dedup.merged = size
	l.dedup.mu.Unlock()
	l.seqState.merged = size
}

// loadRecent rebuilds the in-memory identities from the entries in
// [merged, size).
func (l *Ledger) loadRecent(tx *bolt.Tx, merged, size uint64) (recent, error) {
	r := newRecent(l.opts.Identity != nil)
	err := forEntries(tx.Bucket(bucketLog), merged, size, func(i uint64, e []byte) error {
		var leaf [32]byte
		copy(leaf[:], hasher.HashLeaf(e))
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
