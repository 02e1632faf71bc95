package ledger

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"

	bolt "go.etcd.io/bbolt"
)

// Scan calls fn with the log index of each entry filed under key in the
// secondary index called name (see Options.Index), newest first, starting
// with the newest index below before (0 means no bound). It stops early when
// fn returns false. fn may run inside a read transaction: keep it short.
func (l *Ledger) Scan(ctx context.Context, name string, key []byte, before uint64, fn func(index uint64) bool) error {
	if before == 0 {
		before = math.MaxUint64
	}
	// The newest entries' keys are in memory, all at or above the merge
	// watermark; older ones are in the bucket, all below it. Reading both
	// against the watermark seen with the memory keeps a concurrent merge
	// from showing an entry twice or not at all.
	mem, merged := l.dedup.scanRecent(name, key, before)
	for _, i := range mem {
		if !fn(i) {
			return nil
		}
	}
	before = min(before, merged)
	if before == 0 {
		return nil
	}
	return l.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(indexPrefix + name))
		if b == nil {
			return nil
		}
		prefix := indexPrefixOf(key)
		c := b.Cursor()
		k, _ := c.Seek(indexKey(key, before))
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		for n := 0; k != nil && len(k) == len(prefix)+8 && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
			if n++; n%256 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if !fn(binary.BigEndian.Uint64(k[len(prefix):])) {
				return nil
			}
		}
		return nil
	})
}
