// Package node assembles a whole Evident node from its parts: the ledger,
// the envelope store, the RPC server, the tlog-tiles read API and the
// federation (witness, push, gossip), served on one listener. evidentd, the
// demo federation and whole-node tests all start nodes through it.
package node

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/ledger"
	"github.com/evident-dev/evident/server"
	"github.com/evident-dev/evident/server/federation"
	"github.com/evident-dev/evident/server/tea"
	"github.com/evident-dev/evident/server/tiles"
	"github.com/evident-dev/evident/server/web"
	"github.com/evident-dev/evident/witness"
	"github.com/evident-dev/evident/witness/boltstore"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/mod/sumdb/note"
)

// Config is everything a node needs. Zero values are defaults where noted.
type Config struct {
	// Data is the directory of the ledger, envelopes and witness state.
	// Required.
	Data string
	// Listen is the listener address. Default 127.0.0.1:0 (a free port).
	Listen string
	// Listener, when set, is used instead of listening on Listen.
	Listener net.Listener
	// TLSCert and TLSKey, when both set, serve TLS; otherwise h2c.
	TLSCert, TLSKey string
	// Signer signs the log's checkpoints; LogKey verifies them. Required.
	Signer note.Signer
	LogKey note.Verifier
	// LogVerifierKey is LogKey as text (c2sp.org/signed-note vkey), which
	// the web pages verify checkpoints with in the browser. Default "":
	// the pages ask the person for the key.
	LogVerifierKey string
	// Cosigner is the node's witness key. Required.
	Cosigner *witness.Cosigner
	// Trust says who may submit what. Nil trusts no one.
	Trust *evidence.TrustedSigners
	// MaxEnvelopeSize bounds an envelope. Default server.DefaultMaxEnvelopeSize.
	MaxEnvelopeSize int
	// MaxPendingBytes bounds submissions held in memory. Default
	// server.Options' default.
	MaxPendingBytes int64
	// MaxResponseBytes bounds GetEntries and QueryEvidence answers.
	// Default server.Options' default.
	MaxResponseBytes int
	// StreamIdleTimeout is server.Options.StreamIdleTimeout.
	StreamIdleTimeout time.Duration
	// Now stamps entries. Default time.Now.
	Now func() time.Time
	// Peers are the other nodes. Default none.
	Peers []federation.Peer
	// GossipInterval is how often peers are pulled. Default 5s.
	GossipInterval time.Duration
	// Logger receives the node's logs. Default: discard.
	Logger *slog.Logger
	// NoSync skips fsync: for tests only. Default false.
	NoSync bool
	// Ledger overrides ledger options (batching, checkpoint interval).
	// Signer, Identity, Index, Logger and Metrics are set by
	// the node.
	Ledger ledger.Options
}

// Node is a running node.
type Node struct {
	Ledger     *ledger.Ledger
	Server     *server.Handlers
	Federation *federation.Federation
	Registry   *prometheus.Registry

	lis    net.Listener
	http   *http.Server
	store  *boltstore.Store
	served chan error
	log    *slog.Logger

	// ctx is the node's lifetime: cancelled by Close, which then waits for
	// every goroutine started by Go (the federation's among them).
	ctx     context.Context
	stop    context.CancelFunc
	mu      sync.Mutex // guards closed and wg.Add against Close's wg.Wait
	closed  bool
	running sync.WaitGroup
}

// Start opens the node's storage and serves it until Close.
func Start(cfg Config) (_ *Node, err error) {
	if cfg.Data == "" || cfg.Signer == nil || cfg.LogKey == nil || cfg.Cosigner == nil {
		return nil, errors.New("node: Data, Signer, LogKey and Cosigner are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	log := cfg.Logger
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	n := &Node{Registry: reg, log: log, served: make(chan error, 1)}
	defer func() {
		if err != nil {
			n.closeStorage()
		}
	}()

	if err := os.MkdirAll(cfg.Data, 0o750); err != nil {
		return nil, fmt.Errorf("couldn't create the data directory: %w", err)
	}
	lopts := cfg.Ledger
	lopts.Signer, lopts.Logger, lopts.Metrics, lopts.NoSync = cfg.Signer, log.With("part", "ledger"), reg, cfg.NoSync || lopts.NoSync
	if n.Ledger, err = ledger.Open(context.Background(), filepath.Join(cfg.Data, "ledger.db"), server.LedgerOptions(lopts)); err != nil {
		return nil, err
	}
	if n.store, err = boltstore.Open(filepath.Join(cfg.Data, "witness.db"), boltstore.Options{GroupCommit: true}); err != nil {
		return nil, err
	}
	if n.Federation, err = federation.New(federation.Options{
		Log:            n.Ledger,
		LogKey:         cfg.LogKey,
		Cosigner:       cfg.Cosigner,
		Store:          n.store,
		Peers:          cfg.Peers,
		GossipInterval: cfg.GossipInterval,
		Logger:         log.With("part", "federation"),
		Metrics:        reg,
	}); err != nil {
		return nil, err
	}
	if n.Server, err = server.New(server.Options{
		Ledger:            n.Ledger,
		Trust:             cfg.Trust,
		MaxEnvelopeSize:   cfg.MaxEnvelopeSize,
		MaxPendingBytes:   cfg.MaxPendingBytes,
		MaxResponseBytes:  cfg.MaxResponseBytes,
		StreamIdleTimeout: cfg.StreamIdleTimeout,
		Now:               cfg.Now,
		Logger:            log.With("part", "server"),
		Registry:          reg,
		Federation:        n.Federation,
	}); err != nil {
		return nil, err
	}
	// The tiles' /checkpoint is the federation's: cosigned by the peers.
	n.Server.Handle("/", tiles.New(cosignedLog{n.Ledger, n.Federation}, tiles.Options{Envelopes: n.Server.Envelopes(), Metrics: reg}))
	// TEA discovery of a release's evidence (server/tea/TEA.md).
	teaHandler := tea.New(n.Server, tea.Options{Logger: log.With("part", "tea")})
	n.Server.Handle("GET /.well-known/tea", teaHandler)
	n.Server.Handle("/tea/", teaHandler)
	// The explorer's pages at exactly "/" and under /ui/ and /api/v1/.
	if err := web.Mount(n.Server, web.Options{Log: cosignedLog{n.Ledger, n.Federation}, LogKey: cfg.LogVerifierKey, Federation: n.Federation, Logger: log.With("part", "web")}); err != nil {
		return nil, err
	}

	n.lis = cfg.Listener
	if n.lis == nil {
		addr := cfg.Listen
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		if n.lis, err = net.Listen("tcp", addr); err != nil {
			return nil, fmt.Errorf("couldn't listen: %w", err)
		}
	}
	n.http = &http.Server{
		Handler:           n.Server.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	tls := cfg.TLSCert != "" && cfg.TLSKey != ""
	if !tls {
		// gRPC needs HTTP/2; without TLS that is h2c.
		protocols.SetUnencryptedHTTP2(true)
	}
	n.http.Protocols = &protocols
	go func() {
		if tls {
			n.served <- n.http.ServeTLS(n.lis, cfg.TLSCert, cfg.TLSKey)
		} else {
			n.served <- n.http.Serve(BufferedListener(n.lis))
		}
	}()
	n.ctx, n.stop = context.WithCancel(context.Background())
	n.Go(n.Federation.Run)
	return n, nil
}

// Go runs f on a goroutine of its own with the node's context, which Close
// cancels; Close then waits for f to return. It ties work that lives as long
// as the node, such as evidentd's SIGHUP reloads, to the node's lifetime. Go
// called after Close starts nothing.
func (n *Node) Go(f func(ctx context.Context)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	n.running.Add(1)
	go func() {
		defer n.running.Done()
		f(n.ctx)
	}()
}

// Addr is the listener's address.
func (n *Node) Addr() net.Addr { return n.lis.Addr() }

// URL is the node's base URL.
func (n *Node) URL() string { return "http://" + n.lis.Addr().String() }

// Served returns a channel that yields the HTTP server's error if it stops
// by itself.
func (n *Node) Served() <-chan error { return n.served }

// Close finishes in-flight requests (up to ctx's deadline), stops the
// federation and every goroutine started by Go, and closes the storage
// cleanly.
func (n *Node) Close(ctx context.Context) error {
	err := n.http.Shutdown(ctx)
	if err != nil {
		n.log.Warn("in-flight requests did not finish in time", "err", err)
	}
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	n.stop()
	n.running.Wait()
	if cerr := n.closeStorage(); cerr != nil {
		err = cerr
	}
	return err
}

func (n *Node) closeStorage() error {
	var err error
	if n.Ledger != nil {
		err = n.Ledger.Close()
	}
	if n.store != nil {
		if cerr := n.store.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}

// cosignedLog serves the ledger's tiles with the federation's checkpoint.
type cosignedLog struct {
	*ledger.Ledger
	fed *federation.Federation
}

func (c cosignedLog) Checkpoint() ([]byte, uint64) { return c.fed.Checkpoint() }

// BufferedListener returns l with each accepted connection's reads buffered.
func BufferedListener(l net.Listener) net.Listener { return bufferedListener{l} }

// bufferedListener buffers each connection's reads. net/http's HTTP/2 server
// reads an h2c connection's frames straight from it: a read system call for
// each 9-byte frame header and another for its payload, four or more for each
// unary gRPC call. Through a buffer, one read takes in whatever the client
// has sent. (Over TLS the TLS layer buffers already.)
type bufferedListener struct{ net.Listener }

func (l bufferedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &bufferedConn{Conn: c, r: bufio.NewReaderSize(c, 16<<10)}, nil
}

type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// CloseWrite half-closes a TCP connection, as net/http does before closing
// an HTTP/1 connection it is done with.
func (c *bufferedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
