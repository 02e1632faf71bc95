package web

import (
	"context"
	"net/http"

	"github.com/evident-dev/evident/mirror"
)

// MirrorHandler serves the pages for a mirror (evident mirror --serve),
// from the mirror's data: its tiles as mirror.Handler serves them; search,
// entries and proofs from its entries and tiles, indexed in memory here
// (which reads every entry once); documents from the envelopes it holds,
// if it was made with --envelopes. Checkpoints are verified in the browser
// with logKey (the log's verifier key, c2sp.org/signed-note vkey). A
// mirror has no peers or node state, so the pages show peers and
// misbehaviour alerts as unavailable.
func MirrorHandler(ctx context.Context, dir string, m *mirror.Mirror, logKey string) (http.Handler, error) {
	ev, err := newMirrorEvidence(ctx, dir, m)
	if err != nil {
		return nil, err
	}
	h, err := newHandler(Options{
		Log:      mirrorLog{m},
		LogKey:   logKey,
		Mirror:   true,
		Features: &Features{Query: true, Evidence: true, Documents: ev.hasEnvelopes()},
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/", mirror.Handler(dir))
	h.mount(mux)
	mountMirrorEvidence(mux, ev)
	return mux, nil
}

// mirrorLog is a mirror as the pages read it.
type mirrorLog struct{ m *mirror.Mirror }

func (l mirrorLog) Checkpoint() ([]byte, uint64) { return l.m.Checkpoint(), l.m.Size() }

func (l mirrorLog) Entry(ctx context.Context, index uint64) ([]byte, error) {
	return l.m.Entry(ctx, index)
}
