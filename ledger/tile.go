package ledger

import (
	"context"
	"fmt"

	"github.com/evident-dev/evident/tile"
	bolt "go.etcd.io/bbolt"
)

// txTiles is a tile.Reader of the hash tiles stored in one transaction: the
// full ones in the tiles bucket, the partial one of each level in the log's
// state. The tiles it returns are valid only within the transaction.
type txTiles struct {
	tiles, log *bolt.Bucket
}

// ReadTile returns the stored tile, which must be exactly as wide as the
// tree says: the tree a transaction reads is the one it holds.
func (r txTiles) ReadTile(_ context.Context, level uint8, n uint64, width int) ([]byte, error) {
	t := readTile(r.tiles, r.log, level, n)
	if len(t) != width*tile.HashSize {
		return nil, fmt.Errorf("%w: tile %d/%d has %d hashes, the tree has %d there", errCorrupt, level, n, len(t)/tile.HashSize, width)
	}
	return t, nil
}

// treeIn returns the tree of size leaves whose tiles tx holds: size is the
// tree size tx holds (treeSize(tx), or in a write transaction the size it
// writes).
func treeIn(tx *bolt.Tx, size uint64) *tile.Tree {
	return tile.NewTree(size, txTiles{tiles: tx.Bucket(bucketTiles), log: tx.Bucket(bucketLog)})
}

// committedTree returns the tree a read transaction holds, size leaves,
// taking the interiors of its full tiles from the ledger's cache: they are
// all committed.
func (l *Ledger) committedTree(tx *bolt.Tx, size uint64) *tile.Tree {
	return treeIn(tx, size).UseCache(l.tiles, size)
}
