package ledger

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPostings checks postings and a merge run sorted from them against a
// map, with keys longer than a chunk, and with hashes cut to three bits so
// that most keys collide.
func TestPostings(t *testing.T) {
	for _, mask := range []uint64{^uint64(0), 7} {
		t.Run(fmt.Sprintf("mask=%x", mask), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			p := newPostings()
			p.mask = mask
			want := map[string][]uint64{}
			var keys []string
			for idx := range uint64(20000) {
				var key string
				switch n := rng.IntN(100); {
				case n < 30 && len(keys) > 0:
					key = keys[rng.IntN(len(keys))] // a key seen before
				case n < 31:
					key = string(bytes.Repeat([]byte{byte(n)}, postingsChunk+rng.IntN(100)))
				case n < 32:
					key = "" // the empty key is a key
				default:
					key = fmt.Sprintf("pkg:pypi/p%d@%d", rng.IntN(5000), rng.IntN(50))
				}
				if _, ok := want[key]; !ok {
					keys = append(keys, key)
				}
				want[key] = append(want[key], idx)
				p.add([]byte(key), idx)
				if rng.IntN(50) == 0 {
					p.add([]byte(key), idx) // named twice for one entry: one posting
				}
			}
			total := 0
			for key, idxs := range want {
				total += len(idxs)
				var got []uint64
				p.newestFirst([]byte(key), func(idx uint64) bool { got = append(got, idx); return true })
				if !slices.Equal(got, reversed(idxs)) {
					t.Fatalf("key %.40q: newestFirst gave %v, want %v reversed", key, got, idxs)
				}
			}
			p.newestFirst([]byte("absent"), func(uint64) bool { t.Fatal("an absent key has postings"); return false })
			if p.len() != total {
				t.Fatalf("len() = %d, want %d", p.len(), total)
			}

			var run mergeRun
			if !run.sortIndex(p, nil) {
				t.Fatal("sortIndex stopped unpaced")
			}
			var wantKeys [][]byte
			for key, idxs := range want {
				for _, idx := range idxs {
					k := binary.AppendUvarint(nil, uint64(len(key)))
					wantKeys = append(wantKeys, binary.BigEndian.AppendUint64(append(k, key...), idx))
				}
			}
			slices.SortFunc(wantKeys, bytes.Compare)
			if run.len() != len(wantKeys) {
				t.Fatalf("sortIndex gave %d keys, want %d", run.len(), len(wantKeys))
			}
			for i, k := range wantKeys {
				if !bytes.Equal(run.key(i), k) {
					t.Fatalf("sortIndex key %d is %.40q, want %.40q", i, run.key(i), k)
				}
			}
		})
	}
}

func reversed(s []uint64) []uint64 {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}
