// Package tiles serves an Evident log over the c2sp.org/tlog-tiles static
// HTTP API: the signed checkpoint, the Merkle tree tiles and the entry
// bundles, so that a CDN or an object store can carry read traffic and any
// tlog-tiles client can verify the log. It also serves the envelopes the log
// entries reference, by digest, at evidence/sha256/<hex>.
//
// Status codes and caching (the spec says little about errors; these are the
// choices, each written where it is made):
//
//	checkpoint               200, Cache-Control: no-cache (Options.CheckpointMaxAge)
//	tile/<L>/<N>[.p/<W>]     200, public, max-age=31536000, immutable — full and
//	tile/entries/<N>[.p/<W>]      partial alike, since a path names fixed bytes
//	evidence/sha256/<hex>    200 or 304, immutable, ETag "<hex>"
//	beyond the tree, unknown 404, Cache-Control: no-store
//	malformed path           400, Cache-Control: no-store
//	not GET or HEAD          405, Allow: GET, HEAD
//	storage failure          500, detail logged, not sent
//	request context ended    503
package tiles

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/evident-dev/evident/tile"
	"github.com/prometheus/client_golang/prometheus"
)

// Source is the log being served. *ledger.Ledger satisfies it.
//
// Tile and EntryBundle take a width from 1 to tile.FullWidth (tile.FullWidth
// asks for a full tile) and return an error wrapping tile.ErrNotFound or
// fs.ErrNotExist when the tree does not have that tile at that width.
type Source interface {
	// Checkpoint returns the latest signed checkpoint note.
	Checkpoint() (signed []byte, size uint64)
	Tile(ctx context.Context, level uint8, n uint64, width int) ([]byte, error)
	EntryBundle(ctx context.Context, n uint64, width int) ([]byte, error)
}

// Envelopes is the content-addressed store of the envelopes that log entries
// reference.
type Envelopes interface {
	// Open returns the envelope whose SHA-256 is digest, and its size in
	// bytes. It returns an error wrapping fs.ErrNotExist if there is none.
	Open(ctx context.Context, digest [32]byte) (r io.ReadCloser, size int64, err error)
}

// Options configures the handler. The zero value is a sensible default.
type Options struct {
	// Prefix is the URL path the log is served under: the checkpoint is at
	// Prefix+"checkpoint". It is matched against the escaped request path.
	// A missing leading or trailing slash is added. Default "/".
	Prefix string

	// Envelopes serves evidence/sha256/<hex>. Default nil: those paths are
	// 404 Not Found.
	Envelopes Envelopes

	// CheckpointMaxAge, when positive, lets caches keep the checkpoint this
	// long (rounded down to whole seconds): a CDN then absorbs checkpoint
	// polling, at the cost of serving a checkpoint up to that old.
	// c2sp.org/tlog-tiles: the checkpoint changes, so its headers should
	// keep caches from holding it for more than a few seconds. Keep it at a few
	// seconds at most. Default 0: "Cache-Control: no-cache".
	CheckpointMaxAge time.Duration

	// DisableCompression turns off gzip for entry bundles. Default false:
	// bundles are gzipped for clients whose Accept-Encoding allows gzip.
	DisableCompression bool

	// Logger receives server-side failures (a storage error, an envelope
	// that does not match its digest). Default: discard.
	Logger *slog.Logger

	// Metrics, when set, receives the handler's metrics (see newMetrics).
	// Default: none.
	Metrics prometheus.Registerer
}

// Cache-Control values.
const (
	// c2sp.org/tlog-tiles: tiles and entry bundles never change, so their
	// caching headers should be long-lived.
	cacheImmutable = "public, max-age=31536000, immutable"
	// Errors are not cached: a tile beyond the tree today exists tomorrow.
	cacheNone = "no-store"
)

type handler struct {
	src      Source
	env      Envelopes
	prefix   string
	cpCache  string
	compress bool
	log      *slog.Logger
	requests *prometheus.CounterVec
}

// New returns an http.Handler serving src under opts.Prefix. Requests for
// other paths get 404 Not Found, so it can sit behind a mux or alone.
func New(src Source, opts Options) http.Handler {
	h := &handler{
		src:      src,
		env:      opts.Envelopes,
		prefix:   opts.Prefix,
		cpCache:  "no-cache",
		compress: !opts.DisableCompression,
		log:      opts.Logger,
	}
	if !strings.HasPrefix(h.prefix, "/") {
		h.prefix = "/" + h.prefix
	}
	if !strings.HasSuffix(h.prefix, "/") {
		h.prefix += "/"
	}
	if s := int64(opts.CheckpointMaxAge / time.Second); s > 0 {
		h.cpCache = "public, max-age=" + strconv.FormatInt(s, 10)
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.requests = newMetrics(opts.Metrics)
	return h
}

// newMetrics creates and registers the handler's metric:
//
//	evident_tiles_requests_total{resource, code}
//	  requests answered, by resource (checkpoint, tile, entries, evidence,
//	  other) and HTTP status code.
func newMetrics(reg prometheus.Registerer) *prometheus.CounterVec {
	if reg == nil {
		return nil
	}
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "evident_tiles_requests_total",
		Help: "Requests to the tlog-tiles API, by resource and HTTP status code.",
	}, []string{"resource", "code"})
	reg.MustRegister(c)
	return c
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	resource, code := h.serve(w, r)
	if h.requests != nil {
		h.requests.WithLabelValues(resource, strconv.Itoa(code)).Inc()
	}
}

// serve answers r and returns what it was for and the status code it sent.
func (h *handler) serve(w http.ResponseWriter, r *http.Request) (resource string, code int) {
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), h.prefix)
	switch {
	case !ok:
		return "other", h.error(w, http.StatusNotFound, "not found")
	case rest == "checkpoint":
		resource = "checkpoint"
	case strings.HasPrefix(rest, "tile/entries/"):
		resource = "entries"
	case strings.HasPrefix(rest, "tile/"):
		resource = "tile"
	case strings.HasPrefix(rest, "evidence/"):
		resource = "evidence"
	default:
		return "other", h.error(w, http.StatusNotFound, "not found")
	}
	// c2sp.org/tlog-tiles: the log is a set of static resources, fetched
	// with GET. HEAD is GET without the body (RFC 9110, 9.3.2).
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return resource, h.error(w, http.StatusMethodNotAllowed, "only GET and HEAD are allowed")
	}
	switch resource {
	case "checkpoint":
		return resource, h.serveCheckpoint(w)
	case "evidence":
		return resource, h.serveEnvelope(w, r, rest)
	default:
		return resource, h.serveTile(w, r, rest)
	}
}

func (h *handler) serveCheckpoint(w http.ResponseWriter) int {
	signed, _ := h.src.Checkpoint()
	if len(signed) == 0 {
		return h.error(w, http.StatusNotFound, "the log has no checkpoint yet")
	}
	hd := w.Header()
	// c2sp.org/tlog-tiles: the signed tree head is a checkpoint at
	// <prefix>/checkpoint, served as text/plain in UTF-8.
	hd.Set("Content-Type", "text/plain; charset=utf-8")
	hd.Set("Cache-Control", h.cpCache)
	return h.write(w, signed)
}

func (h *handler) serveTile(w http.ResponseWriter, r *http.Request, p string) int {
	t, err := tile.ParsePath(p)
	if err != nil {
		// The spec defines no status for a path outside its grammar; it is
		// a client bug, not a resource that may exist later, so 400.
		return h.error(w, http.StatusBadRequest, err.Error())
	}
	// The exact width asked for, never a wider tile: a client asks for a
	// partial tile of the width its verified checkpoint implies, and the
	// bytes at a path never change.
	//
	// c2sp.org/tlog-tiles: a log must keep serving the partial tiles of
	// every tree size it produced a checkpoint for (it may drop them once
	// the full tile is there, which this one never does). The ledger keeps the
	// widest version of each tile and serves any narrower one as its
	// prefix, so every partial tile of every checkpoint stays available.
	var body []byte
	if t.Entries {
		body, err = h.src.EntryBundle(r.Context(), t.N, t.Width)
	} else {
		body, err = h.src.Tile(r.Context(), t.Level, t.N, t.Width)
	}
	switch {
	case errors.Is(err, tile.ErrNotFound) || errors.Is(err, fs.ErrNotExist):
		// c2sp.org/tlog-tiles: an empty tile is never served.
		return h.error(w, http.StatusNotFound, "not found: "+tile.PathFor(t)+" is beyond the tree")
	case err != nil:
		return h.internal(w, r, "couldn't read tile", err, "tile", tile.PathFor(t))
	}
	// What is served here is cached for a year: check its shape first.
	if err := checkShape(t, body); err != nil {
		return h.internal(w, r, "couldn't read tile", err, "tile", tile.PathFor(t))
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/octet-stream")
	// c2sp.org/tlog-tiles: the tile endpoints are immutable, so their
	// caching headers should be long-lived. That holds for partial tiles: the
	// first W hashes (entries) of a tile never change, and a longer tile
	// has a different path.
	hd.Set("Cache-Control", cacheImmutable)
	if t.Entries {
		// c2sp.org/tlog-tiles: entry bundles should be compressed at the
		// HTTP layer, for instance with a coding the client's
		// Accept-Encoding asks for. Hash tiles are random bytes: not worth it.
		hd.Set("Vary", "Accept-Encoding")
		if h.compress && acceptsGzip(r.Header.Values("Accept-Encoding")) {
			hd.Set("Content-Encoding", "gzip")
			body = gzipped(body)
		}
	}
	return h.write(w, body)
}

// checkShape checks that body has the size t calls for: Width hashes, or
// Width length-prefixed entries.
func checkShape(t tile.Tile, body []byte) error {
	if !t.Entries {
		if len(body) != t.Width*32 {
			return fmt.Errorf("got %d bytes, want %d hashes", len(body), t.Width)
		}
		return nil
	}
	// c2sp.org/tlog-tiles: a bundle is its entries one after another, each
	// preceded by its length as a big-endian uint16.
	b := body
	for i := 0; i < t.Width; i++ {
		if len(b) < 2 || len(b) < 2+int(binary.BigEndian.Uint16(b)) {
			return fmt.Errorf("bundle ends in entry %d of %d", i, t.Width)
		}
		b = b[2+int(binary.BigEndian.Uint16(b)):]
	}
	if len(b) != 0 {
		return fmt.Errorf("bundle has %d bytes after its %d entries", len(b), t.Width)
	}
	return nil
}

// serveEnvelope streams evidence/sha256/<hex>.
func (h *handler) serveEnvelope(w http.ResponseWriter, r *http.Request, p string) int {
	hexDigest, ok := strings.CutPrefix(p, "evidence/sha256/")
	var digest [32]byte
	// Lower-case only, so that an envelope has one URL and one cache entry.
	if !ok || len(hexDigest) != 64 || strings.ToLower(hexDigest) != hexDigest {
		return h.error(w, http.StatusBadRequest, "malformed evidence path: want evidence/sha256/<64 lower-case hex digits>")
	}
	if _, err := hex.Decode(digest[:], []byte(hexDigest)); err != nil {
		return h.error(w, http.StatusBadRequest, "malformed evidence path: want evidence/sha256/<64 lower-case hex digits>")
	}
	if h.env == nil {
		return h.error(w, http.StatusNotFound, "not found: this node serves no envelopes")
	}
	etag := `"` + hexDigest + `"`
	hd := w.Header()
	// A digest names fixed bytes: the ETag and the cache lifetime say so.
	// A cached copy's ETag can only be this one, so a match needs no store
	// lookup.
	if etagMatches(r.Header.Values("If-None-Match"), etag) {
		hd.Set("ETag", etag)
		hd.Set("Cache-Control", cacheImmutable)
		setCORS(hd)
		w.WriteHeader(http.StatusNotModified)
		return http.StatusNotModified
	}
	rc, size, err := h.env.Open(r.Context(), digest)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return h.error(w, http.StatusNotFound, "not found: no envelope with that digest")
	case err != nil:
		return h.internal(w, r, "couldn't open envelope", err, "digest", hexDigest)
	}
	defer rc.Close()
	if size < 1 {
		return h.internal(w, r, "couldn't open envelope", fmt.Errorf("size %d", size), "digest", hexDigest)
	}
	hd.Set("Content-Type", "application/json")
	hd.Set("Content-Length", strconv.FormatInt(size, 10))
	hd.Set("Cache-Control", cacheImmutable)
	hd.Set("ETag", etag)
	hd.Set("X-Content-Type-Options", "nosniff")
	setCORS(hd)
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return http.StatusOK
	}
	// The store is trusted but not blindly: the bytes are hashed as they
	// go, and the last one is held back until the digest checks out, so a
	// corrupt envelope reaches the client as a truncated response, never
	// as a complete one with immutable caching headers.
	sum := sha256.New()
	mw := io.MultiWriter(w, sum)
	if _, err := io.CopyN(mw, rc, size-1); err != nil {
		h.abort(r, "couldn't read envelope", err, hexDigest)
	}
	var last [2]byte
	n, err := io.ReadFull(rc, last[:])
	if n != 1 || !errors.Is(err, io.ErrUnexpectedEOF) {
		h.abort(r, "couldn't read envelope", fmt.Errorf("store's size %d is wrong (read error: %v)", size, err), hexDigest)
	}
	sum.Write(last[:1])
	if !bytes.Equal(sum.Sum(nil), digest[:]) {
		h.abort(r, "envelope does not match its digest", errors.New("store is corrupt"), hexDigest)
	}
	if _, err := w.Write(last[:1]); err != nil {
		return http.StatusOK // the client went away
	}
	return http.StatusOK
}

// abort logs a failure after the response has started and breaks the
// connection, so that the client sees an error rather than a short body.
func (h *handler) abort(r *http.Request, msg string, err error, digest string) {
	h.log.ErrorContext(r.Context(), msg, "digest", digest, "err", err)
	panic(http.ErrAbortHandler)
}

// write sends a 200 response with body and the headers already set.
func (h *handler) write(w http.ResponseWriter, body []byte) int {
	hd := w.Header()
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	hd.Set("X-Content-Type-Options", "nosniff")
	setCORS(hd)
	w.WriteHeader(http.StatusOK)
	// For HEAD, net/http discards the body and keeps Content-Length.
	w.Write(body)
	return http.StatusOK
}

// setCORS lets browser-based verifiers read the log from any origin. Every
// resource is public and no credentials are involved, so GET and HEAD (simple
// requests, no preflight) may be read cross-origin.
func setCORS(hd http.Header) {
	hd.Set("Access-Control-Allow-Origin", "*")
}

func (h *handler) error(w http.ResponseWriter, code int, msg string) int {
	w.Header().Set("Cache-Control", cacheNone)
	setCORS(w.Header())
	http.Error(w, msg, code)
	return code
}

// internal logs err and sends the client a 500 that leaks nothing about it.
func (h *handler) internal(w http.ResponseWriter, r *http.Request, msg string, err error, args ...any) int {
	if r.Context().Err() != nil {
		// The client went away, or a middleware's deadline passed: not
		// the server's fault, and not worth an error log.
		return h.error(w, http.StatusServiceUnavailable, "request canceled")
	}
	h.log.ErrorContext(r.Context(), msg, append(args, "err", err)...)
	return h.error(w, http.StatusInternalServerError, "internal error")
}

// acceptsGzip reports whether Accept-Encoding values allow gzip
// (RFC 9110, 12.5.3): a "gzip" coding whose weight is not zero.
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q := 1.0
			for _, p := range strings.Split(params, ";") {
				k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(k, "q") {
					f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
					if err != nil {
						f = 0 // a weight we can't read: don't guess
					}
					q = f
				}
			}
			return q > 0
		}
	}
	return false
}

// etagMatches reports whether If-None-Match values match etag, using the weak
// comparison RFC 9110, 13.1.2 requires for If-None-Match.
func etagMatches(values []string, etag string) bool {
	for _, v := range values {
		for _, tag := range strings.Split(v, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
				return true
			}
		}
	}
	return false
}

var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(b)/2 + 64)
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(&buf)
	zw.Write(b) // a bytes.Buffer does not fail
	zw.Close()
	gzipWriters.Put(zw)
	return buf.Bytes()
}
