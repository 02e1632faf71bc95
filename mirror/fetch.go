package mirror

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/evident-dev/evident/tile"
)

// maxCheckpointSize bounds the checkpoint response. A checkpoint is about a
// hundred bytes plus a line per signature; a node with many witnesses has a
// few kilobytes.
const maxCheckpointSize = 1 << 20

// StatusError is the error for an HTTP response other than 200 OK.
type StatusError struct {
	URL        string
	StatusCode int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("GET %s: %d %s", e.URL, e.StatusCode, http.StatusText(e.StatusCode))
}

// fetcher GETs the log's static resources.
type fetcher struct {
	base   string // with a trailing slash
	client *http.Client
	bytes  atomic.Int64
}

func newFetcher(url string, client *http.Client) *fetcher {
	return &fetcher{base: strings.TrimSuffix(url, "/") + "/", client: client}
}

// get fetches the resource at path p (relative to the log's prefix), which
// may be at most max bytes.
func (f *fetcher) get(ctx context.Context, p string, max int64) ([]byte, error) {
	var body []byte
	err := f.stream(ctx, p, func(r io.Reader, _ int64) error {
		b, err := io.ReadAll(io.LimitReader(r, max+1))
		if err != nil {
			return err
		}
		if int64(len(b)) > max {
			return fmt.Errorf("GET %s: response is larger than %d bytes", f.base+p, max)
		}
		body = b
		return nil
	})
	return body, err
}

// stream fetches the resource at p and hands its body to read.
func (f *fetcher) stream(ctx context.Context, p string, read func(r io.Reader, contentLength int64) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.base+p, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "evident-mirror")
	// net/http asks for gzip and decompresses transparently, as
	// c2sp.org/tlog-tiles recommends for entry bundles.
	resp, err := f.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return &StatusError{URL: req.URL.String(), StatusCode: resp.StatusCode}
	}
	cr := &countingReader{r: resp.Body, n: &f.bytes}
	return read(cr, resp.ContentLength)
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func isNotFound(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.StatusCode == http.StatusNotFound
}

// tile fetches hash tile or entry bundle t. For a partial one the log no
// longer serves, it falls back to the full one and cuts it.
//
// c2sp.org/tlog-tiles: a log MAY delete a partial tile once the full tile is
// available; clients MAY fetch the full tile as a fallback.
func (f *fetcher) tile(ctx context.Context, t tile.Tile) ([]byte, error) {
	max := int64(t.Width * tile.HashSize)
	if t.Entries {
		max = int64(t.Width) * (2 + 65535)
	}
	b, err := f.get(ctx, tile.PathFor(t), max)
	if err == nil || !t.Partial() || !isNotFound(err) {
		return b, err
	}
	full := t
	full.Width = tile.FullWidth
	fb, ferr := f.get(ctx, tile.PathFor(full), int64(tile.FullWidth)*(2+65535))
	if ferr != nil {
		return nil, err // the partial tile's error is the one that matters
	}
	if t.Entries {
		return bundlePrefix(fb, t.Width)
	}
	if len(fb) < t.Width*tile.HashSize {
		return nil, err
	}
	return fb[:t.Width*tile.HashSize], nil
}

// envelope fetches the envelope with the given digest and size, hands it to
// store as it streams, and checks both. It returns a *VerifyError if the
// bytes are not the envelope.
func (f *fetcher) envelope(ctx context.Context, digest [32]byte, size int64, store func(fill func(io.Writer) error) error) error {
	p := envelopePath(digest)
	return f.stream(ctx, p, func(r io.Reader, contentLength int64) error {
		if contentLength >= 0 && contentLength != size {
			return &VerifyError{Path: p, Index: -1, Reason: fmt.Sprintf("served with Content-Length %d, but the log entry says the envelope has %d bytes", contentLength, size)}
		}
		return store(func(w io.Writer) error {
			h := sha256.New()
			n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(r, size+1))
			if err != nil {
				return err
			}
			if n != size {
				return &VerifyError{Path: p, Index: -1, Reason: fmt.Sprintf("got %d bytes, but the log entry says the envelope has %d", n, size)}
			}
			if got := [32]byte(h.Sum(nil)); got != digest {
				return &VerifyError{Path: p, Index: -1, Reason: fmt.Sprintf("the served bytes hash to sha256:%x", got)}
			}
			return nil
		})
	})
}

func envelopePath(digest [32]byte) string {
	return "evidence/sha256/" + hex.EncodeToString(digest[:])
}
