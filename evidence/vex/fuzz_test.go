package vex

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/evident-dev/evident/evidence/support"
)

// FuzzParse feeds the VEX and support-period readers any bytes, as logged
// documents are the submitters' bytes: they may refuse, never panic, and
// what they return resolves. Seeds: the real documents and a few of each
// format.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"openvex", "csaf", "cyclonedx-vex", "support-period"} {
		files, _ := filepath.Glob(filepath.Join("..", "..", "..", "shared", "testdata", "evidence", dir, "*"))
		for _, name := range files {
			if b, err := os.ReadFile(name); err == nil && len(b) < 64<<10 {
				f.Add(b, uint8(len(dir)))
			}
		}
	}
	f.Add([]byte(`{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"vulnerability":{"name":"CVE-1"},"products":[{"@id":"pkg:pypi/a@1"}],"status":"fixed"}]}`), uint8(0))
	f.Add([]byte(`{"bomFormat":"CycloneDX","components":[{"bom-ref":"a","purl":"pkg:pypi/a"}],"vulnerabilities":[{"id":"CVE-1","affects":[{"ref":"a","versions":[{"version":"1","status":"affected"}]}]}]}`), uint8(1))
	f.Add([]byte(`{"product_tree":{"product_groups":[{"group_id":"G","product_ids":["P"]}]},"vulnerabilities":[{"flags":[{"label":"x","group_ids":["G"]}]}]}`), uint8(2))
	f.Add([]byte(`{"events":[{"type":"endOfSupport","effective":"2026-01-01T00:00:00Z","versions":["1"]}]}`), uint8(3))
	types := []string{"https://openvex.dev/ns/v0.2.0", "https://cyclonedx.org/bom/v1.6", "https://docs.oasis-open.org/csaf/csaf/v2.0", "https://evident.dev/document/cle/v1",
		"https://evident.dev/document/support-table/v1", "https://docs.oasis-open.org/openeox/v1.0/schema/core.json", "https://evident.dev/attestation/support-period/v1"}
	f.Fuzz(func(t *testing.T, doc []byte, which uint8) {
		dt := types[int(which)%len(types)]
		mt := "application/json"
		if which&0x80 != 0 {
			mt = "application/xml"
		}
		if sts, err := Parse(doc, dt, mt, "pkg:pypi/a@1", Source{}); err == nil {
			Resolve(sts)
		}
		if sts, err := support.Parse(doc, dt, "pkg:pypi/a@1", which&1 == 1, support.Source{}); err == nil {
			support.Resolve(sts, support.Statement{}.EndOfLife)
		}
	})
}
