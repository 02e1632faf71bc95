package tile

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/transparency-dev/tessera/api/layout"
	"golang.org/x/mod/sumdb/tlog"
)

func TestParsePath(t *testing.T) {
	for _, tt := range []struct {
		path string
		want Tile
	}{
		{"tile/0/000", Tile{Level: 0, N: 0, Width: 256}},
		{"tile/0/001", Tile{Level: 0, N: 1, Width: 256}},
		{"tile/0/999", Tile{N: 999, Width: 256}},
		{"tile/0/x001/000", Tile{N: 1000, Width: 256}},
		// The spec's example.
		{"tile/0/x001/x234/067", Tile{N: 1234067, Width: 256}},
		{"tile/0/x001/x234/067.p/8", Tile{N: 1234067, Width: 8}},
		{"tile/1/000.p/1", Tile{Level: 1, N: 0, Width: 1}},
		{"tile/7/000.p/255", Tile{Level: 7, Width: 255}},
		{"tile/10/000", Tile{Level: 10, Width: 256}},
		{"tile/63/000", Tile{Level: 63, Width: 256}},
		{"tile/0/x018/x446/x744/x073/x709/x551/615", Tile{N: math.MaxUint64, Width: 256}},
		{"tile/entries/000", Tile{Entries: true, Width: 256}},
		{"tile/entries/x001/x234/067.p/8", Tile{Entries: true, N: 1234067, Width: 8}},
		{"tile/entries/x018/x446/x744/x073/x709/x551/615.p/255", Tile{Entries: true, N: math.MaxUint64, Width: 255}},
	} {
		t.Run(tt.path, func(t *testing.T) {
			got, err := ParsePath(tt.path)
			if err != nil {
				t.Fatalf("ParsePath(%q): %v", tt.path, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParsePath(%q) (-want +got):\n%s", tt.path, diff)
			}
			if p := PathFor(got); p != tt.path {
				t.Errorf("PathFor(%+v) = %q, want %q", got, p, tt.path)
			}
		})
	}
}

func TestParsePathRejects(t *testing.T) {
	for _, tt := range []struct {
		name, path string
	}{
		{"empty", ""},
		{"leading slash", "/tile/0/000"},
		{"no tile", "tiles/0/000"},
		{"no index", "tile/0"},
		{"no index slash", "tile/0/"},
		{"trailing slash", "tile/0/000/"},
		{"double slash", "tile/0//000"},
		{"level leading zero", "tile/00/000"},
		{"level leading zero 2", "tile/01/000"},
		{"level 64", "tile/64/000"},
		{"level 256", "tile/256/000"},
		{"level huge", "tile/1000/000"},
		{"level sign", "tile/+1/000"},
		{"level negative", "tile/-1/000"},
		{"level hex", "tile/0x1/000"},
		{"level empty", "tile//000"},
		{"level space", "tile/ 1/000"},
		{"index short", "tile/0/01"},
		{"index long", "tile/0/0001"},
		{"index unpadded", "tile/0/1"},
		{"index x on last", "tile/0/x001"},
		{"index x on both", "tile/0/x001/x002"},
		{"index x missing", "tile/0/001/002"},
		{"index leading x000", "tile/0/x000/001"},
		{"index leading x000 twice", "tile/0/x000/x000/001"},
		{"index non-digit", "tile/0/0a1"},
		{"index X upper", "tile/0/X001/000"},
		{"index sign", "tile/0/+01"},
		{"index overflow", "tile/0/x018/x446/x744/x073/x709/x551/616"},
		{"index overflow 2", "tile/0/x999/x999/x999/x999/x999/x999/999"},
		{"index 8 groups", "tile/0/x001/x000/x000/x000/x000/x000/x000/000"},
		{"width 0", "tile/0/000.p/0"},
		{"width 256", "tile/0/000.p/256"},
		{"width leading zero", "tile/0/000.p/01"},
		{"width 3 digits zero", "tile/0/000.p/007"},
		{"width empty", "tile/0/000.p/"},
		{"width sign", "tile/0/000.p/+5"},
		{"width trailing slash", "tile/0/000.p/5/"},
		{"width extra", "tile/0/000.p/5/000"},
		{"width twice", "tile/0/000.p/5.p/5"},
		{"dot p without slash", "tile/0/000.p"},
		{"p without dot", "tile/0/000p/5"},
		{"dot q", "tile/0/000.q/5"},
		{"p mid index", "tile/0/x001.p/5/000"},
		{"entries level", "tile/entries/0/000"},
		{"entries upper", "tile/Entries/000"},
		{"data (x/mod)", "tile/8/data/000"},
		{"x/mod height", "tile/8/0/000"},
		{"nul", "tile/0/000\x00"},
		{"too long", "tile/0/" + strings.Repeat("x001/", 20) + "000"},
		{"percent", "tile/0/%30%30%30"},
		{"dot segments", "tile/0/../000"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePath(tt.path)
			if err == nil {
				t.Fatalf("ParsePath(%q) = %+v, want an error", tt.path, got)
			}
			if !errors.Is(err, ErrMalformedPath) {
				t.Errorf("ParsePath(%q) error %v does not wrap ErrMalformedPath", tt.path, err)
			}
		})
	}
}

// TestPathForOtherImplementations checks PathFor against two tile-path
// encoders Evident did not write: golang.org/x/mod/sumdb/tlog (whose paths
// carry the tile height, "tile/8/...", which c2sp.org/tlog-tiles dropped)
// and tessera's api/layout.
func TestPathForOtherImplementations(t *testing.T) {
	ns := []uint64{0, 1, 2, 999, 1000, 1001, 65535, 999999, 1000000, 1234067, 1 << 40, math.MaxInt64}
	for _, n := range ns {
		for _, level := range []uint8{0, 1, 2, 7, 63} {
			for _, w := range []int{1, 2, 128, 255, 256} {
				tile := Tile{Level: level, N: n, Width: w}
				got := PathFor(tile)
				t.Run(got, func(t *testing.T) {
					xt := tlog.Tile{H: 8, L: int(level), N: int64(n), W: w}
					if want := strings.Replace(xt.Path(), "tile/8/", "tile/", 1); got != want {
						t.Errorf("PathFor = %q, x/mod/sumdb/tlog says %q", got, want)
					}
					p := uint8(w % 256) // tessera: 0 means full
					if want := layout.TilePath(uint64(level), n, p); got != want {
						t.Errorf("PathFor = %q, tessera says %q", got, want)
					}
					if level == 0 {
						et := tile
						et.Entries = true
						if got, want := PathFor(et), layout.EntriesPath(n, p); got != want {
							t.Errorf("PathFor(%+v) = %q, tessera says %q", et, got, want)
						}
					}
				})
			}
		}
	}
}

func pathSeeds() []string {
	return []string{
		"tile/0/000",
		"tile/0/x001/x234/067.p/8",
		"tile/entries/x001/x234/067.p/8",
		"tile/entries/000",
		"tile/63/x018/x446/x744/x073/x709/x551/615",
		"tile/0/x018/x446/x744/x073/x709/x551/616",
		"tile/0/x000/001",
		"tile/00/000",
		"tile/0/000.p/256",
		"tile/0/000.p/0",
		"tile/0/x001",
		"tile/8/data/000",
		"tile/0/000.p/5/",
		"tile//000",
		"",
	}
}

// FuzzParsePath checks that ParsePath never panics, that whatever it accepts
// is canonical (PathFor gives the same path back) and that x/mod's tlog
// parser, an independent implementation, reads an accepted hash-tile path the
// same way.
func FuzzParsePath(f *testing.F) {
	for _, s := range pathSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		tile, err := ParsePath(p)
		if err != nil {
			if !errors.Is(err, ErrMalformedPath) {
				t.Fatalf("ParsePath(%q) error %v does not wrap ErrMalformedPath", p, err)
			}
			return
		}
		if tile.Width < 1 || tile.Width > FullWidth || tile.Level > MaxLevel || (tile.Entries && tile.Level != 0) {
			t.Fatalf("ParsePath(%q) = %+v, out of range", p, tile)
		}
		if got := PathFor(tile); got != p {
			t.Fatalf("ParsePath(%q) = %+v, but PathFor gives %q", p, tile, got)
		}
		if tile.N > math.MaxInt64 {
			return // beyond x/mod's int64
		}
		xp := "tile/8/" + strings.TrimPrefix(p, "tile/")
		if tile.Entries {
			xp = "tile/8/data/" + strings.TrimPrefix(p, "tile/entries/")
		}
		xt, err := tlog.ParseTilePath(xp)
		if err != nil {
			t.Fatalf("ParsePath(%q) = %+v, but tlog.ParseTilePath(%q): %v", p, tile, xp, err)
		}
		wantL := int(tile.Level)
		if tile.Entries {
			wantL = -1
		}
		if xt.H != 8 || xt.L != wantL || xt.N != int64(tile.N) || xt.W != tile.Width {
			t.Fatalf("ParsePath(%q) = %+v, tlog.ParseTilePath(%q) = %+v", p, tile, xp, xt)
		}
	})
}

// FuzzPathFor checks that every valid Tile round-trips through its path.
func FuzzPathFor(f *testing.F) {
	f.Add(false, uint8(0), uint64(0), uint16(256))
	f.Add(false, uint8(0), uint64(1234067), uint16(8))
	f.Add(true, uint8(0), uint64(math.MaxUint64), uint16(255))
	f.Add(false, uint8(63), uint64(1000), uint16(1))
	f.Fuzz(func(t *testing.T, entries bool, level uint8, n uint64, width uint16) {
		tile := Tile{Entries: entries, Level: level % (MaxLevel + 1), N: n, Width: int(width)%FullWidth + 1}
		if entries {
			tile.Level = 0
		}
		p := PathFor(tile)
		got, err := ParsePath(p)
		if err != nil {
			t.Fatalf("ParsePath(PathFor(%+v) = %q): %v", tile, p, err)
		}
		if diff := cmp.Diff(tile, got); diff != "" {
			t.Fatalf("ParsePath(%q) (-want +got):\n%s", p, diff)
		}
	})
}
