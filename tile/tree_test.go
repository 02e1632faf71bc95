package tile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"golang.org/x/mod/sumdb/tlog"
)

// memTree is an in-memory tree built by x/mod's sumdb/tlog, an
// implementation independent of this package: its stored hashes, and the
// tiles it makes of them.
type memTree struct {
	leaves [][32]byte
	stored []tlog.Hash
}

func (m *memTree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	hs := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m.stored)) {
			return nil, fmt.Errorf("no stored hash %d", x)
		}
		hs[i] = m.stored[x]
	}
	return hs, nil
}

// grow adds leaves until the tree has size of them.
func (m *memTree) grow(t testing.TB, size int) {
	t.Helper()
	for n := len(m.leaves); n < size; n++ {
		hs, err := tlog.StoredHashes(int64(n), fmt.Appendf(nil, "entry %d", n), m)
		if err != nil {
			t.Fatal(err)
		}
		m.stored = append(m.stored, hs...)
		m.leaves = append(m.leaves, [32]byte(hs[0]))
	}
}

func (m *memTree) tile(t testing.TB, level uint8, n uint64, width int) []byte {
	t.Helper()
	b, err := tlog.ReadTileData(tlog.Tile{H: Height, L: int(level), N: int64(n), W: width}, m)
	if err != nil {
		t.Fatalf("tlog.ReadTileData(%d/%d.p/%d): %v", level, n, width, err)
	}
	return b
}

// reader returns a Reader of the tiles of the tree of size leaves (the
// first size of m's), which fails the test if asked for a tile that tree
// doesn't have, at a width it doesn't have it.
func (m *memTree) reader(t testing.TB, size uint64) ReaderFunc {
	return func(ctx context.Context, level uint8, n uint64, width int) ([]byte, error) {
		if w := WidthAt(size, level, n); w != width || w == 0 {
			t.Errorf("the tree of size %d was asked for tile %d/%d of width %d; it has width %d", size, level, n, width, w)
			return nil, ErrNotFound
		}
		return m.tile(t, level, n, width), nil
	}
}

func (m *memTree) root(t testing.TB, size uint64) [32]byte {
	t.Helper()
	h, err := tlog.TreeHash(int64(size), m)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func hashes[H ~[32]byte](hs []H) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out
}

// treeSizes are sizes around tile boundaries, where proofs cross from one
// tile or level to the next.
var treeSizes = []uint64{1, 2, 3, 7, 8, 255, 256, 257, 511, 512, 513, 65535, 65536, 65537, 70000}

// TestProofsAgainstReference checks Tree's roots and proofs, at tree sizes
// around tile boundaries and random ones, with and without a cache, against
// x/mod's sumdb/tlog (roots, and the proofs it builds itself) and against
// transparency-dev/merkle's verifier.
func TestProofsAgainstReference(t *testing.T) {
	ctx := context.Background()
	m := &memTree{}
	max := treeSizes[len(treeSizes)-1]
	if testing.Short() {
		max = 1000
	}
	m.grow(t, int(max))
	rnd := mrand.New(mrand.NewPCG(1, 2))
	sizes := []uint64{}
	for _, s := range treeSizes {
		if s <= max {
			sizes = append(sizes, s)
		}
	}
	for range 10 {
		sizes = append(sizes, 1+rnd.Uint64N(max))
	}
	cache := NewCache(8)
	for _, size := range sizes {
		for _, cached := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d/cache=%v", size, cached), func(t *testing.T) {
				tr := NewTree(size, m.reader(t, size))
				if cached {
					// Tiles full in a smaller tree from the cache, the
					// others computed.
					tr.UseCache(cache, rnd.Uint64N(size+1))
				}
				root := m.root(t, size)
				if got, err := tr.Root(ctx, size); err != nil || got != root {
					t.Fatalf("Root(%d) = %x, %v; tlog says %x", size, got, err, root)
				}
				indexes := []uint64{0, size - 1, size / 2}
				for range 10 {
					indexes = append(indexes, rnd.Uint64N(size))
				}
				for _, i := range indexes {
					p, err := tr.Inclusion(ctx, i, size)
					if err != nil {
						t.Fatalf("Inclusion(%d, %d): %v", i, size, err)
					}
					if err := proof.VerifyInclusion(hasher, i, size, m.leaves[i][:], p, root[:]); err != nil {
						t.Errorf("Inclusion(%d, %d) doesn't verify: %v", i, size, err)
					}
					want, err := tlog.ProveRecord(int64(size), int64(i), m)
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(hashes(want), p); diff != "" {
						t.Errorf("Inclusion(%d, %d) differs from tlog's (-want +got):\n%s", i, size, diff)
					}
				}
				olds := []uint64{0, 1, size, size - 1, size / 2}
				for range 10 {
					olds = append(olds, rnd.Uint64N(size+1))
				}
				for _, old := range olds {
					oldRoot, err := tr.Root(ctx, old)
					if err != nil || oldRoot != m.root(t, old) {
						t.Fatalf("Root(%d) = %x, %v; tlog says %x", old, oldRoot, err, m.root(t, old))
					}
					p, err := tr.Consistency(ctx, old, size)
					if err != nil {
						t.Fatalf("Consistency(%d, %d): %v", old, size, err)
					}
					if err := proof.VerifyConsistency(hasher, old, size, p, oldRoot[:], root[:]); err != nil {
						t.Errorf("Consistency(%d, %d) doesn't verify: %v", old, size, err)
					}
					if old == 0 {
						continue // tlog has no proof from the empty tree
					}
					want, err := tlog.ProveTree(int64(size), int64(old), m)
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(hashes(want), p); diff != "" {
						t.Errorf("Consistency(%d, %d) differs from tlog's (-want +got):\n%s", old, size, diff)
					}
					// A proof between two smaller trees, from the
					// tiles of this one.
					if old > 1 {
						mid := 1 + rnd.Uint64N(old)
						p, err := tr.Consistency(ctx, mid, old)
						if err != nil {
							t.Fatalf("Consistency(%d, %d): %v", mid, old, err)
						}
						midRoot := m.root(t, mid)
						if err := proof.VerifyConsistency(hasher, mid, old, p, midRoot[:], oldRoot[:]); err != nil {
							t.Errorf("Consistency(%d, %d) in a tree of %d doesn't verify: %v", mid, old, size, err)
						}
					}
				}
			})
		}
	}
}

// TestTreeRefuses checks that a Tree says no, rather than answering wrong,
// to sizes beyond it, to leaves beyond a size, and to tiles of the wrong
// length.
func TestTreeRefuses(t *testing.T) {
	ctx := context.Background()
	m := &memTree{}
	m.grow(t, 600)
	tr := NewTree(600, m.reader(t, 600))
	if _, err := tr.Root(ctx, 601); err == nil {
		t.Error("Root beyond the tree: no error")
	}
	if _, err := tr.Inclusion(ctx, 0, 601); err == nil {
		t.Error("Inclusion beyond the tree: no error")
	}
	if _, err := tr.Inclusion(ctx, 600, 600); err == nil {
		t.Error("Inclusion of a leaf beyond the size: no error")
	}
	if _, err := tr.Consistency(ctx, 10, 601); err == nil {
		t.Error("Consistency beyond the tree: no error")
	}
	if _, err := tr.Consistency(ctx, 11, 10); err == nil {
		t.Error("Consistency to a smaller size: no error")
	}
	if _, err := tr.Node(ctx, compact.NewNodeID(0, 600)); err == nil {
		t.Error("Node of a leaf beyond the tree: no error")
	}
	if _, err := tr.Node(ctx, compact.NewNodeID(9, 1)); err == nil {
		t.Error("Node not complete in the tree: no error")
	}

	for _, tc := range []struct {
		name string
		read ReaderFunc
	}{
		{"short", func(ctx context.Context, level uint8, n uint64, width int) ([]byte, error) {
			return m.tile(t, level, n, width)[HashSize:], nil
		}},
		{"long", func(ctx context.Context, level uint8, n uint64, width int) ([]byte, error) {
			return append(m.tile(t, level, n, width), make([]byte, HashSize)...), nil
		}},
		{"error", func(ctx context.Context, level uint8, n uint64, width int) ([]byte, error) {
			return nil, ErrNotFound
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTree(600, tc.read)
			if _, err := tr.Root(ctx, 600); err == nil {
				t.Error("Root: no error")
			}
			if _, err := tr.Inclusion(ctx, 5, 600); err == nil {
				t.Error("Inclusion: no error")
			}
			if _, err := tr.Edge(ctx); err == nil {
				t.Error("Edge: no error")
			}
			if tc.name == "error" {
				if _, err := tr.Consistency(ctx, 5, 600); !errors.Is(err, ErrNotFound) {
					t.Errorf("Consistency: %v, want the reader's error", err)
				}
			}
		})
	}
}

// TestCacheInterior checks every interior hash the cache gives against
// SubtreeRoot, for tiles it computes and tiles it has, and that it stays
// within its bound.
func TestCacheInterior(t *testing.T) {
	m := &memTree{}
	m.grow(t, 3*FullWidth)
	c := NewCache(2)
	for round := range 2 {
		for n := range uint64(3) {
			b := m.tile(t, 0, n, FullWidth)
			for k := uint(1); k < Height; k++ {
				count := 1 << k
				for i := 0; i < FullWidth/count; i++ {
					got := c.node(Tile{N: n, Width: FullWidth}, b, k, i)
					if want := SubtreeRoot(b[i*count*HashSize : (i+1)*count*HashSize]); got != want {
						t.Fatalf("round %d: tile %d, sub-level %d, index %d: %x, want %x", round, n, k, i, got, want)
					}
				}
			}
		}
		if c.lru.Len() != 2 || len(c.m) != 2 {
			t.Fatalf("the cache holds %d tiles (%d in its map), want its bound 2", c.lru.Len(), len(c.m))
		}
	}
}

// TestEdgeMatchesTiles checks Tree.Edge against the tiles and compact range
// of the tree.
func TestEdgeMatchesTiles(t *testing.T) {
	ctx := context.Background()
	m := &memTree{}
	m.grow(t, 70000)
	for _, size := range append([]uint64{0}, treeSizes...) {
		e, err := NewTree(size, m.reader(t, size)).Edge(ctx)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if e.Size() != size {
			t.Errorf("size %d: Edge().Size() = %d", size, e.Size())
		}
		if root, err := e.Root(); err != nil || root != m.root(t, size) {
			t.Errorf("size %d: the edge has root %x, %v; tlog says %x", size, root, err, m.root(t, size))
		}
		levels := 0
		for level := uint8(0); size>>(uint(level)*Height) > 0; level++ {
			levels++
			count := size >> (uint(level) * Height)
			n := (count - 1) / FullWidth
			w := int(count - n*FullWidth)
			if got, want := e.Tiles[level], m.tile(t, level, n, w); !bytes.Equal(got, want) {
				t.Errorf("size %d: edge tile of level %d is not tile %d/%d.p/%d", size, level, level, n, w)
			}
			if cap(e.Tiles[level]) != FullWidth*HashSize {
				t.Errorf("size %d: edge tile of level %d has room for %d bytes", size, level, cap(e.Tiles[level]))
			}
		}
		if len(e.Tiles) != levels {
			t.Errorf("size %d: %d edge tiles, want %d", size, len(e.Tiles), levels)
		}
	}
}
