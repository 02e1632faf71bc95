// Command evidentdemo runs a local Evident federation: three foundations'
// nodes on loopback, each witnessing the other two. It submits sample
// evidence (an SPDX SBOM, a CycloneDX SBOM, an OpenVEX document and a
// security policy) to each foundation's node, waits until every checkpoint
// is cosigned by the other two, then asks every node about every release and
// verifies each answer: inclusion proof, log signature and a witness quorum
// (c2sp.org/tlog-policy, two of three witnesses).
//
//	go run ./cmd/evidentdemo            # keeps the federation running until Ctrl-C
//	go run ./cmd/evidentdemo -exit      # show the result and stop
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	dir := flag.String("dir", "", "data directory (default: a temporary one, removed at exit)")
	basePort := flag.Int("port", 7421, "first of three consecutive loopback ports (0: any free ports)")
	exit := flag.Bool("exit", false, "stop after showing the result")
	verbose := flag.Bool("v", false, "log the nodes' activity to stderr")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logOut := io.Discard
	if *verbose {
		logOut = os.Stderr
	}
	log := slog.New(slog.NewTextHandler(logOut, nil))
	if *dir == "" {
		d, err := os.MkdirTemp("", "evident-demo")
		if err != nil {
			fmt.Fprintln(os.Stderr, "evidentdemo:", err)
			os.Exit(1)
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	if err := run(ctx, *dir, *basePort, !*exit, log, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "evidentdemo:", err)
		os.Exit(1)
	}
}
