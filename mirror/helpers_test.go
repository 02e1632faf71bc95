package mirror_test

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/evident-dev/evident/mirror"
	"github.com/evident-dev/evident/tile"
)

func syncOpts(url, dir string, key note.Verifier) mirror.Options {
	return mirror.Options{URL: url, Dir: dir, LogKey: key, NoSync: true}
}

// treePaths returns the path of every tile and entry bundle of a tree of
// size leaves.
func treePaths(size uint64) []string {
	var ps []string
	for level := uint8(0); level < 8; level++ {
		count := size >> (8 * uint(level))
		if count == 0 {
			break
		}
		for n := uint64(0); n*256 < count; n++ {
			w := int(min(256, count-n*256))
			ps = append(ps, tile.PathFor(tile.Tile{Level: level, N: n, Width: w}))
			if level == 0 {
				ps = append(ps, tile.PathFor(tile.Tile{Entries: true, N: n, Width: w}))
			}
		}
	}
	return ps
}

// get fetches url and returns the status, the decoded body and the headers.
func get(t testing.TB, url string) (int, []byte, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

// checkServed checks that the mirror in dir, served by Handler, answers
// every path of a tree of size (and the checkpoint, and extra) with the
// bytes and headers the origin does.
func checkServed(t *testing.T, dir, origin string, size uint64, extra ...string) {
	t.Helper()
	paths := append([]string{"checkpoint"}, treePaths(size)...)
	checkServedPaths(t, dir, origin, append(paths, extra...))
	// Beyond the tree: 404, as at the origin.
	beyond := tile.PathFor(tile.Tile{Entries: true, N: size/256 + 1, Width: 256})
	if c, _, _ := get(t, httptestURL(t, dir)+"/"+beyond); c != http.StatusNotFound {
		t.Errorf("GET %s beyond the tree: %d, want 404", beyond, c)
	}
}

// checkServedPaths checks that the mirror in dir, served by Handler,
// answers paths with the bytes and headers the origin does.
func checkServedPaths(t *testing.T, dir, origin string, paths []string) {
	t.Helper()
	srv := httptest.NewServer(mirror.Handler(dir))
	defer srv.Close()
	for _, p := range paths {
		oc, ob, oh := get(t, origin+"/"+p)
		mc, mb, mh := get(t, srv.URL+"/"+p)
		if oc != http.StatusOK || mc != oc {
			t.Fatalf("GET %s: origin %d, mirror %d", p, oc, mc)
		}
		if !bytes.Equal(ob, mb) {
			t.Fatalf("GET %s: the mirror serves other bytes than the origin", p)
		}
		for _, h := range []string{"Content-Type", "Cache-Control"} {
			if oh.Get(h) != mh.Get(h) {
				t.Errorf("GET %s: %s is %q at the mirror, %q at the origin", p, h, mh.Get(h), oh.Get(h))
			}
		}
	}
}

func httptestURL(t *testing.T, dir string) string {
	srv := httptest.NewServer(mirror.Handler(dir))
	t.Cleanup(srv.Close)
	return srv.URL
}

func noteSign(text string, s note.Signer) ([]byte, error) {
	return note.Sign(&note.Note{Text: text}, s)
}

// storedFiles returns the mirror's files (not its state), by path.
func storedFiles(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	files := make(map[string][]byte)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			if strings.HasPrefix(rel, ".evident-mirror") {
				return filepath.SkipDir
			}
			return nil
		}
		b, err := os.ReadFile(p)
		files[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return files
}

// checkHonest checks that every file stored in dir is what the honest
// origin serves at its path.
func checkHonest(t *testing.T, dir, origin string) {
	t.Helper()
	for p, b := range storedFiles(t, dir) {
		if p == "checkpoint" {
			continue // the origin's may have moved on
		}
		c, ob, _ := get(t, origin+"/"+p)
		if c != http.StatusOK || !bytes.Equal(ob, b) {
			t.Errorf("the mirror stored %s, which the honest log doesn't serve (status %d)", p, c)
		}
	}
}

// proxy serves the origin's resources, decoded, through edit, and counts
// requests by path.
type proxy struct {
	origin string
	edit   func(path string, body []byte) (int, []byte) // nil: pass through
	mu     sync.Mutex
	hits   map[string]int
	total  atomic.Int64
}

func newProxy(t testing.TB, origin string, edit func(path string, body []byte) (int, []byte)) (*proxy, string) {
	p := &proxy{origin: origin, edit: edit, hits: make(map[string]int)}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, srv.URL
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	p.mu.Lock()
	p.hits[path]++
	p.mu.Unlock()
	p.total.Add(1)
	resp, err := http.Get(p.origin + "/" + path)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	code := resp.StatusCode
	if p.edit != nil && code == http.StatusOK {
		code, body = p.edit(path, bytes.Clone(body))
	}
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.WriteHeader(code)
	w.Write(body)
}

func (p *proxy) count(prefix string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for k, v := range p.hits {
		if strings.HasPrefix(k, prefix) {
			n += v
		}
	}
	return n
}

func flip(b []byte, i int) []byte {
	b[i%len(b)] ^= 0x40
	return b
}

var bg = context.Background()
