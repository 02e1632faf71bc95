package sbom

import (
	"encoding/json"
	"fmt"
	"strings"
)

// SPDX 3.0 is read here, minimally, rather than with
// github.com/spdx/tools-golang: its only release that reads SPDX 3 is
// v0.6.0-rc4, a release candidate, which refuses two of the five SPDX 3.0.1
// example documents of the SPDX project itself (the AI profile's decimal
// energy quantities; relationships to elements defined outside the
// document), and which pulls in a JSON-LD processor and two RDF libraries.
// Check needs little of the model: packages, their purls and hashes, and
// what the document's SBOM is about. Those are read from the serialization
// the SPDX 3.0 specification defines (JSON-LD compacted with the SPDX
// context, "@graph" of elements), and nothing else is interpreted. When
// tools-golang releases SPDX 3 support, this file should give way to it.

// spdx3Context reports whether a JSON-LD @context value is the SPDX 3
// context (https://spdx.org/rdf/3.0.x/spdx-context.jsonld), alone or in a
// list.
func spdx3Context(v any) bool {
	switch c := v.(type) {
	case string:
		return strings.HasPrefix(c, "https://spdx.org/rdf/3.") && strings.HasSuffix(c, "/spdx-context.jsonld")
	case []any:
		for _, x := range c {
			if spdx3Context(x) {
				return true
			}
		}
	}
	return false
}

// spdx3Element is what is read of an element of the @graph. Properties are
// named as the SPDX 3 context compacts them.
type spdx3Element struct {
	Type               string          `json:"type"`
	SPDXID             string          `json:"spdxId"`
	ID                 string          `json:"@id"`
	Name               string          `json:"name"`
	SpecVersion        string          `json:"specVersion"`
	CreationInfo       json.RawMessage `json:"creationInfo"`
	PackageVersion     string          `json:"software_packageVersion"`
	PackageURL         string          `json:"software_packageUrl"`
	RootElement        oneOrMany       `json:"rootElement"`
	ExternalIdentifier []struct {
		Type       string `json:"externalIdentifierType"`
		Identifier string `json:"identifier"`
	} `json:"externalIdentifier"`
	VerifiedUsing []struct {
		Type      string `json:"type"`
		Algorithm string `json:"algorithm"`
		HashValue string `json:"hashValue"`
	} `json:"verifiedUsing"`
}

// oneOrMany is a JSON-LD property of one or several string values.
type oneOrMany []string

func (o *oneOrMany) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*o = oneOrMany{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*o = many
	return nil
}

// spdx3PackageTypes are the element types that are packages: Package and
// its subclasses in the AI and Dataset profiles.
var spdx3PackageTypes = map[string]bool{
	"software_Package":       true,
	"ai_AIPackage":           true,
	"dataset_DatasetPackage": true,
}

func readSPDX3(data []byte) (*SBOM, error) {
	var doc struct {
		Graph []json.RawMessage `json:"@graph"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("couldn't read the SPDX 3 JSON-LD document: %w", err)
	}
	if len(doc.Graph) > MaxComponents*4 {
		return nil, fmt.Errorf("couldn't read the SPDX 3 JSON-LD document: %d elements, more than %d", len(doc.Graph), MaxComponents*4)
	}
	elems := make([]spdx3Element, 0, len(doc.Graph))
	for i, raw := range doc.Graph {
		var e spdx3Element
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, fmt.Errorf("couldn't read the SPDX 3 JSON-LD document: @graph[%d]: %w", i, err)
		}
		elems = append(elems, e)
	}
	s := &SBOM{}
	version := ""
	for i := range elems {
		e := &elems[i]
		switch e.Type {
		case "CreationInfo":
			if version == "" {
				version = e.SpecVersion
			}
		case "SpdxDocument":
			s.Name = e.Name
		}
	}
	// What the document is about: the root elements of the SpdxDocument
	// and of its SBOMs.
	primary := make(map[string]bool)
	for i := range elems {
		if t := elems[i].Type; t != "software_Sbom" && t != "SpdxDocument" {
			continue
		}
		for _, r := range elems[i].RootElement {
			primary[r] = true
		}
	}
	var first, rest []Component
	for i := range elems {
		e := &elems[i]
		if !spdx3PackageTypes[e.Type] {
			continue
		}
		c := Component{Ref: e.id(), Name: e.Name, Version: e.PackageVersion, Primary: primary[e.id()]}
		c.setPurl(e.PackageURL)
		for _, x := range e.ExternalIdentifier {
			if c.Purl == "" && c.PurlError == "" && x.Type == "packageUrl" {
				c.setPurl(x.Identifier)
			}
		}
		for _, h := range e.VerifiedUsing {
			if h.Type == "Hash" {
				c.addHash(h.Algorithm, h.HashValue)
			}
		}
		if c.Primary {
			first = append(first, c)
		} else {
			rest = append(rest, c)
		}
	}
	if version == "" {
		version = "3.0"
	}
	s.Format = "SPDX " + version + " JSON-LD"
	s.Components = append(first, rest...)
	return s, nil
}

func (e *spdx3Element) id() string {
	if e.SPDXID != "" {
		return e.SPDXID
	}
	return e.ID
}
