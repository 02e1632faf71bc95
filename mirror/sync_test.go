package mirror_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/mirror"
	"github.com/evident-dev/evident/mirror/mirrortest"
	"github.com/evident-dev/evident/witness"
)

// TestSyncGrowing mirrors a log as it grows across every kind of tile
// boundary, and checks after each step that the mirror serves what the log
// does and computes the same roots and proofs.
func TestSyncGrowing(t *testing.T) {
	t.Parallel()
	lg := mirrortest.NewLog(t, "example.org/mirror-test")
	dir := t.TempDir()
	var prev uint64
	for _, size := range []uint64{1, 2, 255, 256, 257, 511, 512, 1000, 65535, 65536, 65537, 65536 + 3*256 + 5, 2*65536 + 7} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			lg.Grow(t, int(size))
			var progress []mirror.Progress
			opts := syncOpts(lg.Server.URL, dir, lg.LogKey)
			opts.Progress = func(p mirror.Progress) { progress = append(progress, p) }
			res, err := mirror.Sync(bg, opts)
			if err != nil {
				t.Fatal(err)
			}
			cp, _ := lg.Ledger.Checkpoint()
			if !bytes.Equal(res.Checkpoint, cp) || res.Size != size || res.Previous != prev {
				t.Errorf("Sync = size %d (previous %d), want %d (previous %d)", res.Size, res.Previous, size, prev)
			}
			// The partial bundle the mirror held is fetched again, wider.
			if want := size - prev/256*256; res.Entries != want {
				t.Errorf("Sync fetched %d entries, want %d", res.Entries, want)
			}
			if len(progress) == 0 {
				t.Fatal("no progress reported")
			}
			if p := progress[len(progress)-1]; p.Verified != size || p.Size != size || p.Start != prev {
				t.Errorf("last progress %+v, want Verified = Size = %d, Start = %d", p, size, prev)
			}
			checkServed(t, dir, lg.Server.URL, size)
			checkReader(t, dir, lg, size)
			prev = size
		})
	}
	// Nothing new: nothing fetched but the checkpoint.
	res, err := mirror.Sync(bg, syncOpts(lg.Server.URL, dir, lg.LogKey))
	if err != nil {
		t.Fatal(err)
	}
	if res.Entries != 0 || res.Tiles != 0 || res.Size != prev {
		t.Errorf("a sync with nothing new fetched %d entries and %d tiles", res.Entries, res.Tiles)
	}
	// Superseded partial tiles are gone; the latest are there.
	files := storedFiles(t, dir)
	var partials []string
	for p := range files {
		if strings.Contains(p, ".p/") {
			partials = append(partials, p)
		}
	}
	slices.Sort(partials)
	if diff := cmp.Diff([]string{"tile/0/512.p/7", "tile/2/000.p/2", "tile/entries/512.p/7"}, partials); diff != "" {
		t.Errorf("partial tiles stored (-want +got):\n%s", diff)
	}
}

// checkReader checks Open's roots, proofs and entries against the ledger.
func checkReader(t *testing.T, dir string, lg *mirrortest.Log, size uint64) {
	t.Helper()
	m, err := mirror.Open(dir, lg.LogKey)
	if err != nil {
		t.Fatal(err)
	}
	if m.Size() != size {
		t.Fatalf("Open: size %d, want %d", m.Size(), size)
	}
	for _, s := range []uint64{1, size / 3, size/2 + 1, size - 1, size} {
		if s == 0 {
			continue
		}
		want, err := lg.Ledger.RootAt(bg, s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.RootAt(bg, s)
		if err != nil || !bytes.Equal(got[:], want) {
			t.Errorf("RootAt(%d) = %x, %v; want %x", s, got, err, want)
		}
		for _, i := range []uint64{0, s / 2, s - 1} {
			want, _ := lg.Ledger.InclusionProof(bg, i, s)
			got, err := m.InclusionProof(bg, i, s)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("InclusionProof(%d, %d) differs from the ledger's (-want +got):\n%s", i, s, diff)
			}
		}
		want2, _ := lg.Ledger.ConsistencyProof(bg, s, size)
		got2, err := m.ConsistencyProof(bg, s, size)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want2, got2); diff != "" {
			t.Errorf("ConsistencyProof(%d, %d) differs (-want +got):\n%s", s, size, diff)
		}
	}
	n := uint64(0)
	err = m.Entries(bg, 0, size, func(i uint64, e []byte) error {
		if i != n || !bytes.Equal(e, lg.Entries[i]) {
			return fmt.Errorf("entry %d is %q, want %d: %q", i, e, n, lg.Entries[n])
		}
		n++
		return nil
	})
	if err != nil || n != size {
		t.Fatalf("Entries: %d entries, %v", n, err)
	}
}

// TestSyncNode mirrors a whole node, envelopes included, grows it and
// mirrors again.
func TestSyncNode(t *testing.T) {
	t.Parallel()
	nd := mirrortest.StartNode(t)
	var evs []mirrortest.Evidence
	for i := range 300 {
		evs = append(evs, mirrortest.Evidence{Subjects: []string{fmt.Sprintf("pkg:pypi/demo%d@1.0.%d", i%7, i)}})
	}
	nd.Submit(t, evs...)
	dir := t.TempDir()
	opts := syncOpts(nd.URL(), dir, nd.LogKey)
	opts.Envelopes = true
	res, err := mirror.Sync(bg, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Size != 300 || res.Envelopes != 300 || res.Unparsed != 0 {
		t.Fatalf("Sync: size %d, %d envelopes, %d unparsed; want 300, 300, 0", res.Size, res.Envelopes, res.Unparsed)
	}
	checkServed(t, dir, nd.URL(), 300, envelopePaths(t, dir)...)

	evs = evs[:0]
	for i := 300; i < 2100; i++ {
		evs = append(evs, mirrortest.Evidence{Subjects: []string{fmt.Sprintf("pkg:npm/%%40scope/x%d@2.%d.0", i%5, i)}})
	}
	nd.Submit(t, evs...)
	if res, err = mirror.Sync(bg, opts); err != nil {
		t.Fatal(err)
	}
	if res.Size != 2100 || res.Previous != 300 || res.Envelopes != 1800 {
		t.Fatalf("Sync: size %d (previous %d), %d envelopes; want 2100 (300), 1800", res.Size, res.Previous, res.Envelopes)
	}
	checkServed(t, dir, nd.URL(), 2100, envelopePaths(t, dir)...)
	if got := len(envelopePaths(t, dir)); got != 2100 {
		t.Errorf("%d envelopes mirrored, want 2100", got)
	}
}

func envelopePaths(t *testing.T, dir string) []string {
	var ps []string
	for p := range storedFiles(t, dir) {
		if strings.HasPrefix(p, "evidence/sha256/") {
			ps = append(ps, p)
		}
	}
	return ps
}

// TestSyncResumes stops a sync part way (the log fails one request) and
// checks that the next one resumes where it stopped.
func TestSyncResumes(t *testing.T) {
	t.Parallel()
	lg := mirrortest.NewLog(t, "example.org/mirror-test")
	lg.Grow(t, 100_000) // 391 bundles
	failing := "tile/entries/300"
	p, url := newProxy(t, lg.Server.URL, func(path string, body []byte) (int, []byte) {
		if path == failing {
			return http.StatusServiceUnavailable, []byte("try later")
		}
		return http.StatusOK, body
	})
	dir := t.TempDir()
	opts := syncOpts(url, dir, lg.LogKey)
	_, err := mirror.Sync(bg, opts)
	var se *mirror.StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusServiceUnavailable || !strings.HasSuffix(se.URL, failing) {
		t.Fatalf("Sync = %v, want a 503 StatusError for %s", err, failing)
	}
	if _, err := os.Stat(filepath.Join(dir, "checkpoint")); !os.IsNotExist(err) {
		t.Fatal("a failed first sync stored a checkpoint")
	}
	if c, _, _ := get(t, httptestURL(t, dir)+"/checkpoint"); c != http.StatusNotFound {
		t.Errorf("the mirror of a failed first sync serves a checkpoint: %d", c)
	}
	first := p.count("tile/entries/")

	failing = ""
	res, err := mirror.Sync(bg, opts)
	if err != nil {
		t.Fatal(err)
	}
	second := p.count("tile/entries/") - first
	// Bundles 0 to 299 were verified and recorded before the failure.
	if second > 391-300 {
		t.Errorf("the second sync fetched %d bundles; want at most %d (resuming from bundle 300)", second, 391-300)
	}
	if res.Size != 100_000 {
		t.Errorf("Sync: size %d, want 100000", res.Size)
	}
	checkServed(t, dir, lg.Server.URL, 100_000)
	if _, err := os.Stat(filepath.Join(dir, ".evident-mirror", "pending")); !os.IsNotExist(err) {
		t.Error("the pending state is still there after a complete sync")
	}
}

// TestSyncTampering puts a proxy that changes one resource between a node
// and the mirror, and checks that Sync names it and keeps nothing that the
// honest log doesn't serve.
func TestSyncTampering(t *testing.T) {
	t.Parallel()
	nd := mirrortest.StartNode(t)
	var evs []mirrortest.Evidence
	for i := range 600 {
		evs = append(evs, mirrortest.Evidence{Subjects: []string{fmt.Sprintf("pkg:generic/tamper@%d", i)}})
	}
	idx := nd.Submit(t, evs...)
	otherKey, _ := mirrortest.NewLogKey(t, nd.LogKey.Name()) // same origin, another key

	// The envelope of entry 400.
	dir0 := t.TempDir()
	if _, err := mirror.Sync(bg, syncOpts(nd.URL(), dir0, nd.LogKey)); err != nil {
		t.Fatal(err)
	}
	m, err := mirror.Open(dir0, nd.LogKey)
	if err != nil {
		t.Fatal(err)
	}
	e400, err := m.Entry(bg, 400)
	if err != nil {
		t.Fatal(err)
	}
	ent, err := evidence.ParseEntry(e400)
	if err != nil {
		t.Fatal(err)
	}
	env400 := fmt.Sprintf("evidence/sha256/%x", ent.EnvelopeDigest)

	for _, tc := range []struct {
		name      string
		path      string // the resource the proxy changes
		edit      func([]byte) []byte
		envelopes bool
		wantPath  string
		wantIndex int64
	}{
		{"full tile", "tile/0/000", func(b []byte) []byte { return flip(b, 100) }, false, "tile/0/000", -1},
		{"full bundle", "tile/entries/001", func(b []byte) []byte { return flip(b, 700) }, false, "tile/entries/001", -2},
		{"partial tile", "tile/0/002.p/88", func(b []byte) []byte { return flip(b, 32*5) }, false, "tile/0/002.p/88", 517},
		{"partial bundle", "tile/entries/002.p/88", func(b []byte) []byte { return flip(b, 30) }, false, "tile/entries/002.p/88", 512},
		{"level 1 tile", "tile/1/000.p/2", func(b []byte) []byte { return flip(b, 3) }, false, "tile/0/002.p/88, tile/1/000.p/2", -1},
		{"short bundle", "tile/entries/000", func(b []byte) []byte { return b[:len(b)-1] }, false, "tile/entries/000", -1},
		{"envelope", env400, func(b []byte) []byte { return flip(b, 10) }, true, env400, 400},
		{"checkpoint by another key", "checkpoint", func(b []byte) []byte {
			text, _, _ := bytes.Cut(b, []byte("\n\n"))
			n, err := noteSign(string(text)+"\n", otherKey)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}, false, "checkpoint", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, url := newProxy(t, nd.URL(), func(path string, body []byte) (int, []byte) {
				if path == tc.path {
					return http.StatusOK, tc.edit(body)
				}
				return http.StatusOK, body
			})
			dir := t.TempDir()
			opts := syncOpts(url, dir, nd.LogKey)
			opts.Envelopes = tc.envelopes
			_, err := mirror.Sync(bg, opts)
			var ve *mirror.VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("Sync = %v, want a VerifyError", err)
			}
			if ve.Path != tc.wantPath {
				t.Errorf("VerifyError.Path = %q, want %q (%v)", ve.Path, tc.wantPath, err)
			}
			switch {
			case tc.wantIndex == -2 && (ve.Index < 256 || ve.Index >= 512):
				t.Errorf("VerifyError.Index = %d, want an entry of bundle 1", ve.Index)
			case tc.wantIndex != -2 && ve.Index != tc.wantIndex:
				t.Errorf("VerifyError.Index = %d, want %d (%v)", ve.Index, tc.wantIndex, err)
			}
			files := storedFiles(t, dir)
			if _, ok := files["checkpoint"]; ok {
				t.Error("a failed sync stored a checkpoint")
			}
			if _, ok := files[tc.path]; ok && tc.path != "checkpoint" {
				t.Errorf("the changed resource %s was stored", tc.path)
			}
			checkHonest(t, dir, nd.URL())
			// The honest log then completes the mirror.
			opts.URL = nd.URL()
			if _, err := mirror.Sync(bg, opts); err != nil {
				t.Fatal(err)
			}
			checkServed(t, dir, nd.URL(), uint64(len(idx)))
		})
	}

	// A tampered update leaves the previous mirror as it was.
	t.Run("update", func(t *testing.T) {
		dir := t.TempDir()
		opts := syncOpts(nd.URL(), dir, nd.LogKey)
		if _, err := mirror.Sync(bg, opts); err != nil {
			t.Fatal(err)
		}
		_, before, _ := get(t, httptestURL(t, dir)+"/checkpoint")
		nd.Submit(t, evs[:500]...) // duplicates: resubmitted envelopes are new ones here
		_, url := newProxy(t, nd.URL(), func(path string, body []byte) (int, []byte) {
			if path == "tile/0/003" {
				return http.StatusOK, flip(body, 1)
			}
			return http.StatusOK, body
		})
		opts.URL = url
		_, err := mirror.Sync(bg, opts)
		var ve *mirror.VerifyError
		if !errors.As(err, &ve) || ve.Path != "tile/0/003" {
			t.Fatalf("Sync = %v, want a VerifyError for tile/0/003", err)
		}
		_, after, _ := get(t, httptestURL(t, dir)+"/checkpoint")
		if !bytes.Equal(before, after) {
			t.Error("a failed update changed the mirror's checkpoint")
		}
		checkServedPaths(t, dir, nd.URL(), treePaths(600))
		checkHonest(t, dir, nd.URL())
	})
}

// TestSyncRefusesInconsistentLog serves the mirror forks of the log it
// holds, signed with the log's key: a larger tree that doesn't extend it, one
// of the same size with another root, a smaller one that isn't a prefix.
func TestSyncRefusesInconsistentLog(t *testing.T) {
	t.Parallel()
	honest := mirrortest.NewLog(t, "example.org/mirror-test")
	honest.Grow(t, 600)
	older, _ := honest.Ledger.Checkpoint()
	honest.Grow(t, 1000)
	dir := t.TempDir()
	if _, err := mirror.Sync(bg, syncOpts(honest.Server.URL, dir, honest.LogKey)); err != nil {
		t.Fatal(err)
	}
	held, _ := honest.Ledger.Checkpoint()

	fork := func(shared, size int) *mirrortest.Log {
		f := mirrortest.NewLogWithKey(t, honest.Signer, honest.LogKey, "fork")
		f.Append(t, honest.Entries[:shared]...)
		f.Grow(t, size)
		return f
	}
	for _, tc := range []struct {
		name   string
		log    *mirrortest.Log
		reason witness.Reason
	}{
		{"larger", fork(700, 1500), witness.ReasonInconsistent},
		{"larger, power of two", fork(0, 2048), witness.ReasonInconsistent},
		{"same size", fork(999, 1000), witness.ReasonFork},
		{"smaller", fork(300, 800), witness.ReasonInconsistent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := mirror.Sync(bg, syncOpts(tc.log.Server.URL, dir, honest.LogKey))
			var me *witness.MisbehaviourError
			if !errors.As(err, &me) {
				t.Fatalf("Sync = %v, want a MisbehaviourError", err)
			}
			if me.Misbehaviour.Reason != tc.reason {
				t.Errorf("reason %q, want %q", me.Misbehaviour.Reason, tc.reason)
			}
			// The proof checks offline, and survives its file encoding.
			b, err := me.Misbehaviour.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := witness.ParseMisbehaviour(b)
			if err != nil {
				t.Fatal(err)
			}
			if err := witness.VerifyMisbehaviour(parsed, honest.LogKey); err != nil {
				t.Fatalf("the proof doesn't verify: %v", err)
			}
			m, err := mirror.Open(dir, honest.LogKey)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(m.Checkpoint(), held) {
				t.Error("the refused sync changed the mirror's checkpoint")
			}
		})
	}

	// An older checkpoint of the same log is fine: nothing to do.
	_, url := newProxy(t, honest.Server.URL, func(path string, body []byte) (int, []byte) {
		if path == "checkpoint" {
			return http.StatusOK, older
		}
		return http.StatusOK, body
	})
	res, err := mirror.Sync(bg, syncOpts(url, dir, honest.LogKey))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Stale || res.Size != 1000 || !bytes.Equal(res.Checkpoint, held) {
		t.Errorf("Sync of an older checkpoint: stale %v, size %d; want stale, 1000", res.Stale, res.Size)
	}
}

// TestSyncLocked runs two syncs on one directory at once.
func TestSyncLocked(t *testing.T) {
	t.Parallel()
	lg := mirrortest.NewLog(t, "example.org/mirror-test")
	lg.Grow(t, 10)
	entered, release := make(chan bool, 1), make(chan bool)
	_, url := newProxy(t, lg.Server.URL, func(path string, body []byte) (int, []byte) {
		if path == "checkpoint" {
			entered <- true
			<-release
		}
		return http.StatusOK, body
	})
	dir := t.TempDir()
	done := make(chan error)
	go func() {
		_, err := mirror.Sync(bg, syncOpts(url, dir, lg.LogKey))
		done <- err
	}()
	<-entered
	if _, err := mirror.Sync(bg, syncOpts(lg.Server.URL, dir, lg.LogKey)); !errors.Is(err, mirror.ErrLocked) {
		t.Errorf("a second sync = %v, want ErrLocked", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := mirror.Sync(bg, syncOpts(lg.Server.URL, dir, lg.LogKey)); err != nil {
		t.Errorf("a sync after the first finished: %v", err)
	}
}
