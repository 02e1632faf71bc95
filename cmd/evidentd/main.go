// Command evidentd runs an Evident node: a signed, append-only log of
// software-supply-chain evidence, served over Connect, gRPC and gRPC-Web on
// one listener, with the C2SP tlog-tiles read API beside it.
//
//	evidentd init [-dir DIR] [-origin NAME]   create keys and a commented config
//	evidentd [run] [-config FILE]             run the node (initialises DIR on first start)
//	evidentd verify [-config FILE]            check the whole ledger file
//
// With no arguments it runs a node on loopback with its data in
// ./evident-data, creating keys and a configuration there on first start.
//
// The configuration file's keys, their defaults and units are documented on
// the [Config] type (go doc -cmd github.com/evident-dev/evident/cmd/evidentd
// Config); the file evidentd init writes carries the same text as comments.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/evident-dev/evident/ledger"
	"github.com/evident-dev/evident/ledger/evidentledger"
	"github.com/evident-dev/evident/server"
	"github.com/evident-dev/evident/server/node"
	"golang.org/x/mod/sumdb/note"
)

const (
	defaultDir    = "evident-data"
	defaultListen = "127.0.0.1:7420"
	defaultOrigin = "localhost/evident"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 && (args[0] == "init" || args[0] == "run" || args[0] == "verify") {
		cmd, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("evidentd "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", defaultDir, "data directory (init; and run without -config)")
	cfgPath := fs.String("config", "", "configuration file (default DIR/evidentd.yaml)")
	origin := fs.String("origin", defaultOrigin, "log origin for a new node (init)")
	listen := fs.String("listen", "", "listen address, overriding the config (run)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "evidentd: -log-level: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if *cfgPath == "" {
		*cfgPath = filepath.Join(*dir, "evidentd.yaml")
	}

	switch cmd {
	case "init":
		p, err := initDir(*dir, *origin, defaultListen, server.DefaultMaxEnvelopeSize)
		if err != nil {
			fmt.Fprintf(stderr, "evidentd init: %v\n", err)
			return 1
		}
		cfg, err := loadConfig(p)
		if err != nil {
			fmt.Fprintf(stderr, "evidentd init: %v\n", err)
			return 1
		}
		vkey, err := cfg.verifierKey()
		if err != nil {
			fmt.Fprintf(stderr, "evidentd init: %v\n", err)
			return 1
		}
		cs, err := cfg.cosigner()
		if err != nil {
			fmt.Fprintf(stderr, "evidentd init: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "created %s (note key node.key, witness key witness.key, development submitter key submitter.key)\nlog public key: %s\nwitness public key: %s\nstart the node with: evidentd -config %s\n", p, vkey, cs.Verifier().VerifierKey(), p)
		return 0
	case "verify":
		return verifyCmd(*cfgPath, stdout, stderr)
	}

	if _, err := os.Stat(*cfgPath); errors.Is(err, os.ErrNotExist) && *cfgPath == filepath.Join(*dir, "evidentd.yaml") {
		if _, err := initDir(*dir, *origin, defaultListen, server.DefaultMaxEnvelopeSize); err != nil {
			fmt.Fprintf(stderr, "evidentd: first start: %v\n", err)
			return 1
		}
		log.Info("first start: created keys and a configuration", "config", *cfgPath)
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "evidentd: %v\n", err)
		return 1
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, cfg, *cfgPath, log, stdout); err != nil {
		log.Error("node stopped", "err", err)
		return 1
	}
	return 0
}

// nodeConfig turns the configuration file into a node.Config.
func nodeConfig(cfg *Config, log *slog.Logger) (node.Config, error) {
	signer, err := cfg.signer()
	if err != nil {
		return node.Config{}, err
	}
	vkey, err := cfg.verifierKey()
	if err != nil {
		return node.Config{}, err
	}
	lk, err := note.NewVerifier(vkey)
	if err != nil {
		return node.Config{}, err
	}
	cs, err := cfg.cosigner()
	if err != nil {
		return node.Config{}, err
	}
	trust, err := cfg.trust()
	if err != nil {
		return node.Config{}, err
	}
	peers, err := cfg.peers()
	if err != nil {
		return node.Config{}, err
	}
	interval, err := cfg.gossipInterval()
	if err != nil {
		return node.Config{}, err
	}
	return node.Config{
		Data:            cfg.path(cfg.Data),
		Listen:          cfg.Listen,
		TLSCert:         cfg.path(cfg.TLSCert),
		TLSKey:          cfg.path(cfg.TLSKey),
		Signer:          signer,
		LogKey:          lk,
		LogVerifierKey:  vkey,
		Cosigner:        cs,
		Trust:           trust,
		MaxEnvelopeSize: cfg.MaxEnvelopeSize,
		Peers:           peers,
		GossipInterval:  interval,
		Logger:          log,
	}, nil
}

func serve(ctx context.Context, cfg *Config, cfgPath string, log *slog.Logger, stdout io.Writer) error {
	nc, err := nodeConfig(cfg, log)
	if err != nil {
		return err
	}
	n, err := node.Start(nc)
	if err != nil {
		return err
	}

	reloadOnHangup(n, cfgPath, log)

	_, size := n.Ledger.Checkpoint()
	scheme := "http"
	if nc.TLSCert != "" {
		scheme = "https"
	}
	vkey, err := cfg.verifierKey()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "evidentd: serving log %q (%d entries) at %s://%s\nevidentd: log_key: %s\nevidentd: witness_key: %s\n",
		n.Ledger.Origin(), size, scheme, n.Addr(), vkey, nc.Cosigner.Verifier().VerifierKey())
	log.Info("serving", "origin", n.Ledger.Origin(), "addr", n.Addr().String(), "tree_size", size, "peers", len(nc.Peers))

	var serveErr error
	select {
	case serveErr = <-n.Served():
	case <-ctx.Done():
		log.Info("shutting down: finishing in-flight requests")
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Close(sctx); err != nil {
		log.Error("couldn't shut down cleanly", "err", err)
	}
	return serveErr
}

// reloadOnHangup reloads the trusted submitters and the peers from cfgPath,
// without a restart, each time the process gets SIGHUP while n runs. The
// goroutine that waits for the signal is n's: it stops when n is closed, and
// SIGHUP has its default effect again.
func reloadOnHangup(n *node.Node, cfgPath string, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	n.Go(func(ctx context.Context) {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
			}
			submitters, peers, err := reload(n, cfgPath)
			if err != nil {
				log.Error("reload failed; keeping the running configuration", "err", err)
				continue
			}
			log.Info("reloaded configuration", "submitters", submitters, "peers", peers)
		}
	})
}

// reload reads cfgPath and gives n its submitters and peers, or changes
// nothing if either is wrong. It returns how many of each it gave.
func reload(n *node.Node, cfgPath string) (submitters, peers int, err error) {
	c, err := loadConfig(cfgPath)
	if err != nil {
		return 0, 0, err
	}
	t, err := c.trust()
	if err != nil {
		return 0, 0, err
	}
	ps, err := c.peers()
	if err != nil {
		return 0, 0, err
	}
	// The peers first: SetPeers may refuse them, SetTrust can't fail.
	if err := n.Federation.SetPeers(ps); err != nil {
		return 0, 0, err
	}
	n.Server.SetTrust(t)
	return len(c.Submitters), len(ps), nil
}

func verifyCmd(cfgPath string, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "evidentd verify: %v\n", err)
		return 1
	}
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return fail(err)
	}
	nc, err := nodeConfig(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return fail(err)
	}
	ctx := context.Background()
	l, err := ledger.Open(ctx, filepath.Join(nc.Data, "ledger.db"), evidentledger.Options(ledger.Options{Signer: nc.Signer}))
	if err != nil {
		return fail(err)
	}
	defer l.Close()
	start := time.Now()
	if err := l.Verify(ctx, nc.LogKey); err != nil {
		return fail(err)
	}
	_, size := l.Checkpoint()
	fmt.Fprintf(stdout, "ledger OK: %d entries, every tile, index and checkpoint checked in %v\n", size, time.Since(start).Round(time.Millisecond))
	return 0
}
