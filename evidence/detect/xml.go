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
func detectXML(name string, trimmed []byte) (r *Result, ok bool, err error) {
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
		scan, err := scanCycloneDX(d, root.Name.Space)
		if err != nil {
			return nil, true, unrecognized(name, "looks like CycloneDX XML but is not well-formed (%v)", err)
		}
		format := "CycloneDX " + v + " XML SBOM"
		if scan.vulns {
			format = "CycloneDX " + v + " XML VDR/VEX"
		}
		title := strings.TrimSpace(scan.name + " " + scan.version)
		for _, a := range root.Attr {
			if a.Name.Space == "" && a.Name.Local == "serialNumber" && a.Value != "" {
				title = a.Value
			}
		}
		return result(format, evidence.PredicateCycloneDX, "application/vnd.cyclonedx+xml", title), true, nil
	case root.Name.Local == "RDF" && root.Name.Space == rdfNamespace:
		scan, err := scanSPDXRDF(d)
		if err != nil {
			return nil, true, unrecognized(name, "is RDF/XML but not well-formed (%v)", err)
		}
		if !scan.found {
			return nil, true, unrecognized(name, "is RDF/XML without an SPDX document")
		}
		format, t := "SPDX 2 RDF/XML", evidence.PredicateSPDX
		if m := spdx2Version.FindStringSubmatch(scan.version); m != nil {
			format, t = "SPDX "+m[1]+" RDF/XML", spdxPredicateType(m[1])
		}
		return result(format, t, "application/rdf+xml", scan.name), true, nil
	}
	return nil, false, nil
}

// xmlScan is what detectXML reads of a document past its root element.
type xmlScan struct {
	vulns         bool   // CycloneDX: the root has a vulnerability
	found         bool   // SPDX: the document has an spdx:SpdxDocument
	name, version string // CycloneDX: metadata/component's; SPDX: the document's name and specVersion
}

// maxText bounds the text read of an element for xmlScan.
const maxText = 1024

// scanCycloneDX reads the rest of a CycloneDX BOM, after its root start
// element: whether the root has a vulnerabilities element with a
// vulnerability in it, and the name and version of metadata/component.
func scanCycloneDX(d *xml.Decoder, ns string) (xmlScan, error) {
	var s xmlScan
	var path []string // element names below the root, in ns only
	var text *string  // where character data goes, if anywhere
	for depth := 1; depth > 0; {
		tok, err := d.Token()
		if err != nil {
			return s, unexpectedEOF(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			local := t.Name.Local
			if t.Name.Space != ns {
				local = ""
			}
			path = append(path, local)
			text = nil
			switch strings.Join(path, "/") {
			case "vulnerabilities/vulnerability":
				s.vulns = true
			case "metadata/component/name":
				text = &s.name
			case "metadata/component/version":
				text = &s.version
			}
		case xml.CharData:
			if text != nil && len(*text) < maxText {
				*text += string(t)
			}
		case xml.EndElement:
			depth--
			if len(path) > 0 {
				path = path[:len(path)-1]
			}
			text = nil
		}
	}
	return s, trailer(d)
}

// scanSPDXRDF reads the rest of an RDF/XML document: whether it holds an
// spdx:SpdxDocument, and that document's spdx:specVersion and spdx:name.
func scanSPDXRDF(d *xml.Decoder) (xmlScan, error) {
	var s xmlScan
	docDepth := 0 // the depth of the SpdxDocument element, once inside it
	var text *string
	for depth := 1; depth > 0; {
		tok, err := d.Token()
		if err != nil {
			return s, unexpectedEOF(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			text = nil
			if t.Name.Space != spdxRDFNamespace {
				break
			}
			switch {
			case t.Name.Local == "SpdxDocument" && !s.found:
				s.found, docDepth = true, depth
			case t.Name.Local == "specVersion" && s.version == "":
				text = &s.version
			case t.Name.Local == "name" && docDepth > 0 && depth == docDepth+1 && s.name == "":
				text = &s.name
			}
		case xml.CharData:
			if text != nil && len(*text) < maxText {
				*text += strings.TrimSpace(string(t))
			}
		case xml.EndElement:
			if depth == docDepth {
				docDepth = 0
			}
			depth--
			text = nil
		}
	}
	return s, trailer(d)
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
