package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/evident-dev/evident/checkpoint"
	"github.com/evident-dev/evident/server"
	"github.com/evident-dev/evident/server/node"
	"github.com/evident-dev/evident/witness"
	"golang.org/x/mod/sumdb/note"
)

// records is a slog.Handler that hands each record's message to a channel.
type records chan string

func (r records) Enabled(context.Context, slog.Level) bool        { return true }
func (r records) Handle(_ context.Context, rec slog.Record) error { r <- rec.Message; return nil }
func (r records) WithAttrs([]slog.Attr) slog.Handler              { return r }
func (r records) WithGroup(string) slog.Handler                   { return r }

// TestReloadOnHangup: SIGHUP gives the running node the peers (and
// submitters) of the file as it is now, keeps the running ones when the file
// is wrong, and the goroutine that waits for it ends with the node.
func TestReloadOnHangup(t *testing.T) {
	dir := t.TempDir()
	cfgPath, err := initDir(dir, "reload.example/log", defaultListen, server.DefaultMaxEnvelopeSize)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nodeConfig(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	nc.Listen, nc.NoSync = "127.0.0.1:0", true
	n, err := node.Start(nc)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			n.Close(context.Background())
		}
	}()
	logs := make(records, 100)
	reloadOnHangup(n, cfgPath, slog.New(logs))
	hangUp := func(want string) {
		t.Helper()
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		for {
			select {
			case msg := <-logs:
				if strings.HasPrefix(msg, want) {
					return
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("no %q logged 10s after SIGHUP", want)
			}
		}
	}

	// A peer's log, which the node doesn't witness yet: its witness answers
	// 404 (c2sp.org/tlog-witness: unknown log).
	skey, vkey, err := note.GenerateKey(rand.Reader, "peer.example/log")
	if err != nil {
		t.Fatal(err)
	}
	_, wvkey, err := witness.GenerateKey(rand.Reader, "peer.example/witness")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := note.Sign(&note.Note{Text: string(checkpoint.Checkpoint{Origin: "peer.example/log", Hash: sha256.Sum256(nil)}.Marshal())}, signer)
	if err != nil {
		t.Fatal(err)
	}
	addCheckpoint := func() int {
		t.Helper()
		resp, err := http.Post(n.URL()+"/add-checkpoint", "text/plain", bytes.NewReader(append([]byte("old 0\n\n"), cp...)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := addCheckpoint(); code != http.StatusNotFound {
		t.Fatalf("a checkpoint of a log that is no peer's: status %d, want 404", code)
	}

	cfg.Peers = []Peer{{Name: "peer", URL: "http://127.0.0.1:1", LogKey: vkey, WitnessKey: wvkey}}
	writeConfig(t, cfgPath, cfg)
	hangUp("reloaded configuration")
	if code := addCheckpoint(); code != http.StatusOK {
		t.Fatalf("a checkpoint of a peer added by SIGHUP: status %d, want 200", code)
	}

	// A file that doesn't load changes nothing.
	if err := os.WriteFile(cfgPath, []byte("listen: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hangUp("reload failed")
	if code := addCheckpoint(); code != http.StatusOK {
		t.Fatalf("after a failed reload: status %d, want 200 (the peer kept)", code)
	}

	// The goroutine is the node's: gone once Close returns.
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	closed = true
	buf := make([]byte, 1<<20)
	// In a test binary, package main's functions are named by import path.
	if stacks := string(buf[:runtime.Stack(buf, true)]); strings.Contains(stacks, "evidentd.reloadOnHangup.func") {
		t.Errorf("the SIGHUP goroutine outlived the node:\n%s", stacks)
	}
}

func writeConfig(t *testing.T, path string, c *Config) {
	t.Helper()
	b, err := marshalConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
