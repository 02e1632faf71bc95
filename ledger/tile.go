package ledger

import (
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	bolt "go.etcd.io/bbolt"
)

// TileHeight is the height of the stored hash tiles and entry bundles
// (c2sp.org/tlog-tiles: tiles are 8 levels high, so 256 hashes wide).
const TileHeight = 8

// TileWidth is the number of hashes in a full tile, and of entries in a full
// entry bundle.
const TileWidth = 1 << TileHeight

// hashReader reads node hashes from the stored tiles in one transaction. A
// node at tree level 8L+r is either stored (r == 0) or computed from the 2^r
// hashes under it in the level-L tile that holds them, so any complete node is
// one tile lookup away.
type hashReader struct {
	tiles *bolt.Bucket
	// last tile read, since proofs read neighbouring nodes of one tile.
	lastKey  [9]byte
	lastTile []byte
	scratch  [][]byte
}

func newHashReader(tx *bolt.Tx) *hashReader {
	return &hashReader{tiles: tx.Bucket(bucketTiles)}
}

func (r *hashReader) tile(level uint8, n uint64) []byte {
	var k [9]byte
	copy(k[:], tileKey(level, n))
	if r.lastTile != nil && k == r.lastKey {
		return r.lastTile
	}
	t := r.tiles.Get(k[:])
	r.lastKey, r.lastTile = k, t
	return t
}

// node returns the hash of a complete node of the tree.
func (r *hashReader) node(id compact.NodeID) ([]byte, error) {
	tl := id.Level / TileHeight
	sub := id.Level % TileHeight
	if tl > 255 || id.Level >= 64 {
		return nil, fmt.Errorf("node level %d out of range", id.Level)
	}
	first := id.Index << sub
	n, pos := first/TileWidth, int(first%TileWidth)
	count := 1 << sub
	t := r.tile(uint8(tl), n)
	if len(t) < (pos+count)*32 {
		return nil, fmt.Errorf("%w: tile %d/%d has %d hashes, node %d/%d needs %d", errCorrupt, tl, n, len(t)/32, id.Level, id.Index, pos+count)
	}
	if count == 1 {
		return append([]byte(nil), t[pos*32:pos*32+32]...), nil
	}
	if cap(r.scratch) < count {
		r.scratch = make([][]byte, count)
	}
	hs := r.scratch[:count]
	for i := range hs {
		hs[i] = t[(pos+i)*32 : (pos+i)*32+32]
	}
	for len(hs) > 1 {
		for i := 0; i < len(hs)/2; i++ {
			hs[i] = hasher.HashChildren(hs[2*i], hs[2*i+1])
		}
		hs = hs[:len(hs)/2]
	}
	return hs[0], nil
}

func (r *hashReader) nodes(ids []compact.NodeID) ([][]byte, error) {
	hs := make([][]byte, len(ids))
	for i, id := range ids {
		h, err := r.node(id)
		if err != nil {
			return nil, err
		}
		hs[i] = h
	}
	return hs, nil
}

// rangeAt returns the compact range [0, size) read from the tiles.
func (r *hashReader) rangeAt(f *compact.RangeFactory, size uint64) (*compact.Range, error) {
	hs, err := r.nodes(compact.RangeNodes(0, size, nil))
	if err != nil {
		return nil, err
	}
	return f.NewRange(0, size, hs)
}

// rootAt returns the root hash of the tree of the given size.
func (r *hashReader) rootAt(f *compact.RangeFactory, size uint64) ([]byte, error) {
	if size == 0 {
		return hasher.EmptyRoot(), nil
	}
	cr, err := r.rangeAt(f, size)
	if err != nil {
		return nil, err
	}
	return cr.GetRootHash(nil)
}

// inclusion returns the RFC 6962 inclusion proof of index in the tree of size.
func (r *hashReader) inclusion(index, size uint64) ([][]byte, error) {
	pn, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, err
	}
	hs, err := r.nodes(pn.IDs)
	if err != nil {
		return nil, err
	}
	return pn.Rehash(hs, hasher.HashChildren)
}

// consistency returns the RFC 6962 consistency proof between two sizes.
func (r *hashReader) consistency(size1, size2 uint64) ([][]byte, error) {
	pn, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, err
	}
	hs, err := r.nodes(pn.IDs)
	if err != nil {
		return nil, err
	}
	return pn.Rehash(hs, hasher.HashChildren)
}
