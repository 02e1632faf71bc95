// Package tea serves discovery of a release's evidence by the Transparency
// Exchange API (TEA, Ecma TC54; github.com/CycloneDX/transparency-exchange-api,
// OpenAPI spec version 0.4.0, the draft of TEA 1.0), so that TEA clients
// find the evidence documents a node holds about a release, with their
// digests, and where to get each one and its signed envelope.
//
// TEA's model is a vendor's products, their releases and the components
// they are made of; Evident's is logged evidence about releases named by
// purl. Where they meet, a release purl is both a TEA product release and a
// component release, and its evidence is its collection. TEA.md beside this
// file says what maps and what does not.
//
//	GET /.well-known/tea                                        the endpoints (TEA discovery)
//	GET /tea/v0.4.0/discovery?tei=urn:tei:purl:<domain>:<purl>  a release's UUID
//	GET /tea/v0.4.0/discovery?tei=urn:tei:hash:<domain>:SHA256:<hex>
//	GET /tea/v0.4.0/productRelease/{uuid}                       the release
//	GET /tea/v0.4.0/componentRelease/{uuid}
//	GET /tea/v0.4.0/productRelease/{uuid}/collection/latest     its evidence documents
//	GET /tea/v0.4.0/componentRelease/{uuid}/collection/latest
//	GET /tea/v0.4.0/document/sha256/{hex}                       a document, exactly as published
package tea

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/server"
)

// Version is the TEA OpenAPI specification version served, the path
// prefix "/tea/v" + Version.
const Version = "0.4.0"

// MaxItems bounds the evidence items of one collection.
const MaxItems = 500

// Source is what the handler reads: a node (server.Handlers).
type Source interface {
	ReleaseEvidence(ctx context.Context, release string, limit int) ([]server.LoggedEntry, error)
	DigestEvidence(ctx context.Context, digest string, limit int) ([]server.LoggedEntry, error)
	Document(ctx context.Context, sha256 [32]byte) ([]byte, string, error)
}

// Options configures New. The zero value of every field is a sensible
// default.
type Options struct {
	// BaseURL is the node's public base URL, e.g. https://evident.example.org.
	// Default: taken from each request (scheme and Host).
	BaseURL string
	// Logger receives errors. Default: discard.
	Logger *slog.Logger
	// Releases bounds how many release UUIDs handed out by discovery the
	// handler remembers (see TEA.md). Default 100000.
	Releases int
}

// namespace is the UUID namespace of release UUIDs: a release's TEA UUID is
// the name-based (version 5) UUID of its canonical release purl in it, the
// same on every node and across restarts.
var namespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://evident.dev/tea/release"))

// ReleaseUUID returns the TEA UUID of a release purl (canonical, with a
// version, no qualifiers).
func ReleaseUUID(release string) string { return uuid.NewSHA1(namespace, []byte(release)).String() }

// Handler serves TEA.
type Handler struct {
	src  Source
	opts Options
	mux  *http.ServeMux

	mu       sync.Mutex
	releases map[string]string // UUID -> release purl, from discovery
}

// New returns the TEA handler of src. Mount it for "/.well-known/tea" and
// "/tea/".
func New(src Source, opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Releases <= 0 {
		opts.Releases = 100_000
	}
	h := &Handler{src: src, opts: opts, mux: http.NewServeMux(), releases: make(map[string]string)}
	p := "/tea/v" + Version
	h.mux.HandleFunc("GET /.well-known/tea", h.wellKnown)
	h.mux.HandleFunc("GET "+p+"/discovery", h.discovery)
	for _, kind := range []string{"productRelease", "componentRelease"} {
		h.mux.HandleFunc("GET "+p+"/"+kind+"/{uuid}", h.release)
		h.mux.HandleFunc("GET "+p+"/"+kind+"/{uuid}/collection/latest", h.collection)
	}
	h.mux.HandleFunc("GET "+p+"/document/sha256/{hex}", h.document)
	h.mux.HandleFunc("/tea/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "OBJECT_UNKNOWN")
	})
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// base returns the node's base URL for r.
func (h *Handler) base(r *http.Request) string {
	if h.opts.BaseURL != "" {
		return strings.TrimSuffix(h.opts.BaseURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// wellKnown answers TEA discovery's first step (discovery/readme.md, "TEI
// resolution using DNS"): where the API is, and which versions it speaks.
func (h *Handler) wellKnown(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]any{
		"schemaVersion": 1,
		"endpoints":     []any{map[string]any{"url": h.base(r) + "/tea", "versions": []string{Version}, "priority": 1}},
	})
}

// discovery resolves a TEI to a release UUID: urn:tei:purl for a release
// purl, urn:tei:hash for an artifact digest (SHA256 or SHA512). Unknown
// TEIs are 404, as the spec asks.
func (h *Handler) discovery(w http.ResponseWriter, r *http.Request) {
	tei := r.URL.Query().Get("tei")
	release, status, err := h.resolve(r.Context(), tei)
	if err != nil {
		if status == http.StatusInternalServerError {
			h.opts.Logger.ErrorContext(r.Context(), "tea discovery failed", "tei", tei, "err", err)
		}
		writeError(w, status, "OBJECT_UNKNOWN")
		return
	}
	id := h.remember(release)
	writeJSON(w, map[string]any{
		"productReleaseUuid": id,
		"servers":            []any{map[string]any{"rootUrl": h.base(r) + "/tea", "versions": []string{Version}}},
	})
}

// resolve returns the release purl a TEI names, if the node holds evidence
// about it, or an HTTP status and why not.
func (h *Handler) resolve(ctx context.Context, tei string) (string, int, error) {
	rest, ok := strings.CutPrefix(tei, "urn:tei:")
	if !ok {
		return "", http.StatusBadRequest, errors.New("not a TEI")
	}
	typ, rest, _ := strings.Cut(rest, ":")
	// The domain names the vendor; a node answers for the releases it
	// holds evidence about, whoever's domain the TEI carries.
	_, id, ok := strings.Cut(rest, ":")
	if !ok || id == "" {
		return "", http.StatusBadRequest, errors.New("the TEI has no identifier")
	}
	switch typ {
	case "purl":
		p, err := evidence.ParsePurl(id)
		if err != nil || !p.HasVersion() {
			return "", http.StatusBadRequest, fmt.Errorf("not a release purl: %q", id)
		}
		es, err := h.src.ReleaseEvidence(ctx, p.Release(), MaxItems)
		if err != nil {
			return "", http.StatusInternalServerError, err
		}
		// A release is known by evidence about it; evidence about its
		// whole package holds for any version, even one never released.
		for _, e := range es {
			if !e.PackageLevel {
				return p.Release(), 0, nil
			}
		}
		return "", http.StatusNotFound, errors.New("no evidence about the release itself")
	case "hash":
		alg, value, _ := strings.Cut(id, ":")
		var d string
		switch strings.ToUpper(alg) {
		case "SHA256":
			d = "sha256:" + strings.ToLower(value)
		case "SHA512":
			d = "sha512:" + strings.ToLower(value)
		default:
			return "", http.StatusNotFound, fmt.Errorf("hash type %q is not one Evident indexes", alg)
		}
		es, err := h.src.DigestEvidence(ctx, d, 1)
		if err != nil {
			return "", http.StatusInternalServerError, err
		}
		for _, e := range es {
			for _, s := range e.Entry.Subjects {
				for _, sd := range s.Digests {
					if sd.Alg+":"+sd.Value == d {
						if p, err := evidence.ParsePurl(s.Purl); err == nil && p.HasVersion() {
							return p.Release(), 0, nil
						}
					}
				}
			}
		}
		return "", http.StatusNotFound, errors.New("no release has evidence with this digest")
	}
	return "", http.StatusNotFound, fmt.Errorf("TEI type %q does not map to Evident", typ)
}

// remember records the release a UUID was handed out for.
func (h *Handler) remember(release string) string {
	id := ReleaseUUID(release)
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.releases[id]; !ok && len(h.releases) >= h.opts.Releases {
		clear(h.releases) // starts over; clients rediscover
	}
	h.releases[id] = release
	return id
}

func (h *Handler) lookup(id string) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r, ok := h.releases[strings.ToLower(id)]
	return r, ok
}

// entries returns a discovered release's purl and its evidence.
func (h *Handler) entries(w http.ResponseWriter, r *http.Request) (string, []server.LoggedEntry, bool) {
	release, ok := h.lookup(r.PathValue("uuid"))
	if !ok {
		writeError(w, http.StatusNotFound, "OBJECT_UNKNOWN")
		return "", nil, false
	}
	es, err := h.src.ReleaseEvidence(r.Context(), release, MaxItems)
	if err != nil {
		h.opts.Logger.ErrorContext(r.Context(), "tea: reading a release's evidence failed", "release", release, "err", err)
		writeError(w, http.StatusInternalServerError, "OBJECT_UNKNOWN")
		return "", nil, false
	}
	if len(es) == 0 {
		writeError(w, http.StatusNotFound, "OBJECT_UNKNOWN")
		return "", nil, false
	}
	return release, es, true
}

// release answers productRelease/{uuid} and componentRelease/{uuid}: the
// release purl, its name and version. Evident does not know what a
// release is made of: components is empty.
func (h *Handler) release(w http.ResponseWriter, r *http.Request) {
	release, es, ok := h.entries(w, r)
	if !ok {
		return
	}
	p, _ := evidence.ParsePurl(release) // from resolve
	first := es[len(es)-1].Entry.Time   // the oldest
	out := map[string]any{
		"uuid":        ReleaseUUID(release),
		"version":     p.PackageURL().Version,
		"createdDate": first.UTC().Format(time.RFC3339),
		"identifiers": []any{map[string]string{"idType": "PURL", "idValue": release}},
	}
	if strings.HasPrefix(r.URL.Path, "/tea/v"+Version+"/productRelease/") {
		out["productName"] = p.Package()
		out["components"] = []any{}
	} else {
		out["componentName"] = p.Package()
	}
	writeJSON(w, out)
}

// collection answers .../collection/latest: one artifact per logged
// evidence item about the release, with the document's media type,
// SHA-256 and where to get it and its signed envelope.
func (h *Handler) collection(w http.ResponseWriter, r *http.Request) {
	release, es, ok := h.entries(w, r)
	if !ok {
		return
	}
	base := h.base(r)
	belongs := "COMPONENT_RELEASE"
	if strings.HasPrefix(r.URL.Path, "/tea/v"+Version+"/productRelease/") {
		belongs = "PRODUCT_RELEASE"
	}
	artifacts := make([]any, 0, len(es))
	for _, le := range es {
		e := le.Entry
		doc := hex.EncodeToString(e.Document.Digest[:])
		desc := fmt.Sprintf("%s; Evident log entry %d, signed by %s", e.Format, le.Index, strings.Join(e.Signers, ", "))
		if le.PackageLevel {
			desc += "; about every release of " + packageOf(release)
		}
		artifacts = append(artifacts, map[string]any{
			// An artifact is a document: the same bytes have one UUID.
			"uuid":        uuid.NewSHA1(namespace, []byte("sha256:"+doc)).String(),
			"name":        e.Name,
			"type":        artifactType(e.Kind, e.Document.MediaType),
			"createdDate": e.Time.UTC().Format(time.RFC3339),
			"formats": []any{map[string]any{
				"mediaType":    e.Document.MediaType,
				"description":  desc,
				"url":          base + "/tea/v" + Version + "/document/sha256/" + doc,
				"signatureUrl": base + "/evidence/sha256/" + hex.EncodeToString(e.EnvelopeDigest[:]),
				"checksums":    []any{map[string]string{"algType": "SHA-256", "algValue": doc}},
			}},
		})
	}
	// The log only grows, so the number of items is a version that
	// increases whenever the collection changes (TEA: "incremented each
	// time its content changes", starting at 1).
	reason := "ARTIFACT_ADDED"
	if len(es) == 1 {
		reason = "INITIAL_RELEASE"
	}
	writeJSON(w, map[string]any{
		"uuid":         ReleaseUUID(release),
		"version":      len(es),
		"date":         es[0].Entry.Time.UTC().Format(time.RFC3339),
		"belongsTo":    belongs,
		"updateReason": map[string]string{"type": reason},
		"artifacts":    artifacts,
	})
}

func packageOf(release string) string {
	p, err := evidence.ParsePurl(release)
	if err != nil {
		return release
	}
	return p.Package()
}

// artifactType maps an evidence kind to TEA's artifact types.
func artifactType(k evidence.Kind, mediaType string) string {
	switch k {
	case evidence.KindSBOM:
		return "BOM"
	case evidence.KindVEX, evidence.KindAdvisory:
		return "VULNERABILITIES"
	case evidence.KindProvenance:
		return "BUILD_META"
	case evidence.KindCVDPolicy, evidence.KindSecurityPolicy:
		if strings.HasPrefix(mediaType, "text/plain") {
			return "SECURITY_TXT"
		}
		return "OTHER"
	case evidence.KindEUDeclarationOfConformity:
		return "CERTIFICATION"
	case evidence.KindStewardAttestation, evidence.KindOSPSBaseline, evidence.KindScorecard:
		return "ATTESTATION"
	}
	return "OTHER"
}

// document serves a logged document, exactly as published.
func (h *Handler) document(w http.ResponseWriter, r *http.Request) {
	b, err := hex.DecodeString(r.PathValue("hex"))
	if err != nil || len(b) != 32 {
		writeError(w, http.StatusBadRequest, "OBJECT_UNKNOWN")
		return
	}
	var d [32]byte
	copy(d[:], b)
	doc, mt, err := h.src.Document(r.Context(), d)
	if errors.Is(err, server.ErrNotFound) {
		writeError(w, http.StatusNotFound, "OBJECT_UNKNOWN")
		return
	}
	if err != nil {
		h.opts.Logger.ErrorContext(r.Context(), "tea: reading a document failed", "err", err)
		writeError(w, http.StatusInternalServerError, "OBJECT_UNKNOWN")
		return
	}
	// The bytes never change: immutable, named by their digest.
	w.Header().Set("Content-Type", mt)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Header().Set("ETag", `"`+r.PathValue("hex")+`"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
	w.Write(doc)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// writeError answers with TEA's error response.
func writeError(w http.ResponseWriter, status int, kind string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, "{\"error\":%q}\n", kind)
}
