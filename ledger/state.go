package ledger

import (
	"context"
	"fmt"

	"github.com/evident-dev/evident/checkpoint"
	"github.com/evident-dev/evident/tile"
	bolt "go.etcd.io/bbolt"
)

// loadState reads the right edge of the tree from the file: O(log n) tile
// reads and at most one partial bundle, never the whole tree. It checks that
// the latest signed checkpoint matches the stored tree, and signs a checkpoint
// of the empty tree for a new log.
func (l *Ledger) loadState(ctx context.Context) (*seqState, error) {
	st := &seqState{}
	err := l.view(ctx, func(tx *bolt.Tx) error {
		meta, logB := tx.Bucket(bucketMeta), tx.Bucket(bucketLog)
		st.size = treeSize(tx)
		merged, err := readU64(meta, keyMerged)
		if err != nil {
			return err
		}
		if merged > st.size {
			return fmt.Errorf("%w: merge watermark %d beyond size %d", errCorrupt, merged, st.size)
		}
		st.merged = merged
		rec, err := l.loadRecent(tx, merged, st.size)
		if err != nil {
			return err
		}
		l.dedup.mu.Lock()
		l.dedup.recent = rec
		l.dedup.frozen = nil
		l.dedup.merged = merged
		l.dedup.mu.Unlock()
		// A merge under way starts again: its keys are in rec.
		if l.merging != nil {
			l.merging.dropped.Store(true)
			l.merging = nil
		}
		tree := treeIn(tx, st.size)
		edge, err := tree.Edge(ctx)
		if err != nil {
			return fmt.Errorf("couldn't read the tree's right edge: %w", err)
		}
		tiles := tx.Bucket(bucketTiles)
		for tl := range edge.Tiles {
			n := (st.size>>(uint(tl)*tile.Height) - 1) / tile.FullWidth
			if readTile(tiles, logB, tl, n+1) != nil {
				return fmt.Errorf("%w: tile %d/%d lies beyond size %d", errCorrupt, tl, n+1, st.size)
			}
		}
		if st.root, err = edge.Root(); err != nil {
			return err
		}
		st.edge = edge
		signed := latestCheckpoint(logB, meta)
		if signed == nil {
			return nil
		}
		c, err := checkpoint.Peek(signed)
		if err != nil {
			return fmt.Errorf("%w: latest checkpoint: %v", errCorrupt, err)
		}
		if c.Origin != l.origin {
			return fmt.Errorf("ledger holds the log %q but the signer is %q: use the key this log was created with", c.Origin, l.origin)
		}
		if c.Size > st.size {
			return fmt.Errorf("%w: checkpoint size %d is beyond the tree size %d", errCorrupt, c.Size, st.size)
		}
		root, err := tree.Root(ctx, c.Size)
		if err != nil {
			return err
		}
		if root != c.Hash {
			return fmt.Errorf("%w: the tree's root at size %d does not match the latest signed checkpoint", errCorrupt, c.Size)
		}
		st.cpSize, st.cpRoot = c.Size, root[:]
		st.cpNote = append([]byte(nil), signed...)
		st.cpTime = l.opts.now()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("couldn't load ledger: %w", err)
	}
	if st.cpNote == nil {
		if err := l.db.Update(func(tx *bolt.Tx) error { return l.signCheckpoint(tx, st) }); err != nil {
			return nil, fmt.Errorf("couldn't sign the first checkpoint: %w", err)
		}
	}
	return st, nil
}
