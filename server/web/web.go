// Package web serves the Evident explorer: web pages for people who won't
// use a terminal (a manufacturer's compliance staff, a market-surveillance
// auditor), on a node's or a mirror's one port.
//
// The pages are static files embedded in the binary (ui/), plain ES modules
// with no build step and nothing from another origin. They talk to the node
// with Connect's JSON protocol (EvidenceService) and read the few things the
// API lacks from small read-only JSON endpoints here:
//
//	GET /                       the pages (index.html); routes are in the URL fragment
//	GET /ui/<file>              the pages' scripts and style sheet
//	GET /api/v1/log             the log's origin, key, checkpoint, witness policy, peers
//	GET /api/v1/growth          the log's size over time, sampled from entries' times
//	GET /api/v1/misbehaviour    proofs of misbehaviour the node holds
//
// A mirror (MirrorHandler) serves the same pages and answers their
// EvidenceService calls from its own data.
//
// The pages verify what they show in the browser (WebCrypto Ed25519 and
// SHA-256): checkpoint signatures, witness cosignatures against the policy
// given here, and RFC 6962 inclusion proofs. Every response carries a strict
// Content-Security-Policy and the pages insert text only as text (DOM
// textContent), never as markup: evidence is hostile input.
package web

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/evident-dev/evident/checkpoint"
	"github.com/evident-dev/evident/server/federation"
	"github.com/evident-dev/evident/witness"
)

//go:embed ui
var files embed.FS

// Log is the log the pages show.
type Log interface {
	// Checkpoint returns the signed checkpoint the node serves, with the
	// witnesses' cosignatures, and its size.
	Checkpoint() (signed []byte, size uint64)
	// Entry returns the entry at index, which is less than the size.
	Entry(ctx context.Context, index uint64) ([]byte, error)
}

// Federation is what the pages show of a node's peers. *federation.Federation
// satisfies it.
type Federation interface {
	Peers(ctx context.Context) ([]federation.PeerStatus, error)
	Misbehaviour(ctx context.Context) ([]witness.Misbehaviour, error)
}

// Witness is a witness of the policy the pages check checkpoints against.
type Witness struct {
	// Name labels the witness for people (a peer's name).
	Name string `json:"name"`
	// Key is its verifier key (c2sp.org/tlog-cosignature vkey).
	Key string `json:"key"`
}

// Options configures the pages.
type Options struct {
	// Log is the log shown. Required.
	Log Log
	// LogKey is the log's verifier key (c2sp.org/signed-note vkey), with
	// which the pages check checkpoint signatures. Default "": the pages
	// say they cannot verify, unless the person pinned a key.
	LogKey string
	// Federation gives the peers, the witness policy and misbehaviour
	// proofs. Default nil: a node without a federation, or a mirror; the
	// pages show peers and misbehaviour as unavailable.
	Federation Federation
	// Witnesses and Quorum are the witness policy when Federation is nil
	// (a mirror's): a checkpoint needs valid cosignatures of at least
	// Quorum of Witnesses. With a Federation, the policy is its own rule
	// for the checkpoint it serves: a cosignature of every peer. Default:
	// none, quorum 0.
	Witnesses []Witness
	Quorum    int
	// Mirror says the pages are served by a mirror (evident mirror
	// --serve), which answers only what its data holds: see Features.
	Mirror bool
	// Features says which of the pages' requests the server answers.
	// Default (the zero value) for a node: everything but the SBOM check;
	// set it for a mirror.
	Features *Features
	// Logger receives server-side failures. Default: discard.
	Logger *slog.Logger
}

// Features says what a server answers, so the pages can show the rest as
// unavailable rather than fail.
type Features struct {
	// Query: EvidenceService.QueryEvidence (search by purl and digest).
	Query bool `json:"query"`
	// Evidence: EvidenceService.GetEvidence by log index.
	Evidence bool `json:"evidence"`
	// Documents: EvidenceService.GetDocument.
	Documents bool `json:"documents"`
	// Peers: the peers' state and their cosigned sizes.
	Peers bool `json:"peers"`
	// Misbehaviour: proofs of misbehaviour held by the node.
	Misbehaviour bool `json:"misbehaviour"`
	// SBOMCheck: the SBOM due-diligence check. Not built yet.
	SBOMCheck bool `json:"sbomCheck"`
}

// Mount adds the pages and their API to mux: GET / (exactly), GET /ui/ and
// GET /api/v1/. Every other path is left to mux's other handlers (a node's
// tiles at "/", its RPCs, /metrics).
func Mount(mux interface{ Handle(string, http.Handler) }, opts Options) error {
	h, err := newHandler(opts)
	if err != nil {
		return err
	}
	h.mount(mux)
	return nil
}

func (h *handler) mount(mux interface{ Handle(string, http.Handler) }) {
	mux.Handle("GET /{$}", secure(http.HandlerFunc(h.serveIndex)))
	mux.Handle("GET /ui/", secure(http.HandlerFunc(h.serveFile)))
	mux.Handle("GET /api/v1/log", secure(http.HandlerFunc(h.serveLog)))
	mux.Handle("GET /api/v1/growth", secure(http.HandlerFunc(h.serveGrowth)))
	mux.Handle("GET /api/v1/misbehaviour", secure(http.HandlerFunc(h.serveMisbehaviour)))
}

// Handler returns the pages and their API alone, with every other path
// handed to next (e.g. a mirror's tiles).
func Handler(opts Options, next http.Handler) (http.Handler, error) {
	mux := http.NewServeMux()
	mux.Handle("/", next)
	if err := Mount(mux, opts); err != nil {
		return nil, err
	}
	return mux, nil
}

// contentSecurityPolicy lets the pages load their own scripts, styles and
// images and talk to their own origin, nothing else: no inline script, no
// framing, no base or form target elsewhere. Trusted Types with no policy
// make every HTML-parsing sink (innerHTML and kin) throw, so a slip that
// would insert evidence as markup fails loudly instead of running it.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; " +
	"require-trusted-types-for 'script'; trusted-types 'none'"

// secure sets the security headers of every response of the pages.
func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cross-Origin-Resource-Policy", "same-origin")
		hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
		h.ServeHTTP(w, r)
	})
}

type handler struct {
	opts     Options
	log      *slog.Logger
	features Features
	static   map[string]staticFile

	growthMu sync.Mutex
	growth   *growthCache
}

type staticFile struct {
	body        []byte
	etag        string
	contentType string
}

func newHandler(opts Options) (*handler, error) {
	if opts.Log == nil {
		return nil, errors.New("web: Options.Log is required")
	}
	h := &handler{opts: opts, log: opts.Logger, static: map[string]staticFile{}}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if opts.Features != nil {
		h.features = *opts.Features
	} else {
		h.features = Features{Query: true, Evidence: true, Documents: true, Peers: opts.Federation != nil, Misbehaviour: opts.Federation != nil}
	}
	err := fs.WalkDir(files, "ui", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		h.static[strings.TrimPrefix(p, "ui/")] = staticFile{body: b, etag: `"` + hex.EncodeToString(sum[:16]) + `"`, contentType: contentType(p)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if _, ok := h.static["index.html"]; !ok {
		return nil, errors.New("web: index.html is not embedded")
	}
	return h, nil
}

func contentType(p string) string {
	switch path.Ext(p) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	}
	return "application/octet-stream"
}

func (h *handler) serveIndex(w http.ResponseWriter, r *http.Request) {
	h.serveStatic(w, r, "index.html")
}

func (h *handler) serveFile(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/ui/")
	if name == "index.html" {
		http.Redirect(w, r, "/", http.StatusMovedPermanently)
		return
	}
	h.serveStatic(w, r, name)
}

// serveStatic serves an embedded file. The files change only with the
// binary, so a browser revalidates them (no-cache) and gets 304 by ETag.
func (h *handler) serveStatic(w http.ResponseWriter, r *http.Request, name string) {
	f, ok := h.static[name]
	if !ok {
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", f.contentType)
	hd.Set("Cache-Control", "no-cache")
	hd.Set("ETag", f.etag)
	if r.Header.Get("If-None-Match") == f.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Write(f.body)
}

// logInfo is the answer of GET /api/v1/log.
type logInfo struct {
	Mode       string     `json:"mode"`
	Origin     string     `json:"origin"`
	LogKey     string     `json:"logKey"`
	Checkpoint string     `json:"checkpoint"`
	Size       uint64     `json:"size"`
	Policy     policyInfo `json:"policy"`
	Peers      []peerInfo `json:"peers"`
	Features   Features   `json:"features"`
	PeersError string     `json:"peersError,omitempty"`
	ServedAt   time.Time  `json:"servedAt"`
}

type policyInfo struct {
	// Quorum is how many of Witnesses must have cosigned.
	Quorum    int       `json:"quorum"`
	Witnesses []Witness `json:"witnesses"`
	// Rule says in words where the policy comes from.
	Rule string `json:"rule"`
}

type peerInfo struct {
	Name   string `json:"name"`
	URL    string `json:"url"`
	Origin string `json:"origin"`
	// CosignedSize is the size of this log the peer last cosigned; null
	// if not known.
	CosignedSize *int64 `json:"cosignedSize"`
	// WitnessedSize is the size of the peer's log this node last
	// cosigned; null if none.
	WitnessedSize *uint64 `json:"witnessedSize"`
}

func (h *handler) serveLog(w http.ResponseWriter, r *http.Request) {
	cp, size := h.opts.Log.Checkpoint()
	info := logInfo{
		Mode:       "node",
		LogKey:     h.opts.LogKey,
		Checkpoint: string(cp),
		Size:       size,
		Features:   h.features,
		Peers:      []peerInfo{},
		ServedAt:   time.Now().UTC().Truncate(time.Second),
		Policy:     policyInfo{Quorum: h.opts.Quorum, Witnesses: append([]Witness{}, h.opts.Witnesses...), Rule: "as configured"},
	}
	if h.opts.Mirror {
		info.Mode = "mirror"
		if len(h.opts.Witnesses) == 0 {
			info.Policy.Rule = "none here: the mirror checked the checkpoint against its witness policy when it synced"
		}
	}
	if c, err := checkpoint.Peek(cp); err == nil {
		info.Origin = c.Origin
	}
	if f := h.opts.Federation; f != nil {
		peers, err := f.Peers(r.Context())
		if err != nil {
			h.log.Error("couldn't list peers", "err", err)
			info.PeersError = "couldn't read the peers' state (logged on the node)"
		}
		// The node serves its checkpoint once every peer cosigned it
		// (federation.Federation.Checkpoint): that is its policy.
		info.Policy = policyInfo{Quorum: len(peers), Witnesses: []Witness{}, Rule: "a cosignature of every peer"}
		for _, p := range peers {
			info.Policy.Witnesses = append(info.Policy.Witnesses, Witness{Name: p.Name, Key: p.WitnessKey})
			pi := peerInfo{Name: p.Name, URL: p.URL, Origin: p.Origin}
			if p.CosignedSize >= 0 {
				pi.CosignedSize = &p.CosignedSize
			}
			if c, err := checkpoint.Peek(p.Witnessed); err == nil {
				pi.WitnessedSize = &c.Size
			}
			info.Peers = append(info.Peers, pi)
		}
	}
	writeJSON(w, info)
}

// growthPoints is how many entries GET /api/v1/growth samples: enough for
// a chart a page wide.
const growthPoints = 160

// growthCache holds the last growth answer: it changes only with the
// tree, and no faster than growthMaxAge.
type growthCache struct {
	size uint64
	at   time.Time
	body []byte
}

const growthMaxAge = 5 * time.Second

type growthPoint struct {
	// Size is the tree size once the entry was logged (its index + 1).
	Size uint64 `json:"size"`
	// Time is the entry's time line: when the node logged it.
	Time string `json:"time"`
}

func (h *handler) serveGrowth(w http.ResponseWriter, r *http.Request) {
	_, size := h.opts.Log.Checkpoint()
	h.growthMu.Lock()
	defer h.growthMu.Unlock()
	if c := h.growth; c != nil && (c.size == size || time.Since(c.at) < growthMaxAge) {
		writeJSONBytes(w, c.body)
		return
	}
	points, err := growth(r.Context(), h.opts.Log, size)
	if err != nil {
		h.log.Error("couldn't sample the log's growth", "err", err)
		http.Error(w, "couldn't read the log (logged on the server)", http.StatusInternalServerError)
		return
	}
	body, err := json.Marshal(struct {
		Size   uint64        `json:"size"`
		Points []growthPoint `json:"points"`
	}{size, points})
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h.growth = &growthCache{size: size, at: time.Now(), body: body}
	writeJSONBytes(w, body)
}

// growth samples up to growthPoints entries of the tree of size, evenly
// spread and always with the first and the last, and returns each one's
// time. An entry without a time line (not an Evident entry) is skipped.
func growth(ctx context.Context, l Log, size uint64) ([]growthPoint, error) {
	points := []growthPoint{}
	if size == 0 {
		return points, nil
	}
	var last uint64 = 1<<64 - 1
	for i := range uint64(growthPoints) {
		idx := i * (size - 1) / (growthPoints - 1)
		if idx == last {
			continue
		}
		last = idx
		e, err := l.Entry(ctx, idx)
		if err != nil {
			return nil, err
		}
		if t, ok := entryTime(e); ok {
			points = append(points, growthPoint{Size: idx + 1, Time: t})
		}
	}
	return points, nil
}

// entryTime returns the value of an entry's last line, "time <RFC 3339>"
// (evidence/ENTRY.md), checked to be a time.
func entryTime(e []byte) (string, bool) {
	s := strings.TrimSuffix(string(e), "\n")
	i := strings.LastIndexByte(s, '\n')
	v, ok := strings.CutPrefix(s[i+1:], "time ")
	if !ok {
		return "", false
	}
	if _, err := time.Parse(time.RFC3339, v); err != nil {
		return "", false
	}
	return v, true
}

type alert struct {
	Origin string `json:"origin"`
	Reason string `json:"reason"`
	// SizeA and SizeB are the sizes of the two checkpoints.
	SizeA uint64 `json:"sizeA"`
	SizeB uint64 `json:"sizeB"`
	// Proof is the proof file (witness.Misbehaviour.Marshal), which
	// evident verify-misbehaviour checks offline.
	Proof string `json:"proof"`
}

func (h *handler) serveMisbehaviour(w http.ResponseWriter, r *http.Request) {
	out := struct {
		Available bool    `json:"available"`
		Alerts    []alert `json:"alerts"`
	}{Alerts: []alert{}}
	if f := h.opts.Federation; f != nil {
		ms, err := f.Misbehaviour(r.Context())
		if err != nil {
			h.log.Error("couldn't list misbehaviour", "err", err)
			http.Error(w, "couldn't read the proofs (logged on the server)", http.StatusInternalServerError)
			return
		}
		out.Available = true
		for _, m := range ms {
			b, err := m.Marshal()
			if err != nil {
				h.log.Error("couldn't encode a proof of misbehaviour", "origin", m.Origin, "err", err)
				continue
			}
			a := alert{Origin: m.Origin, Reason: string(m.Reason), Proof: string(b)}
			if c, err := checkpoint.Peek(m.A); err == nil {
				a.SizeA = c.Size
			}
			if c, err := checkpoint.Peek(m.B); err == nil {
				a.SizeB = c.Size
			}
			out.Alerts = append(out.Alerts, a)
		}
	}
	writeJSON(w, out)
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	writeJSONBytes(w, b)
}

func writeJSONBytes(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(b)
}
