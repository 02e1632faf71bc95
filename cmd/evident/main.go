// Command evident is the command-line client of Evident, the federated
// transparency log of software-supply-chain evidence: release managers sign
// and submit evidence with it, manufacturers query, verify and bundle it,
// auditors check that logs stay consistent. Run "evident help" for the
// commands, the configuration file and the exit codes.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first interrupt, commands wind down (submit finishes
		// what is in flight and prints a summary); restoring the default
		// lets a second interrupt stop the process at once.
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
