package ledger

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	"github.com/evident-dev/evident/tile"
	bolt "go.etcd.io/bbolt"
)

// treeSize reads the committed size within tx, so that every read in one
// transaction sees one tree.
func treeSize(tx *bolt.Tx) uint64 {
	k := lastEntry(tx.Bucket(bucketLog))
	if len(k) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(k) + 1
}

// Entry returns the entry at index.
func (l *Ledger) Entry(ctx context.Context, index uint64) ([]byte, error) {
	es, err := l.Entries(ctx, index, 1)
	if err != nil {
		return nil, err
	}
	return es[0], nil
}

// Entries returns count entries starting at start. It fails with ErrNotFound
// if any of them is beyond the tree.
func (l *Ledger) Entries(ctx context.Context, start uint64, count int) ([][]byte, error) {
	if count <= 0 {
		return nil, nil
	}
	var out [][]byte
	err := l.view(ctx, func(tx *bolt.Tx) error {
		var err error
		out, err = l.entriesTx(tx, start, count)
		return err
	})
	return out, err
}

// entriesTx reads count entries from start within tx, copied out of it.
func (l *Ledger) entriesTx(tx *bolt.Tx, start uint64, count int) ([][]byte, error) {
	size := treeSize(tx)
	if start >= size || uint64(count) > size-start {
		return nil, fmt.Errorf("%w: entries [%d, %d) reach beyond the tree size %d", ErrNotFound, start, start+uint64(count), size)
	}
	out := make([][]byte, 0, count)
	err := forEntries(tx.Bucket(bucketLog), start, start+uint64(count), func(_ uint64, e []byte) error {
		out = append(out, append([]byte(nil), e...))
		return nil
	})
	return out, err
}

// Tile returns the hash tile at level and index n, width hashes wide
// (c2sp.org/tlog-tiles). Width tile.FullWidth asks for a full tile. A
// partial width is served from a tile that is at least that wide, as a
// prefix. An error wrapping both ErrNotFound and tile.ErrNotFound means the
// tree does not (yet) have that tile at that width.
func (l *Ledger) Tile(ctx context.Context, level uint8, n uint64, width int) ([]byte, error) {
	if width < 1 || width > tile.FullWidth {
		return nil, fmt.Errorf("tile width %d out of range 1..%d", width, tile.FullWidth)
	}
	var out []byte
	err := l.view(ctx, func(tx *bolt.Tx) error {
		t := readTile(tx.Bucket(bucketTiles), tx.Bucket(bucketLog), level, n)
		if len(t) < width*32 {
			return fmt.Errorf("%w: tile %d/%d with %d hashes: %w", ErrNotFound, level, n, width, tile.ErrNotFound)
		}
		out = append([]byte(nil), t[:width*32]...)
		return nil
	})
	return out, err
}

// EntryBundle returns the entry bundle n, width entries wide
// (c2sp.org/tlog-tiles), with the same width rules and errors as Tile.
func (l *Ledger) EntryBundle(ctx context.Context, n uint64, width int) ([]byte, error) {
	if width < 1 || width > tile.FullWidth {
		return nil, fmt.Errorf("bundle width %d out of range 1..%d", width, tile.FullWidth)
	}
	var out []byte
	err := l.view(ctx, func(tx *bolt.Tx) error {
		size := treeSize(tx)
		if n >= (size+tile.FullWidth-1)/tile.FullWidth || n*tile.FullWidth+uint64(width) > size {
			return fmt.Errorf("%w: entry bundle %d with %d entries: %w", ErrNotFound, n, width, tile.ErrNotFound)
		}
		return forEntries(tx.Bucket(bucketLog), n*tile.FullWidth, n*tile.FullWidth+uint64(width), func(_ uint64, e []byte) error {
			out = binary.BigEndian.AppendUint16(out, uint16(len(e)))
			out = append(out, e...)
			return nil
		})
	})
	return out, err
}

// InclusionProof returns the RFC 6962 inclusion proof of the entry at index
// in the tree of the given size.
func (l *Ledger) InclusionProof(ctx context.Context, index, size uint64) ([][]byte, error) {
	var p [][]byte
	err := l.view(ctx, func(tx *bolt.Tx) error {
		cur := treeSize(tx)
		if size > cur {
			return fmt.Errorf("%w: tree size %d is beyond the current size %d", ErrNotFound, size, cur)
		}
		if index >= size {
			return fmt.Errorf("%w: index %d is not in a tree of size %d", ErrNotFound, index, size)
		}
		var err error
		p, err = l.committedTree(tx, cur).Inclusion(ctx, index, size)
		return err
	})
	return p, err
}

// ConsistencyProof returns the RFC 6962 consistency proof from the tree of
// size1 to the tree of size2.
func (l *Ledger) ConsistencyProof(ctx context.Context, size1, size2 uint64) ([][]byte, error) {
	var p [][]byte
	err := l.view(ctx, func(tx *bolt.Tx) error {
		cur := treeSize(tx)
		if size2 > cur {
			return fmt.Errorf("%w: tree size %d is beyond the current size %d", ErrNotFound, size2, cur)
		}
		if size1 > size2 {
			return fmt.Errorf("%w: no consistency proof from size %d to the smaller size %d", ErrNotFound, size1, size2)
		}
		var err error
		p, err = l.committedTree(tx, cur).Consistency(ctx, size1, size2)
		return err
	})
	return p, err
}

// RootAt returns the root hash of the tree of the given size.
func (l *Ledger) RootAt(ctx context.Context, size uint64) ([]byte, error) {
	var root []byte
	err := l.view(ctx, func(tx *bolt.Tx) error {
		cur := treeSize(tx)
		if size > cur {
			return fmt.Errorf("%w: tree size %d is beyond the current size %d", ErrNotFound, size, cur)
		}
		r, err := l.committedTree(tx, cur).Root(ctx, size)
		root = r[:]
		return err
	})
	return root, err
}

// IndexOfLeaf returns the index of the entry with the given RFC 6962 leaf
// hash.
func (l *Ledger) IndexOfLeaf(ctx context.Context, leafHash [32]byte) (uint64, error) {
	if idx, ok := l.dedup.lookup(true, leafHash); ok {
		return idx, nil
	}
	b := bucketIdentity
	if l.opts.Identity != nil {
		b = bucketLeaves
	}
	return l.lookup(ctx, b, leafHash)
}

// IndexOfIdentity returns the index of the entry with the given identity
// (see Options.Identity).
func (l *Ledger) IndexOfIdentity(ctx context.Context, id [32]byte) (uint64, error) {
	// The map first: a merge moves keys to the bucket before clearing them
	// from the map, so one of the two always has a committed key.
	if idx, ok := l.dedup.lookup(false, id); ok {
		return idx, nil
	}
	return l.lookup(ctx, bucketIdentity, id)
}

func (l *Ledger) lookup(ctx context.Context, bucket []byte, key [32]byte) (uint64, error) {
	var idx uint64
	err := l.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucket).Get(key[:])
		if len(v) != 8 {
			return ErrNotFound
		}
		idx = binary.BigEndian.Uint64(v)
		return nil
	})
	return idx, err
}

// CheckpointAt returns the checkpoint the ledger signed at exactly this tree
// size, if it signed one.
func (l *Ledger) CheckpointAt(ctx context.Context, size uint64) ([]byte, error) {
	var out []byte
	err := l.view(ctx, func(tx *bolt.Tx) error {
		var v []byte
		if size == 0 {
			v = tx.Bucket(bucketMeta).Get(keyCheckpoint0)
		} else if size <= treeSize(tx) {
			v = tx.Bucket(bucketLog).Get(checkpointKey(size))
		}
		if v == nil {
			return fmt.Errorf("%w: no checkpoint signed at size %d", ErrNotFound, size)
		}
		out = append([]byte(nil), v...)
		return nil
	})
	return out, err
}

// Blob returns the blob stored with the entry at index by AppendWithBlobs.
func (l *Ledger) Blob(ctx context.Context, index uint64) ([]byte, error) {
	var out []byte
	err := l.view(ctx, func(tx *bolt.Tx) error {
		v := getBlob(tx.Bucket(bucketLog), blobKey(index))
		if v == nil {
			return fmt.Errorf("%w: no blob with entry %d", ErrNotFound, index)
		}
		out = append([]byte(nil), v...)
		return nil
	})
	return out, err
}

// BlobCount returns how many blobs are stored. It walks the bucket: for
// checks and tests, not hot paths.
func (l *Ledger) BlobCount(ctx context.Context) (int, error) {
	var n int
	err := l.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketLog).Cursor()
		for k, _ := c.First(); k != nil && !bytes.HasPrefix(k, statePrefix); k, _ = c.Next() {
			if filedAfter(k) == 'b' {
				n++
			}
		}
		return nil
	})
	return n, err
}
