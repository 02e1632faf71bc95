package witness_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/evident-dev/evident/witness"
	"github.com/evident-dev/evident/witness/boltstore"
	"github.com/evident-dev/evident/witness/witnesstest"
)

// BenchmarkAddCheckpoint measures add-checkpoint requests per second through
// the HTTP handler on loopback, with the durable bbolt store (an fsync per
// commit). Each request grows one log by one leaf with a real consistency
// proof. "logs=N" runs N logs, each pushed by its own client, concurrently.
func BenchmarkAddCheckpoint(b *testing.B) {
	for _, bc := range []struct {
		logs        int
		groupCommit bool
	}{
		{1, false},
		{16, false},
		{16, true},
		{64, true},
		{256, true},
	} {
		b.Run(fmt.Sprintf("logs=%d/groupcommit=%v", bc.logs, bc.groupCommit), func(b *testing.B) {
			benchmarkAddCheckpoint(b, bc.logs, bc.groupCommit)
		})
	}
}

func benchmarkAddCheckpoint(b *testing.B, nlogs int, groupCommit bool) {
	store, err := boltstore.Open(filepath.Join(b.TempDir(), "witness.db"), boltstore.Options{GroupCommit: groupCommit})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	perLog := (b.N + nlogs - 1) / nlogs
	logs := make(map[string][]note.Verifier)
	bodies := make([][][]byte, nlogs)
	for i := range nlogs {
		l := witnesstest.NewLog(b, fmt.Sprintf("example.com/log%d", i))
		l.Append(perLog + 1)
		logs[l.Origin()] = []note.Verifier{l.Verifier()}
		bodies[i] = append(bodies[i], l.Request(0, 1))
		for s := uint64(1); s <= uint64(perLog); s++ {
			bodies[i] = append(bodies[i], l.Request(s, s+1))
		}
	}
	w, err := witness.New(witness.Options{Store: store, Cosigner: testCosigner(b, "witness.example/bench"), Logs: logs})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(witness.Handler(w))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: nlogs}}
	post := func(body []byte) error {
		resp, err := client.Post(srv.URL+"/add-checkpoint", "text/plain", bytes.NewReader(body))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	// First contact for every log, outside the measurement.
	for i := range nlogs {
		if err := post(bodies[i][0]); err != nil {
			b.Fatal(err)
		}
	}

	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, nlogs)
	for i := range nlogs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, body := range bodies[i][1:] {
				if err := post(body); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	n := nlogs * perLog
	b.ReportMetric(float64(n)/elapsed.Seconds(), "req/s")
}
