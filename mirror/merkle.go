package mirror

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/transparency-dev/merkle/rfc6962"
)

var hasher = rfc6962.DefaultHasher

// emptyRoot is RFC 6962's root of the empty tree, SHA-256 of nothing.
var emptyRoot = sha256.Sum256(nil)

// leafHasher computes RFC 6962 leaf hashes, SHA-256(0x00 || entry), reusing
// one buffer. Not safe for concurrent use.
type leafHasher struct{ buf []byte }

func (h *leafHasher) hash(entry []byte) [32]byte {
	h.buf = append(append(h.buf[:0], 0), entry...)
	return sha256.Sum256(h.buf)
}

// splitBundle splits an entry bundle of width entries.
// c2sp.org/tlog-tiles: a bundle is a sequence of big-endian uint16
// length-prefixed entries.
func splitBundle(b []byte, width int) ([][]byte, error) {
	es := make([][]byte, 0, width)
	for len(es) < width {
		if len(b) < 2 {
			return nil, fmt.Errorf("bundle ends after %d of %d entries", len(es), width)
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return nil, fmt.Errorf("entry %d of the bundle is cut short: %d bytes of %d", len(es), len(b)-2, n)
		}
		es = append(es, b[2:2+n])
		b = b[2+n:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("bundle has %d bytes after its %d entries", len(b), width)
	}
	return es, nil
}

// bundlePrefix returns the bytes of the first width entries of bundle b.
func bundlePrefix(b []byte, width int) ([]byte, error) {
	off := 0
	for i := 0; i < width; i++ {
		if len(b)-off < 2 {
			return nil, fmt.Errorf("bundle ends after %d of %d entries", i, width)
		}
		n := int(binary.BigEndian.Uint16(b[off:]))
		if len(b)-off < 2+n {
			return nil, fmt.Errorf("entry %d of the bundle is cut short", i)
		}
		off += 2 + n
	}
	return b[:off], nil
}
