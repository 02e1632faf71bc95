package servertest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/ledger"
	"github.com/evident-dev/evident/policy"
	"github.com/evident-dev/evident/server/federation"
	"github.com/evident-dev/evident/server/node"
	"github.com/evident-dev/evident/witness"
)

// Keys are a federation member's keys, made from its name: the same name
// gives the same keys, so that a ledger filled before the node starts (as
// a benchmark does) is the node's log.
type Keys struct {
	// Origin is the log's origin, "<name>.example/log".
	Origin string
	// NoteKey and VerifierKey sign and verify the log's checkpoints.
	NoteKey, VerifierKey string
	// WitnessKey is the node's witness signing key (witness.GenerateKey
	// form); WitnessVerifierKey verifies its cosignatures.
	WitnessKey, WitnessVerifierKey string
}

// KeysFor returns the keys of the federation member called name.
func KeysFor(name string) Keys {
	seed := sha256.Sum256([]byte("servertest federation " + name))
	r := rand.NewChaCha8(seed)
	k := Keys{Origin: name + ".example/log"}
	var err error
	if k.NoteKey, k.VerifierKey, err = note.GenerateKey(r, k.Origin); err != nil {
		panic("servertest: note key: " + err.Error()) // the reader never fails
	}
	if k.WitnessKey, k.WitnessVerifierKey, err = witness.GenerateKey(r, name+".example/witness"); err != nil {
		panic("servertest: witness key: " + err.Error())
	}
	return k
}

// Signer returns the note signer of the log's checkpoints.
func (k Keys) Signer() note.Signer {
	s, err := note.NewSigner(k.NoteKey)
	if err != nil {
		panic("servertest: " + err.Error()) // made by KeysFor
	}
	return s
}

// FederationOptions configures StartFederation. The zero value is three
// nodes, "a", "b" and "c", each trusting DefaultTrust, in a new temporary
// directory. Members run without fsync, as test nodes do.
type FederationOptions struct {
	// Names are the members' names. Default a, b, c.
	Names []string
	// Dir holds each member's data in Dir/<name>. Default: a new temporary
	// directory, removed by Close.
	Dir string
	// Trust returns a member's trust policy. Default DefaultTrust.
	Trust func(name string) *evidence.TrustedSigners
	// MaxResponseBytes is server.Options.MaxResponseBytes.
	MaxResponseBytes int
	// GossipInterval is how often members pull each other. Default 1s.
	GossipInterval time.Duration
	// Ledger adjusts a member's ledger options. Default: nothing.
	Ledger func(name string, o *ledger.Options)
	// Logger receives the members' logs. Default: discard.
	Logger *slog.Logger
}

// Member is one node of a Federation.
type Member struct {
	Name string
	Keys Keys
	Node *node.Node
	URL  string
}

// Federation is a few nodes on loopback, each a witness of the others, as
// foundations run them: each log's checkpoints are cosigned by the other
// members.
type Federation struct {
	Members []*Member
	// Policy is a c2sp.org/tlog-policy a client of the federation uses:
	// every member's log, every member as a witness, and a quorum of all
	// members but one (a member does not cosign its own log).
	Policy string

	dir    string
	tmpDir bool
}

// StartFederation starts the members and wires each as a peer of the
// others. Wait for cosigned checkpoints with WaitCosigned.
func StartFederation(opts FederationOptions) (*Federation, error) {
	if len(opts.Names) == 0 {
		opts.Names = []string{"a", "b", "c"}
	}
	if opts.Trust == nil {
		opts.Trust = func(string) *evidence.TrustedSigners { return DefaultTrust() }
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.GossipInterval == 0 {
		opts.GossipInterval = time.Second
	}
	f := &Federation{dir: opts.Dir}
	if f.dir == "" {
		d, err := os.MkdirTemp("", "federation")
		if err != nil {
			return nil, err
		}
		f.dir, f.tmpDir = d, true
	}
	type peerKeys struct {
		log     note.Verifier
		witness *witness.CosignatureVerifier
	}
	var pol strings.Builder
	keys := make([]Keys, len(opts.Names))
	pks := make([]peerKeys, len(opts.Names))
	for i, name := range opts.Names {
		keys[i] = KeysFor(name)
		v, err := note.NewVerifier(keys[i].VerifierKey)
		if err != nil {
			return nil, err
		}
		c, err := witness.ParseCosignerKey(keys[i].WitnessKey, nil)
		if err != nil {
			return nil, err
		}
		pks[i] = peerKeys{v, c.Verifier()}
		fmt.Fprintf(&pol, "log %s\n", keys[i].VerifierKey)
	}
	for i, name := range opts.Names {
		fmt.Fprintf(&pol, "witness %s %s\n", name, keys[i].WitnessVerifierKey)
	}
	fmt.Fprintf(&pol, "group members %d %s\nquorum members\n", len(opts.Names)-1, strings.Join(opts.Names, " "))
	f.Policy = pol.String()
	if _, err := policy.Parse([]byte(f.Policy)); err != nil {
		return nil, fmt.Errorf("servertest: federation policy: %w", err)
	}
	// Listen first, so that every member knows its peers' URLs.
	listeners, err := listenAll(len(opts.Names))
	if err != nil {
		return nil, err
	}
	for i, name := range opts.Names {
		var peers []federation.Peer
		for j, other := range opts.Names {
			if j != i {
				peers = append(peers, federation.Peer{Name: other, URL: "http://" + listeners[j].Addr().String(),
					Origin: keys[j].Origin, LogKey: pks[j].log, WitnessKey: pks[j].witness})
			}
		}
		cosigner, err := witness.ParseCosignerKey(keys[i].WitnessKey, nil)
		if err != nil {
			for _, l := range listeners[i:] {
				l.Close()
			}
			f.Close()
			return nil, err
		}
		cfg := node.Config{
			Data: filepath.Join(f.dir, name), Listener: listeners[i],
			Signer: keys[i].Signer(), LogKey: pks[i].log, Cosigner: cosigner,
			Trust: opts.Trust(name), Peers: peers, GossipInterval: opts.GossipInterval,
			MaxResponseBytes: opts.MaxResponseBytes,
			Logger:           opts.Logger.With("node", name),
			NoSync:           true,
		}
		if opts.Ledger != nil {
			opts.Ledger(name, &cfg.Ledger)
		}
		n, err := node.Start(cfg)
		if err != nil {
			for _, l := range listeners[i+1:] {
				l.Close()
			}
			f.Close()
			return nil, fmt.Errorf("servertest: starting %s: %w", name, err)
		}
		f.Members = append(f.Members, &Member{Name: name, Keys: keys[i], Node: n, URL: n.URL()})
	}
	return f, nil
}

// WaitCosigned waits until every member serves a checkpoint of its whole
// log that meets Policy. An empty log has nothing to cosign.
func (f *Federation) WaitCosigned(ctx context.Context) error {
	p, err := policy.Parse([]byte(f.Policy))
	if err != nil {
		return err
	}
	for _, m := range f.Members {
		for {
			cp, size := m.Node.Federation.Checkpoint()
			_, total := m.Node.Ledger.Checkpoint()
			if _, err := p.Verify(cp); err == nil && size == total || total == 0 {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s's checkpoint of size %d is not cosigned: %w", m.Name, total, context.Cause(ctx))
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	return nil
}

// Close stops every member and removes the data if StartFederation made
// the directory.
func (f *Federation) Close() error {
	var nodes []*node.Node
	for _, m := range f.Members {
		nodes = append(nodes, m.Node)
	}
	err := f.closeAll(nodes)
	if f.tmpDir {
		f.tmpDir = false
		err = errors.Join(err, os.RemoveAll(f.dir))
	}
	return err
}

func (f *Federation) closeAll(nodes []*node.Node) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	for _, n := range nodes {
		errs = append(errs, n.Close(ctx))
	}
	return errors.Join(errs...)
}

// listenAll listens on n free loopback ports.
func listenAll(n int) ([]net.Listener, error) {
	var out []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			for _, l := range out {
				l.Close()
			}
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}
