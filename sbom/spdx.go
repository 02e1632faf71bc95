package sbom

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx"
	"github.com/spdx/tools-golang/tagvalue"
	spdxyaml "github.com/spdx/tools-golang/yaml"
)

// readSPDX2 reads an SPDX 2.x document in syntax "JSON", "tag-value" or
// "YAML": its packages, those it DESCRIBES first (Primary). Files and
// snippets are not components. tools-golang converts every 2.x version to
// its 2.3 model, so the version is read from the document itself.
func readSPDX2(data []byte, syntax string) (*SBOM, error) {
	var doc *spdx.Document
	var err error
	var version string
	switch syntax {
	case "JSON":
		var top struct {
			SPDXVersion string `json:"spdxVersion"`
		}
		if json.Unmarshal(data, &top) == nil {
			version = top.SPDXVersion
		}
		doc, err = spdxjson.Read(bytes.NewReader(data))
	case "tag-value":
		if m := tagValueVersion.FindSubmatch(data); m != nil {
			version = string(m[1])
		}
		doc, err = tagvalue.Read(bytes.NewReader(data))
	case "YAML":
		if m := yamlVersion.FindSubmatch(data); m != nil {
			version = string(m[1])
		}
		doc, err = spdxyaml.Read(bytes.NewReader(data))
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read the SPDX %s document (github.com/spdx/tools-golang): %w", syntax, err)
	}
	s := &SBOM{Format: fmt.Sprintf("SPDX %s %s", strings.TrimPrefix(version, "SPDX-"), syntax), Name: doc.DocumentName}
	described := make(map[string]bool)
	for _, r := range doc.Relationships {
		if r == nil {
			continue
		}
		switch strings.ToUpper(r.Relationship) {
		case "DESCRIBES":
			if r.RefA.ElementRefID == "DOCUMENT" {
				described[string(r.RefB.ElementRefID)] = true
			}
		case "DESCRIBED_BY", "DESCRIBED-BY":
			if r.RefB.ElementRefID == "DOCUMENT" {
				described[string(r.RefA.ElementRefID)] = true
			}
		}
	}
	var primary, parts []Component
	for _, p := range doc.Packages {
		if p == nil {
			continue
		}
		c := Component{Ref: "SPDXRef-" + string(p.PackageSPDXIdentifier), Name: p.PackageName, Version: p.PackageVersion}
		for _, ref := range p.PackageExternalReferences {
			if ref == nil || c.Purl != "" {
				continue
			}
			// SPDX 2.3 Annex F: category PACKAGE-MANAGER (2.2 wrote
			// PACKAGE_MANAGER), type purl.
			cat := strings.ReplaceAll(strings.ToUpper(ref.Category), "_", "-")
			if cat == "PACKAGE-MANAGER" && ref.RefType == "purl" {
				c.setPurl(ref.Locator)
			}
		}
		for _, h := range p.PackageChecksums {
			c.addHash(string(h.Algorithm), h.Value)
		}
		if described[string(p.PackageSPDXIdentifier)] {
			c.Primary = true
			primary = append(primary, c)
		} else {
			parts = append(parts, c)
		}
	}
	s.Components = append(primary, parts...)
	return s, nil
}
