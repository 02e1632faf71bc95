package witness

import (
	"bytes"
	"context"
	"errors"
)

// Store keeps what a witness must remember: for each log, the latest
// checkpoint it cosigned, and the proofs of misbehaviour it has found.
// witnesstest.TestStore checks an implementation against this contract;
// witness/boltstore is the durable one.
type Store interface {
	// Get returns the latest state recorded for origin, or the zero State if
	// there is none.
	Get(ctx context.Context, origin string) (State, error)
	// Update atomically replaces the state of origin by new if it still
	// equals old (every field; the zero State means "none recorded"), and
	// returns ErrStateChanged otherwise. When Update returns nil, new is
	// durable.
	Update(ctx context.Context, origin string, old, new State) error
	// List returns the state of every origin that has one.
	List(ctx context.Context) (map[string]State, error)
	// RecordMisbehaviour durably stores m. Recording the same proof twice
	// stores it once. Callers record only proofs VerifyMisbehaviour accepts.
	RecordMisbehaviour(ctx context.Context, m Misbehaviour) error
	// ListMisbehaviour returns the proofs recorded for origin, or for every
	// origin if origin is "", ordered by origin and then arbitrarily.
	ListMisbehaviour(ctx context.Context, origin string) ([]Misbehaviour, error)
}

// ErrStateChanged is returned by Store.Update when the stored state is not
// the one the caller read: another request got there first.
var ErrStateChanged = errors.New("witness state changed concurrently")

// State is what a witness remembers of one log: the latest checkpoint it
// cosigned.
type State struct {
	// Size and Hash are the tree size and root hash of the checkpoint.
	Size uint64
	Hash [32]byte
	// Checkpoint is the signed note: the checkpoint text, the log
	// signatures the witness verified, and the witness's cosignature.
	// It is nil only in the zero State.
	Checkpoint []byte
}

// IsZero reports whether s is the zero State: nothing cosigned yet.
func (s State) IsZero() bool {
	return s.Size == 0 && s.Hash == [32]byte{} && len(s.Checkpoint) == 0
}

// Equal reports whether s and t are the same state, as Store.Update compares
// them.
func (s State) Equal(t State) bool {
	return s.Size == t.Size && s.Hash == t.Hash && bytes.Equal(s.Checkpoint, t.Checkpoint)
}
