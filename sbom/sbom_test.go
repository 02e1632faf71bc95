package sbom

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testdata is the shared directory of real documents; tests that read it
// skip when it is absent.
const testdata = "../../shared/testdata/evidence"

func readReal(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdata, name))
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("%s is absent", testdata)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReadReal(t *testing.T) {
	tests := []struct {
		file                      string
		format                    string
		components, purls, hashed int
		// one component to look at: its ref, purl and one of its hashes
		ref, purl, hash string
	}{
		{"cyclonedx/CycloneDX_bom-examples__dropwizard-1.3.15_bom.json", "CycloneDX 1.2 JSON", 168, 168, 167, "", "", ""},
		{"cyclonedx/CycloneDX_bom-examples__laravel-7.12.0_bom.1.4.json", "CycloneDX 1.4 JSON", 63, 63, 0, "", "", ""},
		{"cyclonedx/CycloneDX_bom-examples__laravel-7.12.0_bom.1.4.xml", "CycloneDX 1.4 XML", 63, 63, 0,
			"brick/math-0.9.3.0", "pkg:composer/brick/math@0.9.3", ""},
		{"cyclonedx/CycloneDX_cyclonedx-php-composer__demo_laravel-7.12.0_bom.1.5.json", "CycloneDX 1.5 JSON", 63, 63, 0, "", "", ""},
		{"cyclonedx/CycloneDX_cyclonedx-php-composer__demo_laravel-7.12.0_bom.1.6.xml", "CycloneDX 1.6 XML", 63, 63, 0, "", "", ""},
		{"cyclonedx/CycloneDX_cyclonedx-python__snapshot_pipenv_plain_with-extras_1.5.json", "CycloneDX 1.5 JSON", 26, 25, 0,
			"arrow==1.3.0", "pkg:pypi/arrow@1.3.0", ""},
		{"cyclonedx/guacsec_guac__quarkus-deps-cyclonedx.json", "CycloneDX 1.4 JSON", 95, 95, 94,
			"pkg:maven/io.quarkus/quarkus-resteasy-reactive@2.13.4.Final?type=jar", "pkg:maven/io.quarkus/quarkus-resteasy-reactive@2.13.4.Final?type=jar", "sha1:747022370dab15594b0a6b114f43ba68b8567a3c"},
		{"cyclonedx/in-toto_witness__sbom.cdx.json", "CycloneDX 1.5 JSON", 16, 14, 0, "", "", ""},
		{"spdx/guacsec_guac__oci-kubectl-linux-amd64-spdx-1.json", "SPDX 2.3 JSON", 89, 87, 1, "", "", ""},
		{"spdx/python_cpython__Misc_externals.spdx.json", "SPDX 2.3 JSON", 9, 0, 9,
			"SPDXRef-PACKAGE-openssl", "", "sha256:ebaaba68e727233bda99cbb4164bdfa0894f3a1cab90a2cbcaca9d3cadebe8cd"},
		{"spdx/spdx_spdx-spec__SPDXJSONExample-v2.3.spdx.json", "SPDX 2.3 JSON", 4, 1, 2, "", "", ""},
		{"spdx/spdx_tools-golang__SPDXJSONExample-v2.2.spdx.json", "SPDX 2.2 JSON", 4, 1, 2, "", "", ""},
		{"spdx/spdx_spdx-examples__example6-bin.spdx", "SPDX 2.2 tag-value", 1, 0, 0, "", "", ""},
		{"spdx/elixir-lang_elixir__project.spdx.yml", "SPDX 2.2 YAML", 8, 8, 0,
			"SPDXRef-Package-eex", "pkg:otp/eex", ""},
		{"spdx3/spdx_spdx-examples__example8_examplemaven-0.0.1.spdx3.json", "SPDX 3.0.1 JSON-LD", 6, 0, 0, "", "", ""},
		{"spdx3/spdx_spdx-examples__example12_hello-src.spdx3.json", "SPDX 3.0.1 JSON-LD", 1, 0, 0, "", "", ""},
		{"spdx3/spdx_spdx-examples__ai-example02_sbom.spdx3.json", "SPDX 3.0.1 JSON-LD", 2, 0, 0, "", "", ""},
		{"spdx3/spdx_spdx-spec__jsonld_package_sbom.json", "SPDX 3.0.1 JSON-LD", 1, 0, 0, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			s, err := Read(readReal(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if s.Format != tt.format {
				t.Errorf("Format = %q, want %q", s.Format, tt.format)
			}
			purls, hashed, primary := 0, 0, 0
			for _, c := range s.Components {
				if c.Purl != "" {
					purls++
				}
				if len(c.Hashes) > 0 {
					hashed++
				}
				if c.Primary {
					primary++
				}
			}
			if len(s.Components) != tt.components || purls != tt.purls || hashed != tt.hashed {
				t.Errorf("%d components, %d with purls, %d with hashes; want %d, %d, %d", len(s.Components), purls, hashed, tt.components, tt.purls, tt.hashed)
			}
			if primary > 0 && !s.Components[0].Primary {
				t.Errorf("the primary components do not come first")
			}
			if tt.ref == "" {
				return
			}
			for _, c := range s.Components {
				if c.Ref != tt.ref {
					continue
				}
				if c.Purl != tt.purl {
					t.Errorf("%s: purl %q, want %q", c.Ref, c.Purl, tt.purl)
				}
				if tt.hash != "" && !hasHash(c, tt.hash) {
					t.Errorf("%s: hashes %v lack %s", c.Ref, c.Hashes, tt.hash)
				}
				return
			}
			t.Errorf("no component %s", tt.ref)
		})
	}
}

func hasHash(c Component, h string) bool {
	for _, x := range c.Hashes {
		if x.String() == h {
			return true
		}
	}
	return false
}

// TestReadRefused: documents that are not SBOMs, and the SPDX 2.3 tag-value
// example of the SPDX specification, which tools-golang v0.5.7 refuses (a
// snippet after a package with no file between), are refused with a reason,
// never read as an SBOM without components.
func TestReadRefused(t *testing.T) {
	tests := []struct {
		file, want string
	}{
		{"security-policy/elixir-lang_elixir__SECURITY.md", ErrUnknownFormat.Error()},
		{"openvex/openvex_vexctl__demo.vex.json", ErrUnknownFormat.Error()},
		{"spdx/spdx_spdx-spec__SPDXTagExample-v2.3.spdx", "received unknown tag SnippetSPDXID"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			s, err := Read(readReal(t, tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Read = %v, %v; want an error with %q", s, err, tt.want)
			}
		})
	}
}

func TestReadSmall(t *testing.T) {
	tests := []struct {
		name, doc string
		want      []Component
		err       string
	}{
		{"cyclonedx nested, bad purl, hash spellings", `{"bomFormat":"CycloneDX","specVersion":"1.6","components":[
			{"type":"library","bom-ref":"a","name":"a","version":"1","purl":"pkg:pypi/A_b@1","hashes":[{"alg":"SHA-256","content":"AB"}],
			 "components":[{"type":"library","bom-ref":"b","name":"b","purl":"not a purl","hashes":[{"alg":"SHA3-512","content":"cd"},{"alg":"MD5","content":"xyz"}]}]}]}`,
			[]Component{
				{Ref: "a", Name: "a", Version: "1", Purl: "pkg:pypi/a-b@1", Hashes: []Hash{{"sha256", "ab"}}},
				{Ref: "b", Name: "b", PurlError: "x", Hashes: []Hash{{"sha3-512", "cd"}}},
			}, ""},
		{"spdx 3 packageUrl as external identifier", `{"@context":"https://spdx.org/rdf/3.0.1/spdx-context.jsonld","@graph":[
			{"type":"software_Package","spdxId":"urn:p","name":"p","externalIdentifier":[{"type":"ExternalIdentifier","externalIdentifierType":"packageUrl","identifier":"pkg:npm/%40a/b@2"}],
			 "verifiedUsing":[{"type":"Hash","algorithm":"sha512","hashValue":"EE"}]}]}`,
			[]Component{{Ref: "urn:p", Name: "p", Purl: "pkg:npm/%40a/b@2", Hashes: []Hash{{"sha512", "ee"}}}}, ""},
		{"xml that is not a bom", `<?xml version="1.0"?><html/>`, nil, ErrUnknownFormat.Error()},
		{"json that is not an sbom", `{"a":1}`, nil, ErrUnknownFormat.Error()},
		{"empty", " \n", nil, ErrUnknownFormat.Error()},
		{"broken cyclonedx", `{"bomFormat":"CycloneDX","components":7}`, nil, "couldn't read the CycloneDX JSON BOM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Read([]byte(tt.doc))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Read = %v; want an error with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Components) != len(tt.want) {
				t.Fatalf("components %+v, want %+v", s.Components, tt.want)
			}
			for i, c := range s.Components {
				w := tt.want[i]
				if (c.PurlError != "") != (w.PurlError != "") {
					t.Errorf("component %d: PurlError %q", i, c.PurlError)
				}
				c.PurlError, w.PurlError = "", ""
				if c.Ref != w.Ref || c.Name != w.Name || c.Version != w.Version || c.Purl != w.Purl || len(c.Hashes) != len(w.Hashes) {
					t.Errorf("component %d: %+v, want %+v", i, c, w)
					continue
				}
				for j := range c.Hashes {
					if c.Hashes[j] != w.Hashes[j] {
						t.Errorf("component %d: hashes %v, want %v", i, c.Hashes, w.Hashes)
					}
				}
			}
		})
	}
}

// FuzzRead: Read takes hostile documents (a product SBOM from anywhere);
// it must not panic, and what it returns must be well formed.
func FuzzRead(f *testing.F) {
	for _, dir := range []string{"cyclonedx", "spdx", "spdx3"} {
		files, _ := filepath.Glob(filepath.Join(testdata, dir, "*"))
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil && len(b) < 64<<10 {
				f.Add(b)
			}
		}
	}
	f.Add([]byte(`{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"type":"library","name":"x","purl":"pkg:pypi/x@1"}]}`))
	f.Add([]byte("SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\nSPDXID: SPDXRef-DOCUMENT\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Read(b)
		if err != nil {
			return
		}
		for _, c := range s.Components {
			if c.Purl != "" && c.PurlError != "" {
				t.Errorf("component with both a purl and a purl error: %+v", c)
			}
			for _, h := range c.Hashes {
				if h.Alg == "" || !isHex(h.Value) {
					t.Errorf("bad hash %+v", h)
				}
			}
		}
	})
}
