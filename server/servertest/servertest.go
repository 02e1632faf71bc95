// Package servertest runs a real Evident node on a loopback listener, for
// tests and for the evidentbench load tool: a whole node assembled by
// server/node as evidentd assembles it (ledger, RPC server, tiles, a
// federation with no peers), served over HTTP/1.1 and unencrypted HTTP/2
// (h2c), so that google.golang.org/grpc clients, Connect clients and plain
// HTTP/JSON all reach it, with deterministic test keys.
//
// It also makes test evidence: deterministic keys, a trust policy for them,
// and signed DSSE envelopes of in-toto statements, including malformed ones
// (the statement builders here skip the validation evidence.Statement.Marshal
// would apply, so a test can send what a careless client would).
package servertest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/ledger"
	"github.com/evident-dev/evident/server"
	"github.com/evident-dev/evident/server/node"
	"github.com/evident-dev/evident/witness"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Origin is the log origin of nodes started without Options.NoteKey.
const Origin = "test.evident.example/log"

// Test keys. They are deterministic, so envelopes signed in one run have the
// same bytes in the next.
var (
	// KeyPyPIMaven is trusted (by DefaultTrust) for pkg:pypi and
	// pkg:maven/org.apache.
	KeyPyPIMaven = keyFromSeed(1)
	// KeyNPM is trusted (by DefaultTrust) for pkg:npm only.
	KeyNPM = keyFromSeed(2)
	// KeyUntrusted is trusted for nothing.
	KeyUntrusted = keyFromSeed(3)
)

func keyFromSeed(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

// Public returns the public half of key.
func Public(key ed25519.PrivateKey) ed25519.PublicKey { return key.Public().(ed25519.PublicKey) }

// DefaultTrust returns the trust policy of nodes started without
// Options.Trust: KeyPyPIMaven for pkg:pypi and pkg:maven/org.apache, KeyNPM
// for pkg:npm.
func DefaultTrust() *evidence.TrustedSigners {
	t, err := evidence.NewTrustedKeys([]evidence.TrustedKey{
		{PublicKey: Public(KeyPyPIMaven), Namespaces: []string{"pkg:pypi", "pkg:maven/org.apache"}},
		{PublicKey: Public(KeyNPM), Namespaces: []string{"pkg:npm"}},
	})
	if err != nil {
		panic("servertest: DefaultTrust: " + err.Error()) // constant input
	}
	return t
}

// Options configures a node. The zero value is a node in a new temporary
// directory, without fsync, trusting DefaultTrust.
type Options struct {
	// Dir holds the node's data: ledger.db and envelopes/. Default: a new
	// temporary directory, removed by Close.
	Dir string
	// Sync makes appends durable (fsync per batch), as in production.
	// Default false: ledger.Options.NoSync, for tests that measure nothing
	// about durability.
	Sync bool
	// MaxEnvelopeSize is server.Options.MaxEnvelopeSize. Default the
	// server's default.
	MaxEnvelopeSize int
	// MaxPendingBytes is server.Options.MaxPendingBytes. Default the
	// server's default.
	MaxPendingBytes int64
	// MaxResponseBytes is server.Options.MaxResponseBytes. Default the
	// server's default.
	MaxResponseBytes int
	// StreamIdleTimeout is server.Options.StreamIdleTimeout.
	StreamIdleTimeout time.Duration
	// Now is the node's clock. Default time.Now.
	Now func() time.Time
	// Trust is the node's trust policy. Default DefaultTrust().
	Trust *evidence.TrustedSigners
	// NoteKey and VerifierKey are the checkpoint signing key pair, as
	// note.GenerateKey returns it. Default: a new pair named Origin. Restart
	// keeps the pair, so a restarted node is the same log.
	NoteKey, VerifierKey string
	// Logger receives the node's logs. Default: discard.
	Logger *slog.Logger
	// Addr is the address to listen on. Default 127.0.0.1:0.
	Addr string
	// Ledger, when set, is called with the ledger's base options (before
	// server.LedgerOptions adds identity and indexes) to adjust them, e.g.
	// batching. Default: nothing.
	Ledger func(*ledger.Options)

	witnessKey string // kept across Restart, like the note key
}

// Node is a running node.
type Node struct {
	// Addr is the host:port the node listens on, and URL is
	// "http://" + Addr.
	Addr, URL string
	Dir       string
	// NoteKey and VerifierKey are the log's note keys (note.GenerateKey
	// form); Verifier opens its checkpoints.
	NoteKey, VerifierKey string
	Verifier             note.Verifier

	Ledger   *ledger.Ledger
	Server   *server.Handlers
	Registry *prometheus.Registry

	opts    Options
	tmpDir  bool
	node    *node.Node
	stopped bool
}

// Start opens (or creates) a node's data in opts.Dir and serves it.
func Start(opts Options) (*Node, error) {
	n := &Node{opts: opts, Dir: opts.Dir}
	if n.Dir == "" {
		d, err := os.MkdirTemp("", "servertest")
		if err != nil {
			return nil, err
		}
		n.Dir, n.tmpDir = d, true
		n.opts.Dir = d
	}
	if opts.Trust == nil {
		n.opts.Trust = DefaultTrust()
	}
	if opts.Logger == nil {
		n.opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Addr == "" {
		n.opts.Addr = "127.0.0.1:0"
	}
	if err := n.start(); err != nil {
		if n.tmpDir {
			os.RemoveAll(n.Dir)
		}
		return nil, err
	}
	return n, nil
}

func (n *Node) start() error {
	if n.opts.NoteKey == "" {
		skey, vkey, err := note.GenerateKey(rand.Reader, Origin)
		if err != nil {
			return err
		}
		n.opts.NoteKey, n.opts.VerifierKey = skey, vkey
	}
	n.NoteKey, n.VerifierKey = n.opts.NoteKey, n.opts.VerifierKey
	signer, err := note.NewSigner(n.NoteKey)
	if err != nil {
		return fmt.Errorf("servertest: note key: %w", err)
	}
	if n.Verifier, err = note.NewVerifier(n.VerifierKey); err != nil {
		return fmt.Errorf("servertest: verifier key: %w", err)
	}

	if n.opts.witnessKey == "" {
		wskey, _, err := witness.GenerateKey(rand.Reader, Origin+"/witness")
		if err != nil {
			return err
		}
		n.opts.witnessKey = wskey
	}
	cosigner, err := witness.ParseCosignerKey(n.opts.witnessKey, nil)
	if err != nil {
		return err
	}
	cfg := node.Config{
		Data:              n.Dir,
		Listen:            n.opts.Addr,
		Signer:            signer,
		LogKey:            n.Verifier,
		LogVerifierKey:    n.VerifierKey,
		Cosigner:          cosigner,
		Trust:             n.opts.Trust,
		MaxEnvelopeSize:   n.opts.MaxEnvelopeSize,
		MaxPendingBytes:   n.opts.MaxPendingBytes,
		MaxResponseBytes:  n.opts.MaxResponseBytes,
		StreamIdleTimeout: n.opts.StreamIdleTimeout,
		Now:               n.opts.Now,
		Logger:            n.opts.Logger,
		NoSync:            !n.opts.Sync,
	}
	if n.opts.Ledger != nil {
		n.opts.Ledger(&cfg.Ledger)
	}
	// The node as cmd/evidentd assembles it: HTTP/1.1 for curl and
	// Connect, h2c for gRPC, tiles, and a federation with no peers.
	if n.node, err = node.Start(cfg); err != nil {
		return err
	}
	n.Ledger, n.Server, n.Registry = n.node.Ledger, n.node.Server, n.node.Registry
	n.Addr = n.node.Addr().String()
	n.URL = n.node.URL()
	return nil
}

// stop stops serving and closes the ledger, keeping the data.
func (n *Node) stop() error {
	if n.stopped {
		return nil
	}
	n.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return n.node.Close(ctx)
}

// Restart stops n (closing its ledger as a node shutting down does) and
// starts a new node on the same data and note key, on a new port. n must not
// be used afterwards; the returned node owns the data directory.
func (n *Node) Restart() (*Node, error) {
	if err := n.stop(); err != nil {
		return nil, err
	}
	m := &Node{opts: n.opts, Dir: n.Dir, tmpDir: n.tmpDir}
	n.tmpDir = false
	if err := m.start(); err != nil {
		return nil, err
	}
	return m, nil
}

// Close stops the node, closes its ledger and removes its data if Start made
// the directory.
func (n *Node) Close() error {
	err := n.stop()
	if n.tmpDir {
		n.tmpDir = false
		if rerr := os.RemoveAll(n.Dir); err == nil {
			err = rerr
		}
	}
	return err
}

// Dial returns a google.golang.org/grpc client connection to the node,
// without TLS (h2c).
func (n *Node) Dial(opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	return grpc.NewClient(n.Addr, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
}

// BlobCount returns how many envelopes the node stores.
func (n *Node) BlobCount() (int, error) {
	return n.Ledger.BlobCount(context.Background())
}

// Digest returns the lowercase hex SHA-256 of s, a stand-in artifact digest.
func Digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// Subject is an in-toto subject as sent on the wire; unlike
// evidence.Subject, nothing checks it before it is sent.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Statement is an in-toto statement as sent on the wire, unvalidated.
type Statement struct {
	Type          string          `json:"_type"`
	Subject       []Subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate,omitempty"`
}

// NewStatement returns an in-toto Statement v1 about one release: purl,
// with the artifact's sha256 digest (hex), of the given predicate type.
// A nil predicate is {}.
func NewStatement(purl, sha256Hex, predicateType string, predicate json.RawMessage) *Statement {
	if predicate == nil {
		predicate = json.RawMessage(`{}`)
	}
	return &Statement{
		Type:          evidence.StatementTypeV1,
		Subject:       []Subject{{Name: purl, Digest: map[string]string{"sha256": sha256Hex}}},
		PredicateType: predicateType,
		Predicate:     predicate,
	}
}

// Marshal returns the statement's JSON, without validating it.
func (s *Statement) Marshal() []byte {
	b, err := json.Marshal(s)
	if err != nil {
		panic("servertest: marshal statement: " + err.Error()) // only plain data
	}
	return b
}

// Sign returns the JSON of a DSSE envelope of payload, of payloadType,
// signed by key with its Evident key id.
func Sign(key ed25519.PrivateKey, payloadType string, payload []byte) []byte {
	e, err := evidence.Sign(payloadType, payload, key, "")
	if err != nil {
		panic("servertest: sign: " + err.Error()) // only for empty inputs
	}
	b, err := e.Marshal()
	if err != nil {
		panic("servertest: marshal envelope: " + err.Error())
	}
	return b
}

// Envelope returns a signed envelope (payloadType application/vnd.in-toto+json)
// of NewStatement(purl, sha256Hex, predicateType, predicate).
func Envelope(key ed25519.PrivateKey, purl, sha256Hex, predicateType string, predicate json.RawMessage) []byte {
	return Sign(key, evidence.PayloadTypeInToto, NewStatement(purl, sha256Hex, predicateType, predicate).Marshal())
}
