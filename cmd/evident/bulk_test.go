package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/evident-dev/evident/client"
	"github.com/evident-dev/evident/evidence"
)

// TestBulkSubmitInterrupted submits 10,000 envelopes with the real binaries,
// interrupts the first run midway with SIGINT, runs it again, and checks
// that nothing was lost or logged twice.
func TestBulkSubmitInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("bulk submission of 10,000 envelopes")
	}
	const total = 10_000
	dir := t.TempDir()
	evident, evidentd := filepath.Join(binDir, "evident"), filepath.Join(binDir, "evidentd")

	out, err := exec.Command(evidentd, "init", "-dir", filepath.Join(dir, "node"), "-origin", "bulk.evident.dev/log").CombinedOutput()
	if err != nil {
		t.Fatalf("evidentd init: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`log public key: (\S+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("evidentd init printed no log key:\n%s", out)
	}
	logKey := string(m[1])
	url := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	node := exec.Command(evidentd, "-dir", filepath.Join(dir, "node"), "-listen", url[len("http://"):], "-log-level", "warn")
	var nodeLog bytes.Buffer
	node.Stdout, node.Stderr = &nodeLog, &nodeLog
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		node.Process.Signal(os.Interrupt)
		node.Wait()
		if t.Failed() {
			t.Logf("evidentd:\n%s", nodeLog.String())
		}
	})
	if err := waitNode(url, 20*time.Second); err != nil {
		t.Fatal(err)
	}

	// The envelopes, signed with the node's development key.
	b, err := os.ReadFile(filepath.Join(dir, "node", "submitter.key"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := evidence.ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	envs := filepath.Join(dir, "envs")
	if err := os.Mkdir(envs, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range total {
		sum := sha256.Sum256(fmt.Append(nil, "artifact ", i))
		st := &evidence.Statement{
			Type:          evidence.StatementTypeV1,
			Subject:       []evidence.Subject{{Name: fmt.Sprintf("pkg:pypi/bulk@1.%d.%d", i/100, i%100), Digest: map[string]string{"sha256": hex.EncodeToString(sum[:])}}},
			PredicateType: evidence.DocumentTypeSupportTable,
			Predicate:     json.RawMessage(fmt.Sprintf(`{"supportedUntil":"2030-01-01","release":%d}`, i)),
		}
		payload, err := st.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		env, err := evidence.Sign(evidence.PayloadTypeInToto, payload, key, "")
		if err != nil {
			t.Fatal(err)
		}
		eb, _ := env.Marshal()
		if err := os.WriteFile(filepath.Join(envs, fmt.Sprintf("%05d.intoto.json", i)), eb, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, "nodes:\n  - name: bulk\n    url: %s\n    log_key: %s\n", url, logKey), 0o644); err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(url, client.Options{LogKey: logKey})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.CloseIdleConnections()
	treeSize := func() uint64 {
		cp, err := cl.Checkpoint(context.Background())
		if err != nil {
			t.Fatalf("checkpoint: %v", err)
		}
		return cp.Size
	}
	submit := func(interruptAt uint64, args ...string) (submitSummary, int) {
		cmd := exec.Command(evident, append([]string{"submit", envs, "--json"}, args...)...)
		cmd.Env = append(os.Environ(), "EVIDENT_CONFIG="+cfg, "EVIDENT_NODE=", "HOME="+dir)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		if interruptAt > 0 {
		poll:
			for {
				select {
				case <-done:
					t.Fatalf("submit finished before it could be interrupted (tree size %d); make it slower\n%s", treeSize(), stderr.String())
				case <-time.After(5 * time.Millisecond):
					if treeSize() >= interruptAt {
						cmd.Process.Signal(os.Interrupt)
						break poll
					}
				}
			}
		}
		werr := <-done
		code := 0
		var ee *exec.ExitError
		if errors.As(werr, &ee) {
			code = ee.ExitCode()
		} else if werr != nil {
			t.Fatal(werr)
		}
		var sum submitSummary
		if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
			t.Fatalf("submit printed no JSON summary (%v):\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
		}
		t.Logf("submit: exit %d, new %d, already present %d, refused %d, failed %d, not sent %d\nstderr:\n%s",
			code, sum.New, sum.AlreadyPresent, sum.Refused, sum.Failed, sum.NotSent, stderr.String())
		return sum, code
	}

	// First run: small, sequential calls, interrupted once a tenth is in.
	s1, code := submit(total/10, "--batch-size", "10", "--concurrency", "1")
	if code != exitInterrupted || !s1.Interrupted {
		t.Errorf("interrupted submit: exit %d, interrupted %v; want %d", code, s1.Interrupted, exitInterrupted)
	}
	if s1.Refused != 0 || s1.Failed != 0 || s1.AlreadyPresent != 0 {
		t.Errorf("interrupted submit: %+v", s1)
	}
	if s1.New+s1.NotSent != total || s1.NotSent == 0 {
		t.Errorf("interrupted submit: new %d + not sent %d, want %d with some not sent", s1.New, s1.NotSent, total)
	}
	// Every envelope the summary counts as new is in the log, and no more:
	// calls in flight at the interrupt were finished and counted.
	if got := treeSize(); got != uint64(s1.New) {
		t.Errorf("after the interrupted submit the tree has %d entries; the summary said %d new", got, s1.New)
	}

	// Second run: everything, idempotently.
	s2, code := submit(0)
	if code != exitOK || s2.Interrupted || s2.Refused != 0 || s2.Failed != 0 || s2.NotSent != 0 {
		t.Errorf("second submit: exit %d, %+v", code, s2)
	}
	if s2.New+s2.AlreadyPresent != total || s2.AlreadyPresent != s1.New || s1.New+s2.New != total {
		t.Errorf("second submit: new %d + already present %d; want %d in all, %d already present", s2.New, s2.AlreadyPresent, total, s1.New)
	}
	if got := treeSize(); got != total {
		t.Errorf("tree size %d, want %d", got, total)
	}
}
