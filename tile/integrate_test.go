package tile

import (
	"bytes"
	"context"
	"fmt"
	mrand "math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/tlog"
)

// TestIntegrateAgainstReference appends random batches, across tile
// boundaries, and checks each result against a reference built leaf by leaf:
// the root and compact range against a transparency-dev/merkle compact
// range, and the changed tiles against x/mod's sumdb/tlog, which says which
// tiles a tree gains and what they hold.
func TestIntegrateAgainstReference(t *testing.T) {
	target := 70000
	if testing.Short() {
		target = 3000
	}
	m := &memTree{}
	m.grow(t, target+2000)
	ref := factory.NewEmptyRange(0)
	rnd := mrand.New(mrand.NewPCG(3, 4))
	e := EmptyEdge()
	for int(e.Size()) < target {
		old := e.Size()
		var n int
		switch rnd.IntN(4) {
		case 0:
			n = rnd.IntN(3) // 0 (nothing new), 1 or 2
		case 1:
			// Just up to, or just past, the next tile boundary.
			n = int(FullWidth-old%FullWidth) + rnd.IntN(3) - 1
		default:
			n = rnd.IntN(1500)
		}
		leaves := m.leaves[old : old+uint64(n)]
		before := cloneTiles(e.Tiles)
		got, err := Integrate(e, leaves)
		if err != nil {
			t.Fatalf("Integrate(%d leaves onto %d): %v", n, old, err)
		}
		if diff := cmp.Diff(before, cloneTiles(e.Tiles)); diff != "" {
			t.Fatalf("Integrate changed the edge it was given (-before +after):\n%s", diff)
		}
		for _, l := range leaves {
			if err := ref.Append(l[:], nil); err != nil {
				t.Fatal(err)
			}
		}
		size := old + uint64(n)
		checkIntegrated(t, m, old, size, got)
		if diff := cmp.Diff(ref.Hashes(), got.Edge.Range.Hashes()); diff != "" || got.Edge.Size() != size {
			t.Fatalf("%d to %d: compact range of %d leaves, want %d (-want +got):\n%s", old, size, got.Edge.Size(), size, diff)
		}
		e = got.Edge
	}
}

// checkIntegrated checks what Integrate returned for the tree growing from
// old to size leaves.
func checkIntegrated(t *testing.T, m *memTree, old, size uint64, got *Integrated) {
	t.Helper()
	if want := m.root(t, size); got.Root != want {
		t.Fatalf("%d to %d: root %x, tlog says %x", old, size, got.Root, want)
	}
	var want, gotTiles []string
	for _, xt := range tlog.NewTiles(Height, int64(old), int64(size)) {
		want = append(want, PathFor(Tile{Level: uint8(xt.L), N: uint64(xt.N), Width: xt.W}))
	}
	for _, h := range got.Tiles {
		gotTiles = append(gotTiles, PathFor(h.Tile))
		if w := m.tile(t, h.Tile.Level, h.Tile.N, h.Tile.Width); !bytes.Equal(h.Hashes, w) {
			t.Errorf("%d to %d: %s holds other hashes than tlog's", old, size, h.Tile)
		}
		if last := got.Edge.Tiles[h.Tile.Level]; WidthAt(size, h.Tile.Level, h.Tile.N+1) == 0 && !bytes.Equal(last, h.Hashes) {
			t.Errorf("%d to %d: %s is its level's last tile, but the edge holds %d other hashes", old, size, h.Tile, len(last)/HashSize)
		}
	}
	if diff := cmp.Diff(want, gotTiles); diff != "" {
		t.Fatalf("%d to %d: changed tiles (-tlog +got):\n%s", old, size, diff)
	}
}

func cloneTiles(ts map[uint8][]byte) map[uint8][]byte {
	out := make(map[uint8][]byte, len(ts))
	for l, b := range ts {
		out[l] = bytes.Clone(b)
	}
	return out
}

// TestIntegrateFromStoredEdge starts from edges read out of tiles at sizes
// around tile boundaries, as a log does when it opens, and integrates a
// second batch from an edge whose first result was thrown away, as a log
// does after a write fails.
func TestIntegrateFromStoredEdge(t *testing.T) {
	ctx := context.Background()
	m := &memTree{}
	m.grow(t, 70000+600)
	for _, size := range append([]uint64{0}, treeSizes...) {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			e, err := NewTree(size, m.reader(t, size)).Edge(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// A batch that is never stored, of other leaves.
			var other [][32]byte
			for i := range 300 {
				other = append(other, [32]byte(hasher.HashLeaf(fmt.Appendf(nil, "other %d", i))))
			}
			if _, err := Integrate(e, other); err != nil {
				t.Fatal(err)
			}
			for _, n := range []uint64{1, 255, 256, 600} {
				got, err := Integrate(e, m.leaves[size:size+n])
				if err != nil {
					t.Fatal(err)
				}
				checkIntegrated(t, m, size, size+n, got)
			}
		})
	}
}

// TestIntegrateRefusesABrokenEdge checks that an edge whose tiles disagree
// with its range is refused, not extended into wrong tiles.
func TestIntegrateRefusesABrokenEdge(t *testing.T) {
	ctx := context.Background()
	m := &memTree{}
	m.grow(t, 1000)
	for _, tc := range []struct {
		name  string
		size  uint64
		level uint8
		edit  func([]byte) []byte
	}{
		{"short level 0", 300, 0, func(b []byte) []byte { return b[:len(b)-HashSize] }},
		{"long level 0", 300, 0, func(b []byte) []byte { return append(b, make([]byte, HashSize)...) }},
		{"short level 1", 600, 1, func(b []byte) []byte { return b[:0] }},
		{"partial before a new tile", 512, 0, func(b []byte) []byte { return b[:len(b)-HashSize] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := NewTree(tc.size, m.reader(t, tc.size)).Edge(ctx)
			if err != nil {
				t.Fatal(err)
			}
			e.Tiles[tc.level] = tc.edit(e.Tiles[tc.level])
			// Enough leaves to reach the broken level's next hash.
			if got, err := Integrate(e, m.leaves[tc.size:tc.size+FullWidth]); err == nil {
				t.Fatalf("Integrate onto a broken edge: %d tiles changed, no error", len(got.Tiles))
			}
		})
	}
}
