package witnesstest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/evident-dev/evident/checkpoint"
	"github.com/evident-dev/evident/witness"
)

// TestStore checks that the stores newStore returns follow the witness.Store
// contract. newStore must return a new, empty store each time.
func TestStore(t *testing.T, newStore func() witness.Store) {
	ctx := context.Background()
	state := func(size uint64, tag string) witness.State {
		var h [32]byte
		copy(h[:], tag)
		return witness.State{Size: size, Hash: h, Checkpoint: fmt.Appendf(nil, "checkpoint %d %s\n", size, tag)}
	}
	mustUpdate := func(t *testing.T, s witness.Store, origin string, old, new witness.State) {
		t.Helper()
		if err := s.Update(ctx, origin, old, new); err != nil {
			t.Fatalf("Update(%q, size %d -> %d) = %v", origin, old.Size, new.Size, err)
		}
	}
	wantState := func(t *testing.T, s witness.Store, origin string, want witness.State) {
		t.Helper()
		got, err := s.Get(ctx, origin)
		if err != nil {
			t.Fatalf("Get(%q) = %v", origin, err)
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Get(%q) mismatch (-want +got):\n%s", origin, diff)
		}
	}

	t.Run("GetUnknown", func(t *testing.T) {
		wantState(t, newStore(), "example.com/none", witness.State{})
	})

	t.Run("CreateThenGet", func(t *testing.T) {
		s := newStore()
		mustUpdate(t, s, "a", witness.State{}, state(5, "x"))
		wantState(t, s, "a", state(5, "x"))
		wantState(t, s, "b", witness.State{})
	})

	t.Run("CompareAndSwap", func(t *testing.T) {
		s := newStore()
		mustUpdate(t, s, "a", witness.State{}, state(5, "x"))
		for _, tc := range []struct {
			name string
			old  witness.State
		}{
			{"zero", witness.State{}},
			{"other size", state(4, "x")},
			{"other hash", state(5, "y")},
			{"other note", witness.State{Size: 5, Hash: state(5, "x").Hash, Checkpoint: []byte("other\n")}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := s.Update(ctx, "a", tc.old, state(6, "z"))
				if !errors.Is(err, witness.ErrStateChanged) {
					t.Errorf("Update with stale old state = %v, want ErrStateChanged", err)
				}
				wantState(t, s, "a", state(5, "x"))
			})
		}
		mustUpdate(t, s, "a", state(5, "x"), state(9, "w"))
		wantState(t, s, "a", state(9, "w"))
	})

	t.Run("NoAliasing", func(t *testing.T) {
		s := newStore()
		in := state(5, "x")
		mustUpdate(t, s, "a", witness.State{}, in)
		in.Checkpoint[0] = '!'
		got, err := s.Get(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		got.Checkpoint[1] = '!'
		wantState(t, s, "a", state(5, "x"))
	})

	t.Run("List", func(t *testing.T) {
		s := newStore()
		got, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 0 {
			t.Errorf("List of an empty store = %v", got)
		}
		mustUpdate(t, s, "a", witness.State{}, state(1, "a"))
		mustUpdate(t, s, "b", witness.State{}, state(2, "b"))
		mustUpdate(t, s, "b", state(2, "b"), state(3, "b"))
		got, err = s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]witness.State{"a": state(1, "a"), "b": state(3, "b")}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("List mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("ConcurrentUpdates", func(t *testing.T) {
		// Every goroutine increments the size with read-modify-write; with a
		// real compare-and-swap no increment is lost.
		s := newStore()
		const workers, each = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for done := 0; done < each; {
					old, err := s.Get(ctx, "a")
					if err != nil {
						errs <- err
						return
					}
					err = s.Update(ctx, "a", old, state(old.Size+1, "c"))
					if errors.Is(err, witness.ErrStateChanged) {
						continue
					}
					if err != nil {
						errs <- err
						return
					}
					done++
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		wantState(t, s, "a", state(workers*each, "c"))
	})

	t.Run("Misbehaviour", func(t *testing.T) {
		s := newStore()
		got, err := s.ListMisbehaviour(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 0 {
			t.Errorf("ListMisbehaviour of an empty store = %v", got)
		}
		ma, mb, mb2 := fork(t, "example.com/a", 3), fork(t, "example.com/b", 4), fork(t, "example.com/b", 7)
		for _, m := range []witness.Misbehaviour{mb2, ma, mb, ma} {
			if err := s.RecordMisbehaviour(ctx, m); err != nil {
				t.Fatalf("RecordMisbehaviour = %v", err)
			}
		}
		for _, tc := range []struct {
			origin string
			want   []witness.Misbehaviour
		}{
			{"example.com/a", []witness.Misbehaviour{ma}},
			{"example.com/b", []witness.Misbehaviour{mb, mb2}},
			{"example.com/c", nil},
			{"example.com", nil},
			{"", []witness.Misbehaviour{ma, mb, mb2}},
		} {
			got, err := s.ListMisbehaviour(ctx, tc.origin)
			if err != nil {
				t.Fatal(err)
			}
			// The order within one origin is unspecified.
			sortOpt := cmpopts.SortSlices(func(x, y witness.Misbehaviour) bool {
				if x.Origin != y.Origin {
					return x.Origin < y.Origin
				}
				return string(x.B) < string(y.B)
			})
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty(), sortOpt); diff != "" {
				t.Errorf("ListMisbehaviour(%q) mismatch (-want +got):\n%s", tc.origin, diff)
			}
			for i := 1; i < len(got); i++ {
				if got[i-1].Origin > got[i].Origin {
					t.Errorf("ListMisbehaviour(%q) not ordered by origin", tc.origin)
				}
			}
		}
	})

	t.Run("CanceledContext", func(t *testing.T) {
		s := newStore()
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.Get(ctx, "a"); err == nil {
			t.Error("Get with a canceled context succeeded")
		}
		if err := s.Update(ctx, "a", witness.State{}, state(1, "a")); err == nil {
			t.Error("Update with a canceled context succeeded")
		}
		if _, err := s.List(ctx); err == nil {
			t.Error("List with a canceled context succeeded")
		}
		if err := s.RecordMisbehaviour(ctx, fork(t, "example.com/a", 1)); err == nil {
			t.Error("RecordMisbehaviour with a canceled context succeeded")
		}
		if _, err := s.ListMisbehaviour(ctx, ""); err == nil {
			t.Error("ListMisbehaviour with a canceled context succeeded")
		}
		wantState(t, s, "a", witness.State{})
	})
}

// fork returns a valid proof that the test log origin forked at size.
func fork(t *testing.T, origin string, size uint64) witness.Misbehaviour {
	l := NewLog(t, origin)
	l.Append(int(size))
	c := checkpoint.Checkpoint{Origin: origin, Size: size, Hash: l.Root(size)}
	other := c
	other.Hash[0] ^= 1
	return witness.Misbehaviour{Origin: origin, Reason: witness.ReasonFork, A: l.Sign(c), B: l.Sign(other)}
}
