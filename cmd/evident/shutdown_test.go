package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/evident-dev/evident/evidence"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	grpcstatus "google.golang.org/grpc/status"
)

// TestNodeSIGTERM starts evidentd as the README's first command does (no
// init: the first start makes the data directory, keys and config), keeps
// submitters busy, stops it with SIGTERM as a service manager does, and
// checks that it exits cleanly and that every index it acknowledged is
// logged, with the acknowledged entry, when it starts again.
func TestNodeSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("runs evidentd twice under load")
	}
	dir := filepath.Join(t.TempDir(), "evident-data")
	evidentd := filepath.Join(binDir, "evidentd")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	start := func() (*exec.Cmd, *bytes.Buffer) {
		t.Helper()
		cmd := exec.Command(evidentd, "-dir", dir, "-listen", addr, "-log-level", "info")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill() })
		if err := waitNode("http://"+addr, 20*time.Second); err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		return cmd, &out
	}
	node, nodeLog := start()

	b, err := os.ReadFile(filepath.Join(dir, "submitter.key"))
	if err != nil {
		t.Fatalf("the first start made no submitter key: %v", err)
	}
	key, err := evidence.ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ev := evidentv1.NewEvidenceServiceClient(conn)

	// Submitters send batches until the node stops answering, and keep
	// what it acknowledged: index -> entry.
	var mu sync.Mutex
	acked := map[uint64][]byte{}
	var signalled atomic.Bool
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for g := range 8 {
		wg.Go(func() {
			for round := 0; ; round++ {
				envs := make([][]byte, 20)
				for i := range envs {
					envs[i] = signedEnvelope(t, key, fmt.Sprintf("pkg:generic/term@%d.%d.%d", g, round, i))
				}
				res, err := ev.SubmitBatch(ctx, &evidentv1.SubmitBatchRequest{Envelopes: envs})
				if err != nil {
					if grpcstatus.Code(err) == codes.Unavailable && !signalled.Load() && ctx.Err() == nil {
						time.Sleep(10 * time.Millisecond) // the node is busy: back off
						round--
						continue
					}
					return // the node is stopping or gone
				}
				mu.Lock()
				for _, r := range res.GetResults() {
					if sr := r.GetResult(); sr != nil {
						acked[sr.GetLogIndex()] = sr.GetEntry()
					}
				}
				mu.Unlock()
			}
		})
	}
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 400 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("only %d acknowledged before the deadline\n%s", n, nodeLog.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	signalled.Store(true)
	if err := node.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- node.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("evidentd after SIGTERM: %v\n%s", err, nodeLog.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("evidentd still running 30s after SIGTERM\n%s", nodeLog.String())
	}
	wg.Wait()

	// Everything acknowledged is there after a restart (which also finds
	// the ledger file closed cleanly), entry for entry.
	start()
	conn2, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	ev, log := evidentv1.NewEvidenceServiceClient(conn2), evidentv1.NewLogServiceClient(conn2)
	cp, err := log.GetCheckpoint(context.Background(), &evidentv1.GetCheckpointRequest{})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d entries acknowledged before SIGTERM, tree size %d after restart", len(acked), cp.GetTreeSize())
	for idx, entry := range acked {
		res, err := ev.GetEvidence(context.Background(), &evidentv1.GetEvidenceRequest{Selector: &evidentv1.GetEvidenceRequest_LogIndex{LogIndex: idx}})
		if err != nil {
			t.Fatalf("acknowledged index %d: %v", idx, err)
		}
		if !bytes.Equal(res.GetEvidence().GetEntry(), entry) {
			t.Fatalf("index %d holds another entry than the one acknowledged", idx)
		}
	}
}

// signedEnvelope returns an envelope about purl signed with key.
func signedEnvelope(t *testing.T, key ed25519.PrivateKey, purl string) []byte {
	sum := sha256.Sum256([]byte(purl))
	st := &evidence.Statement{
		Type:          evidence.StatementTypeV1,
		Subject:       []evidence.Subject{{Name: purl, Digest: map[string]string{"sha256": hex.EncodeToString(sum[:])}}},
		PredicateType: evidence.DocumentTypeSupportTable,
		Predicate:     json.RawMessage(`{"supportedUntil":"2030-01-01"}`),
	}
	payload, err := st.Marshal()
	if err != nil {
		t.Error(err)
		return nil
	}
	env, err := evidence.Sign(evidence.PayloadTypeInToto, payload, key, "")
	if err != nil {
		t.Error(err)
		return nil
	}
	b, _ := env.Marshal()
	return b
}
