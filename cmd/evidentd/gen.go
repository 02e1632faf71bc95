//go:build ignore

// gen writes configdoc.go: the comments evidentd init writes into a new
// configuration file, made from the doc comments of Config in config.go.
// Run it with go generate.
package main

import (
	"fmt"
	"os"

	"github.com/evident-dev/evident/cmd/evidentd/internal/configdoc"
)

func main() {
	if err := gen(); err != nil {
		fmt.Fprintf(os.Stderr, "gen: %v\n", err)
		os.Exit(1)
	}
}

func gen() error {
	src, err := os.ReadFile("config.go")
	if err != nil {
		return err
	}
	out, err := configdoc.Generate(src)
	if err != nil {
		return err
	}
	return os.WriteFile("configdoc.go", out, 0o644)
}
