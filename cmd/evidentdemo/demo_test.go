package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

// TestDemo runs the whole demo federation and checks every answer verified
// with a 2-of-3 witness quorum.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), t.TempDir(), 0, false, slog.New(slog.DiscardHandler), &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	s := out.String()
	if strings.Contains(s, "FAILED") {
		t.Fatalf("an answer failed verification:\n%s", s)
	}
	for _, want := range []string{
		"log4j-core@2.24.1  sbom",
		"jetty-server@12.0.15      sbom",
		"requests@2.32.3                              vex",
		"security-policy (package)",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if n := strings.Count(s, "  OK"); n != 4 {
		t.Errorf("%d verified rows, want 4:\n%s", n, s)
	}
}
