package sbom

import (
	"bytes"
	"fmt"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// readCycloneDX reads a CycloneDX BOM: metadata.component (the product,
// Primary), then every component, nested ones after their parent.
func readCycloneDX(data []byte, isXML bool) (*SBOM, error) {
	ff, syntax := cdx.BOMFileFormatJSON, "JSON"
	if isXML {
		ff, syntax = cdx.BOMFileFormatXML, "XML"
	}
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(data), ff).Decode(&bom); err != nil {
		return nil, fmt.Errorf("couldn't read the CycloneDX %s BOM: %w", syntax, err)
	}
	if isXML && bom.XMLNS == "" {
		// cyclonedx-go decodes any XML whose root is <bom>; a namespace
		// says it is CycloneDX, and which version.
		return nil, ErrUnknownFormat
	}
	s := &SBOM{Format: fmt.Sprintf("CycloneDX %s %s", bom.SpecVersion, syntax)}
	var walk func(cs *[]cdx.Component, primary bool) error
	walk = func(cs *[]cdx.Component, primary bool) error {
		if cs == nil {
			return nil
		}
		for i := range *cs {
			c := &(*cs)[i]
			if len(s.Components) >= MaxComponents {
				return fmt.Errorf("couldn't read the CycloneDX %s BOM: more than %d components", syntax, MaxComponents)
			}
			s.Components = append(s.Components, cycloneDXComponent(c, primary))
			if err := walk(c.Components, false); err != nil {
				return err
			}
		}
		return nil
	}
	if m := bom.Metadata; m != nil && m.Component != nil {
		s.Name = m.Component.Name
		if m.Component.Version != "" {
			s.Name += " " + m.Component.Version
		}
		if err := walk(&[]cdx.Component{*m.Component}, true); err != nil {
			return nil, err
		}
	}
	if err := walk(bom.Components, false); err != nil {
		return nil, err
	}
	return s, nil
}

func cycloneDXComponent(c *cdx.Component, primary bool) Component {
	out := Component{Ref: c.BOMRef, Name: c.Name, Version: c.Version, Primary: primary}
	if c.Group != "" {
		out.Name = c.Group + "/" + c.Name
	}
	out.setPurl(c.PackageURL)
	if c.Hashes != nil {
		for _, h := range *c.Hashes {
			out.addHash(string(h.Algorithm), h.Value)
		}
	}
	return out
}
