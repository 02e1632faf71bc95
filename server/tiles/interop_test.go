package tiles

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/evident-dev/evident/checkpoint"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Sizes the interop tests read the log at: a small tree, then one with full
// level-1 tiles and partial tiles at levels 0, 1 and 2.
const (
	interopSizeA = 1000
	interopSizeB = 65536 + 3*256 + 7
)

var interopIndices = []uint64{0, 1, 255, 256, 257, 511, 999, 65535, 65536, interopSizeB - 8, interopSizeB - 1}

// openCheckpoint verifies a served checkpoint with Evident's own code: the
// log's key through note.Open, the body through package checkpoint.
func openCheckpoint(t *testing.T, tl *testLog, signed []byte) checkpoint.Checkpoint {
	t.Helper()
	n, err := note.Open(signed, note.VerifierList(tl.verifier))
	if err != nil {
		t.Fatalf("note.Open: %v", err)
	}
	cp, err := checkpoint.Parse([]byte(n.Text))
	if err != nil {
		t.Fatal(err)
	}
	if cp.Origin != testOrigin {
		t.Fatalf("origin %q, want %q", cp.Origin, testOrigin)
	}
	return cp
}

// TestInteropTessera reads the log with transparency-dev/tessera's client,
// which Evident did not write: checkpoints, tiles through its ProofBuilder,
// entry bundles through its streaming reader, and its LogStateTracker, which
// proves consistency itself.
func TestInteropTessera(t *testing.T) {
	ctx := context.Background()
	tl := newTestLog(t)
	base, c := serve(t, New(tl.l, Options{Prefix: "/logs/test/"}))
	u, err := url.Parse(base + "/logs/test/")
	if err != nil {
		t.Fatal(err)
	}
	f, err := client.NewHTTPFetcher(u, c)
	if err != nil {
		t.Fatal(err)
	}

	tl.grow(t, interopSizeA)
	cpA, rawA, _, err := client.FetchCheckpoint(ctx, f.ReadCheckpoint, tl.verifier, testOrigin)
	if err != nil {
		t.Fatalf("tessera FetchCheckpoint: %v", err)
	}
	tl.grow(t, interopSizeB)
	cpB, rawB, _, err := client.FetchCheckpoint(ctx, f.ReadCheckpoint, tl.verifier, testOrigin)
	if err != nil {
		t.Fatalf("tessera FetchCheckpoint: %v", err)
	}
	ourA, ourB := openCheckpoint(t, tl, rawA), openCheckpoint(t, tl, rawB)
	if cpA.Size != interopSizeA || cpB.Size != interopSizeB {
		t.Fatalf("tessera read sizes %d and %d, want %d and %d", cpA.Size, cpB.Size, interopSizeA, interopSizeB)
	}
	if !bytes.Equal(cpA.Hash, ourA.Hash[:]) || !bytes.Equal(cpB.Hash, ourB.Hash[:]) {
		t.Fatalf("tessera and package checkpoint read different roots")
	}

	t.Run("inclusion", func(t *testing.T) {
		for _, cp := range []checkpoint.Checkpoint{ourA, ourB} {
			pb, err := client.NewProofBuilder(ctx, cp.Size, f.ReadTile)
			if err != nil {
				t.Fatal(err)
			}
			for _, i := range interopIndices {
				if i >= cp.Size {
					continue
				}
				// The leaf comes from the entry bundle tessera fetched.
				bundle, err := client.GetEntryBundle(ctx, f.ReadEntryBundle, i/256, cp.Size)
				if err != nil {
					t.Fatalf("tessera GetEntryBundle(%d): %v", i/256, err)
				}
				entry := bundle.Entries[i%256]
				if !bytes.Equal(entry, tl.entries[i]) {
					t.Errorf("entry %d: tessera read %q, want %q", i, entry, tl.entries[i])
				}
				p, err := pb.InclusionProof(ctx, i)
				if err != nil {
					t.Fatalf("tessera InclusionProof(%d) at size %d: %v", i, cp.Size, err)
				}
				leaf := rfc6962.DefaultHasher.HashLeaf(entry)
				if err := proof.VerifyInclusion(rfc6962.DefaultHasher, i, cp.Size, leaf, p, cp.Hash[:]); err != nil {
					t.Errorf("inclusion of %d in size %d: %v", i, cp.Size, err)
				}
				// The node's own proof must be the same one.
				own, err := tl.l.InclusionProof(ctx, i, cp.Size)
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprintf("%x", own) != fmt.Sprintf("%x", p) {
					t.Errorf("inclusion of %d in size %d: tessera built a different proof from the tiles than the ledger's", i, cp.Size)
				}
			}
		}
	})

	t.Run("consistency", func(t *testing.T) {
		pb, err := client.NewProofBuilder(ctx, ourB.Size, f.ReadTile)
		if err != nil {
			t.Fatal(err)
		}
		for _, from := range []uint64{1, 255, 256, interopSizeA, 65536, interopSizeB} {
			p, err := pb.ConsistencyProof(ctx, from, ourB.Size)
			if err != nil {
				t.Fatalf("tessera ConsistencyProof(%d, %d): %v", from, ourB.Size, err)
			}
			root := mth(tl.leaves[:from])
			if from == interopSizeA {
				root = ourA.Hash
			}
			if err := proof.VerifyConsistency(rfc6962.DefaultHasher, from, ourB.Size, p, root[:], ourB.Hash[:]); err != nil {
				t.Errorf("consistency %d -> %d: %v", from, ourB.Size, err)
			}
		}
	})

	t.Run("state tracker", func(t *testing.T) {
		// Starting from checkpoint A, tessera fetches the latest checkpoint
		// and proves it consistent with A from the tiles.
		lst, err := client.NewLogStateTracker(ctx, f.ReadTile, rawA, tl.verifier, testOrigin, client.UnilateralConsensus(f.ReadCheckpoint))
		if err != nil {
			t.Fatal(err)
		}
		old, p, latest, err := lst.Update(ctx)
		if err != nil {
			t.Fatalf("tessera LogStateTracker.Update: %v", err)
		}
		if !bytes.Equal(old, rawA) || !bytes.Equal(latest, rawB) || len(p) == 0 {
			t.Errorf("Update went from %q to %q with a %d-hash proof", old, latest, len(p))
		}
	})

	t.Run("stream", func(t *testing.T) {
		size := func(context.Context) (uint64, error) { return ourB.Size, nil }
		bundles := client.EntryBundles(ctx, 4, size, f.ReadEntryBundle, 0, ourB.Size)
		unbundle := func(b []byte) ([][]byte, error) {
			var eb api.EntryBundle
			err := eb.UnmarshalText(b)
			return eb.Entries, err
		}
		next := uint64(0)
		for e, err := range client.Entries(bundles, unbundle) {
			if err != nil {
				t.Fatalf("tessera Entries: %v", err)
			}
			if e.Index != next || !bytes.Equal(e.Entry, tl.entries[e.Index]) {
				t.Fatalf("tessera streamed entry %d %q, want entry %d %q", e.Index, e.Entry, next, tl.entries[next])
			}
			next++
		}
		if next != ourB.Size {
			t.Errorf("tessera streamed %d entries, want %d", next, ourB.Size)
		}
	})
}

// httpTileReader is an x/mod/sumdb/tlog TileReader that fetches tiles from
// the node by x/mod's own tile paths (less the height element, which
// c2sp.org/tlog-tiles dropped).
type httpTileReader struct {
	t      *testing.T
	c      *http.Client
	base   string
	tamper func(path string, b []byte)
}

func (r *httpTileReader) Height() int { return 8 }

func (r *httpTileReader) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	var out [][]byte
	for _, t := range ts {
		p := strings.Replace(t.Path(), "tile/8/", "tile/", 1)
		resp, err := r.c.Get(r.base + "/" + p)
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s", p, resp.Status)
		}
		if r.tamper != nil {
			r.tamper(p, b)
		}
		out = append(out, b)
	}
	return out, nil
}

func (r *httpTileReader) SaveTiles([]tlog.Tile, [][]byte) {}

// TestInteropXModTlog reads the log's hash tiles with golang.org/x/mod/sumdb/
// tlog, the Go checksum database's implementation, whose TileHashReader
// authenticates every tile against the signed root before using it.
func TestInteropXModTlog(t *testing.T) {
	tl := newTestLog(t)
	base, c := serve(t, New(tl.l, Options{}))
	tl.grow(t, interopSizeA)
	cpA := openCheckpoint(t, tl, do(t, c, "GET", base+"/checkpoint", nil).body)
	tl.grow(t, interopSizeB)
	cpB := openCheckpoint(t, tl, do(t, c, "GET", base+"/checkpoint", nil).body)
	tree := tlog.Tree{N: int64(cpB.Size), Hash: tlog.Hash(cpB.Hash)}

	t.Run("tree hash", func(t *testing.T) {
		hr := tlog.TileHashReader(tree, &httpTileReader{t: t, c: c, base: base})
		for _, cp := range []checkpoint.Checkpoint{cpA, cpB} {
			h, err := tlog.TreeHash(int64(cp.Size), hr)
			if err != nil {
				t.Fatalf("tlog.TreeHash(%d): %v", cp.Size, err)
			}
			if h != tlog.Hash(cp.Hash) {
				t.Errorf("tlog.TreeHash(%d) = %v, checkpoint says %x", cp.Size, h, cp.Hash)
			}
		}
	})

	t.Run("inclusion", func(t *testing.T) {
		hr := tlog.TileHashReader(tree, &httpTileReader{t: t, c: c, base: base})
		for _, i := range interopIndices {
			p, err := tlog.ProveRecord(tree.N, int64(i), hr)
			if err != nil {
				t.Fatalf("tlog.ProveRecord(%d, %d): %v", tree.N, i, err)
			}
			if err := tlog.CheckRecord(p, tree.N, tree.Hash, int64(i), tlog.RecordHash(tl.entries[i])); err != nil {
				t.Errorf("tlog.CheckRecord(%d): %v", i, err)
			}
		}
	})

	t.Run("consistency", func(t *testing.T) {
		hr := tlog.TileHashReader(tree, &httpTileReader{t: t, c: c, base: base})
		p, err := tlog.ProveTree(tree.N, int64(cpA.Size), hr)
		if err != nil {
			t.Fatalf("tlog.ProveTree: %v", err)
		}
		if err := tlog.CheckTree(p, tree.N, tree.Hash, int64(cpA.Size), tlog.Hash(cpA.Hash)); err != nil {
			t.Errorf("tlog.CheckTree(%d -> %d): %v", cpA.Size, tree.N, err)
		}
	})

	// The checks above can fail: one flipped bit in one served tile and
	// x/mod refuses the tile.
	t.Run("tampered tile is caught", func(t *testing.T) {
		for _, victim := range []string{"tile/0/001", "tile/1/000", "tile/1/001.p/3"} {
			tampered := false
			r := &httpTileReader{t: t, c: c, base: base, tamper: func(p string, b []byte) {
				if p == victim {
					b[len(b)-1] ^= 1
					tampered = true
				}
			}}
			_, err := tlog.ProveRecord(tree.N, 300, tlog.TileHashReader(tree, r))
			if !tampered {
				t.Fatalf("proving entry 300 did not read %s", victim)
			}
			if err == nil {
				t.Errorf("tlog.ProveRecord accepted a tampered %s", victim)
			}
		}
	})
}
