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
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/evident-dev/evident/ledger"
	"github.com/evident-dev/evident/server"
	"github.com/evident-dev/evident/server/blobstore"
	"github.com/evident-dev/evident/server/tiles"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
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
		fmt.Fprintf(stdout, "created %s (note key node.key, development submitter key submitter.key)\nlog public key: %s\nstart the node with: evidentd -config %s\n", p, vkey, p)
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

// node is an opened ledger and envelope store.
type node struct {
	ledger *ledger.Ledger
	blobs  *blobstore.Store
	signer note.Signer
}

func openNode(cfg *config, log *slog.Logger, reg prometheus.Registerer) (*node, error) {
	signer, err := cfg.signer()
	if err != nil {
		return nil, err
	}
	data := cfg.path(cfg.Data)
	blobs, err := blobstore.Open(filepath.Join(data, "envelopes"))
	if err != nil {
		return nil, err
	}
	l, err := ledger.Open(filepath.Join(data, "ledger.db"), server.LedgerOptions(ledger.Options{
		Signer:  signer,
		Logger:  log.With("part", "ledger"),
		Metrics: reg,
	}, blobs))
	if err != nil {
		return nil, err
	}
	return &node{ledger: l, blobs: blobs, signer: signer}, nil
}

func serve(ctx context.Context, cfg *config, cfgPath string, log *slog.Logger, stdout io.Writer) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	n, err := openNode(cfg, log, reg)
	if err != nil {
		return err
	}
	defer func() {
		if err := n.ledger.Close(); err != nil {
			log.Error("couldn't close the ledger", "err", err)
		}
	}()
	trust, err := cfg.trust()
	if err != nil {
		return err
	}
	srv, err := server.New(server.Options{
		Ledger:          n.ledger,
		Blobs:           n.blobs,
		Trust:           trust,
		MaxEnvelopeSize: cfg.MaxEnvelopeSize,
		Logger:          log.With("part", "server"),
		Registry:        reg,
	})
	if err != nil {
		return err
	}
	srv.Handle("/", tiles.New(n.ledger, tiles.Options{Envelopes: srv.Envelopes()}))

	// SIGHUP reloads the trusted submitters without a restart.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			c, err := loadConfig(cfgPath)
			if err != nil {
				log.Error("reload failed; keeping the running configuration", "err", err)
				continue
			}
			t, err := c.trust()
			if err != nil {
				log.Error("reload failed; keeping the running configuration", "err", err)
				continue
			}
			srv.SetTrust(t)
			log.Info("reloaded configuration", "submitters", len(c.Submitters))
		}
	}()

	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("couldn't listen: %w", err)
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	tls := cfg.TLSCert != ""
	if !tls {
		// gRPC needs HTTP/2; without TLS that is h2c.
		protocols.SetUnencryptedHTTP2(true)
	}
	hs.Protocols = &protocols

	_, size := n.ledger.Checkpoint()
	scheme := "http"
	if tls {
		scheme = "https"
	}
	vkey, err := cfg.verifierKey()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "evidentd: serving log %q (%d entries) at %s://%s\nevidentd: log public key %s\n", n.ledger.Origin(), size, scheme, lis.Addr(), vkey)
	log.Info("serving", "origin", n.ledger.Origin(), "addr", lis.Addr().String(), "tls", tls, "tree_size", size)

	errc := make(chan error, 1)
	go func() {
		if tls {
			errc <- hs.ServeTLS(lis, cfg.path(cfg.TLSCert), cfg.path(cfg.TLSKey))
		} else {
			errc <- hs.Serve(lis)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("in-flight requests did not finish in time", "err", err)
	}
	return nil
}

func verifyCmd(cfgPath string, stdout, stderr io.Writer) int {
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "evidentd verify: %v\n", err)
		return 1
	}
	n, err := openNode(cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		fmt.Fprintf(stderr, "evidentd verify: %v\n", err)
		return 1
	}
	defer n.ledger.Close()
	vkey, err := cfg.verifierKey()
	if err != nil {
		fmt.Fprintf(stderr, "evidentd verify: %v\n", err)
		return 1
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		fmt.Fprintf(stderr, "evidentd verify: %v\n", err)
		return 1
	}
	start := time.Now()
	if err := n.ledger.Verify(context.Background(), v); err != nil {
		fmt.Fprintf(stderr, "evidentd verify: %v\n", err)
		return 1
	}
	_, size := n.ledger.Checkpoint()
	fmt.Fprintf(stdout, "ledger OK: %d entries, every tile, index and checkpoint checked in %v\n", size, time.Since(start).Round(time.Millisecond))
	return 0
}
