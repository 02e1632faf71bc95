package ledger

import (
	"crypto/sha256"
	"fmt"
	"math"

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
	log   *bolt.Bucket
	cache *tileCache // nil: no cache
	// cached is the tree size whose full tiles were committed before this
	// transaction; only those may come from the cache.
	cached uint64
	// last tile read, since proofs read neighbouring nodes of one tile.
	lastKey  [9]byte
	lastTile []byte
	scratch  [TileWidth / 2][32]byte
}

// hashPair is RFC 6962's node hash, SHA-256(0x01 || left || right), without
// the allocations of a hash.Hash: proofs hash hundreds of pairs.
func hashPair(left, right []byte) [32]byte {
	var b [65]byte
	b[0] = 1
	copy(b[1:33], left)
	copy(b[33:], right)
	return sha256.Sum256(b[:])
}

func newHashReader(tx *bolt.Tx) *hashReader {
	return &hashReader{tiles: tx.Bucket(bucketTiles), log: tx.Bucket(bucketLog)}
}

func (r *hashReader) tile(level uint8, n uint64) []byte {
	var k [9]byte
	copy(k[:], tileKey(level, n))
	if r.lastTile != nil && k == r.lastKey {
		return r.lastTile
	}
	t := readTile(r.tiles, r.log, level, n)
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
	if r.cache != nil && len(t) == TileWidth*32 && (n+1)*TileWidth <= r.cached>>(tl*TileHeight) {
		var key [9]byte
		copy(key[:], tileKey(uint8(tl), n))
		return append([]byte(nil), r.cache.node(key, t, sub, pos>>sub)...), nil
	}
	hs := r.scratch[:count/2]
	for i := range hs {
		hs[i] = hashPair(t[(pos+2*i)*32:(pos+2*i+1)*32], t[(pos+2*i+1)*32:(pos+2*i+2)*32])
	}
	for len(hs) > 1 {
		for i := 0; i < len(hs)/2; i++ {
			hs[i] = hashPair(hs[2*i][:], hs[2*i+1][:])
		}
		hs = hs[:len(hs)/2]
	}
	return append([]byte(nil), hs[0][:]...), nil
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

// hashReader returns a reader over committed tiles, using the tile cache.
// A write transaction may use the cache only for tiles committed before it
// (see hashReader.cached): one that fails would otherwise leave interiors of
// tiles that were never committed.
func (l *Ledger) hashReader(tx *bolt.Tx) *hashReader {
	r := newHashReader(tx)
	r.cache, r.cached = l.tiles, math.MaxUint64
	return r
}
