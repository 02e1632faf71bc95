package vex

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	openVEXType   = "https://openvex.dev/ns/v0.2.0"
	csafType      = "https://docs.oasis-open.org/csaf/csaf/v2.0"
	cycloneDXType = "https://cyclonedx.org/bom/v1.6"
)

// sharedDoc reads a real document from ../shared/testdata/evidence, or
// skips the test when the directory is absent (DEVELOPERS.md).
func sharedDoc(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "testdata", "evidence", name))
	if os.IsNotExist(err) {
		t.Skipf("%s is absent", name)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// brief is what the table compares of a resolved vulnerability.
type brief struct {
	Status        Status
	Justification string
	PackageLevel  bool
	Conflict      bool
	Statements    int
}

func briefs(vs []VulnerabilityStatus) map[string]brief {
	out := make(map[string]brief)
	for _, v := range vs {
		out[v.Vulnerability] = brief{v.Status, v.Justification, v.Decided.PackageLevel, v.Conflict, len(v.Statements)}
	}
	return out
}

// TestResolveRealDocuments is the resolution table over real OpenVEX, CSAF
// and CycloneDX documents, each resolved alone for one release it names.
func TestResolveRealDocuments(t *testing.T) {
	one := func(s Status, j string) brief { return brief{Status: s, Justification: j, Statements: 1} }
	for _, c := range []struct {
		file, documentType, mediaType, release string
		want                                   map[string]brief
	}{
		{"openvex/openvex_vexctl__sample-2vulns.openvex.json", openVEXType, "application/json",
			"pkg:oci/nginx@sha256:13d22ec63300e16014d4a42aed735207a8b33c223cff19627dd3042e5a10a3a0",
			map[string]brief{"CVE-2023-27103": one(NotAffected, "component_not_present"), "CVE-2007-5686": one(Fixed, "")}},
		{"openvex/openvex_go-vex__v0.2.0.json", openVEXType, "application/json",
			"pkg:oci/alpine@sha256%3A124c7d2707904eea7431fffe91522a01e5a861a624ee31d03372cc1d138a3126",
			map[string]brief{"CVE-2023-1255": one(Fixed, ""), "CVE-2023-2650": one(Fixed, ""), "CVE-2023-2975": one(Fixed, ""),
				"CVE-2023-3446": one(NotAffected, "vulnerable_code_not_present"), "CVE-2023-3817": one(NotAffected, "vulnerable_code_not_present")}},
		// The early, unversioned OpenVEX context.
		{"openvex/guacsec_guac__open-vex-not-affected.json", "https://openvex.dev/ns", "application/json",
			"pkg:oci/git@sha256:23a264e6e429852221a963e9f17338ba3f5796dc7086e46439a6f4482cf6e0cb",
			map[string]brief{"CVE-2023-12345": one(NotAffected, "inline_mitigations_already_exist")}},
		// Another release of the same product: nothing.
		{"openvex/openvex_vexctl__sample-2vulns.openvex.json", openVEXType, "application/json", "pkg:oci/nginx@sha256:00", map[string]brief{}},
		// Red Hat's CSAF VEX: a product named by a relationship
		// (openssl in BaseOS) is known_affected in -7 and fixed in -8.
		{"csaf/guacsec_guac__rhsa-csaf.json", csafType, "application/json", "pkg:rpm/redhat/openssl@1.1.1k-7.el8_6",
			map[string]brief{"CVE-2023-0286": one(Affected, "")}},
		{"csaf/guacsec_guac__rhsa-csaf.json", csafType, "application/json", "pkg:rpm/redhat/openssl@1.1.1k-8.el8_6?arch=x86_64",
			map[string]brief{"CVE-2023-0286": one(Fixed, "")}},
		// CycloneDX VEX naming the product by a BOM-Link whose bom-ref is a
		// purl; CycloneDX's code_not_reachable is OpenVEX's
		// vulnerable_code_not_in_execute_path.
		{"cyclonedx-vex/CycloneDX_bom-examples__VEX_vex.json", cycloneDXType, "application/json",
			"pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.10.0",
			map[string]brief{"CVE-2020-25649": one(NotAffected, "vulnerable_code_not_in_execute_path")}},
		// The BOM's own component, without a purl: about the release the
		// evidence is about.
		{"cyclonedx-vex/CycloneDX_bom-examples__VEX_CISA-Case-1_vex-not_affected.json", cycloneDXType, "application/json",
			"pkg:generic/abc@4.2", map[string]brief{"CVE-2021-44228": one(NotAffected, "vulnerable_code_not_present")}},
		{"cyclonedx-vex/CycloneDX_bom-examples__VEX_CISA-Case-1_vex-affected.json", cycloneDXType, "application/json",
			"pkg:generic/def@4.2", map[string]brief{"CVE-2021-44228": one(Affected, "")}},
		{"cyclonedx-vex/guacsec_guac__cyclonedx-vex-false-positive.json", cycloneDXType, "application/json",
			"pkg:generic/test-app-2@1.0.0", map[string]brief{"CVE-2024-0002": one(NotAffected, "false_positive")}},
		// Apache Logging's VDR gives version ranges (vers), which are not
		// read: no statement rather than a wrong one.
		{"cyclonedx-vex/apache_logging-site__cyclonedx_vdr.xml", cycloneDXType, "application/vnd.cyclonedx+xml",
			"pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1", map[string]brief{}},
	} {
		t.Run(filepath.Base(c.file)+" "+c.release, func(t *testing.T) {
			doc := sharedDoc(t, c.file)
			sts, err := Parse(doc, c.documentType, c.mediaType, c.release, Source{LogIndex: 7, Signers: []string{"ed25519:aa"}})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, briefs(Resolve(sts))); diff != "" {
				t.Errorf("resolved (-want +got):\n%s", diff)
			}
			for _, st := range sts {
				if st.Source.LogIndex != 7 || st.Source.Format == "" {
					t.Errorf("statement without its source: %+v", st.Source)
				}
			}
		})
	}
	// Trivy's OpenVEX names its Go module without a version: every
	// statement is package-level, and it names the vulnerability by its Go
	// id with CVE aliases.
	t.Run("trivy", func(t *testing.T) {
		doc := sharedDoc(t, "openvex/aquasecurity_vexhub__trivy.openvex.json")
		sts, err := Parse(doc, openVEXType, "application/json", "pkg:golang/github.com/aquasecurity/trivy@v0.51.0", Source{})
		if err != nil {
			t.Fatal(err)
		}
		vs := Resolve(sts)
		if len(vs) != 21 {
			t.Fatalf("%d vulnerabilities, want 21", len(vs))
		}
		for _, v := range vs {
			if v.Status != NotAffected || !v.Decided.PackageLevel {
				t.Errorf("%s: %s, package level %v; want not_affected, package level", v.Vulnerability, v.Status, v.Decided.PackageLevel)
			}
		}
		if got := vs[0]; got.Vulnerability != "GO-2022-0646" || !cmp.Equal(got.Aliases, []string{"CVE-2020-8911", "CVE-2020-8912", "GHSA-7f33-f4f5-xwgw", "GHSA-f5pg-7wfw-84q9"}) {
			t.Errorf("first: %s %v", got.Vulnerability, got.Aliases)
		}
	})
}

// TestResolveAcrossFormats: the rules of RESOLUTION.md on statements
// from documents of all three formats about one release, by several
// signers.
func TestResolveAcrossFormats(t *testing.T) {
	const rel = "pkg:maven/org.example/app@1.2.3"
	day := func(d int) string { return time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC).Format(time.RFC3339) }
	openVEX := func(vuln, status, product, ts string, aliases ...string) []byte {
		a := ""
		for i, x := range aliases {
			if i > 0 {
				a += ","
			}
			a += `"` + x + `"`
		}
		return []byte(`{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://example.com/vex","author":"x","timestamp":"` + ts + `","version":1,` +
			`"statements":[{"vulnerability":{"name":"` + vuln + `","aliases":[` + a + `]},"products":[{"@id":"` + product + `"}],"status":"` + status + `","justification":"vulnerable_code_not_present"}]}`)
	}
	csafDoc := func(vuln, list, ts string) []byte {
		return []byte(`{"document":{"category":"csaf_vex","csaf_version":"2.0","publisher":{"category":"vendor","name":"x","namespace":"https://example.com"},` +
			`"title":"t","tracking":{"current_release_date":"` + ts + `","id":"X-1","initial_release_date":"` + ts + `","revision_history":[{"date":"` + ts + `","number":"1","summary":"s"}],"status":"final","version":"1"}},` +
			`"product_tree":{"branches":[{"category":"product_version","name":"1.2.3","product":{"name":"app 1.2.3","product_id":"P1","product_identification_helper":{"purl":"` + rel + `?type=jar"}}}],` +
			`"product_groups":[{"group_id":"G","product_ids":["P1","P2"]}]},` +
			`"vulnerabilities":[{"cve":"` + vuln + `","product_status":{"` + list + `":["P1"]},"flags":[{"label":"component_not_present","group_ids":["G"]}],` +
			`"threats":[{"category":"impact","details":"not reachable","product_ids":["P1"]}]}]}`)
	}
	cdxDoc := func(vuln, state, ts string) []byte {
		return []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"metadata":{"timestamp":"` + ts + `"},` +
			`"components":[{"type":"library","name":"app","bom-ref":"app","purl":"` + rel + `"}],` +
			`"vulnerabilities":[{"id":"` + vuln + `","analysis":{"state":"` + state + `","justification":"code_not_present"},"affects":[{"ref":"app"}]}]}`)
	}
	parse := func(t *testing.T, doc []byte, docType string, logIndex uint64, signer string) []Statement {
		t.Helper()
		sts, err := Parse(doc, docType, "application/json", rel, Source{LogIndex: logIndex, Signers: []string{signer}})
		if err != nil {
			t.Fatal(err)
		}
		if len(sts) == 0 {
			t.Fatalf("no statement about %s in %s", rel, doc)
		}
		return sts
	}
	type decided struct {
		Vulnerability string
		Status        Status
		Format        string
		LogIndex      uint64
		Conflict      bool
		Beside        []Status // the other statements' statuses, in order
		Aliases       []string
	}
	summarize := func(vs []VulnerabilityStatus) []decided {
		var out []decided
		for _, v := range vs {
			d := decided{Vulnerability: v.Vulnerability, Status: v.Status, Format: v.Decided.Source.Format, LogIndex: v.Decided.Source.LogIndex, Conflict: v.Conflict, Aliases: v.Aliases}
			for _, s := range v.Statements[1:] {
				d.Beside = append(d.Beside, s.Status)
			}
			out = append(out, d)
		}
		return out
	}
	for _, c := range []struct {
		name string
		sts  func(t *testing.T) []Statement
		want []decided
	}{
		{"the newest statement decides; an older one by another signer conflicts beside it",
			func(t *testing.T) []Statement {
				return append(parse(t, openVEX("CVE-2026-0001", "not_affected", rel, day(1)), openVEXType, 1, "A"),
					parse(t, csafDoc("CVE-2026-0001", "known_affected", day(5)), csafType, 2, "B")...)
			},
			[]decided{{Vulnerability: "CVE-2026-0001", Status: Affected, Format: "CSAF", LogIndex: 2, Conflict: true, Beside: []Status{NotAffected}}}},
		{"a signer's newer statement replaces its older one: no conflict",
			func(t *testing.T) []Statement {
				return append(parse(t, cdxDoc("CVE-2026-0001", "in_triage", day(1)), cycloneDXType, 1, "A"),
					parse(t, openVEX("CVE-2026-0001", "fixed", rel, day(2)), openVEXType, 2, "A")...)
			},
			[]decided{{Vulnerability: "CVE-2026-0001", Status: Fixed, Format: "OpenVEX", LogIndex: 2}}},
		{"order of logging does not matter: the statement's own time does",
			func(t *testing.T) []Statement {
				return append(parse(t, openVEX("CVE-2026-0001", "fixed", rel, day(9)), openVEXType, 1, "A"),
					parse(t, cdxDoc("CVE-2026-0001", "exploitable", day(3)), cycloneDXType, 2, "B")...)
			},
			[]decided{{Vulnerability: "CVE-2026-0001", Status: Fixed, Format: "OpenVEX", LogIndex: 1, Conflict: true, Beside: []Status{Affected}}}},
		{"at the same time the later-logged evidence decides",
			func(t *testing.T) []Statement {
				return append(parse(t, openVEX("CVE-2026-0001", "affected", rel, day(4)), openVEXType, 8, "A"),
					parse(t, cdxDoc("CVE-2026-0001", "not_affected", day(4)), cycloneDXType, 9, "B")...)
			},
			[]decided{{Vulnerability: "CVE-2026-0001", Status: NotAffected, Format: "CycloneDX", LogIndex: 9, Conflict: true, Beside: []Status{Affected}}}},
		{"a statement about the release outranks a newer one about its whole package",
			func(t *testing.T) []Statement {
				return append(parse(t, openVEX("CVE-2026-0001", "not_affected", "pkg:maven/org.example/app", day(20)), openVEXType, 5, "A"),
					parse(t, csafDoc("CVE-2026-0001", "known_affected", day(2)), csafType, 4, "B")...)
			},
			[]decided{{Vulnerability: "CVE-2026-0001", Status: Affected, Format: "CSAF", LogIndex: 4, Conflict: true, Beside: []Status{NotAffected}}}},
		{"aliases join ids into one vulnerability, across formats and case",
			func(t *testing.T) []Statement {
				return append(parse(t, openVEX("GHSA-aaaa-bbbb-cccc", "not_affected", rel, day(1), "CVE-2026-0002"), openVEXType, 1, "A"),
					parse(t, cdxDoc("cve-2026-0002", "not_affected", day(2)), cycloneDXType, 2, "B")...)
			},
			[]decided{{Vulnerability: "cve-2026-0002", Status: NotAffected, Format: "CycloneDX", LogIndex: 2, Beside: []Status{NotAffected}, Aliases: []string{"GHSA-aaaa-bbbb-cccc"}}}},
		{"vulnerabilities resolve apart, ordered by id",
			func(t *testing.T) []Statement {
				return append(parse(t, openVEX("CVE-2026-0009", "fixed", rel, day(1)), openVEXType, 1, "A"),
					parse(t, csafDoc("CVE-2026-0003", "under_investigation", day(1)), csafType, 2, "A")...)
			},
			[]decided{{Vulnerability: "CVE-2026-0003", Status: UnderInvestigation, Format: "CSAF", LogIndex: 2}, {Vulnerability: "CVE-2026-0009", Status: Fixed, Format: "OpenVEX", LogIndex: 1}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if diff := cmp.Diff(c.want, summarize(Resolve(c.sts(t)))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	// CSAF details: flags by product group give the justification, threats
	// the impact statement.
	sts := parse(t, csafDoc("CVE-2026-0004", "known_not_affected", day(1)), csafType, 1, "A")
	if got := sts[0]; got.Justification != "component_not_present" || got.ImpactStatement != "not reachable" || got.Status != NotAffected {
		t.Errorf("CSAF statement = %+v", got)
	}
	// Within one document, the later statement of two at the same time
	// wins.
	two := []byte(`{"@context":"https://openvex.dev/ns/v0.2.0","@id":"x","author":"x","timestamp":"` + day(1) + `","version":1,"statements":[` +
		`{"vulnerability":{"name":"CVE-2026-0005"},"products":[{"@id":"` + rel + `"}],"status":"under_investigation"},` +
		`{"vulnerability":{"name":"CVE-2026-0005"},"products":[{"@id":"` + rel + `"}],"status":"fixed"}]}`)
	if vs := Resolve(parse(t, two, openVEXType, 1, "A")); len(vs) != 1 || vs[0].Status != Fixed || vs[0].Conflict {
		t.Errorf("two statements of one document: %+v", vs)
	}
}

// TestParseRefuses: a document of another format, or one that does not
// parse, is an error; a release without a version is refused.
func TestParseRefuses(t *testing.T) {
	if _, err := Parse([]byte(`{}`), "https://spdx.dev/Document/v2.3", "application/json", "pkg:pypi/x@1", Source{}); err != ErrNotVEX {
		t.Errorf("SPDX: %v, want ErrNotVEX", err)
	}
	if _, err := Parse([]byte(`not json`), openVEXType, "application/json", "pkg:pypi/x@1", Source{}); err == nil {
		t.Error("garbage OpenVEX parsed")
	}
	if _, err := Parse([]byte(`{}`), openVEXType, "application/json", "pkg:pypi/x", Source{}); err == nil {
		t.Error("a package accepted as a release")
	}
}
