package ledger

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestPacedSort(t *testing.T) {
	type item struct{ key, seq int }
	byKey := func(a, b item) int { return cmp.Compare(a.key, b.key) }
	closing := make(chan struct{})
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, paceEvery - 1, paceEvery, paceEvery + 1, 3*paceEvery + 7, 4 * paceEvery, 40000} {
		// Few distinct keys, so that stability shows.
		s := make([]item, n)
		for i := range s {
			s[i] = item{rng.IntN(max(1, n/8)), i}
		}
		want := slices.Clone(s)
		slices.SortStableFunc(want, byKey)
		for _, p := range []*pacer{nil, newPacer(func() bool { return false }, closing)} {
			got := slices.Clone(s)
			if !pacedSort(got, byKey, p) {
				t.Fatalf("n=%d: pacedSort stopped without being told to", n)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("n=%d (paced %v): not the stable sorted order", n, p != nil)
			}
		}
	}
}

func TestPacedSortStops(t *testing.T) {
	s := make([]int, 10*paceEvery)
	for i := range s {
		s[i] = len(s) - i
	}
	calls := 0
	p := newPacer(func() bool { calls++; return calls > 3 }, make(chan struct{}))
	if pacedSort(s, cmp.Compare[int], p) {
		t.Fatal("pacedSort ran to the end after its pacer said stop")
	}
	closing := make(chan struct{})
	close(closing)
	p = newPacer(func() bool { return false }, closing)
	p.work = p.work.Add(-paceSlice) // due a rest at once
	if pacedSort(s, cmp.Compare[int], p) {
		t.Fatal("pacedSort ran to the end after the ledger closed")
	}
}
