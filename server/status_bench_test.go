package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/evident-dev/evident/evidence"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/server/servertest"
)

// BenchmarkQueryHistory measures a release query over gRPC on loopback
// for a release with 100 items of history (one kind, one signer: 99
// superseded, 1 current) against a release with 1 item, interleaved in one
// run so that the machine's drift hits all three alike. It reports p50 and
// p99 of each, and the ratio of the current-only answer's p50 to the
// 1-item answer's (the target: at most 2).
//
//	go test -run '^$' -bench QueryHistory -benchtime 3000x ./server
func BenchmarkQueryHistory(b *testing.B) {
	n, err := servertest.Start(servertest.Options{Dir: b.TempDir(), Trust: statusTrust(b)})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	c := dial(b, n)
	ctx := context.Background()
	const history, single = "pkg:pypi/history@1.0", "pkg:pypi/single@1.0"
	submitVEX := func(purl string, i int) {
		pred, _ := json.Marshal(map[string]any{"@context": "https://openvex.dev/ns/v0.2.0", "version": i})
		st := servertest.NewStatement(purl, servertest.Digest(purl), evidence.PredicateOpenVEX, pred)
		submit(b, c, signAll(b, st.Marshal(), statusKeyA))
	}
	for i := range 100 {
		submitVEX(history, i)
	}
	submitVEX(single, 0)
	waitCheckpoint(b, c, 101)

	query := func(purl string, currentOnly bool) (time.Duration, int) {
		start := time.Now()
		res, err := c.ev.QueryEvidence(ctx, &evidentv1.QueryEvidenceRequest{
			Query: &evidentv1.QueryEvidenceRequest_ReleasePurl{ReleasePurl: purl}, PageSize: 500, CurrentOnly: currentOnly,
		})
		if err != nil {
			b.Fatal(err)
		}
		return time.Since(start), len(res.GetEvidence())
	}
	// Check the answers, and warm the connection and the caches.
	for range 50 {
		if _, k := query(single, false); k != 1 {
			b.Fatalf("1-item release: %d items", k)
		}
		if _, k := query(history, true); k != 1 {
			b.Fatalf("current-only answer: %d items, want 1", k)
		}
		if _, k := query(history, false); k != 100 {
			b.Fatalf("full answer: %d items, want 100", k)
		}
	}
	var one, cur, full []time.Duration
	b.ResetTimer()
	// The order rotates, so that none of the three always follows the
	// full answer (and the garbage it leaves).
	for i := range b.N {
		for j := range 3 {
			switch (i + j) % 3 {
			case 0:
				d, _ := query(single, false)
				one = append(one, d)
			case 1:
				d, _ := query(history, true)
				cur = append(cur, d)
			case 2:
				d, _ := query(history, false)
				full = append(full, d)
			}
		}
	}
	b.StopTimer()
	pct := func(ds []time.Duration, p float64) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[min(len(s)-1, int(float64(len(s))*p))]
	}
	for _, m := range []struct {
		name string
		ds   []time.Duration
	}{{"1-item", one}, {"current-only", cur}, {"full", full}} {
		b.ReportMetric(float64(pct(m.ds, 0.50).Microseconds()), m.name+"-p50-µs")
		b.ReportMetric(float64(pct(m.ds, 0.99).Microseconds()), m.name+"-p99-µs")
	}
	ratio := float64(pct(cur, 0.5)) / float64(pct(one, 0.5))
	b.ReportMetric(ratio, "current/1-item-p50")
	fmt.Printf("history of 100 (n=%d): 1-item p50 %v p99 %v | current-only p50 %v p99 %v (%.2fx) | full p50 %v p99 %v (%.2fx)\n",
		len(one), pct(one, .5), pct(one, .99), pct(cur, .5), pct(cur, .99), ratio,
		pct(full, .5), pct(full, .99), float64(pct(full, .5))/float64(pct(one, .5)))
}
