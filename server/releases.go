package server

import (
	"context"
	"errors"
	"strings"

	"connectrpc.com/connect"

	"github.com/evident-dev/evident/evidence"
)

// LoggedEntry is a logged entry as the node's read APIs other than the
// RPCs (TEA discovery) see it.
type LoggedEntry struct {
	Index uint64
	Entry *evidence.Entry
	// PackageLevel is true when the entry answered a release through a
	// subject naming the release's whole package.
	PackageLevel bool
}

// ErrNotFound is returned by Document for a digest the node has not
// logged.
var ErrNotFound = errors.New("not found")

// ReleaseEvidence returns up to limit entries about a release (a purl
// with a version): its own and, marked, those about its whole package,
// newest first, in the tree of the checkpoint reads are served against.
func (s *Handlers) ReleaseEvidence(ctx context.Context, release string, limit int) ([]LoggedEntry, error) {
	p, err := evidence.ParsePurl(release)
	if err != nil {
		return nil, err
	}
	if !p.HasVersion() {
		return nil, errors.New("the purl names no release: it has no version")
	}
	_, size := s.checkpoint()
	idxs, err := s.scan(ctx, evidence.IndexRelease, p.Release(), size, limit)
	if err != nil {
		return nil, err
	}
	pidxs, err := s.scan(ctx, evidence.IndexPackageLevel, p.Package(), size, limit)
	if err != nil {
		return nil, err
	}
	own := make(map[uint64]bool, len(idxs))
	for _, i := range idxs {
		own[i] = true
	}
	all := mergeNewestFirst(idxs, pidxs)
	return s.loggedEntries(ctx, all[:min(len(all), limit)], own)
}

// DigestEvidence returns up to limit entries whose subjects have the
// artifact digest d ("sha256:<hex>" or "sha512:<hex>"), newest first.
func (s *Handlers) DigestEvidence(ctx context.Context, d string, limit int) ([]LoggedEntry, error) {
	_, size := s.checkpoint()
	idxs, err := s.scan(ctx, evidence.IndexDigest, strings.ToLower(d), size, limit)
	if err != nil {
		return nil, err
	}
	return s.loggedEntries(ctx, idxs, nil)
}

func (s *Handlers) loggedEntries(ctx context.Context, idxs []uint64, own map[uint64]bool) ([]LoggedEntry, error) {
	out := make([]LoggedEntry, 0, len(idxs))
	for _, i := range idxs {
		b, err := s.ledger.Entry(ctx, i)
		if err != nil {
			return nil, s.internal(ctx, "read entry", err)
		}
		e, err := evidence.ParseEntry(b)
		if err != nil {
			return nil, s.internal(ctx, "parse logged entry", err)
		}
		out = append(out, LoggedEntry{Index: i, Entry: e, PackageLevel: own != nil && !own[i]})
	}
	return out, nil
}

// Document returns the logged document with SHA-256 d and its media type,
// or an error wrapping ErrNotFound.
func (s *Handlers) Document(ctx context.Context, d [32]byte) ([]byte, string, error) {
	doc, mt, err := s.document(ctx, d[:])
	if connect.CodeOf(err) == connect.CodeNotFound {
		return nil, "", errors.Join(ErrNotFound, err)
	}
	return doc, mt, err
}
