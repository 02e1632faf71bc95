package tile

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"github.com/transparency-dev/merkle/compact"
)

// Edge is the right edge of a tree: all that appending to it needs.
type Edge struct {
	// Range is the compact range [0, size) of the tree.
	Range *compact.Range
	// Tiles holds the last hash tile of each level the tree reaches: the
	// partial one, or the full one its last hash filled. Each has room for
	// FullWidth hashes, so that appending to it allocates nothing.
	Tiles map[uint8][]byte
}

// EmptyEdge returns the right edge of the empty tree.
func EmptyEdge() Edge {
	return Edge{Range: factory.NewEmptyRange(0), Tiles: make(map[uint8][]byte)}
}

// Size returns the number of leaves of the tree.
func (e Edge) Size() uint64 { return e.Range.End() }

// Root returns the tree's RFC 6962 root hash.
func (e Edge) Root() ([32]byte, error) {
	if e.Range.End() == 0 {
		return [32]byte(hasher.EmptyRoot()), nil
	}
	root, err := e.Range.GetRootHash(nil)
	if err != nil {
		return [32]byte{}, err
	}
	return [32]byte(root), nil
}

// Hashes is a hash tile and its Width hashes.
type Hashes struct {
	Tile   Tile
	Hashes []byte
}

// Integrated is what appending leaves to a tree made.
type Integrated struct {
	// Edge is the new tree's right edge.
	Edge Edge
	// Root is the new tree's RFC 6962 root hash.
	Root [32]byte
	// Tiles are the hash tiles that the leaves changed, full and partial,
	// in order of level and then index, each as the new tree has it. The
	// last of each level is that level's last tile in the new tree (so
	// Edge.Tiles holds its hashes too).
	Tiles []Hashes
}

// Integrate appends leaves, RFC 6962 leaf hashes, to the tree whose right
// edge is e, and returns the new tree's edge and root and the tiles that
// changed. It stores nothing: the caller writes the tiles.
//
// c2sp.org/tlog-tiles: a tile at level L holds the hashes at tree level 8L;
// appending a leaf completes one node at each level up to the lowest set
// bit of the new size, and those at levels 8L are the new tile hashes.
//
// Integrate does not modify e, whose tiles its result shares: it appends to
// them in the room beyond their length, which e does not see. So e stays
// valid, to integrate other leaves if the result could not be stored, but
// of several results integrated from one edge only one may be used.
func Integrate(e Edge, leaves [][32]byte) (*Integrated, error) {
	if e.Range.Begin() != 0 {
		return nil, fmt.Errorf("the edge's range starts at %d, not 0", e.Range.Begin())
	}
	rng, err := factory.NewRange(0, e.Range.End(), slices.Clone(e.Range.Hashes()))
	if err != nil {
		return nil, err
	}
	tiles := maps.Clone(e.Tiles)
	if tiles == nil {
		tiles = make(map[uint8][]byte)
	}
	var changed []Hashes
	at := make(map[cacheKey]int) // index in changed
	var visitErr error
	visit := func(id compact.NodeID, h []byte) {
		if id.Level%Height != 0 || visitErr != nil {
			return
		}
		level, n, pos, _ := Locate(id)
		t := tiles[level]
		if pos == 0 {
			if len(t) != 0 && len(t) != FullWidth*HashSize {
				visitErr = fmt.Errorf("tile level %d ends with %d hashes, starting a new tile", level, len(t)/HashSize)
				return
			}
			t = make([]byte, 0, FullWidth*HashSize)
		}
		if len(t) != pos*HashSize {
			visitErr = fmt.Errorf("tile level %d has %d hashes, appending at %d", level, len(t)/HashSize, pos)
			return
		}
		t = append(t, h...)
		tiles[level] = t
		k := cacheKey{level, n}
		if i, ok := at[k]; ok {
			changed[i].Hashes = t
		} else {
			at[k] = len(changed)
			changed = append(changed, Hashes{Tile: Tile{Level: level, N: n}, Hashes: t})
		}
	}
	for i := range leaves {
		if err := rng.Append(leaves[i][:], visit); err != nil {
			return nil, err
		}
		if visitErr != nil {
			return nil, visitErr
		}
	}
	for i := range changed {
		changed[i].Tile.Width = len(changed[i].Hashes) / HashSize
	}
	slices.SortFunc(changed, func(a, b Hashes) int {
		return cmp.Or(cmp.Compare(a.Tile.Level, b.Tile.Level), cmp.Compare(a.Tile.N, b.Tile.N))
	})
	out := &Integrated{Edge: Edge{Range: rng, Tiles: tiles}, Tiles: changed}
	if out.Root, err = out.Edge.Root(); err != nil {
		return nil, err
	}
	return out, nil
}
