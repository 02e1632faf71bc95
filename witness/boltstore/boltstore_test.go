package boltstore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.etcd.io/bbolt"

	"github.com/evident-dev/evident/witness"
	"github.com/evident-dev/evident/witness/boltstore"
	"github.com/evident-dev/evident/witness/witnesstest"
)

func TestConformance(t *testing.T) {
	for _, opts := range []boltstore.Options{{}, {GroupCommit: true, Bucket: "w2"}} {
		t.Run(map[bool]string{false: "Update", true: "GroupCommit"}[opts.GroupCommit], func(t *testing.T) {
			witnesstest.TestStore(t, func() witness.Store {
				s, err := boltstore.Open(filepath.Join(t.TempDir(), "witness.db"), opts)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			})
		})
	}
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "witness.db")
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := witness.State{Size: 7, Hash: [32]byte{1, 2, 3}, Checkpoint: []byte("note\n")}
	if err := s.Update(ctx, "example.com/log", witness.State{}, want); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Get(ctx, "example.com/log")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("state after reopening (-want +got):\n%s", diff)
	}
}

// TestSharedDB checks that two stores in one database, in different
// buckets, don't see each other, and that New leaves the database open.
func TestSharedDB(t *testing.T) {
	ctx := context.Background()
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "shared.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, err := boltstore.New(db, boltstore.Options{Bucket: "a"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := boltstore.New(db, boltstore.Options{Bucket: "b"})
	if err != nil {
		t.Fatal(err)
	}
	st := witness.State{Size: 1, Checkpoint: []byte("x\n")}
	if err := a.Update(ctx, "log", witness.State{}, st); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := b.Get(ctx, "log")
	if err != nil {
		t.Fatal(err)
	}
	if !got.IsZero() {
		t.Errorf("store b sees store a's state: %+v", got)
	}
}
