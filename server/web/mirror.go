package web

import (
	"context"
	"net/http"

	"github.com/evident-dev/evident/mirror"
)

// MirrorHandler serves the pages for a mirror (evident mirror --serve):
// the mirror's tiles as mirror.Handler serves them, and the pages, which
// show its checkpoint, verified in the browser with logKey (the log's
// verifier key, c2sp.org/signed-note vkey), and the log's growth from its
// entries. A mirror holds the log and no index, peers or node state, so the
// pages show search, documents, peers and misbehaviour as unavailable.
func MirrorHandler(dir string, m *mirror.Mirror, logKey string) (http.Handler, error) {
	return Handler(Options{
		Log:      mirrorLog{m},
		LogKey:   logKey,
		Mirror:   true,
		Features: &Features{},
	}, mirror.Handler(dir))
}

// mirrorLog is a mirror as the pages read it.
type mirrorLog struct{ m *mirror.Mirror }

func (l mirrorLog) Checkpoint() ([]byte, uint64) { return l.m.Checkpoint(), l.m.Size() }

func (l mirrorLog) Entry(ctx context.Context, index uint64) ([]byte, error) {
	return l.m.Entry(ctx, index)
}
