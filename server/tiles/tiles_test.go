package tiles

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evident-dev/evident/checkpoint"
	"github.com/evident-dev/evident/tile"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/mod/sumdb/note"
)

// TestTilesAroundBoundaries grows a real ledger through tile boundaries and,
// at each size, fetches every tile and bundle the spec says the tree has,
// compares it with one computed from the entries, and checks that the next
// width, the full version of a partial tile and the next tile are 404.
func TestTilesAroundBoundaries(t *testing.T) {
	tl := newTestLog(t)
	base, c := serve(t, New(tl.l, Options{}))
	// The spec works two sizes through as examples, 256 and 70,000; both
	// are checked against tilesAt below.
	sizes := []int{1, 2, 255, 256, 257, 511, 512, 513, 65535, 65536, 65537, 70000}
	if testing.Short() {
		sizes = sizes[:8]
	}
	for _, size := range sizes {
		tl.grow(t, size)
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			want := tilesAt(uint64(size))
			if size == 70000 {
				// The spec's example: 273 full level-0 tiles and a partial
				// one 112 wide, one full level-1 tile and a partial one 17
				// wide, and a level-2 tile of width 1.
				var got []tile.Tile
				for _, t := range want {
					if !t.Entries && (t.Partial() || t.Level > 0) {
						got = append(got, t)
					}
				}
				if diff := cmp.Diff([]tile.Tile{{N: 273, Width: 112}, {Level: 1, Width: 256}, {Level: 1, N: 1, Width: 17}, {Level: 2, Width: 1}}, got); diff != "" || len(want) != 2*274+3 {
					t.Fatalf("tilesAt(70000) disagrees with the spec's example (-want +got):\n%s", diff)
				}
			}
			if size == 256 {
				if diff := cmp.Diff([]tile.Tile{{Width: 256}, {Entries: true, Width: 256}, {Level: 1, Width: 1}}, want); diff != "" {
					t.Fatalf("tilesAt(256) disagrees with the spec's example (a full level-0 tile, a level-1 tile of width 1) (-want +got):\n%s", diff)
				}
			}
			for _, wt := range want {
				p := tile.PathFor(wt)
				r := do(t, c, "GET", base+"/"+p, nil)
				if r.code != http.StatusOK {
					t.Errorf("GET %s: %d %s", p, r.code, r.body)
					continue
				}
				if !bytes.Equal(r.body, tl.wantTile(wt)) {
					t.Errorf("GET %s: wrong content (%d bytes)", p, len(r.body))
				}
			}
			for _, a := range absentAt(uint64(size)) {
				if r := do(t, c, "GET", base+"/"+tile.PathFor(a), nil); r.code != http.StatusNotFound {
					t.Errorf("GET %s (beyond the tree of size %d): %d, want 404", tile.PathFor(a), size, r.code)
				}
			}
		})
	}
}

// absentAt lists resources just beyond a tree of this size: the full and the
// next wider version of each partial tile, the first tile past the end of
// each level, and the first level with no tile at all.
func absentAt(size uint64) []tile.Tile {
	var ts []tile.Tile
	for _, t := range tilesAt(size) {
		if t.Partial() {
			full, wider := t, t
			full.Width, wider.Width = 256, t.Width+1
			ts = append(ts, full)
			if wider.Width < 256 {
				ts = append(ts, wider)
			}
		}
	}
	for level := uint8(0); level < 9; level++ {
		count := size >> (8 * level)
		next := tile.Tile{Level: level, N: (count + 255) / 256, Width: 1}
		ts = append(ts, next)
		if level == 0 {
			next.Entries = true
			ts = append(ts, next)
		}
		if count == 0 {
			break
		}
	}
	return ts
}

// TestPartialTileEveryWidth checks tile/0/001.p/W and tile/entries/001.p/W for
// every W: served while W is at most the tree's width there, 404 beyond; and
// still served, as a prefix, once the tile is full (a checkpoint of each
// smaller size required them).
func TestPartialTileEveryWidth(t *testing.T) {
	tl := newTestLog(t)
	base, c := serve(t, New(tl.l, Options{}))
	for _, size := range []int{256 + 200, 256 + 255, 512, 1024} {
		tl.grow(t, size)
		have := min(size-256, 256)
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			for _, entries := range []bool{false, true} {
				for w := 1; w <= 255; w++ {
					pt := tile.Tile{Entries: entries, N: 1, Width: w}
					r := do(t, c, "GET", base+"/"+tile.PathFor(pt), nil)
					switch {
					case w <= have && r.code != http.StatusOK:
						t.Errorf("GET %s: %d, want 200", tile.PathFor(pt), r.code)
					case w <= have && !bytes.Equal(r.body, tl.wantTile(pt)):
						t.Errorf("GET %s: wrong content", tile.PathFor(pt))
					case w > have && r.code != http.StatusNotFound:
						t.Errorf("GET %s: %d, want 404 (the tree has %d there)", tile.PathFor(pt), r.code, have)
					}
				}
			}
		})
	}
}

func TestCheckpoint(t *testing.T) {
	tl := newTestLog(t)
	tl.grow(t, 300)
	for _, tt := range []struct {
		name      string
		opts      Options
		wantCache string
	}{
		{"default", Options{}, "no-cache"},
		{"max age", Options{CheckpointMaxAge: 2 * time.Second}, "public, max-age=2"},
		{"below a second", Options{CheckpointMaxAge: time.Millisecond}, "no-cache"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base, c := serve(t, New(tl.l, tt.opts))
			r := do(t, c, "GET", base+"/checkpoint", nil)
			if r.code != http.StatusOK {
				t.Fatalf("GET /checkpoint: %d %s", r.code, r.body)
			}
			want := map[string]string{
				"Content-Type":  "text/plain; charset=utf-8",
				"Cache-Control": tt.wantCache,
			}
			checkHeaders(t, r.header, want)
			n, err := note.Open(r.body, note.VerifierList(tl.verifier))
			if err != nil {
				t.Fatalf("note.Open: %v", err)
			}
			cp, err := checkpoint.Parse([]byte(n.Text))
			if err != nil {
				t.Fatal(err)
			}
			if cp.Origin != testOrigin || cp.Size != 300 {
				t.Errorf("checkpoint origin %q size %d, want %q 300", cp.Origin, cp.Size, testOrigin)
			}
			if root := mth(tl.leaves); cp.Hash != root {
				t.Errorf("checkpoint root %x, want %x", cp.Hash, root)
			}
		})
	}
}

func checkHeaders(t *testing.T, got http.Header, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if g := got.Get(k); g != v {
			t.Errorf("%s: %q, want %q", k, g, v)
		}
	}
}

// TestStatusAndHeaders checks status codes, headers and HEAD for each kind
// of resource and error.
func TestStatusAndHeaders(t *testing.T) {
	tl := newTestLog(t)
	tl.grow(t, 256+10)
	fullTile, partialTile := tl.wantTile(tile.Tile{Width: 256}), tl.wantTile(tile.Tile{N: 1, Width: 10})
	fullBundle := tl.wantTile(tile.Tile{Entries: true, Width: 256})
	env := []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}`)
	envDigest := sha256.Sum256(env)
	envHex := hex.EncodeToString(envDigest[:])
	store := memEnvelopes{envDigest: env}
	base, c := serve(t, New(tl.l, Options{Envelopes: store}))
	// No automatic Accept-Encoding, so Content-Length is what was sent.
	c.Transport.(*http.Transport).DisableCompression = true

	immutable := "public, max-age=31536000, immutable"
	for _, tt := range []struct {
		method, path string
		reqHeader    http.Header
		code         int
		header       map[string]string
		body         []byte // for GET; nil: don't check
	}{
		{"GET", "/tile/0/000", nil, 200, map[string]string{"Content-Type": "application/octet-stream", "Cache-Control": immutable, "Content-Length": "8192", "Access-Control-Allow-Origin": "*"}, fullTile},
		{"GET", "/tile/0/001.p/10", nil, 200, map[string]string{"Content-Type": "application/octet-stream", "Cache-Control": immutable, "Content-Length": "320"}, partialTile},
		{"GET", "/tile/1/000.p/1", nil, 200, map[string]string{"Content-Type": "application/octet-stream", "Cache-Control": immutable, "Content-Length": "32"}, tl.wantTile(tile.Tile{Level: 1, Width: 1})},
		{"GET", "/tile/entries/000", nil, 200, map[string]string{"Content-Type": "application/octet-stream", "Cache-Control": immutable, "Content-Length": strconv.Itoa(len(fullBundle)), "Vary": "Accept-Encoding", "Content-Encoding": ""}, fullBundle},
		{"GET", "/tile/entries/001.p/10", nil, 200, map[string]string{"Cache-Control": immutable, "Content-Length": "180"}, tl.wantTile(tile.Tile{Entries: true, N: 1, Width: 10})},
		{"HEAD", "/tile/0/000", nil, 200, map[string]string{"Content-Type": "application/octet-stream", "Cache-Control": immutable, "Content-Length": "8192"}, nil},
		{"HEAD", "/tile/entries/000", nil, 200, map[string]string{"Cache-Control": immutable, "Content-Length": strconv.Itoa(len(fullBundle))}, nil},
		{"HEAD", "/checkpoint", nil, 200, map[string]string{"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-cache"}, nil},

		// Beyond the tree: 404, not cached.
		{"GET", "/tile/0/001", nil, 404, map[string]string{"Cache-Control": "no-store"}, nil},
		{"GET", "/tile/0/001.p/11", nil, 404, map[string]string{"Cache-Control": "no-store"}, nil},
		{"GET", "/tile/0/002.p/1", nil, 404, nil, nil},
		{"GET", "/tile/1/000", nil, 404, nil, nil},
		{"GET", "/tile/1/000.p/2", nil, 404, nil, nil},
		{"GET", "/tile/2/000.p/1", nil, 404, nil, nil},
		{"GET", "/tile/8/000.p/1", nil, 404, nil, nil},
		{"GET", "/tile/63/x018/x446/x744/x073/x709/x551/615", nil, 404, nil, nil},
		{"GET", "/tile/entries/001", nil, 404, nil, nil},
		{"GET", "/tile/entries/001.p/11", nil, 404, nil, nil},
		{"HEAD", "/tile/entries/002.p/1", nil, 404, nil, nil},

		// Outside the tlog-tiles grammar: 400.
		{"GET", "/tile/0/1", nil, 400, map[string]string{"Cache-Control": "no-store", "Content-Type": "text/plain; charset=utf-8"}, nil},
		{"GET", "/tile/0/000.p/256", nil, 400, nil, nil},
		{"GET", "/tile/0/000.p/0", nil, 400, nil, nil},
		{"GET", "/tile/0/x000/000", nil, 400, nil, nil},
		{"GET", "/tile/64/000", nil, 400, nil, nil},
		{"GET", "/tile/entries/x001", nil, 400, nil, nil},
		{"GET", "/tile/0/%30%30%30", nil, 400, nil, nil},
		{"GET", "/tile/8/0/000", nil, 400, nil, nil},
		{"GET", "/tile/", nil, 400, nil, nil},
		{"GET", "/evidence/sha256/" + strings.ToUpper(envHex), nil, 400, nil, nil},
		{"GET", "/evidence/sha256/" + envHex[:63], nil, 400, nil, nil},
		{"GET", "/evidence/sha256/" + envHex[:62] + "zz", nil, 400, nil, nil},
		{"GET", "/evidence/sha512/" + envHex, nil, 400, nil, nil},

		// Not ours: 404.
		{"GET", "/", nil, 404, nil, nil},
		{"GET", "/checkpoint/", nil, 404, nil, nil},
		{"GET", "/checkpoints", nil, 404, nil, nil},
		{"GET", "/tiles/0/000", nil, 404, nil, nil},

		// Only GET and HEAD.
		{"POST", "/checkpoint", nil, 405, map[string]string{"Allow": "GET, HEAD"}, nil},
		{"PUT", "/tile/0/000", nil, 405, map[string]string{"Allow": "GET, HEAD"}, nil},
		{"DELETE", "/tile/entries/000", nil, 405, map[string]string{"Allow": "GET, HEAD"}, nil},
		{"OPTIONS", "/evidence/sha256/" + envHex, nil, 405, map[string]string{"Allow": "GET, HEAD"}, nil},

		// Envelopes.
		{"GET", "/evidence/sha256/" + envHex, nil, 200, map[string]string{"Content-Type": "application/json", "Cache-Control": immutable, "ETag": `"` + envHex + `"`, "Content-Length": strconv.Itoa(len(env)), "X-Content-Type-Options": "nosniff"}, env},
		{"HEAD", "/evidence/sha256/" + envHex, nil, 200, map[string]string{"ETag": `"` + envHex + `"`, "Content-Length": strconv.Itoa(len(env))}, nil},
		{"GET", "/evidence/sha256/" + envHex, http.Header{"If-None-Match": {`"` + envHex + `"`}}, 304, map[string]string{"ETag": `"` + envHex + `"`}, []byte{}},
		{"GET", "/evidence/sha256/" + envHex, http.Header{"If-None-Match": {`"abc", W/"` + envHex + `"`}}, 304, nil, nil},
		{"GET", "/evidence/sha256/" + envHex, http.Header{"If-None-Match": {`"abc"`}}, 200, nil, env},
		{"GET", "/evidence/sha256/" + strings.Repeat("0", 64), nil, 404, map[string]string{"Cache-Control": "no-store"}, nil},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := do(t, c, tt.method, base+tt.path, tt.reqHeader)
			if r.code != tt.code {
				t.Fatalf("status %d, want %d (body %q)", r.code, tt.code, r.body)
			}
			checkHeaders(t, r.header, tt.header)
			if tt.method == "HEAD" && len(r.body) != 0 {
				t.Errorf("HEAD response has a %d-byte body", len(r.body))
			}
			if tt.body != nil && !bytes.Equal(r.body, tt.body) {
				t.Errorf("body %q, want %q", trim(r.body), trim(tt.body))
			}
		})
	}
}

func trim(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

func TestPrefix(t *testing.T) {
	tl := newTestLog(t)
	tl.grow(t, 3)
	for _, prefix := range []string{"/log/v1/", "/log/v1", "log/v1"} {
		t.Run(prefix, func(t *testing.T) {
			base, c := serve(t, New(tl.l, Options{Prefix: prefix}))
			for _, tt := range []struct {
				path string
				code int
			}{
				{"/log/v1/checkpoint", 200},
				{"/log/v1/tile/0/000.p/3", 200},
				{"/log/v1/tile/entries/000.p/3", 200},
				{"/log/v1/tile/0/000.p/4", 404},
				{"/log/v1/tile/0/1", 400},
				{"/checkpoint", 404},
				{"/tile/0/000.p/3", 404},
				{"/log/v1checkpoint", 404},
				{"/log/checkpoint", 404},
			} {
				if r := do(t, c, "GET", base+tt.path, nil); r.code != tt.code {
					t.Errorf("GET %s: %d, want %d", tt.path, r.code, tt.code)
				}
			}
		})
	}
}

// TestEntryBundleCompression checks gzip for clients that accept it, the raw
// bundle for those that don't, and DisableCompression.
func TestEntryBundleCompression(t *testing.T) {
	tl := newTestLog(t)
	tl.grow(t, 300)
	want := tl.wantTile(tile.Tile{Entries: true, Width: 256})
	for _, tt := range []struct {
		name           string
		disable        bool
		acceptEncoding []string
		gzip           bool
	}{
		{"gzip", false, []string{"gzip"}, true},
		{"list", false, []string{"br;q=1.0, gzip;q=0.5, identity"}, true},
		{"two headers", false, []string{"br", "GZIP"}, true},
		{"q zero", false, []string{"gzip;q=0"}, false},
		{"q zero point zero", false, []string{"gzip; q=0.000"}, false},
		{"bad q", false, []string{"gzip;q=x"}, false},
		{"identity", false, []string{"identity"}, false},
		{"none", false, nil, false},
		{"x-gzip is not gzip", false, []string{"x-gzip"}, false},
		{"disabled", true, []string{"gzip"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base, c := serve(t, New(tl.l, Options{DisableCompression: tt.disable}))
			c.Transport.(*http.Transport).DisableCompression = true
			h := http.Header{}
			for _, v := range tt.acceptEncoding {
				h.Add("Accept-Encoding", v)
			}
			for _, method := range []string{"GET", "HEAD"} {
				r := do(t, c, method, base+"/tile/entries/000", h)
				if r.code != 200 {
					t.Fatalf("%s: status %d", method, r.code)
				}
				if got := r.header.Get("Vary"); got != "Accept-Encoding" {
					t.Errorf("%s: Vary %q, want Accept-Encoding", method, got)
				}
				gotGzip := r.header.Get("Content-Encoding") == "gzip"
				if gotGzip != tt.gzip {
					t.Fatalf("%s: Content-Encoding %q, want gzip %v", method, r.header.Get("Content-Encoding"), tt.gzip)
				}
				if method == "HEAD" {
					continue
				}
				if cl := r.header.Get("Content-Length"); cl != strconv.Itoa(len(r.body)) {
					t.Errorf("Content-Length %s, body %d bytes", cl, len(r.body))
				}
				body := r.body
				if gotGzip {
					zr, err := gzip.NewReader(bytes.NewReader(body))
					if err != nil {
						t.Fatal(err)
					}
					if body, err = io.ReadAll(zr); err != nil {
						t.Fatal(err)
					}
					if len(r.body) >= len(want) {
						t.Errorf("gzipped bundle is %d bytes, raw %d", len(r.body), len(want))
					}
				}
				if !bytes.Equal(body, want) {
					t.Errorf("bundle content differs")
				}
			}
		})
	}
}

// memEnvelopes is an in-memory Envelopes.
type memEnvelopes map[[32]byte][]byte

func (m memEnvelopes) Open(_ context.Context, d [32]byte) (io.ReadCloser, int64, error) {
	b, ok := m[d]
	if !ok {
		return nil, 0, fmt.Errorf("no envelope %x: %w", d, fs.ErrNotExist)
	}
	return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
}

// envelopesFunc adapts a function to Envelopes, for failure hooks.
type envelopesFunc func(ctx context.Context, d [32]byte) (io.ReadCloser, int64, error)

func (f envelopesFunc) Open(ctx context.Context, d [32]byte) (io.ReadCloser, int64, error) {
	return f(ctx, d)
}

// TestEnvelopeStoreFailures checks that a store that fails, or hands back
// bytes that are not the envelope asked for, never yields a complete 200
// response.
func TestEnvelopeStoreFailures(t *testing.T) {
	env := bytes.Repeat([]byte(`{"payload":"aGVsbG8="}`), 5000) // > the server's buffers
	d := sha256.Sum256(env)
	path := "/evidence/sha256/" + hex.EncodeToString(d[:])
	corrupt := bytes.Clone(env)
	corrupt[len(corrupt)-1] ^= 1
	for _, tt := range []struct {
		name string
		open envelopesFunc
		code int // 0: the response must break off
	}{
		{"ok", func(context.Context, [32]byte) (io.ReadCloser, int64, error) {
			return io.NopCloser(bytes.NewReader(env)), int64(len(env)), nil
		}, 200},
		{"not found", func(context.Context, [32]byte) (io.ReadCloser, int64, error) {
			return nil, 0, fs.ErrNotExist
		}, 404},
		{"store error", func(context.Context, [32]byte) (io.ReadCloser, int64, error) {
			return nil, 0, errors.New("disk on fire")
		}, 500},
		{"bad size", func(context.Context, [32]byte) (io.ReadCloser, int64, error) {
			return io.NopCloser(bytes.NewReader(env)), -1, nil
		}, 500},
		{"corrupt", func(context.Context, [32]byte) (io.ReadCloser, int64, error) {
			return io.NopCloser(bytes.NewReader(corrupt)), int64(len(corrupt)), nil
		}, 0},
		{"short", func(context.Context, [32]byte) (io.ReadCloser, int64, error) {
			return io.NopCloser(bytes.NewReader(env[:len(env)-10])), int64(len(env)), nil
		}, 0},
		{"long", func(context.Context, [32]byte) (io.ReadCloser, int64, error) {
			return io.NopCloser(bytes.NewReader(append(bytes.Clone(env), 'x'))), int64(len(env)), nil
		}, 0},
		{"read error", func(context.Context, [32]byte) (io.ReadCloser, int64, error) {
			return io.NopCloser(io.MultiReader(bytes.NewReader(env[:1000]), iotestErrReader{})), int64(len(env)), nil
		}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs syncBuffer
			base, c := serve(t, New(nil, Options{Envelopes: tt.open, Logger: slog.New(slog.NewTextHandler(&logs, nil))}))
			resp, err := c.Get(base + path)
			if err != nil {
				if tt.code == 0 {
					return // broke off before the headers: fine
				}
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if tt.code == 0 {
				if err == nil {
					t.Fatalf("status %d with a complete %d-byte body, want a broken response", resp.StatusCode, len(body))
				}
				if !strings.Contains(logs.String(), "level=ERROR") {
					t.Errorf("nothing logged: %q", logs.String())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.code {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.code)
			}
			if tt.code == 500 {
				if strings.Contains(string(body), "fire") {
					t.Errorf("500 body leaks the store's error: %q", body)
				}
				if !strings.Contains(logs.String(), "level=ERROR") {
					t.Errorf("nothing logged: %q", logs.String())
				}
			}
			if tt.code == 200 && !bytes.Equal(body, env) {
				t.Errorf("body differs")
			}
		})
	}
}

// syncBuffer is a bytes.Buffer the server's goroutines may log into while
// the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("read failed") }

// fakeSource is a Source with function fields, for failure hooks.
type fakeSource struct {
	checkpoint  func() ([]byte, uint64)
	tile        func(ctx context.Context, level uint8, n uint64, width int) ([]byte, error)
	entryBundle func(ctx context.Context, n uint64, width int) ([]byte, error)
}

func (f fakeSource) Checkpoint() ([]byte, uint64) { return f.checkpoint() }
func (f fakeSource) Tile(ctx context.Context, level uint8, n uint64, width int) ([]byte, error) {
	return f.tile(ctx, level, n, width)
}
func (f fakeSource) EntryBundle(ctx context.Context, n uint64, width int) ([]byte, error) {
	return f.entryBundle(ctx, n, width)
}

func TestSourceFailures(t *testing.T) {
	empty := newTestLog(t).l
	for _, tt := range []struct {
		name   string
		src    fakeSource
		path   string
		code   int
		logged bool
	}{
		{"no checkpoint", fakeSource{checkpoint: func() ([]byte, uint64) { return nil, 0 }}, "/checkpoint", 404, false},
		{"tile error", fakeSource{tile: func(context.Context, uint8, uint64, int) ([]byte, error) {
			return nil, errors.New("bolt: corrupt page")
		}}, "/tile/0/000", 500, true},
		{"bundle error", fakeSource{entryBundle: func(context.Context, uint64, int) ([]byte, error) {
			return nil, errors.New("bolt: corrupt page")
		}}, "/tile/entries/000", 500, true},
		{"tile short", fakeSource{tile: func(_ context.Context, _ uint8, _ uint64, w int) ([]byte, error) {
			return make([]byte, w*32-1), nil
		}}, "/tile/0/000.p/3", 500, true},
		{"bundle short", fakeSource{entryBundle: func(context.Context, uint64, int) ([]byte, error) {
			return []byte{0, 1, 'a', 0, 2, 'b'}, nil
		}}, "/tile/entries/000.p/2", 500, true},
		{"bundle long", fakeSource{entryBundle: func(context.Context, uint64, int) ([]byte, error) {
			return []byte{0, 1, 'a', 0, 1, 'b', 0}, nil
		}}, "/tile/entries/000.p/2", 500, true},
		{"bundle empty", fakeSource{entryBundle: func(context.Context, uint64, int) ([]byte, error) {
			return nil, nil
		}}, "/tile/entries/000", 500, true},
		{"bundle ok", fakeSource{entryBundle: func(context.Context, uint64, int) ([]byte, error) {
			return []byte{0, 1, 'a', 0, 0}, nil
		}}, "/tile/entries/000.p/2", 200, false},
		{"canceled", fakeSource{tile: func(context.Context, uint8, uint64, int) ([]byte, error) {
			return nil, context.Canceled
		}}, "/tile/0/000", 500, true},
		{"fs not exist", fakeSource{tile: func(context.Context, uint8, uint64, int) ([]byte, error) {
			return nil, fmt.Errorf("no tile: %w", fs.ErrNotExist)
		}}, "/tile/3/000", 404, false},
		{"tile not found", fakeSource{tile: func(context.Context, uint8, uint64, int) ([]byte, error) {
			return nil, fmt.Errorf("no tile: %w", tile.ErrNotFound)
		}}, "/tile/3/000", 404, false},
		{"ledger not found", fakeSource{entryBundle: func(ctx context.Context, n uint64, w int) ([]byte, error) {
			// What a real ledger says of a bundle beyond its tree.
			return empty.EntryBundle(ctx, n, w)
		}}, "/tile/entries/000", 404, false},
		{"arguments", fakeSource{tile: func(_ context.Context, level uint8, n uint64, w int) ([]byte, error) {
			if level != 5 || n != 1234067 || w != 7 {
				return nil, fmt.Errorf("asked for level %d n %d width %d", level, n, w)
			}
			return make([]byte, w*32), nil
		}}, "/tile/5/x001/x234/067.p/7", 200, false},
		{"arguments full", fakeSource{entryBundle: func(_ context.Context, n uint64, w int) ([]byte, error) {
			if n != 1000 || w != 256 {
				return nil, fmt.Errorf("asked for n %d width %d", n, w)
			}
			return bytes.Repeat([]byte{0, 1, 'a'}, 256), nil
		}}, "/tile/entries/x001/000", 200, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs syncBuffer
			base, c := serve(t, New(tt.src, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))}))
			r := do(t, c, "GET", base+tt.path, nil)
			if r.code != tt.code {
				t.Fatalf("status %d, want %d (body %q)", r.code, tt.code, r.body)
			}
			if r.code == 500 && strings.Contains(string(r.body), "bolt") {
				t.Errorf("500 body leaks detail: %q", r.body)
			}
			if logged := strings.Contains(logs.String(), "level=ERROR"); logged != tt.logged {
				t.Errorf("logged %v, want %v: %q", logged, tt.logged, logs.String())
			}
		})
	}
}

// TestRequestContextEnded checks that a read failing because the request's
// context ended is a 503, not logged as a server failure.
func TestRequestContextEnded(t *testing.T) {
	var logs syncBuffer
	src := fakeSource{tile: func(ctx context.Context, _ uint8, _ uint64, _ int) ([]byte, error) {
		return nil, ctx.Err()
	}}
	h := New(src, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, "GET", "/tile/0/000", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", rec.Code)
	}
	if logs.String() != "" {
		t.Errorf("logged %q", logs.String())
	}
}

func TestMetrics(t *testing.T) {
	tl := newTestLog(t)
	tl.grow(t, 1)
	reg := prometheus.NewPedanticRegistry()
	base, c := serve(t, New(tl.l, Options{Metrics: reg}))
	for _, p := range []string{"/checkpoint", "/checkpoint", "/tile/0/000.p/1", "/tile/0/000", "/tile/0/1", "/nope"} {
		do(t, c, "GET", base+p, nil)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "evident_tiles_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, lp := range m.GetLabel() {
				labels = append(labels, lp.GetName()+"="+lp.GetValue())
			}
			got[strings.Join(labels, ",")] = m.GetCounter().GetValue()
		}
	}
	want := map[string]float64{
		"code=200,resource=checkpoint": 2,
		"code=200,resource=tile":       1,
		"code=404,resource=tile":       1,
		"code=400,resource=tile":       1,
		"code=404,resource=other":      1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("evident_tiles_requests_total (-want +got):\n%s", diff)
	}
}

func TestAcceptsGzip(t *testing.T) {
	for _, tt := range []struct {
		in   []string
		want bool
	}{
		{nil, false},
		{[]string{""}, false},
		{[]string{"gzip"}, true},
		{[]string{"GZip"}, true},
		{[]string{"deflate, gzip"}, true},
		{[]string{"gzip;q=1"}, true},
		{[]string{"gzip;q=0.001"}, true},
		{[]string{"gzip;q=0"}, false},
		{[]string{"gzip ; Q=0"}, false},
		{[]string{"gzip;q="}, false},
		{[]string{"*"}, false},
		{[]string{"br", "gzip"}, true},
		{[]string{"gzipx"}, false},
	} {
		t.Run(strings.Join(tt.in, "|"), func(t *testing.T) {
			if got := acceptsGzip(tt.in); got != tt.want {
				t.Errorf("acceptsGzip(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}
