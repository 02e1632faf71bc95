package detect

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/evident-dev/evident/evidence"
)

func TestTestdata(t *testing.T) {
	tests := []struct {
		file          string
		format        string
		predicateType string
		mediaType     string
		title         string
	}{
		{"sbom.spdx", "SPDX 2.3 tag-value", evidence.PredicateSPDX23, "text/spdx", "example-1.0.0"},
		{"bom.cdx.xml", "CycloneDX 1.5 XML SBOM", evidence.PredicateCycloneDX, "application/vnd.cyclonedx+xml", "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79"},
		{"vex.cdx.xml", "CycloneDX 1.6 XML VDR/VEX", evidence.PredicateCycloneDX, "application/vnd.cyclonedx+xml", ""},
		{"example.openvex.json", "OpenVEX 0.2.0", evidence.PredicateOpenVEX, "application/ld+json", "https://example.com/vex/example-1.0.0"},
		{"example-vex.csaf.json", "CSAF 2.0 VEX", evidence.PredicateCSAF, "application/json", "EXAMPLE-VEX-2026-0001"},
		{"security.txt", "security.txt (RFC 9116)", evidence.DocumentTypeSecurityTxt, "text/plain", ""},
		{"SECURITY.md", "security policy (Markdown)", evidence.DocumentTypeSecurityPolicyText, "text/markdown", "Security Policy"},
		{"cvd-policy.rst", "coordinated vulnerability disclosure policy (reStructuredText)", evidence.DocumentTypeCVDPolicyText, "text/x-rst", "Coordinated Vulnerability Disclosure"},
		{"security-insights.yml", "OpenSSF Security Insights 2.0 YAML", evidence.PredicateSecurityInsights, "application/yaml", "Example"},
		// Real documents; see testdata/SOURCES.md.
		{"apache-commons-lang/SECURITY.md", "security policy pointer (Markdown)", evidence.DocumentTypeSecurityPolicyText, "text/markdown", ""},
		{"sigstore-cosign/SECURITY.md", "security policy pointer (Markdown)", evidence.DocumentTypeSecurityPolicyText, "text/markdown", "Security"},
		{"pypa-advisory-database/PYSEC-2023-74.yaml", "OSV YAML", evidence.PredicateVulnerabilityRecord, "application/yaml", "PYSEC-2023-74"},
		{"pypa-advisory-database/PYSEC-2018-28.yaml", "OSV YAML", evidence.PredicateVulnerabilityRecord, "application/yaml", "PYSEC-2018-28"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			r, err := Detect(filepath.Join("some", "dir", tt.file), b)
			if err != nil {
				t.Fatalf("Detect: %v", err)
			}
			got := [4]string{r.Format, r.PredicateType, r.MediaType, r.Title}
			want := [4]string{tt.format, tt.predicateType, tt.mediaType, tt.title}
			if got != want {
				t.Errorf("Detect = %q; want %q", got, want)
			}
			checkResult(t, filepath.Join("some", "dir", tt.file), b, r)
		})
	}
}

// TestDocumentIsExact checks that a document attestation made from a
// result carries the document byte for byte: byte order mark, white space,
// line endings, "&" and "<" as written; and only the file's base name.
func TestDocumentIsExact(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "example.openvex.json"))
	if err != nil {
		t.Fatal(err)
	}
	b = append([]byte("\xef\xbb\xbf \r\n"), bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))...)
	b = append(b, " \t\n"...)
	r, err := Detect(`C:\docs\vex.json`, b)
	if err != nil {
		t.Fatal(err)
	}
	d := r.Document(`C:\docs\vex.json`, b)
	if !bytes.Equal(d.Content, b) || d.FileName != "vex.json" {
		t.Errorf("document is %q named %q, want the input named vex.json", d.Content, d.FileName)
	}
	p, err := d.Predicate()
	if err != nil {
		t.Fatal(err)
	}
	back, err := evidence.ParseDocument(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Content, b) {
		t.Errorf("the predicate carries %q, want the input", back.Content)
	}
	for _, tt := range []struct{ name, want string }{{"/home/me/sbom.spdx", "sbom.spdx"}, {"-", ""}, {"", ""}, {"dir/\xff.md", "_.md"}, {"\ufffd.md", "_.md"}} {
		if got := r.Document(tt.name, b).FileName; got != tt.want {
			t.Errorf("Document(%q).FileName = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestYAMLConversion checks the JSON a Security Insights file is read as:
// keys in order, aliases expanded, scalars typed as YAML 1.2 resolves them.
func TestYAMLConversion(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "security-insights.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Detect("security-insights.yml", b); err != nil {
		t.Fatal(err)
	}
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		t.Fatal(err)
	}
	got, err := yamlToJSON(&n, len(b))
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"header":{"schema-version":"2.0.0","last-updated":"2026-01-01","last-reviewed":"2026-01-01","url":"https://github.com/example/example"},` +
		`"project":{"name":"Example","administrators":[{"name":"Jane Doe","primary":true}],"vulnerability-reporting":{"reports-accepted":true,"bug-bounty-available":false,"contact":{"email":"security@example.com"}}},` +
		`"repository":{"url":"https://github.com/example/example","status":"active","accepts-change-request":true,"accepts-automated-change-request":false,"core-team":[{"name":"Jane Doe","primary":true}],` +
		`"release":{"automated-pipeline":"yes","attestations-count":3,"ratio":0.5}}}`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("converted (-want +got):\n%s", diff)
	}
}

func TestYAMLScalars(t *testing.T) {
	tests := []struct{ yaml, json string }{
		{"a: 0x1F", `{"a":31}`},
		{"a: 0o17", `{"a":15}`},
		{"a: 1_000", `{"a":1000}`},
		{"a: -12", `{"a":-12}`},
		{"a: 99999999999999999999", `{"a":99999999999999999999}`}, // JSON numbers have no range
		{"a: 1.5e3", `{"a":1.5e3}`},
		{"a: .5", `{"a":0.5}`},
		{"a: .inf", `{"a":".inf"}`},
		{"a: .nan", `{"a":".nan"}`},
		{"a: ~", `{"a":null}`},
		{"a:", `{"a":null}`},
		{"a: True", `{"a":true}`},
		{"a: '1'", `{"a":"1"}`},
		{"a: 2001-12-14t21:59:43.10-05:00", `{"a":"2001-12-14t21:59:43.10-05:00"}`},
		{"a: !!binary aGk=", `{"a":"aGk="}`},
		{"a: <b>&", `{"a":"<b>&"}`},
		{"1: x", `{"1":"x"}`},
		{"b: &m {x: 1, y: 2}\nc:\n  <<: *m\n  y: 3", `{"b":{"x":1,"y":2},"c":{"x":1,"y":3}}`},
	}
	for _, tt := range tests {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(tt.yaml), &n); err != nil {
			t.Errorf("%q: %v", tt.yaml, err)
			continue
		}
		got, err := yamlToJSON(&n, len(tt.yaml))
		if err != nil {
			t.Errorf("%q: %v", tt.yaml, err)
			continue
		}
		if string(got) != tt.json {
			t.Errorf("%q converts to %s, want %s", tt.yaml, got, tt.json)
		}
	}
}

func TestYAMLRefused(t *testing.T) {
	tests := map[string]string{
		"duplicate key": "a: 1\na: 2",
		"complex key":   "? [a, b]\n: 1",
		// Each level doubles the work: 2^40 without a limit.
		"merge bomb": "a0: &a0 {x: 1}\n" + func() string {
			var b strings.Builder
			for i := 1; i <= 40; i++ {
				b.WriteString("a" + itoa(i) + ": &a" + itoa(i) + " {<<: [*a" + itoa(i-1) + ", *a" + itoa(i-1) + "]}\n")
			}
			return b.String()
		}(),
		"alias bomb": "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + func() string {
			var b strings.Builder
			for i := 1; i <= 10; i++ {
				p := "*" + string(rune('a'+i-1))
				b.WriteString(string(rune('a'+i)) + ": &" + string(rune('a'+i)) + " [" + strings.Repeat(p+", ", 9) + p + "]\n")
			}
			return b.String()
		}(),
	}
	for name, y := range tests {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(y), &n); err != nil {
			continue // refused by the parser: fine too
		}
		if got, err := yamlToJSON(&n, len(y)); err == nil {
			t.Errorf("%s: converted to %.100s..., want an error", name, got)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestDetectDocuments(t *testing.T) {
	tests := []struct {
		name, doc     string
		format        string
		predicateType string
	}{
		{"spdx.json", `{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT"}`, "SPDX 2.3 JSON", evidence.PredicateSPDX23},
		{"spdx.json", `{"spdxVersion":"SPDX-2.2","SPDXID":"SPDXRef-DOCUMENT"}`, "SPDX 2.2 JSON", evidence.PredicateSPDX},
		{"spdx.yaml", "spdxVersion: SPDX-2.3\nSPDXID: SPDXRef-DOCUMENT\n", "SPDX 2.3 YAML", evidence.PredicateSPDX23},
		{"si.yml", "header:\n  schema-version: 2.0\nproject:\n  name: x\n", "OpenSSF Security Insights 2.0 YAML", evidence.PredicateSecurityInsights},
		{"si.json", `{"header":{"schema-version":"2.1.0"},"repository":{}}`, "OpenSSF Security Insights 2.1 JSON", evidence.PredicateSecurityInsights},
		{"x.json", `{"@context":"https://spdx.org/rdf/3.0.1/spdx-context.jsonld","@graph":[]}`, "SPDX 3.0.1 JSON-LD", evidence.PredicateSPDX3},
		{"x.json", `{"@context":["https://spdx.org/rdf/3.0.1/spdx-context.jsonld"],"@graph":[]}`, "SPDX 3.0.1 JSON-LD", evidence.PredicateSPDX3},
		{"bom.json", `{"bomFormat":"CycloneDX","specVersion":"1.5","components":[]}`, "CycloneDX 1.5 JSON SBOM", evidence.PredicateCycloneDX},
		{"bom.json", `{"bomFormat":"CycloneDX","specVersion":"1.6","vulnerabilities":[{"id":"CVE-2024-0001"}]}`, "CycloneDX 1.6 JSON VDR/VEX", evidence.PredicateCycloneDX},
		{"bom.json", `{"bomFormat":"CycloneDX","specVersion":"1.6","vulnerabilities":[]}`, "CycloneDX 1.6 JSON SBOM", evidence.PredicateCycloneDX},
		{"vex.json", `{"@context":"https://openvex.dev/ns","statements":[]}`, "OpenVEX (unversioned context)", "https://openvex.dev/ns"},
		{"csaf.json", `{"document":{"csaf_version":"2.0","category":"csaf_security_advisory"}}`, "CSAF 2.0 security advisory", evidence.PredicateCSAF},
		{"csaf.json", `{"document":{"csaf_version":"2.1","category":"my_own"}}`, "CSAF 2.1 document", "https://docs.oasis-open.org/csaf/csaf/v2.1"},
		{"prov.json", `{"buildDefinition":{"buildType":"x"},"runDetails":{"builder":{"id":"y"}}}`, "SLSA provenance v1", evidence.PredicateSLSAProvenance},
		{"prov.json", `{"builder":{"id":"y"},"buildType":"x","invocation":{}}`, "SLSA provenance v0.2", evidence.PredicateSLSAProvenance02},
		{"sc.json", `{"date":"2026-01-01","repo":{"name":"github.com/a/b"},"scorecard":{"version":"v5.0.0"},"score":7,"checks":[]}`, "OpenSSF Scorecard result", evidence.PredicateScorecard},
		{"cve.json", `{"dataType":"CVE_RECORD","dataVersion":"5.1","cveMetadata":{},"containers":{}}`, "CVE JSON 5.1 record", evidence.PredicateVulnerabilityRecord},
		{"cve4.json", `{"data_type":"CVE","data_version":"4.0","CVE_data_meta":{"ID":"CVE-2014-0160"}}`, "CVE JSON 4.0 record", evidence.PredicateVulnerabilityRecord},
		{"osv.json", `{"id":"GHSA-xxxx","modified":"2026-01-01T00:00:00Z","affected":[]}`, "OSV record", evidence.PredicateVulnerabilityRecord},
		{"osv.yaml", "id: GHSA-xxxx\nschema_version: 1.6.0\nmodified: 2026-01-01T00:00:00Z\nsummary: a & b\n", "OSV 1.6.0 YAML", evidence.PredicateVulnerabilityRecord},
		{"PYSEC-2026-1.yaml", "# comment\nid: PYSEC-2026-1\ndetails: x\nmodified: '2026-01-01T00:00:00Z'\n", "OSV YAML", evidence.PredicateVulnerabilityRecord},
		// Objects Detect does not read are not checked for duplicates.
		{"bom.json", `{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"name":"a","name":"b"}]}`, "CycloneDX 1.5 JSON SBOM", evidence.PredicateCycloneDX},
		{"eol.json", `{"$schema":"x","v20":{"start":"2023-04-18","lts":"2023-10-24","end":"2026-04-30"},"v22":{"start":"2024-04-24","end":"2027-04-30"}}`, "support-period data (JSON)", evidence.DocumentTypeSupportTable},
		{"eol.json", `{"schema_version":"1.0.0","result":{"name":"x","releases":[{"name":"1.0","eolFrom":"2027-01-01","isEol":false}]}}`, "support-period data (JSON)", evidence.DocumentTypeSupportTable},
		{"eol.json", `[{"cycle":"1.0","releaseDate":"2025-01-01","eol":"2027-01-01"}]`, "support-period data (JSON array)", evidence.DocumentTypeSupportTable},
		{"eox.json", `{"$schema":"https://docs.oasis-open.org/openeox/v1.0/schema/core.json","end_of_life":"tba","end_of_security_support":"tba","last_updated":"2025-11-19T16:00:00Z"}`, "OpenEoX Core (JSON)", "https://docs.oasis-open.org/openeox/v1.0/schema/core.json"},
		{"cle.json", `{"$schema":"https://TODO/cle.v1.0.0.json","events":[{"type":"endOfSupport","effective":"2026-01-01T00:00:00Z","versions":[{"version":"1.0.0"}],"published":"2025-01-01T00:00:00Z","modified":"2025-01-01T00:00:00Z"}]}`, "Common Lifecycle Enumeration (JSON)", evidence.DocumentTypeCLE},
		{"sbom.rdf", `<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:spdx="http://spdx.org/rdf/terms#"><spdx:SpdxDocument rdf:about="x"><spdx:specVersion>SPDX-2.3</spdx:specVersion></spdx:SpdxDocument></rdf:RDF>`, "SPDX 2.3 RDF/XML", evidence.PredicateSPDX23},
		{"security.txt", "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nContact: mailto:a@example.com\n- Expires: 2027-01-01T00:00:00Z\n-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n", "security.txt (RFC 9116, OpenPGP clear-signed)", evidence.DocumentTypeSecurityTxt},
		{"SECURITY.md", "To report a security issue, please use https://example.com/vulnz. We coordinate disclosure on GitHub.\n", "security policy (Markdown)", evidence.DocumentTypeSecurityPolicyText},
		{"policy", "<!-- comment -->\nVulnerability Disclosure Policy\n===\n\nReport vulnerabilities to security@example.com.\n", "coordinated vulnerability disclosure policy (Markdown)", evidence.DocumentTypeCVDPolicyText},
		{"policy.txt", "Security policy\n\nReport vulnerabilities to security@example.com.\n", "security policy (plain text)", evidence.DocumentTypeSecurityPolicyText},
		{"p.adoc", "= Example CVD Policy\n\nReport vulnerabilities to security@example.com.\n", "coordinated vulnerability disclosure policy (AsciiDoc)", evidence.DocumentTypeCVDPolicyText},
		{"", "---\ntitle: Reporting security issues\n---\n\nReport vulnerabilities to security@example.com.\n", "security policy (plain text)", evidence.DocumentTypeSecurityPolicyText},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			r, err := Detect(tt.name, []byte(tt.doc))
			if err != nil {
				t.Fatalf("Detect: %v", err)
			}
			if r.Format != tt.format || r.PredicateType != tt.predicateType {
				t.Errorf("Detect = %q, %s; want %q, %s", r.Format, r.PredicateType, tt.format, tt.predicateType)
			}
			checkResult(t, tt.name, []byte(tt.doc), r)
		})
	}
}

func TestDetectRefuses(t *testing.T) {
	tests := []struct {
		what, doc string
		want      error
		says      string // in the error message
	}{
		{"empty file", "", ErrUnrecognized, "is empty"},
		{"white space", " \n\t\r\n", ErrUnrecognized, "is empty"},
		{"random JSON object", `{"hello":"world","n":[1,2,3]}`, ErrUnrecognized, "no known kind"},
		{"JSON array", `[1,2,3]`, ErrUnrecognized, "JSON array"},
		{"JSON string", `"spdxVersion"`, ErrUnrecognized, "no known kind"},
		{"broken JSON", `{"spdxVersion":"SPDX-2.3",`, ErrUnrecognized, "not a valid JSON object"},
		{"duplicate member", `{"bomFormat":"CycloneDX","bomFormat":"x"}`, ErrUnrecognized, "twice"},
		{"duplicate member by escape", `{"bomFormat":"CycloneDX","\u0062omFormat":"x"}`, ErrUnrecognized, `member "bomFormat" appears twice`},
		{"duplicate member in an object read", `{"document":{"csaf_version":"2.0","csaf_version":"2.1"}}`, ErrUnrecognized, "no known kind"},
		{"duplicate member in a series", `{"v20":{"end":"2026-04-30","end":"2027-04-30"}}`, ErrUnrecognized, "no known kind"},
		{"binary", "\x7fELF\x02\x01\x01\x00\x00\x00", ErrUnrecognized, "binary"},
		{"invalid UTF-8", "Contact: mailto:a@example.com\n\xff\xfe", ErrUnrecognized, "not UTF-8"},
		{"prose", "Hello, world.\nThis is a README.\n", ErrUnrecognized, "no known kind"},
		{"README of a scanner", "# Scanner\n\n## Vulnerability scanning\n\nIt finds vulnerabilities and writes a report.\n", ErrUnrecognized, "no known kind"},
		{"unknown XML", `<?xml version="1.0"?><project><name>x</name></project>`, ErrUnrecognized, "no known kind"},
		{"broken CycloneDX XML", `<bom xmlns="http://cyclonedx.org/schema/bom/1.5"><components></bom>`, ErrUnrecognized, "not well-formed"},
		{"SPDX 1", `{"spdxVersion":"SPDX-1.2"}`, ErrUnrecognized, "SPDX 2.x"},
		{"CSAF 1", `{"document":{"csaf_version":"1.0"}}`, ErrUnrecognized, "CSAF 2.0 and 2.1"},
		{"YAML with a duplicate key", "header:\n  schema-version: 2.0.0\nproject: {}\nproject: {}\n", ErrUnrecognized, "key \"project\" twice"},
		{"YAML stream", "spdxVersion: SPDX-2.3\nSPDXID: x\n---\nspdxVersion: SPDX-2.2\n", ErrUnrecognized, "several documents"},
		{"in-toto statement", `{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"x","predicate":{}}`, ErrAttestation, "in-toto statement"},
		{"DSSE envelope", `{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}`, ErrAttestation, "DSSE envelope"},
		{"Sigstore bundle", `{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{},"dsseEnvelope":{}}`, ErrAttestation, "Sigstore bundle"},
		{"Sigstore message signature", `{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{},"messageSignature":{}}`, ErrUnrecognized, "signs an artifact"},
		{"PEP 740", `{"version":1,"verification_material":{},"envelope":{"statement":"e30=","signature":"AA=="}}`, ErrAttestation, "PEP 740"},
		{"CSAF with trailing garbage", "{\"document\":{\"csaf_version\":\"2.0\",\"category\":\"csaf_vex\"}}\ngarbage\n", ErrUnrecognized, "data after the JSON object"},
		{"CSAF with trailing data on its line", `{"document":{"csaf_version":"2.0","category":"csaf_vex"}} x`, ErrUnrecognized, "data after the JSON object"},
		{"two JSON objects", "{\"document\":{\"csaf_version\":\"2.0\",\"category\":\"csaf_vex\"}}\n{}\n", ErrUnrecognized, "data after the JSON object"},
		{"CycloneDX XML with trailing text", `<bom xmlns="http://cyclonedx.org/schema/bom/1.5"></bom>trailing`, ErrUnrecognized, "text after the root element"},
		{"OSV YAML stream", "id: PYSEC-1\nmodified: x\ndetails: y\n---\nid: PYSEC-2\n", ErrUnrecognized, "several documents"},
		{"JSON Lines", `{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}` + "\n" + `{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}`, ErrAttestation, "JSON Lines"},
	}
	for _, tt := range tests {
		t.Run(tt.what, func(t *testing.T) {
			r, err := Detect("doc", []byte(tt.doc))
			if err == nil {
				t.Fatalf("Detect = %q (%s), want an error", r.Format, r.PredicateType)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("error %v does not wrap %v", err, tt.want)
			}
			if errors.Is(err, ErrAttestation) && errors.Is(err, ErrUnrecognized) {
				t.Errorf("error %v wraps both sentinels", err)
			}
			if !strings.Contains(err.Error(), tt.says) || !strings.HasPrefix(err.Error(), "doc ") {
				t.Errorf("error %q does not start with the file name and say %q", err, tt.says)
			}
		})
	}
}

// TestPointerPolicies checks which short documents that link to a policy
// kept elsewhere are pointer policies, and that READMEs are not.
func TestPointerPolicies(t *testing.T) {
	long := strings.Repeat("Security matters to us. ", 30)
	tests := []struct {
		name, doc string
		want      bool
	}{
		{"SECURITY.md", "# Security Policy\n\nPlease see the sigstore security policy at https://github.com/sigstore/.github/blob/main/SECURITY.md\n", true},
		{"", "# Security Policy\n\nPlease see the sigstore security policy at https://github.com/sigstore/.github/blob/main/SECURITY.md\n", true},
		{"SECURITY.md", "See <https://example.org/security> for how we handle security.\n", true},
		{"SECURITY.rst", "Security\n========\n\nOur policy: https://example.org/policy\n", true},
		{".github/SECURITY.md", "Email mailto:security@example.org about vulnerabilities.\n", true},
		// Not named or titled like a policy.
		{"README.md", "# Example\n\nSecurity: see https://example.com/security.\n", false},
		{"", "See https://example.org/security for how we handle security.\n", false},
		// No link, or no word of security.
		{"SECURITY.md", "# Security\n\nAsk the maintainers.\n", false},
		{"SECURITY.md", "# Notes\n\nSee https://example.org/notes.\n", false},
		// Too long, or too many headings, to be a pointer.
		{"SECURITY.md", "# Security\n\n" + long + "https://example.org\n", false},
		{"SECURITY.md", "# Security\n\n## A\n\n## B\n\nhttps://example.org/security\n", false},
	}
	for _, tt := range tests {
		r, err := Detect(tt.name, []byte(tt.doc))
		switch {
		case tt.want && err != nil:
			t.Errorf("Detect(%q, %q): %v, want a pointer policy", tt.name, tt.doc, err)
		case tt.want && r.Kind != evidence.KindSecurityPolicy:
			t.Errorf("Detect(%q, %q) = %q, want a security policy", tt.name, tt.doc, r.Format)
		case !tt.want && err == nil:
			t.Errorf("Detect(%q, %q) = %q, want it refused", tt.name, tt.doc, r.Format)
		case !tt.want && !errors.Is(err, ErrUnrecognized):
			t.Errorf("Detect(%q, %q): %v, want ErrUnrecognized", tt.name, tt.doc, err)
		}
	}
}

func TestUnrecognizedListsExpected(t *testing.T) {
	_, err := Detect("x.json", []byte(`{}`))
	for _, s := range []string{"SPDX", "CycloneDX", "OpenVEX", "CSAF", "SLSA provenance", "Security Insights", "Scorecard", "security.txt", "policy", "--predicate-type"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %s", err, s)
		}
	}
}

func TestTooLarge(t *testing.T) {
	_, err := Detect("big", make([]byte, MaxSize+1))
	if err == nil || errors.Is(err, ErrUnrecognized) {
		t.Errorf("Detect of %d bytes: error %v, want a size error that is not ErrUnrecognized", MaxSize+1, err)
	}
}
