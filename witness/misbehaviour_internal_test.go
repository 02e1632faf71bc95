package witness

import (
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// TestConsistencyRoots checks consistencyRoots against the verifier of
// github.com/transparency-dev/merkle: on a proof of the right length made of
// arbitrary hashes, the roots it computes are roots the library accepts, and
// it rejects proofs of any other length.
func TestConsistencyRoots(t *testing.T) {
	var sizes []uint64
	for s := uint64(1); s <= 70; s++ {
		sizes = append(sizes, s)
	}
	sizes = append(sizes, 1<<20-1, 1<<20, 1<<20+1, 1<<40+12345)
	hash := func(parts ...any) []byte {
		h := sha256.Sum256(fmt.Append(nil, parts...))
		return h[:]
	}
	for _, m := range sizes {
		for _, n := range sizes {
			if m >= n {
				continue
			}
			nodes, err := proof.Consistency(m, n)
			if err != nil {
				t.Fatal(err)
			}
			dummy := make([][]byte, len(nodes.IDs))
			for i := range dummy {
				dummy[i] = hash(i)
			}
			honest, err := nodes.Rehash(dummy, rfc6962.DefaultHasher.HashChildren)
			if err != nil {
				t.Fatal(err)
			}
			want := len(honest)
			root1 := [32]byte(hash("root1", m, n))
			for l := 0; l <= want+1; l++ {
				p := make([][]byte, l)
				for i := range p {
					p[i] = hash(m, n, i)
				}
				r1, r2, ok := consistencyRoots(m, n, p, root1)
				if ok != (l == want) {
					t.Fatalf("m=%d n=%d: proof of %d hashes: ok=%v, want length %d", m, n, l, ok, want)
				}
				if !ok {
					continue
				}
				if err := proof.VerifyConsistency(rfc6962.DefaultHasher, m, n, p, r1[:], r2[:]); err != nil {
					t.Fatalf("m=%d n=%d: library rejects the roots consistencyRoots computed: %v", m, n, err)
				}
				if m&(m-1) == 0 && r1 != root1 {
					t.Fatalf("m=%d n=%d: power of two, but the old root isn't the given one", m, n)
				}
			}
		}
	}
}
