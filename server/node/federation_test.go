package node

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/ledger"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/proto/evident/v1/evidentv1connect"
	"github.com/evident-dev/evident/server/federation"
	"github.com/evident-dev/evident/witness"
	"golang.org/x/mod/sumdb/note"
)

// member is one node of a test federation, with its keys and data, so it
// can be stopped and started again.
type member struct {
	name     string
	dir      string
	addr     string
	signer   note.Signer
	logKey   note.Verifier
	cosigner *witness.Cosigner
	node     *Node
}

func (m *member) peer() federation.Peer {
	return federation.Peer{Name: m.name, URL: "http://" + m.addr, Origin: m.logKey.Name(), LogKey: m.logKey, WitnessKey: m.cosigner.Verifier()}
}

type fedHarness struct {
	t        testing.TB
	durable  bool
	members  []*member
	trust    *evidence.TrustedSigners
	subKey   ed25519.PrivateKey
	extra    []federation.Peer // peers every member has besides the others
	interval time.Duration
}

func newMember(t testing.TB, name string) *member {
	t.Helper()
	origin := name + ".example/log"
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := note.NewSigner(skey)
	v, _ := note.NewVerifier(vkey)
	wskey, _, err := witness.GenerateKey(rand.Reader, origin+"/witness")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := witness.ParseCosignerKey(wskey, nil)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return &member{name: name, dir: t.TempDir(), addr: addr, signer: s, logKey: v, cosigner: cs}
}

func newFederation(t testing.TB, n int, interval time.Duration, extra ...federation.Peer) *fedHarness {
	return startFederation(t, n, interval, false, extra...)
}

// startFederation starts n nodes that all peer with each other; durable
// turns fsync on.
func startFederation(t testing.TB, n int, interval time.Duration, durable bool, extra ...federation.Peer) *fedHarness {
	t.Helper()
	pub, priv, err := evidence.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	trust, err := evidence.NewTrustedKeys([]evidence.TrustedKey{{PublicKey: pub, Namespaces: []string{"*"}}})
	if err != nil {
		t.Fatal(err)
	}
	h := &fedHarness{t: t, trust: trust, subKey: priv, extra: extra, interval: interval, durable: durable}
	for i := range n {
		h.members = append(h.members, newMember(t, fmt.Sprintf("node%d", i)))
	}
	for i := range h.members {
		h.start(i)
	}
	t.Cleanup(func() {
		for i := range h.members {
			h.stop(i)
		}
	})
	return h
}

func (h *fedHarness) peersOf(i int) []federation.Peer {
	var ps []federation.Peer
	for j, m := range h.members {
		if j != i {
			ps = append(ps, m.peer())
		}
	}
	return append(ps, h.extra...)
}

func (h *fedHarness) start(i int) {
	h.t.Helper()
	m := h.members[i]
	var lis net.Listener
	var err error
	// The port was free a moment ago; after a stop it may linger briefly.
	for try := 0; try < 50; try++ {
		if lis, err = net.Listen("tcp", m.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		h.t.Fatal(err)
	}
	n, err := Start(Config{
		Data: m.dir, Listener: lis, Signer: m.signer, LogKey: m.logKey, Cosigner: m.cosigner,
		Trust: h.trust, Peers: h.peersOf(i), GossipInterval: h.interval, NoSync: !h.durable,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	m.node = n
}

func (h *fedHarness) stop(i int) {
	m := h.members[i]
	if m.node == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.node.Close(ctx); err != nil {
		h.t.Errorf("closing %s: %v", m.name, err)
	}
	m.node = nil
}

// submit logs one fresh envelope at member i and returns its index.
func (h *fedHarness) submit(i int, purl string) uint64 {
	h.t.Helper()
	digest := sha256.Sum256([]byte(purl + time.Now().String()))
	st, _ := json.Marshal(map[string]any{
		"_type":         evidence.StatementTypeV1,
		"subject":       []any{map[string]any{"name": purl, "digest": map[string]string{"sha256": hex.EncodeToString(digest[:])}}},
		"predicateType": evidence.PredicateOpenVEX,
		"predicate":     map[string]any{"@context": "https://openvex.dev/ns/v0.2.0", "statements": []any{}},
	})
	env, err := evidence.Sign(evidence.PayloadTypeInToto, st, h.subKey, "")
	if err != nil {
		h.t.Fatal(err)
	}
	b, err := env.Marshal()
	if err != nil {
		h.t.Fatal(err)
	}
	c := evidentv1connect.NewEvidenceServiceClient(http.DefaultClient, h.members[i].node.URL())
	resp, err := c.Submit(context.Background(), connect.NewRequest(&evidentv1.SubmitRequest{Envelope: b}))
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.Msg.GetResult().GetLogIndex()
}

// cosigners returns the names of the members whose valid cosignatures are
// on member i's served checkpoint, and its size.
func (h *fedHarness) cosigners(i int) ([]string, uint64) {
	cp, size := h.members[i].node.Federation.Checkpoint()
	var names []string
	for j, m := range h.members {
		if j == i {
			continue
		}
		if _, err := note.Open(cp, note.VerifierList(m.cosigner.Verifier())); err == nil {
			names = append(names, m.name)
		}
	}
	sort.Strings(names)
	return names, size
}

// waitQuorum waits until member i serves a checkpoint of at least size
// cosigned by all of want.
func (h *fedHarness) waitQuorum(i int, size uint64, want []string) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, s := h.cosigners(i)
		if s >= size && slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: checkpoint size %d cosigned by %v; want size >= %d cosigned by %v", h.members[i].name, s, got, size, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *fedHarness) others(i int) []string {
	var names []string
	for j, m := range h.members {
		if j != i {
			names = append(names, m.name)
		}
	}
	sort.Strings(names)
	return names
}

func TestFederationQuorumAfterEachPublish(t *testing.T) {
	h := newFederation(t, 5, time.Hour)
	for round := range 3 {
		for i := range h.members {
			idx := h.submit(i, fmt.Sprintf("pkg:pypi/demo%d@1.%d.0", i, round))
			h.waitQuorum(i, idx+1, h.others(i))
		}
	}
	// The tlog-tiles /checkpoint carries the cosignatures too, and so do
	// query answers.
	resp, err := http.Get(h.members[0].node.URL() + "/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range h.members[1:] {
		if _, err := note.Open(body, note.VerifierList(m.cosigner.Verifier())); err != nil {
			t.Errorf("/checkpoint lacks %s's cosignature: %v", m.name, err)
		}
	}
	c := evidentv1connect.NewEvidenceServiceClient(http.DefaultClient, h.members[0].node.URL())
	q, err := c.QueryEvidence(context.Background(), connect.NewRequest(&evidentv1.QueryEvidenceRequest{
		Query: &evidentv1.QueryEvidenceRequest_PackagePurl{PackagePurl: "pkg:pypi/demo0"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Msg.GetEvidence()) != 3 {
		t.Fatalf("query found %d items, want 3", len(q.Msg.GetEvidence()))
	}
	for _, m := range h.members[1:] {
		if _, err := note.Open([]byte(q.Msg.GetCheckpoint()), note.VerifierList(m.cosigner.Verifier())); err != nil {
			t.Errorf("query checkpoint lacks %s's cosignature", m.name)
		}
	}
}

func TestFederationPartitionHealsAndRestartResumes(t *testing.T) {
	h := newFederation(t, 5, time.Hour)
	idx := h.submit(0, "pkg:pypi/before@1.0.0")
	h.waitQuorum(0, idx+1, h.others(0))

	// node4 goes away (killed, or cut off); node0 keeps publishing and
	// gets the other three cosignatures.
	h.stop(4)
	for k := range 3 {
		idx = h.submit(0, fmt.Sprintf("pkg:pypi/during@1.%d.0", k))
	}
	h.waitQuorum(0, idx+1, []string{"node1", "node2", "node3"})

	// node4 comes back with its state: node0's retries reach it, it
	// learns node4 last cosigned an older size (409), proves consistency
	// from there, and node4 cosigns the new tree.
	h.start(4)
	h.waitQuorum(0, idx+1, h.others(0))

	// node4 resumed witnessing: it cosigns later checkpoints too, and its
	// state never went backwards.
	idx = h.submit(0, "pkg:pypi/after@1.0.0")
	h.waitQuorum(0, idx+1, h.others(0))
	st, err := h.members[4].node.Federation.Witness().Latest(context.Background(), h.members[0].logKey.Name())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(st, note.VerifierList(h.members[0].logKey)); err != nil {
		t.Fatalf("node4's state of node0's log: %v", err)
	}
}

// rogue is a log that signs two different trees with one key.
type rogue struct {
	origin   string
	signer   note.Signer
	logKey   note.Verifier
	a, b     *ledger.Ledger
	cosigner *witness.Cosigner
}

func newRogue(t *testing.T) *rogue {
	origin := "rogue.example/log"
	skey, vkey, _ := note.GenerateKey(rand.Reader, origin)
	s, _ := note.NewSigner(skey)
	v, _ := note.NewVerifier(vkey)
	wskey, _, _ := witness.GenerateKey(rand.Reader, origin+"/witness")
	cs, _ := witness.ParseCosignerKey(wskey, nil)
	r := &rogue{origin: origin, signer: s, logKey: v, cosigner: cs}
	var err error
	for i, l := range []**ledger.Ledger{&r.a, &r.b} {
		if *l, err = ledger.Open(t.Context(), filepath.Join(t.TempDir(), fmt.Sprint("fork", i, ".db")), ledger.Options{Signer: s, NoSync: true}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { (*l).Close() })
		var es [][]byte
		for k := range 10 {
			es = append(es, fmt.Appendf(nil, "history %d entry %d", i, k))
		}
		if _, err := (*l).Append(context.Background(), es); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func (r *rogue) peer() federation.Peer {
	return federation.Peer{Name: "rogue", URL: "http://127.0.0.1:1", Origin: r.origin, LogKey: r.logKey, WitnessKey: r.cosigner.Verifier()}
}

// addCheckpoint sends a checkpoint to a node's witness, first contact.
func addCheckpoint(t *testing.T, url string, cp []byte) int {
	t.Helper()
	body := append([]byte("old 0\n\n"), cp...)
	resp, err := http.Post(url+"/add-checkpoint", "text/plain", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestFederationCatchesEquivocation(t *testing.T) {
	r := newRogue(t)
	h := newFederation(t, 5, time.Hour, r.peer())
	cpA, _ := r.a.Checkpoint()
	cpB, _ := r.b.Checkpoint()
	// The rogue shows history A to node0 and node1, history B to the rest.
	for i, m := range h.members {
		cp := cpA
		if i >= 2 {
			cp = cpB
		}
		if code := addCheckpoint(t, m.node.URL(), cp); code != http.StatusOK {
			t.Fatalf("%s refused the rogue's first checkpoint: %d", m.name, code)
		}
	}
	// One gossip round (a gossip interval) lets every honest node compare
	// what it cosigned with what the others did.
	for _, m := range h.members {
		m.node.Federation.GossipOnce(context.Background())
	}
	for _, m := range h.members {
		ms, err := m.node.Federation.Misbehaviour(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 {
			t.Fatalf("%s did not catch the equivocating log", m.name)
		}
		// The proof checks offline with only the log's public key.
		b, err := ms[0].Marshal()
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := witness.ParseMisbehaviour(b)
		if err != nil {
			t.Fatal(err)
		}
		if err := witness.VerifyMisbehaviour(parsed, r.logKey); err != nil {
			t.Fatalf("%s's proof does not verify offline: %v", m.name, err)
		}
		// It is served, over HTTP and RPC.
		resp, err := http.Get(m.node.URL() + "/misbehaviour")
		if err != nil {
			t.Fatal(err)
		}
		served, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(served), r.origin) {
			t.Errorf("%s's GET /misbehaviour does not show the proof", m.name)
		}
		// And counted.
		resp, err = http.Get(m.node.URL() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		metrics, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(metrics), `evident_misbehaviour_total{origin="rogue.example/log"}`) {
			t.Errorf("%s's metrics do not count the misbehaviour", m.name)
		}
	}
	// From then on no honest node cosigns for the rogue.
	if _, err := r.a.Append(context.Background(), [][]byte{[]byte("more")}); err != nil {
		t.Fatal(err)
	}
	cpA2, _ := r.a.Checkpoint()
	p, err := r.a.ConsistencyProof(context.Background(), 10, 11)
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	body.WriteString("old 10\n")
	for _, hh := range p {
		fmt.Fprintf(&body, "%s\n", b64(hh))
	}
	body.WriteString("\n")
	body.Write(cpA2)
	resp, err := http.Post(h.members[0].node.URL()+"/add-checkpoint", "text/plain", &body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a node cosigned for a log it caught misbehaving: status %d", resp.StatusCode)
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// TestFederationAddPeerWithoutRestart: peers are added to running nodes (as
// evidentd does on SIGHUP) and witnessing starts, with no restart.
func TestFederationAddPeerWithoutRestart(t *testing.T) {
	h := newFederation(t, 2, time.Hour)
	// Start over with nodes that know no peers.
	for i := range h.members {
		if err := h.members[i].node.Federation.SetPeers(nil); err != nil {
			t.Fatal(err)
		}
	}
	idx := h.submit(0, "pkg:pypi/lonely@1.0.0")
	if got, _ := h.cosigners(0); len(got) != 0 {
		t.Fatalf("cosigned by %v with no peers", got)
	}
	for i := range h.members {
		if err := h.members[i].node.Federation.SetPeers(h.peersOf(i)); err != nil {
			t.Fatal(err)
		}
	}
	h.waitQuorum(0, idx+1, []string{"node1"})
	// And removed again: node0 no longer asks node1, and node1's witness
	// refuses node0's log (404, unknown origin).
	if err := h.members[1].node.Federation.SetPeers(nil); err != nil {
		t.Fatal(err)
	}
	cp, _ := h.members[0].node.Ledger.Checkpoint()
	if code := addCheckpoint(t, h.members[1].node.URL(), cp); code != http.StatusNotFound {
		t.Fatalf("a removed peer's checkpoint got status %d, want 404", code)
	}
}
