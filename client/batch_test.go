package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/evident-dev/evident/policy"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/server/servertest"
	"github.com/evident-dev/evident/witness"
)

// waitFor waits until the node's checkpoint covers size entries.
func waitFor(t *testing.T, c *Client, size uint64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		cp, err := c.Checkpoint(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if cp.Size >= size {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of size %d after 10s", size)
		}
	}
}

func TestBatchQuery(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	c := newClient(t, n.URL, n.VerifierKey, Options{})
	// 1200 releases (two calls), every third with two items.
	var queries []BatchQuery
	var envs [][]byte
	for i := range 1200 {
		purl := fmt.Sprintf("pkg:pypi/p%d@1.0", i)
		queries = append(queries, BatchQuery{Purl: purl})
		if i%3 == 0 {
			envs = append(envs, testEnvelope(purl, 1), testEnvelope(purl, 2))
		}
	}
	queries = append(queries, BatchQuery{Digest: "sha256:" + servertest.Digest(fmt.Sprint("pkg:pypi/p3@1.0", 2))})
	out, err := c.SubmitBatch(ctx, envs)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
	}
	waitFor(t, c, uint64(len(envs)))

	answers, err := c.BatchQuery(ctx, queries, BatchOptions{Envelopes: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(answers) != len(queries) {
		t.Fatalf("%d answers for %d queries", len(answers), len(queries))
	}
	for i, a := range answers {
		want := 0
		if i%3 == 0 && i < 1200 {
			want = 2
		}
		if i == 1200 {
			want = 1
		}
		if a.Err != nil || len(a.Results) != want {
			t.Fatalf("query %d (%s): %d results, err %v; want %d", i, queries[i], len(a.Results), a.Err, want)
		}
		for _, r := range a.Results {
			if !r.Verified || r.Envelope == nil || r.Checkpoint == nil {
				t.Errorf("query %d: item %d: verified %v (%v), envelope %d bytes", i, r.Index, r.Verified, r.Err, len(r.Envelope))
			}
		}
	}
}

// TestBatchQueryTampering: a node (or whoever stands between it and the
// client) that changes a proof, drops an item it lists, answers with an
// item about something else, or serves a checkpoint without the policy's
// quorum gets its items reported as not verified, each with the part that
// failed; never as verified.
func TestBatchQueryTampering(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	submitAll(t, newClient(t, n.URL, n.VerifierKey, Options{}),
		testEnvelope("pkg:pypi/a@1", 1), testEnvelope("pkg:pypi/a@1", 2), testEnvelope("pkg:pypi/b@1", 1))
	queries := []BatchQuery{{Purl: "pkg:pypi/a@1"}, {Purl: "pkg:pypi/b@1"}}
	w, err := witness.NewCosigner("witness.example/w0", ed25519.NewKeyFromSeed(bytes.Repeat([]byte{30}, 32)), nil)
	if err != nil {
		t.Fatal(err)
	}
	quorum, err := policy.Parse([]byte("log " + n.VerifierKey + "\nwitness w0 " + w.Verifier().VerifierKey() + "\nquorum w0\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		policy *policy.WitnessPolicy
		batch  func(*evidentv1.BatchQueryResponse) bool
		// failed counts the results of each query that must fail, with part.
		failed [2]int
		part   string
	}{
		{"untouched", nil, nil, [2]int{0, 0}, ""},
		{"wrong proof", nil, func(m *evidentv1.BatchQueryResponse) bool {
			for _, ev := range m.GetEvidence() {
				if strings.Contains(string(ev.GetEntry()), "pkg:pypi/b@1") {
					ev.InclusionProof.Hashes[0] = bytes.Repeat([]byte{1}, 32)
				}
			}
			return true
		}, [2]int{0, 1}, PartProof},
		{"dropped item", nil, func(m *evidentv1.BatchQueryResponse) bool {
			m.Evidence = m.Evidence[1:]
			return true
		}, [2]int{1, 0}, PartProof},
		{"item about something else", nil, func(m *evidentv1.BatchQueryResponse) bool {
			for _, a := range m.GetAnswers() {
				if a.GetQuery() == 1 {
					a.LogIndexes = append(a.LogIndexes, 0) // an item of pkg:pypi/a@1
				}
			}
			return true
		}, [2]int{0, 1}, PartEntry},
		{"no quorum", quorum, nil, [2]int{2, 1}, PartQuorum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, url := startProxy(t, n)
			p.batch = tt.batch
			c := newClient(t, url, n.VerifierKey, Options{Policy: tt.policy})
			answers, err := c.BatchQuery(ctx, queries, BatchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for q, a := range answers {
				if a.Err != nil {
					t.Fatalf("query %d: %v", q, a.Err)
				}
				failed := 0
				for _, r := range a.Results {
					if r.Verified {
						continue
					}
					failed++
					var ve *VerificationError
					if !errors.As(r.Err, &ve) || ve.Part != tt.part {
						t.Errorf("query %d: item %d failed with %v; want a %s failure", q, r.Index, r.Err, tt.part)
					}
				}
				if failed != tt.failed[q] {
					t.Errorf("query %d: %d of %d items failed; want %d", q, failed, len(a.Results), tt.failed[q])
				}
			}
		})
	}
}
