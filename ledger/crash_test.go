package ledger

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/evident-dev/evident/checkpoint"
	"github.com/transparency-dev/merkle/proof"
	"golang.org/x/mod/sumdb/note"
)

var crashCycles = flag.Int("crash-cycles", 20, "SIGKILL cycles in TestCrashSafety")

const (
	crashEnvPath = "EVIDENT_LEDGER_CRASH_PATH"
	crashEnvKey  = "EVIDENT_LEDGER_CRASH_KEY"
)

// TestCrashChild is the child process of TestCrashSafety: it appends from
// many goroutines, with fsync, and prints "index sha256(entry)" for every
// entry once Append has acknowledged it. It runs only when started by
// TestCrashSafety.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnvPath)
	if path == "" {
		t.Skip("run by TestCrashSafety")
	}
	signer, err := note.NewSigner(os.Getenv(crashEnvKey))
	if err != nil {
		t.Fatal(err)
	}
	l, err := Open(t.Context(), path, crashOptions(signer))
	if err != nil {
		fmt.Println("open-error", err)
		os.Exit(3)
	}
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	ack := func(idx uint64, e []byte) {
		mu.Lock()
		fmt.Fprintf(out, "%d %x\n", idx, sha256.Sum256(e))
		out.Flush()
		mu.Unlock()
	}
	fmt.Fprintln(out, "ready")
	out.Flush()
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), uint64(g)))
			var mine [][]byte
			for {
				n := 1 + rnd.IntN(8)
				batch := make([][]byte, n)
				for i := range batch {
					if len(mine) > 0 && rnd.IntN(8) == 0 {
						batch[i] = mine[rnd.IntN(len(mine))]
						continue
					}
					e := make([]byte, 32+rnd.IntN(2000))
					for j := range e {
						e[j] = byte(rnd.Uint32())
					}
					batch[i] = e
				}
				blobs := make([][]byte, len(batch))
				for i, e := range batch {
					blobs[i] = crashBlob(e)
				}
				res, err := l.AppendWithBlobs(context.Background(), batch, blobs)
				if err != nil {
					continue
				}
				for i, r := range res {
					ack(r.Index, batch[i])
					if !r.Duplicate && len(mine) < 64 {
						mine = append(mine, batch[i])
					}
				}
			}
		}()
	}
	wg.Wait()
}

// TestCrashSafety kills an appending child process with SIGKILL at random
// moments and checks, after each kill, that every acknowledged entry is
// there with its exact bytes, that every checkpoint ever signed is
// consistent with the tree, and that Verify passes.
func TestCrashSafety(t *testing.T) {
	if os.Getenv(crashEnvPath) != "" {
		t.Skip("in the child")
	}
	cycles := *crashCycles
	if testing.Short() {
		cycles = 3
	}
	skey, vkey, err := note.GenerateKey(nil, "example.com/crash")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)
	path := filepath.Join(t.TempDir(), "log.db")
	acked := map[uint64][32]byte{}
	var lastCP checkpoint.Checkpoint
	rnd := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 7))
	ctx := context.Background()
	for cycle := range cycles {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
		cmd.Env = append(os.Environ(), crashEnvPath+"="+path, crashEnvKey+"="+skey)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		killAt := time.After(time.Duration(20+rnd.IntN(300)) * time.Millisecond)
		started := false
		n := 0
	read:
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					break read
				}
				if line == "ready" {
					started = true
					continue
				}
				idx, sum, ok := parseAck(line)
				if !ok {
					if strings.HasPrefix(line, "open-error") {
						t.Fatalf("cycle %d: child couldn't open the ledger: %s", cycle, line)
					}
					continue // test framework chatter
				}
				if prev, seen := acked[idx]; seen && prev != sum {
					t.Fatalf("cycle %d: index %d acknowledged for two different entries", cycle, idx)
				}
				acked[idx] = sum
				n++
			case <-killAt:
				// Kill only a child that is running; and in the last
				// cycle, if no cycle has seen an acknowledgement yet (a
				// loaded machine can be that slow), only after the first
				// one, so that the checks below check something.
				if !started || cycle == cycles-1 && len(acked) == 0 {
					killAt = time.After(10 * time.Millisecond)
					continue
				}
				cmd.Process.Signal(syscall.SIGKILL)
				killAt = nil
			}
		}
		cmd.Wait()

		l, err := Open(t.Context(), path, crashOptions(signer))
		if err != nil {
			t.Fatalf("cycle %d: reopen after SIGKILL: %v", cycle, err)
		}
		size := l.Size()
		for idx, sum := range acked {
			if idx >= size {
				t.Fatalf("cycle %d: acknowledged index %d lost (size %d)", cycle, idx, size)
			}
			e, err := l.Entry(ctx, idx)
			if err != nil {
				t.Fatalf("cycle %d: entry %d: %v", cycle, idx, err)
			}
			if sha256.Sum256(e) != sum {
				t.Fatalf("cycle %d: entry %d has other bytes than acknowledged", cycle, idx)
			}
			b, err := l.Blob(ctx, idx)
			if want := crashBlob(e); want == nil && err == nil || want != nil && !bytes.Equal(b, want) {
				t.Fatalf("cycle %d: entry %d has a blob of %d bytes (%v), want %d", cycle, idx, len(b), err, len(want))
			}
		}
		if err := l.Verify(ctx, verifier); err != nil {
			t.Fatalf("cycle %d: %v", cycle, err)
		}
		// The secondary index and the log agree: every entry is found
		// under its key, and nothing else is.
		all, err := l.Entries(ctx, 0, int(size))
		if err != nil {
			t.Fatal(err)
		}
		want := map[byte][]uint64{}
		for i := len(all) - 1; i >= 0; i-- {
			want[all[i][0]] = append(want[all[i][0]], uint64(i))
		}
		for _, k := range []byte{0, 1, 77, 255} {
			var got []uint64
			if err := l.Scan(ctx, "first", []byte{k}, 0, func(i uint64) bool { got = append(got, i); return true }); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want[k]) {
				t.Fatalf("cycle %d: index key %d lists %d entries, the log has %d", cycle, k, len(got), len(want[k]))
			}
		}
		// The tree is consistent with the checkpoint seen after the last
		// crash, which was signed before this run.
		signed, _ := l.Checkpoint()
		nt, err := note.Open(signed, note.VerifierList(verifier))
		if err != nil {
			t.Fatal(err)
		}
		cp, err := checkpoint.Parse([]byte(nt.Text))
		if err != nil {
			t.Fatal(err)
		}
		if lastCP.Size > 0 {
			p, err := l.ConsistencyProof(ctx, lastCP.Size, cp.Size)
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.VerifyConsistency(hasher, lastCP.Size, cp.Size, p, lastCP.Hash[:], cp.Hash[:]); err != nil {
				t.Fatalf("cycle %d: checkpoint %d is inconsistent with the earlier %d: %v", cycle, cp.Size, lastCP.Size, err)
			}
		}
		lastCP = cp
		l.Close()
		t.Logf("cycle %d: %d acknowledged this run, tree size %d", cycle, n, size)
	}
	if len(acked) == 0 {
		t.Fatal("the child acknowledged nothing")
	}
}

func parseAck(line string) (uint64, [32]byte, bool) {
	var sum [32]byte
	f := strings.Fields(line)
	if len(f) != 2 {
		return 0, sum, false
	}
	idx, err := strconv.ParseUint(f[0], 10, 64)
	if err != nil {
		return 0, sum, false
	}
	b, err := hex.DecodeString(f[1])
	if err != nil || len(b) != 32 || !bytes.Equal(b, b[:32]) {
		return 0, sum, false
	}
	copy(sum[:], b)
	return idx, sum, true
}

// crashOptions are the child's and the parent's ledger options: small
// merges, so crashes land before, during and after them, a secondary index
// by first byte, and Verify checking each stored blob against its entry.
func crashOptions(signer note.Signer) Options {
	return Options{
		Signer: signer, MaxBatchSize: 256, DedupMergeSize: 2000,
		Index: func(e []byte) ([]IndexKey, error) { return []IndexKey{{Name: "first", Key: e[:1]}}, nil },
		CheckBlob: func(e, b []byte) error {
			if !bytes.Equal(b, crashBlob(e)) {
				return fmt.Errorf("blob of %d bytes is not its entry's", len(b))
			}
			return nil
		},
	}
}

// crashBlob is the blob the child stores with entry e, as a node stores an
// envelope with its entry: none for a third of entries, and from a copy of
// the entry to eight copies (up to 16 KiB), so that blobs both below and
// above largeValue are stored.
func crashBlob(e []byte) []byte {
	if e[0]%3 == 0 {
		return nil
	}
	return bytes.Repeat(e, 1+int(e[1])%8)
}
