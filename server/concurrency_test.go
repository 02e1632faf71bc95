package server_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/evident-dev/evident/evidence"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/server/servertest"
)

// TestConcurrentSubmitAndRestart submits from many goroutines at once,
// distinct envelopes and duplicates (some raced by every goroutine), then
// restarts the node and checks that every acknowledged index is there, holds
// what was submitted and is provable.
func TestConcurrentSubmitAndRestart(t *testing.T) {
	t.Parallel()
	const (
		workers   = 32
		perWorker = 12
		shared    = 4 // envelopes every worker submits
	)
	ctx := context.Background()
	n := startNode(t, servertest.Options{})
	c := dial(t, n)

	sharedEnvs := make([][]byte, shared)
	for i := range sharedEnvs {
		sharedEnvs[i] = envelope(servertest.KeyPyPIMaven, fmt.Sprintf("pkg:pypi/shared@%d.0.0", i), evidence.PredicateSPDX23)
	}
	type ack struct {
		env       []byte
		index     uint64
		duplicate bool
	}
	acks := make([][]ack, workers)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			var envs [][]byte
			for i := range perWorker {
				key, purl := servertest.KeyPyPIMaven, fmt.Sprintf("pkg:pypi/worker-%d@%d.0.0", w, i)
				if i%3 == 0 {
					key, purl = servertest.KeyNPM, fmt.Sprintf("pkg:npm/worker-%d@%d.0.0", w, i)
				}
				envs = append(envs, envelope(key, purl, evidence.PredicateSPDX23))
				if i == perWorker/2 {
					envs = append(envs, sharedEnvs...)
				}
			}
			envs = append(envs, envs[0]) // its own, again
			for _, env := range envs {
				res, err := c.ev.Submit(ctx, &evidentv1.SubmitRequest{Envelope: env})
				if err != nil {
					errs <- fmt.Errorf("worker %d: Submit: %w", w, err)
					return
				}
				r := res.GetResult()
				if !bytes.Equal(r.GetEnvelopeSha256(), sha(env)) {
					errs <- fmt.Errorf("worker %d: acknowledged envelope %x; submitted %x", w, r.GetEnvelopeSha256(), sha(env))
					return
				}
				acks[w] = append(acks[w], ack{env, r.GetLogIndex(), r.GetDuplicate()})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// Every new index is distinct, every envelope has exactly one, and
	// every duplicate names it.
	first := map[string]uint64{}   // envelope digest -> index
	byIndex := map[uint64][]byte{} // index -> envelope
	for _, as := range acks {
		for _, a := range as {
			if a.duplicate {
				continue
			}
			if prev, ok := byIndex[a.index]; ok {
				t.Fatalf("index %d acknowledged for two envelopes, %x and %x", a.index, sha(prev), sha(a.env))
			}
			if i, ok := first[string(sha(a.env))]; ok {
				t.Fatalf("envelope %x logged twice, at %d and %d", sha(a.env), i, a.index)
			}
			byIndex[a.index] = a.env
			first[string(sha(a.env))] = a.index
		}
	}
	wantEntries := workers*perWorker + shared
	if len(byIndex) != wantEntries {
		t.Fatalf("%d envelopes acknowledged as new; want %d", len(byIndex), wantEntries)
	}
	for w, as := range acks {
		for _, a := range as {
			if i, ok := first[string(sha(a.env))]; !ok || i != a.index {
				t.Errorf("worker %d: envelope %x acknowledged at %d (duplicate %v); it was logged at %d", w, sha(a.env), a.index, a.duplicate, i)
			}
		}
	}
	if got := n.Ledger.Size(); got != uint64(wantEntries) {
		t.Errorf("tree size %d; want %d", got, wantEntries)
	}

	// Restart: stop serving, close the ledger, open it again.
	n2, err := n.Restart()
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	t.Cleanup(func() { n2.Close() })
	if n2.Addr == n.Addr {
		t.Logf("restarted node reused port %s", n2.Addr)
	}
	c2 := dial(t, n2)
	cpRes := waitCheckpoint(t, c2, uint64(wantEntries))
	cp := openCheckpoint(t, n2, cpRes.GetCheckpoint())
	if cp.Size != uint64(wantEntries) {
		t.Fatalf("restarted log's checkpoint has size %d; want %d", cp.Size, wantEntries)
	}
	for idx, env := range byIndex {
		res, err := c2.ev.GetEvidence(ctx, &evidentv1.GetEvidenceRequest{Selector: &evidentv1.GetEvidenceRequest_LogIndex{LogIndex: idx}})
		if err != nil {
			t.Fatalf("GetEvidence(%d) after restart: %v", idx, err)
		}
		ev := res.GetEvidence()
		checkEntry(t, ev.GetEntry(), env)
		verifyInclusion(t, openCheckpoint(t, n2, res.GetCheckpoint()), ev.GetEntry(), ev.GetInclusionProof())
	}
	// Envelopes survived too, byte for byte.
	for _, env := range sharedEnvs {
		res, err := c2.ev.GetEvidence(ctx, &evidentv1.GetEvidenceRequest{
			Selector:        &evidentv1.GetEvidenceRequest_EnvelopeSha256{EnvelopeSha256: sha(env)},
			IncludeEnvelope: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(res.GetEvidence().GetEnvelope(), env) {
			t.Errorf("envelope %x changed across the restart", sha(env))
		}
	}
	if blobs, err := n2.BlobCount(); err != nil || blobs != wantEntries {
		t.Errorf("envelope store holds %d blobs (%v); want %d", blobs, err, wantEntries)
	}
	if err := n2.Ledger.Verify(ctx, n2.Verifier); err != nil {
		t.Errorf("ledger.Verify: %v", err)
	}
	// The restarted node appends after what it had.
	if r := submit(t, c2, envelope(servertest.KeyNPM, "pkg:npm/after-restart@1.0.0", evidence.PredicateSPDX23)); r.GetLogIndex() != uint64(wantEntries) || r.GetDuplicate() {
		t.Errorf("first submission after restart: index %d duplicate %v; want %d, false", r.GetLogIndex(), r.GetDuplicate(), wantEntries)
	}
	if r := submit(t, c2, sharedEnvs[0]); !r.GetDuplicate() || r.GetLogIndex() != first[string(sha(sharedEnvs[0]))] {
		t.Errorf("resubmission after restart: index %d duplicate %v; want %d, true", r.GetLogIndex(), r.GetDuplicate(), first[string(sha(sharedEnvs[0]))])
	}
}
