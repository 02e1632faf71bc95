package mirror

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/evident-dev/evident/server/tiles"
)

func TestEdgeTiles(t *testing.T) {
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
		for _, e := range edgeTiles(tc.size) {
			got = append(got, tiles.PathFor(e))
			if w := widthAt(tc.size, e.Level, e.N); w != e.Width {
				t.Errorf("size %d: widthAt(%s) = %d", tc.size, e, w)
			}
			if e.N > 0 && widthAt(tc.size, e.Level, e.N-1) != tileWidth {
				t.Errorf("size %d: the tile left of %s is not full", tc.size, e)
			}
			if widthAt(tc.size, e.Level, e.N+1) != 0 {
				t.Errorf("size %d: there is a tile right of %s", tc.size, e)
			}
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("edgeTiles(%d) (-want +got):\n%s", tc.size, diff)
		}
	}
}

func TestSplitBundle(t *testing.T) {
	for _, tc := range []struct {
		name   string
		bundle []byte
		width  int
		want   []string
		ok     bool
	}{
		{"two", []byte("\x00\x01a\x00\x02bc"), 2, []string{"a", "bc"}, true},
		{"empty entry", []byte("\x00\x00\x00\x01a"), 2, []string{"", "a"}, true},
		{"short", []byte("\x00\x01a"), 2, nil, false},
		{"cut entry", []byte("\x00\x01a\x00\x03bc"), 2, nil, false},
		{"trailing", []byte("\x00\x01a\x00"), 1, nil, false},
		{"odd length byte", []byte("\x00"), 1, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es, err := splitBundle(tc.bundle, tc.width)
			if (err == nil) != tc.ok {
				t.Fatalf("splitBundle = %v, want ok %v", err, tc.ok)
			}
			var got []string
			for _, e := range es {
				got = append(got, string(e))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzSplitBundle: entry bundles come from the network.
func FuzzSplitBundle(f *testing.F) {
	f.Add([]byte("\x00\x01a\x00\x02bc"), 2)
	f.Add([]byte("\x00\x00"), 1)
	f.Add([]byte("\xff\xff"), 1)
	f.Fuzz(func(t *testing.T, b []byte, width int) {
		if width < 1 || width > tileWidth {
			return
		}
		es, err := splitBundle(b, width)
		if err != nil {
			return
		}
		if len(es) != width {
			t.Fatalf("%d entries, want %d", len(es), width)
		}
		var again []byte
		for _, e := range es {
			again = append(again, byte(len(e)>>8), byte(len(e)))
			again = append(again, e...)
		}
		if string(again) != string(b) {
			t.Fatal("the entries don't re-encode to the bundle")
		}
		if p, err := bundlePrefix(b, width); err != nil || len(p) != len(b) {
			t.Fatalf("bundlePrefix of the whole bundle = %d bytes, %v", len(p), err)
		}
	})
}
