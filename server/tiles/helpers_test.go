package tiles

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/evident-dev/evident/ledger"
	"github.com/evident-dev/evident/tile"
	"golang.org/x/mod/sumdb/note"
)

const testOrigin = "example.org/evident/tiles-test"

// testLog is a real ledger plus an independent record of what was appended,
// to compute what every tile must hold.
type testLog struct {
	l        *ledger.Ledger
	verifier note.Verifier
	entries  [][]byte
	leaves   [][32]byte
}

func newTestLog(t testing.TB) *testLog {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, testOrigin)
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
	l, err := ledger.Open(t.Context(), filepath.Join(t.TempDir(), "ledger.db"), ledger.Options{Signer: s, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return &testLog{l: l, verifier: v}
}

// grow appends 16-byte entries until the log has size entries.
func (tl *testLog) grow(t testing.TB, size int) {
	t.Helper()
	for len(tl.entries) < size {
		var batch [][]byte
		for i := len(tl.entries); i < size && len(batch) < 1024; i++ {
			e := fmt.Appendf(nil, "entry %010d", i) // 16 bytes
			batch = append(batch, e)
			tl.entries = append(tl.entries, e)
			tl.leaves = append(tl.leaves, leafHash(e))
		}
		res, err := tl.l.Append(context.Background(), batch)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := res[len(res)-1].Index, uint64(len(tl.entries)-1); got != want {
			t.Fatalf("last entry got index %d, want %d", got, want)
		}
	}
	if _, size := tl.l.Checkpoint(); size != uint64(len(tl.entries)) {
		t.Fatalf("checkpoint size %d, want %d", size, len(tl.entries))
	}
}

// RFC 6962, 2.1: MTH({d(0)}) = SHA-256(0x00 || d(0)).
func leafHash(e []byte) [32]byte {
	return sha256.Sum256(append([]byte{0}, e...))
}

// mth is RFC 6962's Merkle Tree Hash over leaf hashes, written from the RFC
// (2.1) rather than shared with the ledger: for n > 1, k is the largest
// power of two smaller than n, and MTH(D[n]) = SHA-256(0x01 ||
// MTH(D[0:k]) || MTH(D[k:n])).
func mth(leaves [][32]byte) [32]byte {
	if len(leaves) == 1 {
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	l, r := mth(leaves[:k]), mth(leaves[k:])
	return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
}

// wantTile is what tile t must hold, from the spec's definition
// (c2sp.org/tlog-tiles): hash i of tile n at level l is
// MTH(D[(n*256+i)*256^l : (n*256+i+1)*256^l]).
func (tl *testLog) wantTile(t tile.Tile) []byte {
	if t.Entries {
		var b []byte
		for i := t.N * 256; i < t.N*256+uint64(t.Width); i++ {
			b = binary.BigEndian.AppendUint16(b, uint16(len(tl.entries[i])))
			b = append(b, tl.entries[i]...)
		}
		return b
	}
	span := uint64(1) << (8 * t.Level)
	var b []byte
	for i := uint64(0); i < uint64(t.Width); i++ {
		start := (t.N*256 + i) * span
		h := mth(tl.leaves[start : start+span])
		b = append(b, h[:]...)
	}
	return b
}

// tilesAt lists every resource the spec says a tree of this size has
// (c2sp.org/tlog-tiles: the partial tile at level l for a tree of size s
// has floor(s / 256^l) mod 256 entries; empty tiles are not served).
func tilesAt(size uint64) []tile.Tile {
	var ts []tile.Tile
	for level := uint8(0); level < 8 && size>>(8*level) > 0; level++ {
		count := size >> (8 * level) // hashes at this level
		for n := uint64(0); n < count/256; n++ {
			ts = append(ts, tile.Tile{Level: level, N: n, Width: 256})
		}
		if w := count % 256; w > 0 {
			ts = append(ts, tile.Tile{Level: level, N: count / 256, Width: int(w)})
		}
		if level == 0 {
			for _, t := range ts {
				t.Entries = true
				ts = append(ts, t)
			}
		}
	}
	return ts
}

type response struct {
	code   int
	header http.Header
	body   []byte
}

func do(t testing.TB, c *http.Client, method, url string, header http.Header) response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return response{resp.StatusCode, resp.Header, body}
}

// serve starts h on loopback and returns its URL.
func serve(t testing.TB, h http.Handler) (string, *http.Client) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL, srv.Client()
}
