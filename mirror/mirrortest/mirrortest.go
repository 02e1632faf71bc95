// Package mirrortest starts logs for the tests of mirrors and monitors: a
// whole Evident node with signed evidence in it, or a bare ledger served
// over c2sp.org/tlog-tiles, and forks of it signed with the same key.
package mirrortest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/mod/sumdb/note"

	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/ledger"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/proto/evident/v1/evidentv1connect"
	"github.com/evident-dev/evident/server/node"
	"github.com/evident-dev/evident/server/tiles"
	"github.com/evident-dev/evident/witness"
)

// NewLogKey returns a new log key pair for origin.
func NewLogKey(t testing.TB, origin string) (note.Signer, note.Verifier) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

// Node is a whole node (fsync off) that trusts one evidence signing key for
// every namespace.
type Node struct {
	*node.Node
	Signer note.Signer
	LogKey note.Verifier
	subKey ed25519.PrivateKey
}

// StartNode starts a node; it is closed when the test ends.
func StartNode(t testing.TB) *Node {
	t.Helper()
	signer, logKey := NewLogKey(t, "mirrortest.example/log")
	wskey, _, err := witness.GenerateKey(rand.Reader, "mirrortest.example/witness")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := witness.ParseCosignerKey(wskey, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, err := evidence.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	trust, err := evidence.NewTrustedKeys([]evidence.TrustedKey{{PublicKey: pub, Namespaces: []string{"*"}}})
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.Start(node.Config{
		Data: t.TempDir(), Signer: signer, LogKey: logKey, Cosigner: cs,
		Trust: trust, NoSync: true, GossipInterval: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n.Close(ctx)
	})
	return &Node{Node: n, Signer: signer, LogKey: logKey, subKey: priv}
}

// Evidence describes one statement to submit.
type Evidence struct {
	// Subjects are the subjects' purls, with versions; each gets a fresh
	// random sha256 digest.
	Subjects []string
	// PredicateType defaults to OpenVEX.
	PredicateType string
}

// Envelope returns a signed envelope for ev.
func (n *Node) Envelope(t testing.TB, ev Evidence) []byte {
	t.Helper()
	var subjects []any
	for _, p := range ev.Subjects {
		var d [32]byte
		rand.Read(d[:])
		subjects = append(subjects, map[string]any{"name": p, "digest": map[string]string{"sha256": hex.EncodeToString(d[:])}})
	}
	pt := ev.PredicateType
	if pt == "" {
		pt = evidence.PredicateOpenVEX
	}
	st, err := json.Marshal(map[string]any{
		"_type":         evidence.StatementTypeV1,
		"subject":       subjects,
		"predicateType": pt,
		"predicate":     map[string]any{"note": "mirrortest"},
	})
	if err != nil {
		t.Fatal(err)
	}
	env, err := evidence.Sign(evidence.PayloadTypeInToto, st, n.subKey, "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Submit logs evs, a thousand per SubmitBatch call, and returns their
// indices.
func (n *Node) Submit(t testing.TB, evs ...Evidence) []uint64 {
	t.Helper()
	c := evidentv1connect.NewEvidenceServiceClient(http.DefaultClient, n.URL())
	var out []uint64
	for len(evs) > 0 {
		k := min(len(evs), 1000)
		var envs [][]byte
		for _, ev := range evs[:k] {
			envs = append(envs, n.Envelope(t, ev))
		}
		evs = evs[k:]
		resp, err := c.SubmitBatch(context.Background(), connect.NewRequest(&evidentv1.SubmitBatchRequest{Envelopes: envs, WaitForCheckpoint: true}))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range resp.Msg.GetResults() {
			if e := r.GetError(); e != nil {
				t.Fatalf("submit: %v", e.GetMessage())
			}
			out = append(out, r.GetResult().GetLogIndex())
		}
	}
	if len(out) > 0 {
		n.WaitSize(t, out[len(out)-1]+1)
	}
	return out
}

// WaitSize waits until the node serves a checkpoint of at least size (the
// federation publishes the ledger's checkpoints asynchronously).
func (n *Node) WaitSize(t testing.TB, size uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, s := n.Federation.Checkpoint(); s >= size {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the node's checkpoint didn't reach size %d", size)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Log is a bare ledger (fsync off) served over tlog-tiles by Server.
type Log struct {
	Ledger *ledger.Ledger
	Signer note.Signer
	LogKey note.Verifier
	Server *httptest.Server
	// Entries are the entries appended so far.
	Entries [][]byte
	// Prefix starts every entry Grow appends.
	Prefix string
}

// NewLog starts an empty log with a new key.
func NewLog(t testing.TB, origin string) *Log {
	t.Helper()
	s, v := NewLogKey(t, origin)
	return NewLogWithKey(t, s, v, "entry")
}

// NewLogWithKey starts an empty log signed by s, whose Grow appends entries
// starting with prefix. Two logs with one key and different prefixes are
// forks of each other.
func NewLogWithKey(t testing.TB, s note.Signer, v note.Verifier, prefix string) *Log {
	t.Helper()
	l, err := ledger.Open(t.Context(), filepath.Join(t.TempDir(), "ledger.db"), ledger.Options{
		Signer: s, NoSync: true, MaxBatchSize: 65536, MaxPending: 1 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	lg := &Log{Ledger: l, Signer: s, LogKey: v, Prefix: prefix}
	lg.Server = httptest.NewServer(tiles.New(l, tiles.Options{}))
	t.Cleanup(func() {
		lg.Server.Close()
		l.Close()
	})
	return lg
}

// Grow appends small entries ("<prefix> <index>") until the log has size.
func (l *Log) Grow(t testing.TB, size int) {
	t.Helper()
	var batch [][]byte
	for i := len(l.Entries); i < size; i++ {
		batch = append(batch, fmt.Appendf(nil, "%s %08d", l.Prefix, i))
	}
	l.Append(t, batch...)
}

// Append appends entries, 65536 per call.
func (l *Log) Append(t testing.TB, entries ...[]byte) {
	t.Helper()
	for len(entries) > 0 {
		k := min(len(entries), 65536)
		if _, err := l.Ledger.Append(context.Background(), entries[:k]); err != nil {
			t.Fatal(err)
		}
		l.Entries = append(l.Entries, entries[:k]...)
		entries = entries[k:]
	}
	if _, size := l.Ledger.Checkpoint(); size != uint64(len(l.Entries)) {
		t.Fatalf("checkpoint size %d, want %d (duplicate entries?)", size, len(l.Entries))
	}
}
