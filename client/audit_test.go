package client

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/witness"
)

func TestAuditConsistent(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	state := t.TempDir()
	c := newClient(t, n.URL, n.VerifierKey, Options{})

	res, err := c.Audit(ctx, state)
	if err != nil {
		t.Fatal(err)
	}
	if res.Old != nil || res.New.Size != 0 {
		t.Errorf("first audit: old %v, new size %d; want no old checkpoint and the empty tree", res.Old, res.New.Size)
	}
	for i := range 3 {
		submitAll(t, c, testEnvelope("pkg:pypi/a@1", i))
		res, err := c.Audit(ctx, state)
		if err != nil {
			t.Fatalf("audit %d: %v", i, err)
		}
		if res.Old == nil || res.Old.Size != uint64(i) || res.New.Size != uint64(i+1) || res.Stale {
			t.Errorf("audit %d: %+v", i, res)
		}
	}
	// Nothing new: still consistent.
	if res, err = c.Audit(ctx, state); err != nil || res.Old.Size != 3 || res.New.Size != 3 {
		t.Errorf("audit without growth: %+v, %v", res, err)
	}
	files, _ := os.ReadDir(state)
	if len(files) != 1 || !strings.HasSuffix(files[0].Name(), ".checkpoint") {
		t.Errorf("state directory holds %v, want one checkpoint file", files)
	}
}

func TestAuditStale(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	state := t.TempDir()
	direct := newClient(t, n.URL, n.VerifierKey, Options{})
	submitAll(t, direct, testEnvelope("pkg:pypi/a@1", 1), testEnvelope("pkg:pypi/a@1", 2))
	old, err := direct.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	submitAll(t, direct, testEnvelope("pkg:pypi/a@1", 3))
	if _, err := direct.Audit(ctx, state); err != nil {
		t.Fatal(err)
	}
	// A cache serves the older checkpoint: consistent, but stale, and the
	// newer one stays remembered.
	p, url := startProxy(t, n)
	p.checkpoint = func(string) string { return string(old.Note) }
	res, err := newClient(t, url, n.VerifierKey, Options{}).Audit(ctx, state)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Stale || res.Old.Size != 3 || res.New.Size != 2 {
		t.Errorf("got %+v, want a stale result (old 3, new 2)", res)
	}
	if res, err := direct.Audit(ctx, state); err != nil || res.Old.Size != 3 {
		t.Errorf("after the stale audit: %+v, %v; want the size 3 checkpoint remembered", res, err)
	}
}

func TestAuditInconsistent(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// first and second set up the proxy for the first and second audit.
		first, second func(t *testing.T, p *proxy, fork []byte)
		wantReason    witness.Reason // "" for unproven
	}{
		{
			name: "fork",
			// The first audit sees the real tree of size 3, the second a
			// different tree of size 3.
			second:     func(t *testing.T, p *proxy, fork []byte) { p.checkpoint = func(string) string { return string(fork) } },
			wantReason: witness.ReasonFork,
		},
		{
			name: "not a prefix",
			// The first audit sees a forged tree of size 3; the real tree
			// of size 5 does not extend it, and the node's own proof shows
			// it.
			first:      func(t *testing.T, p *proxy, fork []byte) { p.checkpoint = func(string) string { return string(fork) } },
			wantReason: witness.ReasonInconsistent,
		},
		{
			name: "garbage proof",
			second: func(t *testing.T, p *proxy, _ []byte) {
				p.consistency = func(r *evidentv1.GetConsistencyProofResponse) { r.Hashes[len(r.Hashes)-1][0] ^= 1 }
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := startNode(t)
			direct := newClient(t, n.URL, n.VerifierKey, Options{})
			for i := range 3 {
				submitAll(t, direct, testEnvelope("pkg:pypi/a@1", i))
			}
			fork := forgeCheckpoint(t, n, 3, [32]byte{1, 2, 3})
			state := t.TempDir()
			p, url := startProxy(t, n)
			c := newClient(t, url, n.VerifierKey, Options{})
			if tt.first != nil {
				tt.first(t, p, fork)
			}
			if _, err := c.Audit(ctx, state); err != nil {
				t.Fatal(err)
			}
			*p = proxy{ev: p.ev, logs: p.logs}
			submitAll(t, direct, testEnvelope("pkg:pypi/a@1", 3), testEnvelope("pkg:pypi/a@1", 4))
			if tt.second != nil {
				tt.second(t, p, fork)
			}
			before, _ := os.ReadDir(state)

			_, err := c.Audit(ctx, state)
			var ie *InconsistencyError
			if !errors.As(err, &ie) || !errors.Is(err, ErrInconsistent) {
				t.Fatalf("Audit: got %v, want an InconsistencyError", err)
			}
			if ie.File == "" || filepath.Dir(ie.File) != state || !strings.Contains(err.Error(), ie.File) {
				t.Fatalf("evidence file %q, error %q", ie.File, err)
			}
			data, err := os.ReadFile(ie.File)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantReason == "" {
				if ie.Misbehaviour != nil {
					t.Fatalf("got a proof of misbehaviour %+v from a garbage proof", ie.Misbehaviour)
				}
				if !strings.HasPrefix(string(data), "evident/unproven-inconsistency/v1\n") || !strings.Contains(string(data), "reason unproven\n") {
					t.Errorf("evidence file:\n%s", data)
				}
			} else {
				// Anyone with the log key can check the file offline.
				m, err := witness.ParseMisbehaviour(data)
				if err != nil {
					t.Fatal(err)
				}
				if m.Reason != tt.wantReason {
					t.Errorf("reason %q, want %q", m.Reason, tt.wantReason)
				}
				if err := witness.VerifyMisbehaviour(m, verifier(t, n.VerifierKey)); err != nil {
					t.Errorf("VerifyMisbehaviour: %v", err)
				}
			}
			// The state is unchanged: the next audit fails again.
			after, _ := os.ReadDir(state)
			if len(after) != len(before)+1 {
				t.Errorf("state directory went from %d to %d files, want one evidence file more", len(before), len(after))
			}
			if _, err := c.Audit(ctx, state); !errors.Is(err, ErrInconsistent) {
				t.Errorf("second audit after inconsistency: %v", err)
			}
		})
	}
}

func TestAuditCorruptState(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	state := t.TempDir()
	c := newClient(t, n.URL, n.VerifierKey, Options{})
	if _, err := c.Audit(ctx, state); err != nil {
		t.Fatal(err)
	}
	files, _ := os.ReadDir(state)
	path := filepath.Join(state, files[0].Name())
	os.WriteFile(path, []byte("not a checkpoint\n"), 0o600)
	if _, err := c.Audit(ctx, state); err == nil || errors.Is(err, ErrInconsistent) {
		t.Errorf("Audit with a corrupt state: got %v, want an error that is not an inconsistency", err)
	}
}
