package mirror

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/evident-dev/evident/checkpoint"
	"github.com/evident-dev/evident/server/tiles"
	"github.com/evident-dev/evident/tile"
)

// Handler returns an http.Handler serving the mirror in dir read-only over
// the c2sp.org/tlog-tiles API, at the same paths, with the same content
// types, caching headers and status codes as a node (it is server/tiles'
// handler over the directory).
//
// It serves only what the stored checkpoint covers: a tile or bundle beyond
// that tree is 404 even if a Sync in progress has already stored it, so a
// client never sees a tile before the checkpoint that requires it. Envelopes
// are served if the mirror holds them (Options.Envelopes), since each was
// checked against its digest before it was stored.
func Handler(dir string) http.Handler {
	src := &dirSource{st: newStore(dir, false)}
	return tiles.New(src, tiles.Options{Envelopes: src})
}

// dirSource is a tiles.Source and tiles.Envelopes over a mirror directory.
type dirSource struct {
	st *store

	mu     sync.Mutex
	mod    time.Time
	len    int64
	signed []byte
	size   uint64
}

// Checkpoint returns the stored checkpoint, re-read when the file changes.
// It was verified before it was stored, so its size is only parsed here.
func (d *dirSource) Checkpoint() ([]byte, uint64) {
	fi, err := os.Stat(d.st.path("checkpoint"))
	if err != nil {
		return nil, 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.signed != nil && fi.ModTime().Equal(d.mod) && fi.Size() == d.len {
		return d.signed, d.size
	}
	b, err := d.st.read("checkpoint")
	if err != nil {
		return nil, 0
	}
	c, err := checkpoint.Peek(b)
	if err != nil {
		return nil, 0
	}
	d.mod, d.len, d.signed, d.size = fi.ModTime(), fi.Size(), b, c.Size
	return b, c.Size
}

func (d *dirSource) Tile(ctx context.Context, level uint8, n uint64, width int) ([]byte, error) {
	return d.read(tile.Tile{Level: level, N: n, Width: width})
}

func (d *dirSource) EntryBundle(ctx context.Context, n uint64, width int) ([]byte, error) {
	return d.read(tile.Tile{Entries: true, N: n, Width: width})
}

func (d *dirSource) read(t tile.Tile) ([]byte, error) {
	_, size := d.Checkpoint()
	if tile.WidthAt(size, t.Level, t.N) < t.Width {
		return nil, fmt.Errorf("%s is beyond the mirrored tree: %w", t, fs.ErrNotExist)
	}
	return d.st.tile(t, size)
}

func (d *dirSource) Open(ctx context.Context, digest [32]byte) (io.ReadCloser, int64, error) {
	f, err := os.Open(d.st.path(envelopePath(digest)))
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}
