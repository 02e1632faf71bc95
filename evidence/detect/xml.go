package detect

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"

	"github.com/evident-dev/evident/evidence"
)

const (
	cdxNamespacePrefix = "http://cyclonedx.org/schema/bom/"
	rdfNamespace       = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
	spdxRDFNamespace   = "http://spdx.org/rdf/terms#"
)

// detectXML recognises an XML document: a CycloneDX BOM (root element bom in
// namespace http://cyclonedx.org/schema/bom/1.x) or an SPDX 2 RDF/XML
// document. ok is false if content is not XML with one of those roots, so
// that the caller can try it as text (Markdown may start with an HTML
// comment). A recognised document must be well-formed throughout.
func detectXML(name string, content, trimmed []byte) (r *Result, ok bool, err error) {
	d := xml.NewDecoder(bytes.NewReader(trimmed))
	var root xml.StartElement
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, false, nil
		}
		if se, isStart := tok.(xml.StartElement); isStart {
			root = se
			break
		}
	}
	switch {
	case root.Name.Local == "bom" && strings.HasPrefix(root.Name.Space, cdxNamespacePrefix):
		v := strings.TrimPrefix(root.Name.Space, cdxNamespacePrefix)
		if !cdxVersion.MatchString(v) {
			return nil, true, unrecognized(name, "is CycloneDX XML in namespace %s; Evident knows %s1.x", quote(root.Name.Space), cdxNamespacePrefix)
		}
		vulns, err := scanCycloneDX(d, root.Name.Space)
		if err != nil {
			return nil, true, unrecognized(name, "looks like CycloneDX XML but is not well-formed (%v)", err)
		}
		format := "CycloneDX " + v + " XML SBOM"
		if vulns {
			format = "CycloneDX " + v + " XML VDR/VEX"
		}
		return result(format, evidence.PredicateCycloneDX, Wrap(name, "application/vnd.cyclonedx+xml", content)), true, nil
	case root.Name.Local == "RDF" && root.Name.Space == rdfNamespace:
		found, version, err := scanSPDXRDF(d)
		if err != nil {
			return nil, true, unrecognized(name, "is RDF/XML but not well-formed (%v)", err)
		}
		if !found {
			return nil, true, unrecognized(name, "is RDF/XML without an SPDX document")
		}
		format, t := "SPDX 2 RDF/XML", evidence.PredicateSPDX
		if m := spdx2Version.FindStringSubmatch(version); m != nil {
			format, t = "SPDX "+m[1]+" RDF/XML", spdxPredicateType(m[1])
		}
		return result(format, t, Wrap(name, "application/rdf+xml", content)), true, nil
	}
	return nil, false, nil
}

// scanCycloneDX reads the rest of a CycloneDX BOM, after its root start
// element, and reports whether the root has a vulnerabilities element with
// a vulnerability in it.
func scanCycloneDX(d *xml.Decoder, ns string) (vulns bool, err error) {
	depth := 1 // inside the root
	inVulns := false
	for depth > 0 {
		tok, err := d.Token()
		if err != nil {
			return false, unexpectedEOF(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch {
			case depth == 1 && t.Name.Space == ns && t.Name.Local == "vulnerabilities":
				inVulns = true
			case depth == 2 && inVulns && t.Name.Space == ns && t.Name.Local == "vulnerability":
				vulns = true
			}
			depth++
		case xml.EndElement:
			depth--
			if depth == 1 {
				inVulns = false
			}
		}
	}
	return vulns, trailer(d)
}

// scanSPDXRDF reads the rest of an RDF/XML document and reports whether it
// holds an spdx:SpdxDocument, and its spdx:specVersion.
func scanSPDXRDF(d *xml.Decoder) (found bool, version string, err error) {
	depth := 1
	inVersion := false
	for depth > 0 {
		tok, err := d.Token()
		if err != nil {
			return false, "", unexpectedEOF(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if t.Name.Space == spdxRDFNamespace {
				switch t.Name.Local {
				case "SpdxDocument":
					found = true
				case "specVersion":
					inVersion = version == ""
				}
			}
		case xml.CharData:
			if inVersion && len(version) < 64 {
				version += strings.TrimSpace(string(t))
			}
		case xml.EndElement:
			depth--
			inVersion = false
		}
	}
	return found, version, trailer(d)
}

// trailer checks that nothing but comments, processing instructions and
// white space follows the root element.
func trailer(d *xml.Decoder) error {
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.Comment, xml.ProcInst:
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return errors.New("text after the root element")
			}
		default:
			return errors.New("more than one root element")
		}
	}
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return errors.New("unexpected end of document")
	}
	return err
}
