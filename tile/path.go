package tile

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxLevel is the highest tile level a path may name.
//
// c2sp.org/tlog-tiles: the level is a decimal integer from 0 to 63, with no
// leading zeros.
//
// With 256-wide tiles only levels 0 to 7 can ever hold a hash (a level-8
// tile would start at entry 256^9 > 2^64), but the grammar allows up to 63,
// so higher levels parse and are then simply not found.
const MaxLevel = 63

// ErrMalformedPath is wrapped by every ParsePath error.
var ErrMalformedPath = errors.New("malformed tile path")

// maxPathLen bounds what ParsePath looks at. The longest valid path,
// "tile/entries/x018/x446/x744/x073/x709/x551/615.p/255", is 52 bytes.
const maxPathLen = 64

// Tile names one resource of the c2sp.org/tlog-tiles API: a Merkle tree tile
// (tile/<L>/<N>[.p/<W>]) or an entry bundle (tile/entries/<N>[.p/<W>]).
type Tile struct {
	// Entries is true for an entry bundle, false for a hash tile.
	Entries bool
	// Level is the tile's level, 0 to MaxLevel. It is 0 for entry bundles.
	Level uint8
	// N is the tile's index within its level.
	N uint64
	// Width is the number of hashes (or entries) in the tile, 1 to
	// FullWidth. FullWidth is a full tile; anything less is a partial one.
	Width int
}

// Partial reports whether t is a partial tile or bundle.
func (t Tile) Partial() bool { return t.Width < FullWidth }

// String returns PathFor(t).
func (t Tile) String() string { return PathFor(t) }

// PathFor returns the path of t relative to the log's prefix, such as
// "tile/0/x001/x234/067.p/8" or "tile/entries/000". t must be a Tile that
// ParsePath could return (Width 1..FullWidth, Level 0..MaxLevel, Level 0 for
// entry bundles); PathFor does not check.
func PathFor(t Tile) string {
	b := make([]byte, 0, maxPathLen)
	b = append(b, "tile/"...)
	if t.Entries {
		b = append(b, "entries/"...)
	} else {
		b = strconv.AppendUint(b, uint64(t.Level), 10)
		b = append(b, '/')
	}
	b = appendIndex(b, t.N)
	if t.Partial() {
		b = append(b, ".p/"...)
		b = strconv.AppendInt(b, int64(t.Width), 10)
	}
	return string(b)
}

// appendIndex appends n in the tile-path index encoding.
//
// c2sp.org/tlog-tiles: the index is split into path elements of three
// zero-padded digits each, and every element but the last starts with "x".
func appendIndex(b []byte, n uint64) []byte {
	var groups [7]uint16 // 2^64-1 has 20 digits: 7 groups
	k := 0
	for {
		groups[k] = uint16(n % 1000)
		k++
		n /= 1000
		if n == 0 {
			break
		}
	}
	for i := k - 1; i >= 0; i-- {
		if i > 0 {
			b = append(b, 'x')
		}
		g := groups[i]
		b = append(b, byte('0'+g/100), byte('0'+g/10%10), byte('0'+g%10))
		if i > 0 {
			b = append(b, '/')
		}
	}
	return b
}

// ParsePath parses a c2sp.org/tlog-tiles tile or entry bundle path relative
// to the log's prefix, such as "tile/0/x001/x234/067.p/8" (no leading
// slash). It accepts only the canonical encoding, the one PathFor produces,
// so that every resource has exactly one name (and one cache entry): no
// leading zeros in <L> or <W>, no empty or extra elements, no "x" on the last
// index element and no leading "x000" element, no index above 2^64-1.
func ParsePath(p string) (Tile, error) {
	fail := func(why string) (Tile, error) {
		if len(p) > maxPathLen {
			p = p[:maxPathLen] + "..."
		}
		return Tile{}, fmt.Errorf("%w %q: %s", ErrMalformedPath, p, why)
	}
	if len(p) > maxPathLen {
		return fail("too long")
	}
	rest, ok := strings.CutPrefix(p, "tile/")
	if !ok {
		return fail(`want "tile/" first`)
	}
	first, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return fail("no tile index")
	}
	var t Tile
	if first == "entries" {
		t.Entries = true
	} else {
		l, ok := parseDecimal(first)
		if !ok || l > MaxLevel {
			return fail("the level must be a decimal integer from 0 to 63 without leading zeros")
		}
		t.Level = uint8(l)
	}

	t.Width = FullWidth
	index, width, partial := strings.Cut(rest, ".p/")
	if partial {
		// c2sp.org/tlog-tiles: a partial tile's width is a decimal
		// integer from 1 to 255, with no leading zeros.
		w, ok := parseDecimal(width)
		if !ok || w < 1 || w >= FullWidth {
			return fail("the partial width must be a decimal integer from 1 to 255 without leading zeros")
		}
		t.Width = int(w)
	}

	n, ok := parseIndex(index)
	if !ok {
		return fail(`the index must be 3-digit elements, all but the last starting with "x", without a leading x000`)
	}
	t.N = n
	return t, nil
}

// parseDecimal parses a canonical unsigned decimal integer of at most three
// digits: no sign, no leading zeros ("0" itself is fine).
func parseDecimal(s string) (uint64, bool) {
	if len(s) == 0 || len(s) > 3 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

// parseIndex parses the <N> elements of a tile path, canonically.
func parseIndex(s string) (uint64, bool) {
	var n uint64
	for i := 0; ; i++ {
		elem, more, last := s, "", true
		if j := strings.IndexByte(s, '/'); j >= 0 {
			elem, more, last = s[:j], s[j+1:], false
		}
		if !last {
			// All but the last element begin with "x"; the first of
			// several must not be all zeros, or the same index would
			// have two names.
			if len(elem) != 4 || elem[0] != 'x' || (i == 0 && elem == "x000") {
				return 0, false
			}
			elem = elem[1:]
		}
		if len(elem) != 3 {
			return 0, false
		}
		var g uint64
		for k := 0; k < 3; k++ {
			c := elem[k]
			if c < '0' || c > '9' {
				return 0, false
			}
			g = g*10 + uint64(c-'0')
		}
		const max = 1<<64 - 1
		if n > (max-g)/1000 {
			return 0, false // overflow
		}
		n = n*1000 + g
		if last {
			return n, true
		}
		s = more
	}
}
