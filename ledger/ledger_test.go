package ledger

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evident-dev/evident/checkpoint"
	"github.com/evident-dev/evident/tile"
	"github.com/google/go-cmp/cmp"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"
)

func testKey(t testing.TB, origin string) (note.Signer, note.Verifier) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

func openTest(t testing.TB, path string, opts Options) *Ledger {
	t.Helper()
	l, err := Open(t.Context(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// waitMerged waits until no merge is under way or due: every entry's keys
// but the newest few are on disk.
func waitMerged(t testing.TB, l *Ledger) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		l.dedup.mu.RLock()
		settled := l.dedup.frozen == nil && len(l.dedup.ident) < l.opts.DedupMergeSize
		l.dedup.mu.RUnlock()
		if settled {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the merge under way did not finish in 30s")
		}
		time.Sleep(time.Millisecond)
	}
}

// reference is an in-memory tree built independently from compact ranges,
// to check the ledger's roots, tiles and proofs against.
type reference struct {
	leaves [][]byte
	roots  map[uint64][]byte
	rng    *compact.Range
}

func newReference() *reference {
	f := &compact.RangeFactory{Hash: hasher.HashChildren}
	return &reference{roots: map[uint64][]byte{0: hasher.EmptyRoot()}, rng: f.NewEmptyRange(0)}
}

func (r *reference) add(entry []byte) {
	h := hasher.HashLeaf(entry)
	r.leaves = append(r.leaves, h)
	if err := r.rng.Append(h, nil); err != nil {
		panic(err)
	}
	root, _ := r.rng.GetRootHash(nil)
	r.roots[uint64(len(r.leaves))] = root
}

// TestPropertyAgainstReference appends random batches, with duplicates,
// and compares roots, tiles, bundles and proofs with the reference at tree
// sizes around tile boundaries.
func TestPropertyAgainstReference(t *testing.T) {
	sizes := []uint64{1, 2, 3, 255, 256, 257, 511, 512, 513, 65535, 65536, 65537}
	if testing.Short() {
		sizes = sizes[:9]
	}
	target := sizes[len(sizes)-1] + 5
	signer, verifier := testKey(t, "example.com/prop")
	path := filepath.Join(t.TempDir(), "log.db")
	// Small merges, so that duplicates are found both in memory and on disk.
	opts := Options{Signer: signer, NoSync: true, DedupMergeSize: 5000}
	l := openTest(t, path, opts)
	ctx := context.Background()
	rnd := mrand.New(mrand.NewPCG(1, 2))
	ref := newReference()
	seen := map[string]uint64{}
	var all [][]byte
	for uint64(len(ref.leaves)) < target {
		n := 1 + rnd.IntN(700)
		batch := make([][]byte, n)
		for i := range batch {
			if len(all) > 0 && rnd.IntN(10) == 0 {
				batch[i] = all[rnd.IntN(len(all))] // a duplicate
				continue
			}
			e := make([]byte, 1+rnd.IntN(100))
			for j := range e {
				e[j] = byte(rnd.Uint32())
			}
			batch[i] = e
		}
		res, err := l.Append(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range batch {
			idx, dup := seen[string(e)]
			if dup != res[i].Duplicate {
				t.Fatalf("entry %d: Duplicate = %v, want %v", i, res[i].Duplicate, dup)
			}
			if dup {
				if res[i].Index != idx {
					t.Fatalf("duplicate got index %d, first was %d", res[i].Index, idx)
				}
				continue
			}
			if want := uint64(len(ref.leaves)); res[i].Index != want {
				t.Fatalf("new entry got index %d, want %d", res[i].Index, want)
			}
			seen[string(e)] = res[i].Index
			all = append(all, e)
			ref.add(e)
		}
	}

	for _, size := range sizes {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			root, err := l.RootAt(ctx, size)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(root, ref.roots[size]) {
				t.Fatalf("root at %d differs from reference", size)
			}
			for _, idx := range []uint64{0, size / 2, size - 1, uint64(rnd.IntN(int(size)))} {
				p, err := l.InclusionProof(ctx, idx, size)
				if err != nil {
					t.Fatal(err)
				}
				if err := proof.VerifyInclusion(hasher, idx, size, ref.leaves[idx], p, ref.roots[size]); err != nil {
					t.Errorf("inclusion %d in %d: %v", idx, size, err)
				}
			}
			for _, old := range []uint64{1, size / 2, size - 1, size} {
				if old == 0 {
					continue
				}
				p, err := l.ConsistencyProof(ctx, old, size)
				if err != nil {
					t.Fatal(err)
				}
				if err := proof.VerifyConsistency(hasher, old, size, p, ref.roots[old], ref.roots[size]); err != nil {
					t.Errorf("consistency %d -> %d: %v", old, size, err)
				}
			}
			// The level-0 tile and the bundle that end at this size.
			n, w := (size-1)/tile.FullWidth, int((size-1)%tile.FullWidth)+1
			got, err := l.Tile(ctx, 0, n, w)
			if err != nil {
				t.Fatal(err)
			}
			if want := bytes.Join(ref.leaves[n*tile.FullWidth:n*tile.FullWidth+uint64(w)], nil); !bytes.Equal(got, want) {
				t.Errorf("tile 0/%d.p/%d differs from the reference leaf hashes", n, w)
			}
			b, err := l.EntryBundle(ctx, n, w)
			if err != nil {
				t.Fatal(err)
			}
			es, err := splitBundle(b)
			if err != nil || len(es) != w {
				t.Fatalf("bundle %d.p/%d: %d entries, %v", n, w, len(es), err)
			}
			for i, e := range es {
				if !bytes.Equal(hasher.HashLeaf(e), ref.leaves[n*tile.FullWidth+uint64(i)]) {
					t.Fatalf("bundle %d entry %d differs", n, i)
				}
			}
		})
	}

	// Checkpoint, reopen, verify.
	signed, size := l.Checkpoint()
	n, err := note.Open(signed, note.VerifierList(verifier))
	if err != nil {
		t.Fatal(err)
	}
	c, err := checkpoint.Parse([]byte(n.Text))
	if err != nil {
		t.Fatal(err)
	}
	if c.Size != size || c.Size != uint64(len(ref.leaves)) || !bytes.Equal(c.Hash[:], ref.roots[c.Size]) {
		t.Fatalf("checkpoint %v does not match the reference tree of size %d", c, len(ref.leaves))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := openTest(t, path, opts)
	if got, want := l2.Size(), uint64(len(ref.leaves)); got != want {
		t.Fatalf("after reopen size %d, want %d", got, want)
	}
	if err := l2.Verify(ctx, verifier); err != nil {
		t.Fatal(err)
	}
	// Entries read back byte for byte, across bundles and the tail.
	got, err := l2.Entries(ctx, 0, len(all))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(all, got); diff != "" {
		t.Fatalf("entries differ after reopen (-want +got):\n%.2000s", diff)
	}
	for _, idx := range []uint64{0, 300, uint64(len(all) - 1)} {
		var lh [32]byte
		copy(lh[:], ref.leaves[idx])
		got, err := l2.IndexOfLeaf(ctx, lh)
		if err != nil || got != idx {
			t.Errorf("IndexOfLeaf(leaf %d) = %d, %v", idx, got, err)
		}
	}
}

func TestBeyondTheTree(t *testing.T) {
	signer, _ := testKey(t, "example.com/beyond")
	l := openTest(t, filepath.Join(t.TempDir(), "log.db"), Options{Signer: signer, NoSync: true})
	ctx := context.Background()
	var es [][]byte
	for i := range 300 {
		es = append(es, []byte(fmt.Sprint("entry ", i)))
	}
	if _, err := l.Append(ctx, es); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"entry at size", func() error { _, err := l.Entry(ctx, 300); return err }},
		{"entries across size", func() error { _, err := l.Entries(ctx, 299, 2); return err }},
		{"tile wider than tree", func() error { _, err := l.Tile(ctx, 0, 1, 45); return err }},
		{"tile beyond tree", func() error { _, err := l.Tile(ctx, 0, 2, 1); return err }},
		{"level-1 full tile", func() error { _, err := l.Tile(ctx, 1, 0, 256); return err }},
		{"bundle wider than tree", func() error { _, err := l.EntryBundle(ctx, 1, 45); return err }},
		{"bundle beyond tree", func() error { _, err := l.EntryBundle(ctx, 2, 1); return err }},
		{"inclusion beyond size", func() error { _, err := l.InclusionProof(ctx, 300, 300); return err }},
		{"inclusion in a bigger tree", func() error { _, err := l.InclusionProof(ctx, 1, 301); return err }},
		{"consistency to a bigger tree", func() error { _, err := l.ConsistencyProof(ctx, 1, 301); return err }},
		{"consistency backwards", func() error { _, err := l.ConsistencyProof(ctx, 200, 100); return err }},
		{"unknown leaf", func() error { _, err := l.IndexOfLeaf(ctx, [32]byte{1}); return err }},
		{"unsigned size", func() error { _, err := l.CheckpointAt(ctx, 17); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, ErrNotFound) {
				t.Errorf("got %v, want ErrNotFound", err)
			}
		})
	}
	// Partial widths that exist are served.
	if _, err := l.Tile(ctx, 0, 1, 44); err != nil {
		t.Error(err)
	}
	if _, err := l.EntryBundle(ctx, 1, 44); err != nil {
		t.Error(err)
	}
	if _, err := l.EntryBundle(ctx, 0, 3); err != nil {
		t.Error(err)
	}
}

func TestInvalidEntriesStoreNothing(t *testing.T) {
	signer, _ := testKey(t, "example.com/invalid")
	refuse := errors.New("not an entry I index")
	l := openTest(t, filepath.Join(t.TempDir(), "log.db"), Options{
		Signer: signer, NoSync: true,
		Index: func(e []byte) ([]IndexKey, error) {
			if bytes.HasPrefix(e, []byte("bad")) {
				return nil, refuse
			}
			return []IndexKey{{Name: "first", Key: e[:1]}}, nil
		},
	})
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		batch [][]byte
		want  error
	}{
		{"empty entry", [][]byte{[]byte("ok"), {}}, ErrInvalidEntry},
		{"oversized entry", [][]byte{[]byte("ok"), make([]byte, MaxEntrySize+1)}, ErrInvalidEntry},
		{"index refuses", [][]byte{[]byte("ok"), []byte("bad one")}, refuse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := l.Append(ctx, tc.batch); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if l.Size() != 0 {
				t.Fatalf("size %d after a refused append", l.Size())
			}
		})
	}
	if _, err := l.Append(ctx, [][]byte{make([]byte, MaxEntrySize)}); err != nil {
		t.Fatalf("largest entry refused: %v", err)
	}
}

func TestDedup(t *testing.T) {
	signer, _ := testKey(t, "example.com/dedup")
	// Identity on the first 4 bytes: entries that differ after them are the
	// same thing submitted twice.
	path := filepath.Join(t.TempDir(), "log.db")
	opts := Options{
		Signer: signer, NoSync: true,
		Identity: func(e []byte) [32]byte { return sha256.Sum256(e[:min(4, len(e))]) },
		// Merge after every couple of entries: duplicates are then found
		// on disk as well as in memory.
		DedupMergeSize: 2,
	}
	l := openTest(t, path, opts)
	ctx := context.Background()
	res, err := l.Append(ctx, [][]byte{[]byte("aaaa-1"), []byte("bbbb-1"), []byte("aaaa-2")})
	if err != nil {
		t.Fatal(err)
	}
	want := []Appended{{0, false}, {1, false}, {0, true}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	res, err = l.Append(ctx, [][]byte{[]byte("bbbb-3"), []byte("cccc")})
	if err != nil {
		t.Fatal(err)
	}
	want = []Appended{{1, true}, {2, false}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if got, err := l.IndexOfIdentity(ctx, sha256.Sum256([]byte("cccc"))); err != nil || got != 2 {
		t.Fatalf("IndexOfIdentity = %d, %v", got, err)
	}
	var lh [32]byte
	copy(lh[:], hasher.HashLeaf([]byte("bbbb-1")))
	if got, err := l.IndexOfLeaf(ctx, lh); err != nil || got != 1 {
		t.Fatalf("IndexOfLeaf = %d, %v", got, err)
	}
	// After a reopen, both the merged and the in-memory part still dedup.
	if _, err := l.Append(ctx, [][]byte{[]byte("dddd")}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l = openTest(t, path, opts)
	res, err = l.Append(ctx, [][]byte{[]byte("aaaa-9"), []byte("dddd-9"), []byte("eeee")})
	if err != nil {
		t.Fatal(err)
	}
	want = []Appended{{0, true}, {3, true}, {4, false}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Fatalf("after reopen (-want +got):\n%s", diff)
	}
}

func TestScan(t *testing.T) {
	// Merge sizes put the keys all in memory, split between memory and
	// disk, or all on disk after a reopen.
	for _, mergeSize := range []int{2, 3, 65536} {
		t.Run(fmt.Sprint("merge", mergeSize), func(t *testing.T) {
			testScan(t, mergeSize)
		})
	}
}

func testScan(t *testing.T, mergeSize int) {
	signer, verifier := testKey(t, "example.com/scan")
	path := filepath.Join(t.TempDir(), "log.db")
	opts := Options{
		Signer: signer, NoSync: true, DedupMergeSize: mergeSize,
		Index: func(e []byte) ([]IndexKey, error) {
			// "a1" is filed under "a"; "ab1" under "ab"; a key must not
			// match another that it prefixes.
			return []IndexKey{{Name: "pkg", Key: bytes.TrimRight(e, "0123456789")}}, nil
		},
	}
	l := openTest(t, path, opts)
	ctx := context.Background()
	for _, e := range []string{"a1", "ab1", "a2", "b1", "a3", "ab2"} {
		if _, err := l.Append(ctx, [][]byte{[]byte(e)}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(l *Ledger) {
		scan := func(key string, before uint64, limit int) []uint64 {
			var got []uint64
			err := l.Scan(ctx, "pkg", []byte(key), before, func(i uint64) bool {
				got = append(got, i)
				return len(got) < limit
			})
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		for _, tc := range []struct {
			key    string
			before uint64
			limit  int
			want   []uint64
		}{
			{"a", 0, 10, []uint64{4, 2, 0}},
			{"ab", 0, 10, []uint64{5, 1}},
			{"a", 4, 10, []uint64{2, 0}},
			{"a", 0, 2, []uint64{4, 2}},
			{"a", 1, 10, []uint64{0}},
			{"a", 0, 1, []uint64{4}},
			{"c", 0, 10, nil},
		} {
			if diff := cmp.Diff(tc.want, scan(tc.key, tc.before, tc.limit)); diff != "" {
				t.Errorf("Scan(%q, before %d): (-want +got)\n%s", tc.key, tc.before, diff)
			}
		}
		if err := l.Scan(ctx, "nosuchindex", []byte("a"), 0, func(uint64) bool { t.Error("called"); return true }); err != nil {
			t.Fatal(err)
		}
	}
	check(l)
	if err := l.Verify(ctx, verifier); err != nil {
		t.Fatal(err)
	}
	l.Close()
	check(openTest(t, path, opts))
}

func TestPushback(t *testing.T) {
	signer, _ := testKey(t, "example.com/pushback")
	l := openTest(t, filepath.Join(t.TempDir(), "log.db"), Options{
		Signer: signer, NoSync: true,
		// The sequencer waits an hour to fill a batch, so queued entries
		// stay queued until Close.
		MaxBatchSize: 1000, MaxPending: 1000, MaxBatchWait: time.Hour,
	})
	ctx := context.Background()
	mk := func(prefix string, n int) [][]byte {
		var es [][]byte
		for i := range n {
			es = append(es, []byte(fmt.Sprint(prefix, i)))
		}
		return es
	}
	var wg sync.WaitGroup
	wg.Add(1)
	var firstErr error
	go func() {
		defer wg.Done()
		_, firstErr = l.Append(ctx, mk("a", 600))
	}()
	deadline := time.Now().Add(10 * time.Second)
	for l.pending.Load() < 600 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if _, err := l.Append(ctx, mk("b", 600)); !errors.Is(err, ErrPushback) {
		t.Fatalf("second append: got %v, want ErrPushback", err)
	}
	if _, err := l.Append(ctx, mk("c", 1001)); !errors.Is(err, ErrInvalidEntry) {
		t.Fatalf("append bigger than the queue: got %v, want ErrInvalidEntry", err)
	}
	// Close commits what was queued.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("queued append: %v", firstErr)
	}
	if _, err := l.Append(ctx, mk("d", 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: got %v, want ErrClosed", err)
	}
}

func TestOpenRefusesForeignFiles(t *testing.T) {
	signer, _ := testKey(t, "example.com/foreign")
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage")
	if err := os.WriteFile(garbage, bytes.Repeat([]byte("not a database "), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	otherBolt := filepath.Join(dir, "other.db")
	newer := filepath.Join(dir, "newer.db")
	for path, fill := range map[string]func(*bolt.Tx) error{
		otherBolt: func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("users")); return err },
		newer: func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket(bucketMeta)
			if err != nil {
				return err
			}
			return b.Put(keyFormat, []byte("evident-ledger/99"))
		},
	} {
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(fill); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	for _, path := range []string{garbage, otherBolt, newer} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			before, _ := os.ReadFile(path)
			l, err := Open(t.Context(), path, Options{Signer: signer})
			if err == nil {
				l.Close()
				t.Fatal("opened a foreign file")
			}
			if !errors.Is(err, ErrUnrecognized) {
				t.Errorf("got %v, want ErrUnrecognized", err)
			}
			if path == newer && !strings.Contains(fmt.Sprint(err), "move it aside to start a new log") {
				t.Errorf("a ledger of another format version: %v; want a hint at what to do", err)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Error("the refused file was modified")
			}
		})
	}
}

func TestOpenRefusesAnotherLogsKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.db")
	s1, _ := testKey(t, "example.com/one")
	l := openTest(t, path, Options{Signer: s1, NoSync: true})
	if _, err := l.Append(context.Background(), [][]byte{[]byte("x")}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	s2, _ := testKey(t, "example.com/two")
	if l2, err := Open(t.Context(), path, Options{Signer: s2}); err == nil {
		l2.Close()
		t.Fatal("opened a log with another log's key")
	}
}

// TestSchema: a ledger records the schema of its entries and refuses to be
// opened for another, or, once it holds entries, for one when it recorded
// none.
func TestSchema(t *testing.T) {
	s, _ := testKey(t, "example.com/log")
	dir := t.TempDir()
	path := filepath.Join(dir, "log.db")
	l := openTest(t, path, Options{Signer: s, NoSync: true, Schema: "example.com/entry/v2"})
	if _, err := l.Append(context.Background(), [][]byte{[]byte("x")}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l2, err := Open(t.Context(), path, Options{Signer: s, Schema: "example.com/entry/v3"})
	if err == nil {
		l2.Close()
		t.Fatal("opened a ledger of entry/v2 for entry/v3")
	}
	if !errors.Is(err, ErrUnrecognized) || !strings.Contains(err.Error(), `schema "example.com/entry/v2"`) || !strings.Contains(err.Error(), "move it aside to start a new log") {
		t.Errorf("opening for another schema: %v", err)
	}
	l = openTest(t, path, Options{Signer: s, NoSync: true, Schema: "example.com/entry/v2"})
	l.Close()

	// A ledger with entries but no schema: made before schemas were kept.
	old := filepath.Join(dir, "old.db")
	l = openTest(t, old, Options{Signer: s, NoSync: true})
	if _, err := l.Append(context.Background(), [][]byte{[]byte("x")}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if l2, err := Open(t.Context(), old, Options{Signer: s, Schema: "example.com/entry/v2"}); err == nil || !strings.Contains(err.Error(), "no schema") {
		if l2 != nil {
			l2.Close()
		}
		t.Errorf("opening a ledger without a schema: %v", err)
	}
	// An empty one takes the schema it is opened with, and keeps it once
	// it holds entries.
	empty := filepath.Join(dir, "empty.db")
	openTest(t, empty, Options{Signer: s, NoSync: true}).Close()
	openTest(t, empty, Options{Signer: s, NoSync: true, Schema: "example.com/entry/v1"}).Close()
	l = openTest(t, empty, Options{Signer: s, NoSync: true, Schema: "example.com/entry/v2"})
	if _, err := l.Append(context.Background(), [][]byte{[]byte("x")}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if l2, err := Open(t.Context(), empty, Options{Signer: s, Schema: "example.com/entry/v1"}); err == nil {
		l2.Close()
		t.Error("a ledger of entry/v2 entries opened for entry/v1")
	}
}

func TestVerifyFindsCorruption(t *testing.T) {
	signer, verifier := testKey(t, "example.com/corrupt")
	ctx := context.Background()
	build := func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), "log.db")
		l := openTest(t, path, Options{Signer: signer, NoSync: true, DedupMergeSize: 256})
		var es [][]byte
		for i := range 600 {
			es = append(es, []byte(fmt.Sprint("entry ", i)))
		}
		if _, err := l.Append(ctx, es); err != nil {
			t.Fatal(err)
		}
		// Entries' keys on disk, so that the edits below meet them there.
		waitMerged(t, l)
		if err := l.Verify(ctx, verifier); err != nil {
			t.Fatalf("clean ledger: %v", err)
		}
		l.Close()
		return path
	}
	for _, tc := range []struct {
		name  string
		where string
		edit  func(tx *bolt.Tx) error
	}{
		{"tile hash", "entry 5", func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketTiles)
			t := append([]byte(nil), b.Get(tileKey(0, 0))...)
			t[5*32] ^= 1
			return b.Put(tileKey(0, 0), t)
		}},
		{"bundle entry", "entry 259", func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketLog)
			v := append([]byte(nil), b.Get(u64(259))...)
			v[0] ^= 1
			return b.Put(u64(259), v)
		}},
		{"missing entry", "entry 300", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketLog).Delete(u64(300))
		}},
		{"dedup index", "entry 7", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketIdentity).Delete(hasher.HashLeaf([]byte("entry 7")))
		}},
		{"checkpoint signature", "checkpoint 600", func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketLog)
			v := append([]byte(nil), b.Get(checkpointKey(600))...)
			v[len(v)-5] ^= 1
			return b.Put(checkpointKey(600), v)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := build(t)
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(tc.edit); err != nil {
				t.Fatal(err)
			}
			db.Close()
			l := openTest(t, path, Options{Signer: signer, NoSync: true, DedupMergeSize: 256})
			err = l.Verify(ctx, verifier)
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("got %v, want a *VerifyError", err)
			}
			// The bundle case reports entry 259 (bundle 1, entry 3).
			want := tc.where
			if tc.name == "bundle entry" {
				want = "entry 259"
			}
			if ve.Where != want {
				t.Errorf("Where = %q, want %q (%v)", ve.Where, want, err)
			}
		})
	}
}

func TestNeverSignsInconsistentCheckpoint(t *testing.T) {
	signer, _ := testKey(t, "example.com/consistent")
	l := openTest(t, filepath.Join(t.TempDir(), "log.db"), Options{Signer: signer, NoSync: true})
	ctx := context.Background()
	if _, err := l.Append(ctx, [][]byte{[]byte("one"), []byte("two"), []byte("three")}); err != nil {
		t.Fatal(err)
	}
	// Pretend the last signed checkpoint had another root: the ledger must
	// refuse to sign the next tree.
	l.seqState.cpRoot = bytes.Repeat([]byte{7}, 32)
	if _, err := l.Append(ctx, [][]byte{[]byte("four")}); err == nil {
		t.Fatal("signed a checkpoint inconsistent with the previous one")
	}
	if _, size := l.Checkpoint(); size != 3 {
		t.Fatalf("checkpoint size %d, want 3", size)
	}
	if l.Size() != 3 {
		t.Fatalf("size %d after a refused batch, want 3", l.Size())
	}
}

func TestCheckpointInterval(t *testing.T) {
	signer, verifier := testKey(t, "example.com/interval")
	path := filepath.Join(t.TempDir(), "log.db")
	l := openTest(t, path, Options{Signer: signer, NoSync: true, CheckpointInterval: 20 * time.Millisecond})
	ctx := context.Background()
	if _, err := l.Append(ctx, [][]byte{[]byte("one"), []byte("two")}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, size := l.Checkpoint(); size == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint covering the entries within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := l.Verify(ctx, verifier); err != nil {
		t.Fatal(err)
	}
}

func TestBlobs(t *testing.T) {
	signer, verifier := testKey(t, "example.com/blobs")
	// Entries name their blob: identity is the blob's digest, and Verify
	// checks each blob against its entry.
	opts := Options{
		Signer: signer, NoSync: true,
		Identity: func(e []byte) [32]byte { return sha256.Sum256(e[len("entry of "):]) },
		CheckBlob: func(e, b []byte) error {
			if !bytes.Equal(e[len("entry of "):], b) {
				return errors.New("blob does not match its entry")
			}
			return nil
		},
	}
	path := filepath.Join(t.TempDir(), "log.db")
	l := openTest(t, path, opts)
	ctx := context.Background()
	blob := func(s string) []byte { return bytes.Repeat([]byte(s), 1000) }
	entry := func(s string) []byte { return append([]byte("entry of "), blob(s)...) }
	// A blob of largeValue bytes or more is stored apart from the others.
	large := strings.Repeat("L", 2*largeValue/1000)
	res, err := l.AppendWithBlobs(ctx, [][]byte{entry("a"), entry("b"), entry(large)}, [][]byte{blob("a"), blob("b"), blob(large)})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Index != 0 || res[1].Index != 1 || res[2].Index != 2 {
		t.Fatalf("indices %v", res)
	}
	for i, s := range []string{"a", "b", large} {
		got, err := l.Blob(ctx, uint64(i))
		if err != nil || !bytes.Equal(got, blob(s)) {
			t.Fatalf("Blob(%d) = %d bytes, %v", i, len(got), err)
		}
	}
	// A refused call stores no blob.
	if _, err := l.AppendWithBlobs(ctx, [][]byte{entry("c"), {}}, [][]byte{blob("c"), blob("d")}); !errors.Is(err, ErrInvalidEntry) {
		t.Fatalf("got %v, want ErrInvalidEntry", err)
	}
	// A duplicate keeps the first blob; blobs and entries must pair up.
	if res, err := l.AppendWithBlobs(ctx, [][]byte{entry("a")}, [][]byte{blob("a")}); err != nil || !res[0].Duplicate {
		t.Fatalf("duplicate: %v, %v", res, err)
	}
	if _, err := l.AppendWithBlobs(ctx, [][]byte{entry("e")}, [][]byte{}); !errors.Is(err, ErrInvalidEntry) {
		t.Fatalf("mismatched blobs: got %v", err)
	}
	if n, err := l.BlobCount(ctx); err != nil || n != 3 {
		t.Fatalf("BlobCount = %d, %v; want 3", n, err)
	}
	if _, err := l.Blob(ctx, 3); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Blob(3): got %v, want ErrNotFound", err)
	}
	if err := l.Verify(ctx, verifier); err != nil {
		t.Fatal(err)
	}
	// Verify catches a blob that no longer matches its entry.
	l.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketLog).Put(blobKey(1), blob("x")) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	l = openTest(t, path, opts)
	var ve *VerifyError
	if err := l.Verify(ctx, verifier); !errors.As(err, &ve) || ve.Where != "blob of entry 1" {
		t.Fatalf("Verify after tampering a blob: %v", err)
	}
}

func TestPushbackByBytes(t *testing.T) {
	signer, _ := testKey(t, "example.com/pushback-bytes")
	l := openTest(t, filepath.Join(t.TempDir(), "log.db"), Options{
		Signer: signer, NoSync: true,
		MaxBatchSize: 1000, MaxBatchWait: time.Hour, MaxPendingBytes: 1 << 20,
	})
	ctx := context.Background()
	big := make([]byte, 700<<10)
	done := make(chan error, 1)
	go func() {
		_, err := l.AppendWithBlobs(ctx, [][]byte{[]byte("first")}, [][]byte{big})
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for l.pendingB.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if _, err := l.AppendWithBlobs(ctx, [][]byte{[]byte("second")}, [][]byte{big}); !errors.Is(err, ErrPushback) {
		t.Fatalf("got %v, want ErrPushback", err)
	}
	l.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// splitBundle splits a c2sp.org/tlog-tiles entry bundle into its entries
// (each a big-endian uint16 length, then the entry). The entries alias b.
func splitBundle(b []byte) ([][]byte, error) {
	var es [][]byte
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, fmt.Errorf("truncated length")
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return nil, fmt.Errorf("truncated entry")
		}
		es = append(es, b[2:2+n])
		b = b[2+n:]
	}
	return es, nil
}

// TestDedupRacesMerges appends each entry from several goroutines at once
// while merges move identities from memory to disk every few entries: every
// caller of an entry must get the same index, and the log must hold each
// entry once, whichever side of a merge its duplicates were looked up on.
func TestDedupRacesMerges(t *testing.T) {
	signer, verifier := testKey(t, "example.com/dedup-race")
	path := filepath.Join(t.TempDir(), "log.db")
	l := openTest(t, path, Options{Signer: signer, NoSync: true, DedupMergeSize: 3})
	ctx := context.Background()
	const distinct, copies = 400, 4
	got := make([][copies]uint64, distinct)
	var wg sync.WaitGroup
	for c := range copies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range distinct {
				// Each copy walks the entries in its own order:
				// multipliers prime to distinct make each a permutation.
				j := (i*[]int{1, 3, 7, 9}[c] + c*17) % distinct
				res, err := l.Append(ctx, [][]byte{[]byte(fmt.Sprint("entry ", j))})
				if err != nil {
					t.Error(err)
					return
				}
				got[j][c] = res[0].Index
			}
		}()
	}
	wg.Wait()
	if l.Size() != distinct {
		t.Fatalf("log holds %d entries for %d distinct ones", l.Size(), distinct)
	}
	for j, idxs := range got {
		for c := 1; c < copies; c++ {
			if idxs[c] != idxs[0] {
				t.Fatalf("entry %d got indices %v", j, idxs)
			}
		}
	}
	if err := l.Verify(ctx, verifier); err != nil {
		t.Fatal(err)
	}
}

// TestAppendIndexed: keys the caller passes are filed as Index would file
// them, and survive a merge, a reopen and Verify.
func TestAppendIndexed(t *testing.T) {
	signer, verifier := testKey(t, "example.com/indexed")
	index := func(e []byte) ([]IndexKey, error) {
		return []IndexKey{{Name: "pkg", Key: bytes.TrimRight(e, "0123456789")}}, nil
	}
	path := filepath.Join(t.TempDir(), "log.db")
	opts := Options{Signer: signer, NoSync: true, DedupMergeSize: 2, Index: index}
	l := openTest(t, path, opts)
	ctx := context.Background()
	var es [][]byte
	var keys [][]IndexKey
	for _, s := range []string{"a1", "b1", "a2"} {
		k, _ := index([]byte(s))
		es, keys = append(es, []byte(s)), append(keys, k)
	}
	if _, err := l.AppendIndexed(ctx, es, nil, keys[:2]); !errors.Is(err, ErrInvalidEntry) {
		t.Fatalf("keys for 2 of 3 entries: got %v, want ErrInvalidEntry", err)
	}
	if _, err := l.AppendIndexed(ctx, es, nil, keys); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l = openTest(t, path, opts)
	var got []uint64
	if err := l.Scan(ctx, "pkg", []byte("a"), 0, func(i uint64) bool { got = append(got, i); return true }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []uint64{2, 0}) {
		t.Fatalf("Scan(a) = %v, want [2 0]", got)
	}
	if err := l.Verify(ctx, verifier); err != nil {
		t.Fatal(err)
	}
}

// TestMergeInSteps: while a merge moves keys to disk a few at a time, every
// entry stays findable once by identity and by secondary key; and a copy of
// the file taken between any two transactions, as a crash would leave it,
// opens, verifies and answers the same.
func TestMergeInSteps(t *testing.T) {
	signer, verifier := testKey(t, "example.com/steps")
	index := func(e []byte) ([]IndexKey, error) {
		var i int
		if _, err := fmt.Sscanf(string(e), "entry %d", &i); err != nil {
			return nil, err
		}
		return []IndexKey{{Name: "group", Key: []byte(fmt.Sprint(i % 7))}, {Name: "self", Key: e}}, nil
	}
	dir := t.TempDir()
	opts := Options{Signer: signer, NoSync: true, DedupMergeSize: 40, Index: index}
	l, err := Open(t.Context(), filepath.Join(dir, "log.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.stepKeys = 5
	ctx := context.Background()

	// check asserts that l finds exactly entries [0, n).
	check := func(t *testing.T, l *Ledger, n int) {
		t.Helper()
		for i := range n {
			e := []byte(fmt.Sprint("entry ", i))
			if got, err := l.IndexOfLeaf(ctx, [32]byte(hasher.HashLeaf(e))); err != nil || got != uint64(i) {
				t.Fatalf("IndexOfLeaf(entry %d) = %d, %v", i, got, err)
			}
		}
		for g := range 7 {
			var got, want []uint64
			for i := n - 1; i >= 0; i-- {
				if i%7 == g {
					want = append(want, uint64(i))
				}
			}
			if err := l.Scan(ctx, "group", []byte(fmt.Sprint(g)), 0, func(i uint64) bool { got = append(got, i); return true }); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("Scan(group %d) at size %d = %v, want %v", g, n, got, want)
			}
		}
	}

	var snaps []string
	sizes := map[string]int{}
	const total = 300
	for i := range total {
		e := []byte(fmt.Sprint("entry ", i))
		if _, err := l.Append(ctx, [][]byte{e}); err != nil {
			t.Fatal(err)
		}
		// A duplicate, wherever its first copy's keys are now.
		if i%13 == 0 {
			j := i / 2
			app, err := l.Append(ctx, [][]byte{[]byte(fmt.Sprint("entry ", j))})
			if err != nil || !app[0].Duplicate || app[0].Index != uint64(j) {
				t.Fatalf("appending entry %d again: %+v, %v", j, app, err)
			}
		}
		if i%5 == 0 {
			check(t, l, i+1)
			snap := filepath.Join(dir, fmt.Sprint("snap", i, ".db"))
			if err := l.db.View(func(tx *bolt.Tx) error { return tx.CopyFile(snap, 0o600) }); err != nil {
				t.Fatal(err)
			}
			snaps = append(snaps, snap)
			sizes[snap] = i + 1
		}
	}
	waitMerged(t, l)
	check(t, l, total)

	partial := 0
	for _, snap := range snaps {
		db, err := bolt.Open(snap, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		db.View(func(tx *bolt.Tx) error {
			merged, _ := readU64(tx.Bucket(bucketMeta), keyMerged)
			if uint64(tx.Bucket(bucketIdentity).Stats().KeyN) > merged {
				partial++
			}
			return nil
		})
		db.Close()
		s, err := Open(t.Context(), snap, opts)
		if err != nil {
			t.Fatalf("%s: %v", snap, err)
		}
		n := int(s.Size())
		if n < sizes[snap] {
			t.Fatalf("%s: size %d, want at least %d", snap, n, sizes[snap])
		}
		if err := s.Verify(ctx, verifier); err != nil {
			t.Fatalf("%s: %v", snap, err)
		}
		check(t, s, n)
		// It goes on merging where the copy stopped.
		if _, err := s.Append(ctx, [][]byte{[]byte(fmt.Sprint("entry ", n))}); err != nil {
			t.Fatal(err)
		}
		waitMerged(t, s)
		check(t, s, n+1)
		if err := s.Verify(ctx, verifier); err != nil {
			t.Fatalf("%s after merging: %v", snap, err)
		}
		s.Close()
	}
	if partial == 0 {
		t.Fatal("no copy caught a merge part way: the test no longer tests that")
	}
	t.Logf("%d of %d copies caught a merge part way", partial, len(snaps))
}

// TestIndexKeyBounds: index keys the buckets could not hold are refused at
// append time, not by a merge step long after.
func TestIndexKeyBounds(t *testing.T) {
	signer, _ := testKey(t, "example.com/bounds")
	index := func([]byte) ([]IndexKey, error) { return nil, nil } // keys come with the entries
	l := openTest(t, filepath.Join(t.TempDir(), "log.db"), Options{Signer: signer, NoSync: true, DedupMergeSize: 2, Index: index})
	ctx := context.Background()
	for _, k := range []IndexKey{
		{Name: "x", Key: bytes.Repeat([]byte("k"), MaxIndexKeySize+1)},
		{Name: strings.Repeat("n", MaxIndexNameSize+1), Key: []byte("k")},
		{Name: "", Key: []byte("k")},
		{Name: "x", Key: nil},
	} {
		_, err := l.AppendIndexed(ctx, [][]byte{[]byte("e")}, nil, [][]IndexKey{{k}})
		if !errors.Is(err, ErrInvalidEntry) {
			t.Errorf("key %d bytes under a %d-byte name: got %v, want ErrInvalidEntry", len(k.Key), len(k.Name), err)
		}
	}
	// The largest allowed key goes through a merge.
	big := IndexKey{Name: strings.Repeat("n", MaxIndexNameSize), Key: bytes.Repeat([]byte("k"), MaxIndexKeySize)}
	for i := range 3 {
		if _, err := l.AppendIndexed(ctx, [][]byte{[]byte(fmt.Sprint("e", i))}, nil, [][]IndexKey{{big}}); err != nil {
			t.Fatal(err)
		}
	}
	waitMerged(t, l)
	if l.Size() != 3 {
		t.Fatalf("size %d, want 3", l.Size())
	}
}

// TestMergeProgressesOnDuplicates: batches that append nothing, retried
// submissions say, still move a merge on.
func TestMergeProgressesOnDuplicates(t *testing.T) {
	signer, _ := testKey(t, "example.com/dups")
	l := openTest(t, filepath.Join(t.TempDir(), "log.db"), Options{Signer: signer, NoSync: true, DedupMergeSize: 8})
	ctx := context.Background()
	var es [][]byte
	for i := range 8 {
		es = append(es, []byte(fmt.Sprint("entry ", i)))
	}
	if _, err := l.Append(ctx, es); err != nil {
		t.Fatal(err)
	}
	// Duplicates more often than the sequencer's idle delay, so that only
	// batches can take the merge's steps.
	for range 100 {
		if _, err := l.Append(ctx, es[:1]); err != nil {
			t.Fatal(err)
		}
		l.dedup.mu.RLock()
		merged := l.dedup.merged
		l.dedup.mu.RUnlock()
		if merged == 8 {
			return
		}
		time.Sleep(mergeIdleDelay / 5)
	}
	t.Fatal("the merge made no progress while duplicates came")
}

// TestVerifyFindsStrayKeys: keys above the merge watermark, which a merge
// under way (or cut short) may have put, must point at the entry they are
// the key of.
func TestVerifyFindsStrayKeys(t *testing.T) {
	signer, verifier := testKey(t, "example.com/stray")
	identity := func(e []byte) [32]byte { return sha256.Sum256(append([]byte("id:"), e...)) }
	opts := Options{Signer: signer, NoSync: true, Identity: identity}
	ctx := context.Background()
	for _, tc := range []struct {
		bucket []byte
		where  string
	}{{bucketIdentity, "identity index key"}, {bucketLeaves, "leaf-hash index key"}} {
		t.Run(string(tc.bucket), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "log.db")
			l := openTest(t, path, opts)
			if _, err := l.Append(ctx, [][]byte{[]byte("a"), []byte("b"), []byte("c")}); err != nil {
				t.Fatal(err)
			}
			// Nothing is merged yet. A right key above the watermark is
			// fine, as a merge under way leaves it.
			err := l.db.Update(func(tx *bolt.Tx) error {
				ida, leafa := identity([]byte("a")), hasher.HashLeaf([]byte("a"))
				if err := tx.Bucket(bucketIdentity).Put(ida[:], u64(0)); err != nil {
					return err
				}
				return tx.Bucket(bucketLeaves).Put(leafa, u64(0))
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Verify(ctx, verifier); err != nil {
				t.Fatalf("a merge's keys above the watermark: %v", err)
			}
			// A key pointing at an entry it is not the key of is not.
			err = l.db.Update(func(tx *bolt.Tx) error {
				return tx.Bucket(tc.bucket).Put(bytes.Repeat([]byte{7}, 32), u64(1))
			})
			if err != nil {
				t.Fatal(err)
			}
			var ve *VerifyError
			if err := l.Verify(ctx, verifier); !errors.As(err, &ve) || !strings.HasPrefix(ve.Where, tc.where) {
				t.Fatalf("stray key: got %v, want a VerifyError at %s", err, tc.where)
			}
		})
	}
}

func TestVerifyFindsStrayIndexKeys(t *testing.T) {
	signer, verifier := testKey(t, "example.com/stray-index")
	// Each entry is filed under its first byte in "first" (named twice, as
	// an index function may) and under "x" in "all".
	index := func(e []byte) ([]IndexKey, error) {
		return []IndexKey{{Name: "first", Key: e[:1]}, {Name: "all", Key: []byte("x")}, {Name: "first", Key: e[:1]}}, nil
	}
	opts := Options{Signer: signer, NoSync: true, Index: index, DedupMergeSize: 4}
	ctx := context.Background()
	put := func(bucket string, key []byte) func(tx *bolt.Tx) error {
		return func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte(indexPrefix + bucket))
			if err != nil {
				return err
			}
			return b.Put(key, nil)
		}
	}
	for _, tc := range []struct {
		name   string
		tamper func(merged, size uint64) func(tx *bolt.Tx) error
		where  string // "" for no error
	}{
		{"a merge's right key above the watermark", func(merged, size uint64) func(tx *bolt.Tx) error {
			return put("first", indexKey([]byte("j"), size-1))
		}, ""},
		{"stray key below the watermark", func(merged, size uint64) func(tx *bolt.Tx) error {
			return put("first", indexKey([]byte("z"), 0))
		}, `index "first"`},
		{"key in an index no entry has", func(merged, size uint64) func(tx *bolt.Tx) error {
			return put("other", indexKey([]byte("a"), 0))
		}, `index "other"`},
		{"wrong key above the watermark", func(merged, size uint64) func(tx *bolt.Tx) error {
			return put("first", indexKey([]byte("q"), size-1))
		}, `index "first" key`},
		{"key beyond the tree", func(merged, size uint64) func(tx *bolt.Tx) error {
			return put("all", indexKey([]byte("x"), size+5))
		}, `index "all" key`},
		{"malformed key", func(merged, size uint64) func(tx *bolt.Tx) error {
			return put("all", []byte{0xff})
		}, `index "all" key`},
		{"a bucket inside an index", func(merged, size uint64) func(tx *bolt.Tx) error {
			return func(tx *bolt.Tx) error {
				_, err := tx.Bucket([]byte(indexPrefix + "all")).CreateBucket(indexKey([]byte("x"), size-1))
				return err
			}
		}, `index "all" key`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := openTest(t, filepath.Join(t.TempDir(), "log.db"), opts)
			appendEightMergedTwoNot(t, l)
			if err := l.Verify(ctx, verifier); err != nil {
				t.Fatalf("before tampering: %v", err)
			}
			var merged uint64
			err := l.db.View(func(tx *bolt.Tx) (err error) {
				merged, err = readU64(tx.Bucket(bucketMeta), keyMerged)
				return err
			})
			if err != nil || merged == 0 || merged >= 10 {
				t.Fatalf("watermark %d (%v): the test needs entries on both sides of it", merged, err)
			}
			if err := l.db.Update(tc.tamper(merged, 10)); err != nil {
				t.Fatal(err)
			}
			err = l.Verify(ctx, verifier)
			var ve *VerifyError
			switch {
			case tc.where == "" && err != nil:
				t.Fatalf("got %v, want no error", err)
			case tc.where != "" && (!errors.As(err, &ve) || !strings.HasPrefix(ve.Where, tc.where)):
				t.Fatalf("got %v, want a VerifyError at %s", err, tc.where)
			}
		})
	}
}

// TestVerifyCatchesUp checks the index keys of entries a merge passed after
// the walk read their chunk are checked all the same (catchUp).
func TestVerifyCatchesUp(t *testing.T) {
	signer, _ := testKey(t, "example.com/catch-up")
	index := func(e []byte) ([]IndexKey, error) { return []IndexKey{{Name: "first", Key: e[:1]}}, nil }
	l := openTest(t, filepath.Join(t.TempDir(), "log.db"), Options{Signer: signer, NoSync: true, Index: index, DedupMergeSize: 4})
	appendEightMergedTwoNot(t, l)
	// A walk that read every chunk before the merge counted nothing.
	check := func() error {
		w := &verifier{l: l, want: map[string]uint64{}}
		return l.db.View(func(tx *bolt.Tx) error {
			merged, err := readU64(tx.Bucket(bucketMeta), keyMerged)
			if err != nil {
				return err
			}
			if merged != 8 {
				t.Fatalf("watermark %d, want 8", merged)
			}
			if err := w.catchUp(tx, merged); err != nil {
				return err
			}
			return w.indexes(tx, tx.Bucket(bucketLog), merged, treeSize(tx))
		})
	}
	if err := check(); err != nil {
		t.Fatalf("healthy ledger: %v", err)
	}
	err := l.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(indexPrefix + "first")).Delete(indexKey([]byte("d"), 3))
	})
	if err != nil {
		t.Fatal(err)
	}
	var ve *VerifyError
	if err := check(); !errors.As(err, &ve) || ve.Where != "entry 3" {
		t.Fatalf("entry 3's key deleted: got %v, want a VerifyError at entry 3", err)
	}
}

// appendEightMergedTwoNot appends the entries "a!" to "j!" to l, a ledger
// with DedupMergeSize 4, so that the first eight are merged and the last two
// are above the watermark.
func appendEightMergedTwoNot(t *testing.T, l *Ledger) {
	t.Helper()
	var entries [][]byte
	for i := range 10 {
		entries = append(entries, []byte{'a' + byte(i), '!'})
	}
	for _, batch := range [][][]byte{entries[:8], entries[8:]} {
		if _, err := l.Append(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		waitMerged(t, l)
	}
}
