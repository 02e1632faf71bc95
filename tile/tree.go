package tile

import (
	"context"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
)

// Reader reads the hash tiles of a tree.
type Reader interface {
	// ReadTile returns the hash tile at level and index n, width hashes
	// (width*HashSize bytes): the full tile if width is FullWidth, else
	// the partial one. A Tree asks only for the tiles of its size, at
	// the widths WidthAt gives.
	ReadTile(ctx context.Context, level uint8, n uint64, width int) ([]byte, error)
}

// ReaderFunc adapts a function to a Reader.
type ReaderFunc func(ctx context.Context, level uint8, n uint64, width int) ([]byte, error)

// ReadTile returns f(ctx, level, n, width).
func (f ReaderFunc) ReadTile(ctx context.Context, level uint8, n uint64, width int) ([]byte, error) {
	return f(ctx, level, n, width)
}

// Tree is the RFC 6962 tree of a fixed size, read from its tiles: it gives
// any complete node of it, and the roots of, and proofs between, it and its
// prefixes. A Tree is not safe for concurrent use.
type Tree struct {
	size      uint64
	r         Reader
	cache     *Cache
	committed uint64
	// the last tile read: proofs read neighbouring nodes of one tile
	last      Tile
	lastBytes []byte
}

// NewTree returns the tree of size leaves whose tiles r reads.
func NewTree(size uint64, r Reader) *Tree {
	return &Tree{size: size, r: r}
}

// UseCache makes t take the interior hashes of full tiles from c, computing
// and adding those it lacks, and returns t. Only tiles that are full in the
// tree of size committed (at most t's) are cached: a tree being written may
// have full tiles that are still to be committed, or rolled back.
func (t *Tree) UseCache(c *Cache, committed uint64) *Tree {
	t.cache, t.committed = c, committed
	return t
}

// Size returns the number of leaves of the tree.
func (t *Tree) Size() uint64 { return t.size }

// Node returns the hash of a complete node of the tree.
//
// Every root, range and proof of the tree reads its nodes here.
func (t *Tree) Node(ctx context.Context, id compact.NodeID) ([]byte, error) {
	if id.Level >= 64 {
		return nil, fmt.Errorf("node level %d out of range", id.Level)
	}
	level, n, pos, count := Locate(id)
	w := WidthAt(t.size, level, n)
	if pos+count > w {
		return nil, fmt.Errorf("node %d/%d is not complete in a tree of %d leaves", id.Level, id.Index, t.size)
	}
	tl := Tile{Level: level, N: n, Width: w}
	if t.lastBytes == nil || t.last != tl {
		b, err := t.r.ReadTile(ctx, level, n, w)
		if err != nil {
			return nil, err
		}
		if len(b) != w*HashSize {
			return nil, fmt.Errorf("%s has %d bytes, want %d", PathFor(tl), len(b), w*HashSize)
		}
		t.last, t.lastBytes = tl, b
	}
	if count > 1 && t.cache != nil && w == FullWidth && WidthAt(t.committed, level, n) == FullWidth {
		h := t.cache.node(tl, t.lastBytes, id.Level%Height, pos/count)
		return h[:], nil
	}
	h := SubtreeRoot(t.lastBytes[pos*HashSize : (pos+count)*HashSize])
	return h[:], nil
}

func (t *Tree) nodes(ctx context.Context, ids []compact.NodeID) ([][]byte, error) {
	hs := make([][]byte, len(ids))
	for i, id := range ids {
		h, err := t.Node(ctx, id)
		if err != nil {
			return nil, err
		}
		hs[i] = h
	}
	return hs, nil
}

func (t *Tree) checkSize(size uint64) error {
	if size > t.size {
		return fmt.Errorf("tree size %d is beyond the tree's %d", size, t.size)
	}
	return nil
}

// Range returns the compact range [0, size) of the tree of the first size
// leaves (size at most t's).
func (t *Tree) Range(ctx context.Context, size uint64) (*compact.Range, error) {
	if err := t.checkSize(size); err != nil {
		return nil, err
	}
	hs, err := t.nodes(ctx, compact.RangeNodes(0, size, nil))
	if err != nil {
		return nil, err
	}
	return factory.NewRange(0, size, hs)
}

// Root returns the root hash of the tree of the first size leaves (size at
// most t's).
func (t *Tree) Root(ctx context.Context, size uint64) ([32]byte, error) {
	if size == 0 {
		return [32]byte(hasher.EmptyRoot()), nil
	}
	cr, err := t.Range(ctx, size)
	if err != nil {
		return [32]byte{}, err
	}
	root, err := cr.GetRootHash(nil)
	if err != nil {
		return [32]byte{}, err
	}
	return [32]byte(root), nil
}

// Inclusion returns the RFC 6962 inclusion proof of leaf index in the tree
// of the first size leaves (size at most t's).
func (t *Tree) Inclusion(ctx context.Context, index, size uint64) ([][]byte, error) {
	pn, err := proof.Inclusion(index, size)
	return t.proof(ctx, size, pn, err)
}

// Consistency returns the RFC 6962 consistency proof from the tree of the
// first size1 leaves to that of the first size2 (size1 <= size2, at most
// t's).
func (t *Tree) Consistency(ctx context.Context, size1, size2 uint64) ([][]byte, error) {
	pn, err := proof.Consistency(size1, size2)
	return t.proof(ctx, size2, pn, err)
}

// proof reads the nodes pn names in the tree of size leaves, and hashes
// them into the proof.
func (t *Tree) proof(ctx context.Context, size uint64, pn proof.Nodes, err error) ([][]byte, error) {
	if err != nil {
		return nil, err
	}
	if err := t.checkSize(size); err != nil {
		return nil, err
	}
	hs, err := t.nodes(ctx, pn.IDs)
	if err != nil {
		return nil, err
	}
	return pn.Rehash(hs, hasher.HashChildren)
}

// Edge reads the right edge of the tree, from which Integrate appends to it.
func (t *Tree) Edge(ctx context.Context) (Edge, error) {
	rng, err := t.Range(ctx, t.size)
	if err != nil {
		return Edge{}, err
	}
	e := Edge{Range: rng, Tiles: make(map[uint8][]byte)}
	for level := uint8(0); uint(level)*Height < 64; level++ {
		count := t.size >> (uint(level) * Height)
		if count == 0 {
			break
		}
		n := (count - 1) / FullWidth
		w := int(count - n*FullWidth)
		b, err := t.r.ReadTile(ctx, level, n, w)
		if err != nil {
			return Edge{}, err
		}
		if len(b) != w*HashSize {
			return Edge{}, fmt.Errorf("%s has %d bytes, want %d", PathFor(Tile{Level: level, N: n, Width: w}), len(b), w*HashSize)
		}
		buf := make([]byte, len(b), FullWidth*HashSize)
		copy(buf, b)
		e.Tiles[level] = buf
	}
	return e, nil
}
