package mirror

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/note"

	"github.com/evident-dev/evident/checkpoint"
	"github.com/evident-dev/evident/tile"
)

// ErrNoCheckpoint is returned by Open for a directory that holds no verified
// checkpoint (Sync has never completed there).
var ErrNoCheckpoint = errors.New("mirror: no verified checkpoint in the directory")

// Mirror is a mirror directory opened for reading, as of its checkpoint when
// opened. Its files are trusted: Sync verified them before storing them.
// A Mirror is safe for concurrent use, also while a Sync runs on the
// directory (which only adds files, and replaces partial tiles by wider
// ones whose prefixes they are).
type Mirror struct {
	st *store
	cp *verified
}

// Open opens the mirror in dir. It checks that the stored checkpoint is
// signed by logKey and that the stored tiles at the right edge of its tree
// hash to its root.
func Open(dir string, logKey note.Verifier) (*Mirror, error) {
	st := newStore(dir, false)
	cp, err := st.loadCheckpoint(logKey)
	if err != nil {
		return nil, err
	}
	if cp == nil {
		return nil, ErrNoCheckpoint
	}
	m := &Mirror{st: st, cp: cp}
	root, err := m.RootAt(context.Background(), cp.Size)
	if err != nil {
		return nil, fmt.Errorf("couldn't read mirror: %w", err)
	}
	if root != cp.Hash {
		return nil, fmt.Errorf("mirror: the stored tiles hash to %x, not to the stored checkpoint's root %x", root, cp.Hash)
	}
	return m, nil
}

// Checkpoint returns the mirror's signed checkpoint note.
func (m *Mirror) Checkpoint() []byte { return m.cp.signed }

// Parsed returns the mirror's checkpoint, parsed.
func (m *Mirror) Parsed() checkpoint.Checkpoint { return m.cp.Checkpoint }

// Size returns the size of the mirror's checkpoint.
func (m *Mirror) Size() uint64 { return m.cp.Size }

// Entries calls fn with each entry from index start up to end (exclusive,
// at most Size), in order. It stops at the first error fn returns and
// returns it. entry is valid only during the call.
func (m *Mirror) Entries(ctx context.Context, start, end uint64, fn func(index uint64, entry []byte) error) error {
	if end > m.cp.Size || start > end {
		return fmt.Errorf("mirror: entries %d to %d are not within the mirror's %d", start, end, m.cp.Size)
	}
	for n := start / tile.FullWidth; n*tile.FullWidth < end; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		t := tile.Tile{Entries: true, N: n, Width: tile.WidthAt(m.cp.Size, 0, n)}
		b, err := m.st.tile(t, m.cp.Size)
		if err != nil {
			return fmt.Errorf("couldn't read mirror: %w", err)
		}
		es, err := splitBundle(b, t.Width)
		if err != nil {
			return fmt.Errorf("couldn't read mirror: %s: %w", t, err)
		}
		for i, e := range es {
			idx := n*tile.FullWidth + uint64(i)
			if idx < start || idx >= end {
				continue
			}
			if err := fn(idx, e); err != nil {
				return err
			}
		}
	}
	return nil
}

// Entry returns the entry at index.
func (m *Mirror) Entry(ctx context.Context, index uint64) ([]byte, error) {
	var out []byte
	err := m.Entries(ctx, index, index+1, func(_ uint64, e []byte) error {
		out = append([]byte(nil), e...)
		return nil
	})
	return out, err
}

func (m *Mirror) tree() *tile.Tree {
	return tile.NewTree(m.cp.Size, m.st.localTiles(m.cp.Size))
}

// RootAt returns the RFC 6962 root hash of the first size entries.
func (m *Mirror) RootAt(ctx context.Context, size uint64) ([32]byte, error) {
	if size > m.cp.Size {
		return [32]byte{}, fmt.Errorf("mirror: size %d is beyond the mirror's %d", size, m.cp.Size)
	}
	return m.tree().Root(ctx, size)
}

// InclusionProof returns the RFC 6962 inclusion proof of the entry at index
// in the tree of the first size entries.
func (m *Mirror) InclusionProof(ctx context.Context, index, size uint64) ([][]byte, error) {
	if size > m.cp.Size {
		return nil, fmt.Errorf("mirror: size %d is beyond the mirror's %d", size, m.cp.Size)
	}
	return m.tree().Inclusion(ctx, index, size)
}

// ConsistencyProof returns the RFC 6962 consistency proof from the tree of
// size1 entries to that of size2.
func (m *Mirror) ConsistencyProof(ctx context.Context, size1, size2 uint64) ([][]byte, error) {
	if size2 > m.cp.Size {
		return nil, fmt.Errorf("mirror: size %d is beyond the mirror's %d", size2, m.cp.Size)
	}
	return m.tree().Consistency(ctx, size1, size2)
}
