package ledger

import (
	"crypto/sha256"
	"fmt"
	"testing"
)

// BenchmarkMergeSort measures sorting one merge's keys (65,536 entries with a
// node's index keys), which runs off the sequencer but takes CPU from it: the
// CPU it takes, unpaced.
func BenchmarkMergeSort(b *testing.B) {
	r := newRecent(true)
	for i := range 65536 {
		id := sha256.Sum256([]byte(fmt.Sprint(i)))
		r.ident[id] = uint64(i)
		r.leaf[sha256.Sum256(id[:])] = uint64(i)
		r.addKeys([]IndexKey{
			{Name: "purl", Key: []byte(fmt.Sprintf("pkg:pypi/evidentbench@1.%d", i))},
			{Name: "pkg", Key: []byte("pkg:pypi/evidentbench")},
			{Name: "digest", Key: id[:]},
			{Name: "type", Key: []byte("https://slsa.dev/provenance/v1")},
		}, uint64(i))
	}
	b.ReportAllocs()
	for b.Loop() {
		var run mergeRun
		run.sortIdentities(r.ident, nil)
		run.sortIdentities(r.leaf, nil)
		for _, idx := range r.index {
			run.sortIndex(idx, nil)
		}
	}
}
