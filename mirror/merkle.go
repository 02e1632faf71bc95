package mirror

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/evident-dev/evident/server/tiles"
)

// This file is the pure Merkle maths of the mirror: hashes, tile widths, and
// reading any complete node of a tree out of its tiles. No I/O: tiles come
// from a tileFunc, which the caller backs with the network or the disk.

const (
	tileHeight = 8
	tileWidth  = tiles.FullWidth // 256
	hashSize   = sha256.Size
)

var hasher = rfc6962.DefaultHasher

// emptyRoot is RFC 6962's root of the empty tree, SHA-256 of nothing.
var emptyRoot = sha256.Sum256(nil)

// hashChildren is RFC 6962's interior node hash, SHA-256(0x01 || l || r),
// without a hash.Hash allocation: verification hashes millions of pairs.
func hashChildren(l, r []byte) [32]byte {
	var b [1 + 2*hashSize]byte
	b[0] = 1
	copy(b[1:], l)
	copy(b[1+hashSize:], r)
	return sha256.Sum256(b[:])
}

// leafHasher computes RFC 6962 leaf hashes, SHA-256(0x00 || entry), reusing
// one buffer. Not safe for concurrent use.
type leafHasher struct{ buf []byte }

func (h *leafHasher) hash(entry []byte) [32]byte {
	h.buf = append(append(h.buf[:0], 0), entry...)
	return sha256.Sum256(h.buf)
}

// subtreeRoot returns the Merkle tree hash of hashes (concatenated 32-byte
// hashes), whose count must be a power of two. It is the hash of the node
// whose leaves, at the tile's level, they are.
func subtreeRoot(hashes []byte) [32]byte {
	n := len(hashes) / hashSize
	if n == 1 {
		return [32]byte(hashes)
	}
	var scratch [tileWidth / 2][32]byte
	hs := scratch[:n/2]
	for i := range hs {
		hs[i] = hashChildren(hashes[2*i*hashSize:(2*i+1)*hashSize], hashes[(2*i+1)*hashSize:(2*i+2)*hashSize])
	}
	for len(hs) > 1 {
		for i := 0; i < len(hs)/2; i++ {
			hs[i] = hashChildren(hs[2*i][:], hs[2*i+1][:])
		}
		hs = hs[:len(hs)/2]
	}
	return hs[0]
}

// widthAt returns how many hashes the tile at level and index n holds in a
// tree of size leaves: tileWidth for a full tile, less for the partial tile
// at the right edge, 0 for a tile beyond the tree.
//
// c2sp.org/tlog-tiles: the partial tile at level l for a tree of size s has
// floor(s / 256**l) mod 256 entries.
func widthAt(size uint64, level uint8, n uint64) int {
	if uint(level)*tileHeight >= 64 {
		return 0
	}
	count := size >> (uint(level) * tileHeight)
	full := count / tileWidth
	switch {
	case n < full:
		return tileWidth
	case n == full:
		return int(count % tileWidth)
	default:
		return 0
	}
}

// edgeTiles returns the partial tiles at the right edge of a tree of size
// leaves, lowest level first. Together they determine the tree's root: the
// RFC 6962 compact range of [0, size) at levels 8L to 8L+7 is made of the
// hashes of the level-L partial tile (c2sp.org/tlog-tiles: a partial tile
// is never hashed into the level above, so nothing else covers them).
func edgeTiles(size uint64) []tiles.Tile {
	var ts []tiles.Tile
	for level := uint8(0); uint(level)*tileHeight < 64; level++ {
		count := size >> (uint(level) * tileHeight)
		if count == 0 {
			break
		}
		if w := int(count % tileWidth); w != 0 {
			ts = append(ts, tiles.Tile{Level: level, N: count / tileWidth, Width: w})
		}
	}
	return ts
}

// tileFunc returns the hash tile at level and index n, width hashes wide.
type tileFunc func(ctx context.Context, level uint8, n uint64, width int) ([]byte, error)

// nodeReader reads complete nodes of the tree of a given size from its tiles.
// A node at tree level 8L+r is hash r levels up in the level-L tile holding
// the 2^r hashes under it, so every node is one tile away.
type nodeReader struct {
	size uint64
	read tileFunc
	// the last tile read: proofs read neighbouring nodes of one tile
	last      tiles.Tile
	lastBytes []byte
}

func (r *nodeReader) node(ctx context.Context, id compact.NodeID) ([]byte, error) {
	if id.Level >= 64 {
		return nil, fmt.Errorf("node level %d out of range", id.Level)
	}
	level, sub := uint8(id.Level/tileHeight), id.Level%tileHeight
	first := id.Index << sub
	n, pos, count := first/tileWidth, int(first%tileWidth), 1<<sub
	w := widthAt(r.size, level, n)
	if pos+count > w {
		return nil, fmt.Errorf("node %d/%d is not complete in a tree of %d leaves", id.Level, id.Index, r.size)
	}
	t := tiles.Tile{Level: level, N: n, Width: w}
	if r.lastBytes == nil || r.last != t {
		b, err := r.read(ctx, level, n, w)
		if err != nil {
			return nil, err
		}
		if len(b) != w*hashSize {
			return nil, fmt.Errorf("%s has %d bytes, want %d", tiles.PathFor(t), len(b), w*hashSize)
		}
		r.last, r.lastBytes = t, b
	}
	h := subtreeRoot(r.lastBytes[pos*hashSize : (pos+count)*hashSize])
	return h[:], nil
}

func (r *nodeReader) nodes(ctx context.Context, ids []compact.NodeID) ([][]byte, error) {
	hs := make([][]byte, len(ids))
	for i, id := range ids {
		h, err := r.node(ctx, id)
		if err != nil {
			return nil, err
		}
		hs[i] = h
	}
	return hs, nil
}

// root returns the root hash of the first size leaves (size <= r.size).
func (r *nodeReader) root(ctx context.Context, size uint64) ([32]byte, error) {
	if size == 0 {
		return emptyRoot, nil
	}
	hs, err := r.nodes(ctx, compact.RangeNodes(0, size, nil))
	if err != nil {
		return [32]byte{}, err
	}
	f := compact.RangeFactory{Hash: hasher.HashChildren}
	cr, err := f.NewRange(0, size, hs)
	if err != nil {
		return [32]byte{}, err
	}
	root, err := cr.GetRootHash(nil)
	if err != nil {
		return [32]byte{}, err
	}
	return [32]byte(root), nil
}

// inclusion returns the RFC 6962 inclusion proof of leaf index in the tree of
// size leaves (size <= r.size).
func (r *nodeReader) inclusion(ctx context.Context, index, size uint64) ([][]byte, error) {
	pn, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, err
	}
	hs, err := r.nodes(ctx, pn.IDs)
	if err != nil {
		return nil, err
	}
	return pn.Rehash(hs, hasher.HashChildren)
}

// consistency returns the RFC 6962 consistency proof from size1 to size2
// (size1 <= size2 <= r.size).
func (r *nodeReader) consistency(ctx context.Context, size1, size2 uint64) ([][]byte, error) {
	pn, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, err
	}
	hs, err := r.nodes(ctx, pn.IDs)
	if err != nil {
		return nil, err
	}
	return pn.Rehash(hs, hasher.HashChildren)
}

// splitBundle splits an entry bundle of width entries.
// c2sp.org/tlog-tiles: a bundle is a sequence of big-endian uint16
// length-prefixed entries.
func splitBundle(b []byte, width int) ([][]byte, error) {
	es := make([][]byte, 0, width)
	for len(es) < width {
		if len(b) < 2 {
			return nil, fmt.Errorf("bundle ends after %d of %d entries", len(es), width)
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return nil, fmt.Errorf("entry %d of the bundle is cut short: %d bytes of %d", len(es), len(b)-2, n)
		}
		es = append(es, b[2:2+n])
		b = b[2+n:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("bundle has %d bytes after its %d entries", len(b), width)
	}
	return es, nil
}

// bundlePrefix returns the bytes of the first width entries of bundle b.
func bundlePrefix(b []byte, width int) ([]byte, error) {
	off := 0
	for i := 0; i < width; i++ {
		if len(b)-off < 2 {
			return nil, fmt.Errorf("bundle ends after %d of %d entries", i, width)
		}
		n := int(binary.BigEndian.Uint16(b[off:]))
		if len(b)-off < 2+n {
			return nil, fmt.Errorf("entry %d of the bundle is cut short", i)
		}
		off += 2 + n
	}
	return b[:off], nil
}
