// Package tile is the arithmetic of c2sp.org/tlog-tiles over an RFC 6962
// Merkle tree: which tile holds which stored hash, the paths of tiles and
// entry bundles, and roots, compact ranges, inclusion and consistency proofs
// read out of tiles. It does no I/O: a Tree reads tiles through a Reader that
// the caller backs with a database, a directory or the network, and Integrate
// turns appended leaves into the tiles they change without storing them.
//
// The ledger, the mirror and the tlog-tiles handler all use it, so that there
// is one copy of this maths.
package tile

import (
	"crypto/sha256"
	"errors"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
)

const (
	// Height is the height of a tile: c2sp.org/tlog-tiles fixes it at 8,
	// so a tile at level L holds hashes of tree level 8L.
	Height = 8
	// FullWidth is the number of hashes in a full tile, and of entries in
	// a full entry bundle. A Tile of this width has no ".p/<W>" suffix.
	FullWidth = 1 << Height
	// HashSize is the size of a hash: tiles are their hashes one after
	// another.
	HashSize = sha256.Size
)

// ErrNotFound means a tree has no tile or entry bundle at that index and
// width: it lies beyond the tree. Sources of tiles return errors wrapping it
// (or fs.ErrNotExist) for tiles they don't have.
var ErrNotFound = errors.New("no such tile in the tree")

var hasher = rfc6962.DefaultHasher

// factory makes compact ranges with RFC 6962 hashing.
var factory = &compact.RangeFactory{Hash: hasher.HashChildren}

// HashChildren is RFC 6962's interior node hash, SHA-256(0x01 || l || r),
// without the allocation of a hash.Hash: proofs and verification hash
// hundreds of pairs per tile.
func HashChildren(l, r []byte) [32]byte {
	var b [1 + 2*HashSize]byte
	b[0] = 1
	copy(b[1:], l)
	copy(b[1+HashSize:], r)
	return sha256.Sum256(b[:])
}

// SubtreeRoot returns the Merkle tree hash of hashes (concatenated 32-byte
// hashes), whose count must be a power of two from 1 to FullWidth. It is the
// hash of the node whose leaves, at the tile's level, they are.
func SubtreeRoot(hashes []byte) [32]byte {
	n := len(hashes) / HashSize
	if n == 1 {
		return [32]byte(hashes)
	}
	var scratch [FullWidth / 2][32]byte
	hs := scratch[:n/2]
	for i := range hs {
		hs[i] = HashChildren(hashes[2*i*HashSize:(2*i+1)*HashSize], hashes[(2*i+1)*HashSize:(2*i+2)*HashSize])
	}
	for len(hs) > 1 {
		for i := 0; i < len(hs)/2; i++ {
			hs[i] = HashChildren(hs[2*i][:], hs[2*i+1][:])
		}
		hs = hs[:len(hs)/2]
	}
	return hs[0]
}

// Locate returns where the hashes that the complete node id is made of are
// stored: count hashes from position pos of the hash tile at level and index
// n. A node at tree level 8L+r is the root of the 2^r hashes under it at tree
// level 8L, which the level-L tile holds side by side, so every node is one
// tile away, and count is 1 for a node that the tiles store.
//
// c2sp.org/tlog-tiles: a tile at level L holds the hashes at tree level 8L,
// FullWidth of them per full tile. id.Level must be below 64.
func Locate(id compact.NodeID) (level uint8, n uint64, pos, count int) {
	sub := id.Level % Height
	first := id.Index << sub
	return uint8(id.Level / Height), first / FullWidth, int(first % FullWidth), 1 << sub
}

// WidthAt returns how many hashes the tile at level and index n holds in a
// tree of size leaves: FullWidth for a full tile, less for the partial tile
// at the right edge, 0 for a tile beyond the tree. An entry bundle n holds
// WidthAt(size, 0, n) entries.
//
// c2sp.org/tlog-tiles: the partial tile at level l for a tree of size s has
// floor(s / 256**l) mod 256 entries.
func WidthAt(size uint64, level uint8, n uint64) int {
	if uint(level)*Height >= 64 {
		return 0
	}
	count := size >> (uint(level) * Height)
	full := count / FullWidth
	switch {
	case n < full:
		return FullWidth
	case n == full:
		return int(count % FullWidth)
	default:
		return 0
	}
}

// PartialTiles returns the partial tiles at the right edge of a tree of size
// leaves, lowest level first. Together they determine the tree's root: the
// RFC 6962 compact range of [0, size) at levels 8L to 8L+7 is made of the
// hashes of the level-L partial tile (c2sp.org/tlog-tiles: a partial tile
// is never hashed into the level above, so nothing else covers them).
func PartialTiles(size uint64) []Tile {
	var ts []Tile
	for level := uint8(0); uint(level)*Height < 64; level++ {
		count := size >> (uint(level) * Height)
		if count == 0 {
			break
		}
		if w := int(count % FullWidth); w != 0 {
			ts = append(ts, Tile{Level: level, N: count / FullWidth, Width: w})
		}
	}
	return ts
}
