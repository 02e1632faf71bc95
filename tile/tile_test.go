package tile

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/transparency-dev/merkle/compact"
	"golang.org/x/mod/sumdb/tlog"
)

func TestPartialTiles(t *testing.T) {
	for _, tc := range []struct {
		size uint64
		want []string
	}{
		{0, nil},
		{1, []string{"tile/0/000.p/1"}},
		{255, []string{"tile/0/000.p/255"}},
		// c2sp.org/tlog-tiles: a tree of size 256 is a full level 0 tile
		// and a partial level 1 tile of width 1.
		{256, []string{"tile/1/000.p/1"}},
		{257, []string{"tile/0/001.p/1", "tile/1/000.p/1"}},
		// c2sp.org/tlog-tiles: a tree of size 70,000 has a partial level 0
		// tile of width 112, a partial level 1 tile of width 17 and a
		// partial level 2 tile of width 1.
		{70000, []string{"tile/0/273.p/112", "tile/1/001.p/17", "tile/2/000.p/1"}},
		{1 << 24, []string{"tile/3/000.p/1"}},
		{1<<64 - 1, []string{
			"tile/0/x072/x057/x594/x037/x927/935.p/255", "tile/1/x281/x474/x976/x710/655.p/255",
			"tile/2/x001/x099/x511/x627/775.p/255", "tile/3/x004/x294/x967/295.p/255",
			"tile/4/x016/x777/215.p/255", "tile/5/x065/535.p/255", "tile/6/255.p/255", "tile/7/000.p/255",
		}},
	} {
		var got []string
		for _, e := range PartialTiles(tc.size) {
			got = append(got, PathFor(e))
			if w := WidthAt(tc.size, e.Level, e.N); w != e.Width {
				t.Errorf("size %d: WidthAt(%s) = %d", tc.size, e, w)
			}
			if e.N > 0 && WidthAt(tc.size, e.Level, e.N-1) != FullWidth {
				t.Errorf("size %d: the tile left of %s is not full", tc.size, e)
			}
			if WidthAt(tc.size, e.Level, e.N+1) != 0 {
				t.Errorf("size %d: there is a tile right of %s", tc.size, e)
			}
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("PartialTiles(%d) (-want +got):\n%s", tc.size, diff)
		}
	}
}

// TestWidthAtAgainstTlog checks WidthAt against x/mod's sumdb/tlog, which
// lists the tiles a tree has: every tile it lists has that width, and the
// next index at each level has none.
func TestWidthAtAgainstTlog(t *testing.T) {
	for _, size := range []int64{1, 2, 255, 256, 257, 65535, 65536, 65537, 70000, 1<<24 + 3} {
		last := map[int]int64{}
		for _, xt := range tlog.NewTiles(Height, 0, size) {
			if w := WidthAt(uint64(size), uint8(xt.L), uint64(xt.N)); w != xt.W {
				t.Errorf("size %d: WidthAt(%d, %d) = %d, tlog says %d", size, xt.L, xt.N, w, xt.W)
			}
			last[xt.L] = xt.N
		}
		for l, n := range last {
			if w := WidthAt(uint64(size), uint8(l), uint64(n+1)); w != 0 {
				t.Errorf("size %d: WidthAt(%d, %d) = %d beyond the tree", size, l, n+1, w)
			}
		}
		if w := WidthAt(uint64(size), uint8(len(last)), 0); w != 0 {
			t.Errorf("size %d: WidthAt(%d, 0) = %d above the tree", size, len(last), w)
		}
	}
}

// TestLocate checks Locate against x/mod's sumdb/tlog's numbering of the
// stored hashes: a node the tiles store is in the tile tlog puts it in.
func TestLocate(t *testing.T) {
	for _, id := range []compact.NodeID{
		{Level: 0, Index: 0}, {Level: 0, Index: 255}, {Level: 0, Index: 256}, {Level: 0, Index: 70000},
		{Level: 8, Index: 0}, {Level: 8, Index: 300}, {Level: 16, Index: 1}, {Level: 56, Index: 3},
	} {
		level, n, pos, count := Locate(id)
		xt := tlog.TileForIndex(Height, tlog.StoredHashIndex(int(id.Level), int64(id.Index)))
		if count != 1 || int(level) != xt.L || int64(n) != xt.N || pos != xt.W-1 {
			t.Errorf("Locate(%+v) = level %d, n %d, pos %d, count %d; tlog says tile %d/%d, position %d", id, level, n, pos, count, xt.L, xt.N, xt.W-1)
		}
	}
	for _, tc := range []struct {
		id         compact.NodeID
		level      uint8
		n          uint64
		pos, count int
	}{
		{compact.NodeID{Level: 1, Index: 0}, 0, 0, 0, 2},
		{compact.NodeID{Level: 7, Index: 1}, 0, 0, 128, 128},
		{compact.NodeID{Level: 7, Index: 2}, 0, 1, 0, 128},
		{compact.NodeID{Level: 7, Index: 3}, 0, 1, 128, 128},
		{compact.NodeID{Level: 3, Index: 33}, 0, 1, 8, 8},
		{compact.NodeID{Level: 12, Index: 5}, 1, 0, 80, 16},
		{compact.NodeID{Level: 63, Index: 1}, 7, 0, 128, 128},
	} {
		level, n, pos, count := Locate(tc.id)
		if level != tc.level || n != tc.n || pos != tc.pos || count != tc.count {
			t.Errorf("Locate(%+v) = %d, %d, %d, %d; want %d, %d, %d, %d", tc.id, level, n, pos, count, tc.level, tc.n, tc.pos, tc.count)
		}
	}
}

func TestSubtreeRoot(t *testing.T) {
	var hashes []byte
	var leaves [][]byte
	for i := range FullWidth {
		h := hasher.HashLeaf([]byte{byte(i)})
		hashes = append(hashes, h...)
		leaves = append(leaves, h)
	}
	for n := 1; n <= FullWidth; n *= 2 {
		for start := 0; start+n <= FullWidth; start += n {
			r := factory.NewEmptyRange(0)
			for _, h := range leaves[start : start+n] {
				if err := r.Append(h, nil); err != nil {
					t.Fatal(err)
				}
			}
			want, err := r.GetRootHash(nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := SubtreeRoot(hashes[start*HashSize : (start+n)*HashSize]); !bytes.Equal(got[:], want) {
				t.Fatalf("SubtreeRoot of hashes %d to %d = %x, want %x", start, start+n, got, want)
			}
		}
	}
	a, b := leaves[0], leaves[1]
	if got, want := HashChildren(a, b), hasher.HashChildren(a, b); !bytes.Equal(got[:], want) {
		t.Errorf("HashChildren = %x, RFC 6962 says %x", got, want)
	}
}
