// Package sbom reads the components of a software bill of materials: for
// each component, how the document names it, its Package URL and the
// digests of its artifacts. It is what `evident check` starts from: a
// manufacturer's own product SBOM, with hundreds or thousands of
// third-party components to find evidence about.
//
// Formats: CycloneDX JSON and XML (read with github.com/CycloneDX/cyclonedx-go,
// spec versions 1.2 to 1.7; 1.4 to 1.6 are what tools write today), SPDX 2.x
// JSON, tag-value and YAML (github.com/spdx/tools-golang), and SPDX 3.0 JSON-LD
// (read here; see spdx3.go for why). Read is pure: it takes the document's
// bytes and does no I/O.
package sbom

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/evident-dev/evident/evidence"
)

// MaxSize bounds the documents Read accepts: the largest SBOMs of container
// images are tens of MiB.
const MaxSize = 256 << 20

// MaxComponents bounds the components Read returns.
const MaxComponents = 1_000_000

// ErrUnknownFormat is returned by Read for a document that is none of the
// formats it reads.
var ErrUnknownFormat = errors.New("not a CycloneDX or SPDX document")

// SBOM is what Read found in a document.
type SBOM struct {
	// Format is the document's format and version, for people, e.g.
	// "CycloneDX 1.6 XML", "SPDX 2.3 tag-value", "SPDX 3.0.1 JSON-LD".
	Format string
	// Name is the document's name (SPDX) or its subject's name and version
	// (CycloneDX metadata.component); may be empty.
	Name string
	// Components are the document's components in document order, nested
	// ones after their parent. Those the document says it describes (its
	// subject: CycloneDX metadata.component, SPDX DESCRIBES, SPDX 3
	// rootElement) come first, marked Primary.
	Components []Component
}

// Component is one component of an SBOM.
type Component struct {
	// Ref is how the document names the component: a CycloneDX bom-ref or
	// an SPDX element id; may be empty (CycloneDX makes bom-ref optional).
	Ref string
	// Name and Version are as the document gives them.
	Name, Version string
	// Purl is the component's Package URL in Evident's canonical form
	// (evidence.ParsePurl), or "" when it has none or it is not valid.
	Purl string
	// PurlError says why the document's purl was not taken, when it has
	// one that is not a valid Package URL.
	PurlError string
	// Hashes are the digests the document gives for the component's
	// artifacts, algorithm names in in-toto's spelling ("sha256",
	// "sha512", "sha1", "sha3-256", ...), values in lowercase hex.
	Hashes []Hash
	// Primary marks what the document describes (the product itself),
	// rather than one of its parts.
	Primary bool
}

// Hash is a digest of a component's artifact.
type Hash struct {
	Alg   string
	Value string
}

// String returns h as "alg:value", the form Evident indexes digests in.
func (h Hash) String() string { return h.Alg + ":" + h.Value }

// Label returns a short name for c for people: its purl, else its name and
// version, else its ref.
func (c Component) Label() string {
	switch {
	case c.Purl != "":
		return c.Purl
	case c.Name != "" && c.Version != "":
		return c.Name + " " + c.Version
	case c.Name != "":
		return c.Name
	}
	return c.Ref
}

var (
	tagValueVersion = regexp.MustCompile(`(?m)^SPDXVersion:[ \t]*(\S+)`)
	yamlVersion     = regexp.MustCompile(`(?m)^["']?spdxVersion["']?[ \t]*:[ \t]*["']?([A-Za-z0-9.-]+)`)
)

// Read reads the components of an SBOM in any of the package's formats,
// recognised by their content. The error is ErrUnknownFormat for other
// documents, or says what the format's reader refused.
func Read(data []byte) (*SBOM, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("couldn't read the SBOM: %d bytes, more than %d", len(data), MaxSize)
	}
	body := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n")
	var s *SBOM
	var err error
	switch {
	case len(body) == 0:
		return nil, ErrUnknownFormat
	case body[0] == '<':
		if !xmlRootIsBOM(body) {
			return nil, ErrUnknownFormat
		}
		s, err = readCycloneDX(data, true)
	case body[0] == '{':
		s, err = readJSON(data)
	case tagValueVersion.Match(body):
		s, err = readSPDX2(data, "tag-value")
	case yamlVersion.Match(body):
		s, err = readSPDX2(data, "YAML")
	default:
		return nil, ErrUnknownFormat
	}
	if err != nil {
		return nil, err
	}
	if len(s.Components) > MaxComponents {
		return nil, fmt.Errorf("couldn't read the SBOM: %d components, more than %d", len(s.Components), MaxComponents)
	}
	return s, nil
}

// xmlRootIsBOM reports whether the root element of an XML document is
// <bom>, as a CycloneDX BOM's is.
func xmlRootIsBOM(data []byte) bool {
	d := xml.NewDecoder(bytes.NewReader(data))
	for {
		t, err := d.RawToken()
		if err != nil {
			return false
		}
		if se, ok := t.(xml.StartElement); ok {
			return se.Name.Local == "bom"
		}
	}
}

// readJSON tells CycloneDX, SPDX 2 and SPDX 3 JSON apart by their top-level
// members.
func readJSON(data []byte) (*SBOM, error) {
	var top struct {
		BOMFormat   string `json:"bomFormat"`
		SPDXVersion string `json:"spdxVersion"`
		Context     any    `json:"@context"`
	}
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("couldn't read the SBOM: %w", err)
	}
	switch {
	case top.BOMFormat == "CycloneDX":
		return readCycloneDX(data, false)
	case top.SPDXVersion != "":
		return readSPDX2(data, "JSON")
	case spdx3Context(top.Context):
		return readSPDX3(data)
	}
	return nil, ErrUnknownFormat
}

// setPurl sets the component's purl from the document's text.
func (c *Component) setPurl(s string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return
	}
	p, err := evidence.ParsePurl(s)
	if err != nil {
		c.PurlError = err.Error()
		return
	}
	c.Purl = p.String()
}

// addHash adds a digest in in-toto's spelling, if its value is hex.
func (c *Component) addHash(alg, value string) {
	alg = normalizeAlg(alg)
	value = strings.ToLower(strings.TrimSpace(value))
	if alg == "" || value == "" || !isHex(value) {
		return
	}
	for _, h := range c.Hashes {
		if h.Alg == alg && h.Value == value {
			return
		}
	}
	c.Hashes = append(c.Hashes, Hash{Alg: alg, Value: value})
}

// normalizeAlg maps the formats' spellings ("SHA-256", "SHA256",
// "sha3_256", "BLAKE2b-256") to in-toto DigestSet names ("sha256",
// "sha3-256", "blake2b-256").
func normalizeAlg(alg string) string {
	a := strings.ToLower(strings.TrimSpace(alg))
	a = strings.ReplaceAll(a, "_", "-")
	switch a {
	case "sha-1", "sha1":
		return "sha1"
	case "sha-224", "sha224":
		return "sha224"
	case "sha-256", "sha256":
		return "sha256"
	case "sha-384", "sha384":
		return "sha384"
	case "sha-512", "sha512":
		return "sha512"
	case "md5", "md-5":
		return "md5"
	}
	return a
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return len(s) > 0
}
