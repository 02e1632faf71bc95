// Package federation is the part of a node that talks to its peers: it
// witnesses their logs, pushes its own checkpoints to them for cosigning,
// serves its checkpoint with the cosignatures gathered, and gossips what it
// has seen of every log so that a log showing two histories is caught.
//
// Per peer, after each new checkpoint of its own log, the node sends a
// c2sp.org/tlog-witness add-checkpoint request with a consistency proof from
// the size that peer last cosigned (learnt from a 409 when unknown), with
// retries and backoff. Every GossipInterval it pulls each peer's
// ListCheckpoints and compares every checkpoint of a known log with the one
// it holds; two that cannot both be true become a witness.Misbehaviour:
// stored, served, counted, logged at error level, and from then on the
// witness refuses to cosign for that log.
package federation

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/evident-dev/evident/checkpoint"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/proto/evident/v1/evidentv1connect"
	"github.com/evident-dev/evident/witness"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/mod/sumdb/note"
)

// Peer is another node: its log and its witness.
type Peer struct {
	// Name labels the peer in logs and metrics.
	Name string
	// URL is the peer's base URL (Connect, tlog-witness and tiles).
	URL string
	// Origin is the peer's log origin.
	Origin string
	// LogKey verifies the peer's checkpoints.
	LogKey note.Verifier
	// WitnessKey verifies the peer's cosignatures.
	WitnessKey *witness.CosignatureVerifier
}

// Log is the node's own log, as the federation needs it.
type Log interface {
	// Checkpoint returns the latest signed checkpoint and its size.
	Checkpoint() ([]byte, uint64)
	// WaitForCheckpoint waits for a checkpoint of at least size entries.
	WaitForCheckpoint(ctx context.Context, size uint64) ([]byte, uint64, error)
	// ConsistencyProof proves the tree of size1 is a prefix of size2.
	ConsistencyProof(ctx context.Context, size1, size2 uint64) ([][]byte, error)
}

// Options configures a Federation.
type Options struct {
	// Log is the node's own log. Required.
	Log Log
	// LogKey verifies the node's own checkpoints. Required.
	LogKey note.Verifier
	// Cosigner is the node's witness key. Required.
	Cosigner *witness.Cosigner
	// Store is the witness state and misbehaviour store. Required.
	Store witness.Store
	// Peers are the other nodes. Default none.
	Peers []Peer
	// GossipInterval is how often each peer is pulled. Default 5s.
	GossipInterval time.Duration
	// HTTPClient talks to peers. Default: a client with a 10s timeout.
	HTTPClient *http.Client
	// Logger receives the federation's logs. Default: discard.
	Logger *slog.Logger
	// Metrics, when set, receives the federation's metrics (see metrics.go).
	Metrics prometheus.Registerer
}

// Federation runs a node's witnessing, pushing and gossip.
type Federation struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics

	mu      sync.RWMutex
	peers   []Peer
	witness *witness.Witness
	// cosigned is the node's newest checkpoint, and the cosignature lines
	// gathered for it so far, by peer name.
	current     []byte
	currentSize uint64
	cosigs      map[string][]byte
	// published is when current was signed, for the publish-to-quorum
	// metric.
	published time.Time
	// best is the newest checkpoint every peer has cosigned, with its
	// cosignatures.
	best     []byte
	bestSize uint64
	// peerSize is the size each peer last cosigned of our log (-1:
	// unknown).
	peerSize map[string]int64
	// kick wakes the pushers when current changes.
	kick chan struct{}
}

// New returns a Federation. Call Run to start it.
func New(opts Options) (*Federation, error) {
	if opts.Log == nil || opts.LogKey == nil || opts.Cosigner == nil || opts.Store == nil {
		return nil, errors.New("federation: Log, LogKey, Cosigner and Store are required")
	}
	if opts.GossipInterval <= 0 {
		opts.GossipInterval = 5 * time.Second
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	f := &Federation{
		opts:     opts,
		log:      opts.Logger,
		peerSize: make(map[string]int64),
		cosigs:   make(map[string][]byte),
		kick:     make(chan struct{}, 1),
	}
	f.metrics = newMetrics(opts.Metrics)
	if err := f.SetPeers(opts.Peers); err != nil {
		return nil, err
	}
	cp, size := opts.Log.Checkpoint()
	f.current, f.currentSize, f.published = cp, size, time.Now()
	return f, nil
}

// SetPeers replaces the peers (a configuration reload): the witness then
// cosigns for exactly their logs.
func (f *Federation) SetPeers(peers []Peer) error {
	logs := make(map[string][]note.Verifier, len(peers))
	for _, p := range peers {
		if p.Origin == "" || p.LogKey == nil || p.WitnessKey == nil || p.URL == "" {
			return fmt.Errorf("federation: peer %q needs origin, url, log key and witness key", p.Name)
		}
		logs[p.Origin] = append(logs[p.Origin], p.LogKey)
	}
	w, err := witness.New(witness.Options{
		Store:    f.opts.Store,
		Cosigner: f.opts.Cosigner,
		Logs:     logs,
		Logger:   f.log.With("part", "witness"),
	})
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.peers = append([]Peer(nil), peers...)
	f.witness = w
	for _, p := range peers {
		if _, ok := f.peerSize[p.Name]; !ok {
			f.peerSize[p.Name] = -1
		}
	}
	select {
	case f.kick <- struct{}{}:
	default:
	}
	return nil
}

func (f *Federation) snapshot() ([]Peer, *witness.Witness) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.peers, f.witness
}

// Checkpoint returns the checkpoint the node serves: the newest one with
// every peer's cosignature; while the newest one is still being cosigned
// (at most a few seconds after it was signed), the newest fully cosigned
// one; otherwise the newest with the cosignatures it has. With no peers it
// is the log's own.
func (f *Federation) Checkpoint() ([]byte, uint64) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if len(f.peers) == 0 {
		return f.current, f.currentSize
	}
	if len(f.cosigs) >= len(f.peers) || f.best == nil || time.Since(f.published) > 3*time.Second {
		return f.withCosigs(), f.currentSize
	}
	return f.best, f.bestSize
}

// withCosigs returns current with the gathered cosignature lines. f.mu held.
func (f *Federation) withCosigs() []byte {
	names := make([]string, 0, len(f.cosigs))
	for n := range f.cosigs {
		names = append(names, n)
	}
	sort.Strings(names)
	out := append([]byte(nil), f.current...)
	for _, n := range names {
		out = append(out, f.cosigs[n]...)
	}
	return out
}

// Run pushes checkpoints and gossips until ctx ends.
func (f *Federation) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); f.watchLog(ctx) }()
	go func() { defer wg.Done(); f.gossipLoop(ctx) }()
	f.pushLoop(ctx)
	wg.Wait()
}

// watchLog follows the node's own checkpoints.
func (f *Federation) watchLog(ctx context.Context) {
	for {
		f.mu.RLock()
		next := f.currentSize + 1
		f.mu.RUnlock()
		cp, size, err := f.opts.Log.WaitForCheckpoint(ctx, next)
		if err != nil {
			return
		}
		f.mu.Lock()
		f.current, f.currentSize, f.published = cp, size, time.Now()
		f.cosigs = make(map[string][]byte)
		f.mu.Unlock()
		select {
		case f.kick <- struct{}{}:
		default:
		}
	}
}

// pushLoop sends the current checkpoint to every peer that hasn't cosigned
// it, retrying failed peers with exponential backoff.
func (f *Federation) pushLoop(ctx context.Context) {
	backoff := map[string]time.Duration{}
	retryAt := map[string]time.Time{}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		peers, _ := f.snapshot()
		f.mu.RLock()
		cp, size := f.current, f.currentSize
		pending := []Peer{}
		for _, p := range peers {
			if _, done := f.cosigs[p.Name]; !done && time.Now().After(retryAt[p.Name]) {
				pending = append(pending, p)
			}
		}
		f.mu.RUnlock()
		if size > 0 && len(pending) > 0 {
			var wg sync.WaitGroup
			var mu sync.Mutex
			for _, p := range pending {
				wg.Add(1)
				go func() {
					defer wg.Done()
					err := f.pushTo(ctx, p, cp, size)
					mu.Lock()
					defer mu.Unlock()
					if err == nil {
						delete(backoff, p.Name)
						delete(retryAt, p.Name)
						return
					}
					if ctx.Err() != nil {
						return
					}
					b := min(max(2*backoff[p.Name], 100*time.Millisecond), 30*time.Second)
					backoff[p.Name], retryAt[p.Name] = b, time.Now().Add(b)
					f.metrics.pushError(p.Name)
					f.log.Warn("couldn't get a cosignature", "peer", p.Name, "size", size, "retry_in", b, "err", err)
				}()
			}
			wg.Wait()
		}
		// Sleep until the next checkpoint, peer change, or retry.
		wait := time.Hour
		for _, t := range retryAt {
			wait = min(wait, max(time.Until(t), time.Millisecond))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-f.kick:
		case <-timer.C:
		}
	}
}

// pushTo asks one peer to cosign cp, learning the size it last cosigned
// from a 409 when needed.
func (f *Federation) pushTo(ctx context.Context, p Peer, cp []byte, size uint64) error {
	for attempt := 0; attempt < 3; attempt++ {
		f.mu.RLock()
		old := f.peerSize[p.Name]
		f.mu.RUnlock()
		if old < 0 {
			old = 0
		}
		if uint64(old) > size {
			return fmt.Errorf("peer %s has cosigned size %d, beyond our checkpoint %d", p.Name, old, size)
		}
		var proof [][]byte
		if old > 0 && uint64(old) < size {
			var err error
			if proof, err = f.opts.Log.ConsistencyProof(ctx, uint64(old), size); err != nil {
				return fmt.Errorf("couldn't prove consistency from %d: %w", old, err)
			}
		}
		var body bytes.Buffer
		fmt.Fprintf(&body, "old %d\n", old)
		for _, h := range proof {
			body.WriteString(base64.StdEncoding.EncodeToString(h))
			body.WriteByte('\n')
		}
		body.WriteByte('\n')
		body.Write(cp)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(p.URL, "/")+"/add-checkpoint", &body)
		if err != nil {
			return err
		}
		resp, err := f.opts.HTTPClient.Do(req)
		if err != nil {
			return err
		}
		rb, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if err != nil {
			return err
		}
		switch resp.StatusCode {
		case http.StatusOK:
			if err := f.addCosignature(p, cp, size, rb); err != nil {
				return err
			}
			f.mu.Lock()
			f.peerSize[p.Name] = int64(size)
			f.mu.Unlock()
			return nil
		case http.StatusConflict:
			// c2sp.org/tlog-witness: 409 carries the size the witness
			// last cosigned, as text/x.tlog.size.
			n, err := strconv.ParseUint(strings.TrimSpace(string(rb)), 10, 63)
			if err != nil {
				return fmt.Errorf("409 with an unreadable size %q", rb)
			}
			f.mu.Lock()
			f.peerSize[p.Name] = int64(n)
			f.mu.Unlock()
			continue
		default:
			return fmt.Errorf("add-checkpoint: %s: %s", resp.Status, bytes.TrimSpace(rb))
		}
	}
	return errors.New("the peer's cosigned size kept changing")
}

// addCosignature checks a peer's cosignature lines on cp and records them.
func (f *Federation) addCosignature(p Peer, cp []byte, size uint64, lines []byte) error {
	signed := append(append([]byte(nil), cp...), lines...)
	n, err := note.Open(signed, note.VerifierList(p.WitnessKey))
	if err != nil {
		return fmt.Errorf("peer %s returned no valid cosignature: %w", p.Name, err)
	}
	var mine []byte
	for _, s := range n.Sigs {
		if s.Name == p.WitnessKey.Name() && s.Hash == p.WitnessKey.KeyHash() {
			mine = fmt.Appendf(nil, "— %s %s\n", s.Name, s.Base64)
		}
	}
	if mine == nil {
		return fmt.Errorf("peer %s returned no cosignature by its witness key", p.Name)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.currentSize != size || !bytes.Equal(f.current, cp) {
		return nil // a newer checkpoint superseded this one
	}
	f.cosigs[p.Name] = mine
	if len(f.cosigs) == len(f.peers) {
		f.best, f.bestSize = f.withCosigs(), size
		f.metrics.quorum(time.Since(f.published))
	}
	return nil
}

// gossipLoop pulls every peer's view of every log each interval.
func (f *Federation) gossipLoop(ctx context.Context) {
	t := time.NewTicker(f.opts.GossipInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f.GossipOnce(ctx)
	}
}

// GossipOnce pulls every peer once and checks what it reports.
func (f *Federation) GossipOnce(ctx context.Context) {
	peers, _ := f.snapshot()
	var wg sync.WaitGroup
	for _, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f.gossipWith(ctx, p); err != nil && ctx.Err() == nil {
				f.metrics.gossipError(p.Name)
				f.log.Warn("gossip failed", "peer", p.Name, "err", err)
			}
		}()
	}
	wg.Wait()
}

func (f *Federation) gossipWith(ctx context.Context, p Peer) error {
	c := evidentv1connect.NewWitnessServiceClient(f.opts.HTTPClient, strings.TrimRight(p.URL, "/"))
	resp, err := c.ListCheckpoints(ctx, connect.NewRequest(&evidentv1.ListCheckpointsRequest{}))
	if err != nil {
		return err
	}
	for _, lc := range resp.Msg.GetCheckpoints() {
		f.check(ctx, p, []byte(lc.GetCheckpoint()))
	}
	return nil
}

// check compares a checkpoint a peer reported with what this node holds for
// that log.
func (f *Federation) check(ctx context.Context, from Peer, seen []byte) {
	c, err := checkpoint.Peek(seen)
	if err != nil {
		f.log.Warn("peer gossiped an unreadable checkpoint", "peer", from.Name, "err", err)
		return
	}
	peers, w := f.snapshot()
	var keys []note.Verifier
	var stored []byte
	var prover witness.ConsistencyProver
	if c.Origin == f.opts.LogKey.Name() {
		keys = []note.Verifier{f.opts.LogKey}
		stored, _ = f.opts.Log.Checkpoint()
		prover = witness.ConsistencyProverFunc(func(ctx context.Context, _ string, a, b uint64) ([][]byte, error) {
			return f.opts.Log.ConsistencyProof(ctx, a, b)
		})
	} else {
		var owner *Peer
		for i := range peers {
			if peers[i].Origin == c.Origin {
				owner = &peers[i]
				keys = append(keys, peers[i].LogKey)
			}
		}
		if owner == nil {
			return // a log this node doesn't know
		}
		stored, err = w.Latest(ctx, c.Origin)
		if errors.Is(err, witness.ErrNotCosigned) {
			return // nothing to compare with yet
		}
		if err != nil {
			f.log.Warn("couldn't read witness state", "origin", c.Origin, "err", err)
			return
		}
		prover = f.remoteProver(*owner)
	}
	err = witness.CheckGossip(ctx, keys, stored, seen, prover)
	var me *witness.MisbehaviourError
	switch {
	case err == nil:
	case errors.As(err, &me):
		f.recordMisbehaviour(ctx, from, me.Misbehaviour)
	default:
		f.log.Warn("couldn't check a gossiped checkpoint", "peer", from.Name, "origin", c.Origin, "err", err)
	}
}

func (f *Federation) recordMisbehaviour(ctx context.Context, from Peer, m witness.Misbehaviour) {
	if err := f.opts.Store.RecordMisbehaviour(ctx, m); err != nil {
		f.log.Error("couldn't store a proof of misbehaviour", "origin", m.Origin, "err", err)
		return
	}
	f.metrics.misbehaviour(m.Origin)
	f.log.Error("LOG MISBEHAVIOUR: two signed checkpoints of one log cannot both be true",
		"origin", m.Origin, "reason", m.Reason, "reported_by", from.Name)
}

// remoteProver fetches consistency proofs from the log's own node.
func (f *Federation) remoteProver(owner Peer) witness.ConsistencyProver {
	return witness.ConsistencyProverFunc(func(ctx context.Context, _ string, a, b uint64) ([][]byte, error) {
		c := evidentv1connect.NewLogServiceClient(f.opts.HTTPClient, strings.TrimRight(owner.URL, "/"))
		resp, err := c.GetConsistencyProof(ctx, connect.NewRequest(&evidentv1.GetConsistencyProofRequest{OldSize: a, NewSize: b}))
		if err != nil {
			return nil, err
		}
		return resp.Msg.GetHashes(), nil
	})
}

// Witness returns the node's witness, for the add-checkpoint handlers.
func (f *Federation) Witness() *witness.Witness {
	_, w := f.snapshot()
	return w
}

// Misbehaviour returns every proof of misbehaviour the node holds.
func (f *Federation) Misbehaviour(ctx context.Context) ([]witness.Misbehaviour, error) {
	return f.opts.Store.ListMisbehaviour(ctx, "")
}

// Checkpoints returns the latest checkpoint the node holds for every log:
// its own (with cosignatures) and each witnessed one.
func (f *Federation) Checkpoints(ctx context.Context) (map[string][]byte, error) {
	_, w := f.snapshot()
	all, err := w.LatestAll(ctx)
	if err != nil {
		return nil, err
	}
	cp, _ := f.Checkpoint()
	all[f.opts.LogKey.Name()] = cp
	return all, nil
}

// PeerStatus is what a node knows of one peer, for its web pages.
type PeerStatus struct {
	// Name, URL and Origin are the peer's, as configured.
	Name, URL, Origin string
	// WitnessKey is the peer's witness verifier key (c2sp.org/tlog-cosignature vkey).
	WitnessKey string
	// CosignedSize is the size of this node's log that the peer last
	// cosigned, or -1 if not known yet.
	CosignedSize int64
	// Witnessed is the newest checkpoint of the peer's log that this node
	// cosigned, or nil if none.
	Witnessed []byte
}

// Peers returns the status of every peer, in configuration order.
func (f *Federation) Peers(ctx context.Context) ([]PeerStatus, error) {
	peers, w := f.snapshot()
	latest, err := w.LatestAll(ctx)
	if err != nil {
		return nil, err
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]PeerStatus, 0, len(peers))
	for _, p := range peers {
		size, ok := f.peerSize[p.Name]
		if !ok {
			size = -1
		}
		out = append(out, PeerStatus{
			Name: p.Name, URL: p.URL, Origin: p.Origin,
			WitnessKey:   p.WitnessKey.VerifierKey(),
			CosignedSize: size,
			Witnessed:    latest[p.Origin],
		})
	}
	return out, nil
}
