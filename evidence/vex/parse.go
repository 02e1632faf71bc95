package vex

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/gocsaf/csaf/v3/csaf"
	openvex "github.com/openvex/go-vex/pkg/vex"

	"github.com/evident-dev/evident/evidence"
)

// ErrNotVEX means a document is not in a VEX format this package reads.
var ErrNotVEX = errors.New("vex: not an OpenVEX, CSAF or CycloneDX document")

// Parse returns the statements a VEX document makes about release (a purl
// with a version), each with src as its source. documentType is the
// document's in-toto predicate type (a document attestation's
// documentType, or a statement's predicateType) and mediaType its media
// type; they pick the format (a CycloneDX document may be XML). A
// statement about a product that is neither the release nor its whole
// package is left out.
func Parse(doc []byte, documentType, mediaType, release string, src Source) ([]Statement, error) {
	rel, err := evidence.ParsePurl(release)
	if err != nil || !rel.HasVersion() {
		return nil, fmt.Errorf("vex: %q is not the purl of a release", release)
	}
	var sts []Statement
	switch {
	case strings.HasPrefix(documentType, "https://openvex.dev/ns"):
		src.Format = "OpenVEX"
		sts, err = parseOpenVEX(doc, rel)
	case strings.HasPrefix(documentType, "https://docs.oasis-open.org/csaf/csaf"):
		src.Format = "CSAF"
		sts, err = parseCSAF(doc, rel)
	case strings.HasPrefix(documentType, "https://cyclonedx.org/"):
		src.Format = "CycloneDX"
		sts, err = parseCycloneDX(doc, strings.Contains(mediaType, "xml"), rel)
	default:
		return nil, ErrNotVEX
	}
	if err != nil {
		return nil, err
	}
	for i := range sts {
		sts[i].Source = src
		sts[i].Position = i
	}
	return sts, nil
}

// parseOpenVEX reads an OpenVEX document with go-vex. A statement without
// a timestamp has the document's (OpenVEX spec: statements inherit it).
func parseOpenVEX(doc []byte, rel evidence.Purl) ([]Statement, error) {
	d, err := openvex.Parse(doc)
	if err != nil {
		return nil, fmt.Errorf("vex: couldn't read OpenVEX: %w", err)
	}
	var out []Statement
	for _, st := range d.ExtractStatements() {
		product, pkgLevel, ok := openvexProduct(st.Products, rel)
		if !ok {
			continue
		}
		s := Statement{
			Vulnerability:   string(st.Vulnerability.Name),
			Product:         product,
			PackageLevel:    pkgLevel,
			Status:          Status(st.Status),
			Justification:   string(st.Justification),
			ImpactStatement: st.ImpactStatement,
			ActionStatement: st.ActionStatement,
		}
		if s.Vulnerability == "" {
			s.Vulnerability = st.Vulnerability.ID
		}
		for _, a := range st.Vulnerability.Aliases {
			s.Aliases = append(s.Aliases, string(a))
		}
		if st.Timestamp != nil {
			s.Timestamp = st.Timestamp.UTC()
		}
		if st.LastUpdated != nil && st.LastUpdated.After(s.Timestamp) {
			s.Timestamp = st.LastUpdated.UTC()
		}
		out = append(out, s)
	}
	return out, nil
}

// openvexProduct finds the product of a statement that names rel, by its
// @id or its purl identifier, preferring one that names the release itself.
func openvexProduct(products []openvex.Product, rel evidence.Purl) (id string, pkgLevel, ok bool) {
	for _, p := range products {
		for _, cand := range []string{p.ID, p.Identifiers[openvex.PURL]} {
			if m, pl := match(cand, rel); m && (!ok || pkgLevel && !pl) {
				id, pkgLevel, ok = cand, pl, true
			}
		}
	}
	return id, pkgLevel, ok
}

// csafStatuses maps CSAF product_status lists onto statuses (CSAF 2.0
// section 3.2.3.9): first_affected, known_affected and last_affected are
// affected; first_fixed and fixed are fixed. recommended says nothing of
// the vulnerability and is left out.
var csafStatuses = []struct {
	list   func(*csaf.ProductStatus) *csaf.Products
	status Status
}{
	{func(p *csaf.ProductStatus) *csaf.Products { return p.KnownNotAffected }, NotAffected},
	{func(p *csaf.ProductStatus) *csaf.Products { return p.KnownAffected }, Affected},
	{func(p *csaf.ProductStatus) *csaf.Products { return p.FirstAffected }, Affected},
	{func(p *csaf.ProductStatus) *csaf.Products { return p.LastAffected }, Affected},
	{func(p *csaf.ProductStatus) *csaf.Products { return p.Fixed }, Fixed},
	{func(p *csaf.ProductStatus) *csaf.Products { return p.FirstFixed }, Fixed},
	{func(p *csaf.ProductStatus) *csaf.Products { return p.UnderInvestigation }, UnderInvestigation},
}

// parseCSAF reads a CSAF 2.0 document with gocsaf: the products in its
// product tree whose purl (product_identification_helper) names rel, and
// each vulnerability's status for them. Flags give the justification (CSAF
// labels are OpenVEX's justifications), threats of category impact the
// impact statement, and remediations the action statement. Every
// statement has the document's current_release_date.
func parseCSAF(doc []byte, rel evidence.Purl) ([]Statement, error) {
	var refs csafGroupRefs
	clean, err := withoutGroupRefs(doc, &refs)
	if err != nil {
		return nil, fmt.Errorf("vex: couldn't read CSAF: %w", err)
	}
	var adv csaf.Advisory
	if err := json.Unmarshal(clean, &adv); err != nil {
		return nil, fmt.Errorf("vex: couldn't read CSAF: %w", err)
	}
	var when time.Time
	if adv.Document != nil && adv.Document.Tracking != nil && adv.Document.Tracking.CurrentReleaseDate != nil {
		when, _ = time.Parse(time.RFC3339, *adv.Document.Tracking.CurrentReleaseDate)
		when = when.UTC()
	}
	type prod struct {
		purl     string
		pkgLevel bool
	}
	matched := make(map[csaf.ProductID]prod)
	consider := func(fpn *csaf.FullProductName) {
		if fpn == nil || fpn.ProductID == nil || fpn.ProductIdentificationHelper == nil || fpn.ProductIdentificationHelper.PURL == nil {
			return
		}
		p := string(*fpn.ProductIdentificationHelper.PURL)
		if ok, pl := match(p, rel); ok {
			matched[*fpn.ProductID] = prod{p, pl}
		}
	}
	if pt := adv.ProductTree; pt != nil {
		var walk func(csaf.Branches)
		walk = func(bs csaf.Branches) {
			for _, b := range bs {
				if b == nil {
					continue
				}
				consider(b.Product)
				walk(b.Branches)
			}
		}
		walk(pt.Branches)
		if pt.FullProductNames != nil {
			for _, f := range *pt.FullProductNames {
				consider(f)
			}
		}
		if pt.RelationShips != nil {
			// A relationship names a component as part of a platform
			// (openssl in an OS): a new product that is that component,
			// identified by its product_reference's purl unless it has
			// one of its own. Statuses usually name these products.
			for _, r := range *pt.RelationShips {
				if r == nil || r.FullProductName == nil || r.FullProductName.ProductID == nil {
					continue
				}
				consider(r.FullProductName)
				if _, ok := matched[*r.FullProductName.ProductID]; ok || r.ProductReference == nil {
					continue
				}
				if pr, ok := matched[*r.ProductReference]; ok {
					matched[*r.FullProductName.ProductID] = pr
				}
			}
		}
	}
	if len(matched) == 0 {
		return nil, nil
	}
	has := func(ps *csaf.Products, id csaf.ProductID) bool {
		if ps == nil {
			return false
		}
		for _, p := range *ps {
			if p != nil && *p == id {
				return true
			}
		}
		return false
	}
	var out []Statement
	for vi, v := range adv.Vulnerabilities {
		if v == nil || v.ProductStatus == nil {
			continue
		}
		// inGroup(kind, i, id): item i of flags, threats or remediations
		// names product id through one of its groups.
		inGroup := func(kind string, i int, id csaf.ProductID) bool {
			if vi >= len(refs.Vulnerabilities) {
				return false
			}
			rv := refs.Vulnerabilities[vi]
			var ids []string
			switch {
			case kind == "flags" && i < len(rv.Flags):
				ids = rv.Flags[i].GroupIDs
			case kind == "threats" && i < len(rv.Threats):
				ids = rv.Threats[i].GroupIDs
			case kind == "remediations" && i < len(rv.Remediations):
				ids = rv.Remediations[i].GroupIDs
			}
			return refs.members(ids)[id]
		}
		var ids []string
		if v.CVE != nil {
			ids = append(ids, string(*v.CVE))
		}
		for _, vid := range v.IDs {
			if vid != nil && vid.Text != nil {
				ids = append(ids, *vid.Text)
			}
		}
		if len(ids) == 0 {
			continue
		}
		for _, cs := range csafStatuses {
			list := cs.list(v.ProductStatus)
			if list == nil {
				continue
			}
			for _, pid := range *list {
				if pid == nil {
					continue
				}
				pr, ok := matched[*pid]
				if !ok {
					continue
				}
				s := Statement{
					Vulnerability: ids[0],
					Aliases:       ids[1:],
					Product:       pr.purl,
					PackageLevel:  pr.pkgLevel,
					Status:        cs.status,
					Timestamp:     when,
				}
				for fi, f := range v.Flags {
					if f != nil && f.Label != nil && (has(f.ProductIds, *pid) || inGroup("flags", fi, *pid)) {
						s.Justification = string(*f.Label)
					}
				}
				for ti, t := range v.Threats {
					if t != nil && t.Category != nil && *t.Category == csaf.CSAFThreatCategoryImpact && t.Details != nil && (has(t.ProductIds, *pid) || inGroup("threats", ti, *pid)) {
						s.ImpactStatement = *t.Details
					}
				}
				for ri, r := range v.Remediations {
					if r != nil && r.Details != nil && (has(r.ProductIds, *pid) || inGroup("remediations", ri, *pid)) {
						s.ActionStatement = *r.Details
					}
				}
				out = append(out, s)
			}
		}
	}
	return out, nil
}

// csafGroupRefs are the references to product groups in a CSAF document:
// the groups and their members, and the group_ids of each vulnerability's
// flags, threats and remediations, by position.
type csafGroupRefs struct {
	ProductTree struct {
		ProductGroups []struct {
			GroupID    string   `json:"group_id"`
			ProductIDs []string `json:"product_ids"`
		} `json:"product_groups"`
	} `json:"product_tree"`
	Vulnerabilities []struct {
		Flags []struct {
			GroupIDs []string `json:"group_ids"`
		} `json:"flags"`
		Threats []struct {
			GroupIDs []string `json:"group_ids"`
		} `json:"threats"`
		Remediations []struct {
			GroupIDs []string `json:"group_ids"`
		} `json:"remediations"`
	} `json:"vulnerabilities"`
}

// members returns the products of the groups ids name.
func (g *csafGroupRefs) members(ids []string) map[csaf.ProductID]bool {
	out := make(map[csaf.ProductID]bool)
	for _, id := range ids {
		for _, pg := range g.ProductTree.ProductGroups {
			if pg.GroupID == id {
				for _, p := range pg.ProductIDs {
					out[csaf.ProductID(p)] = true
				}
			}
		}
	}
	return out
}

// withoutGroupRefs returns doc without its references to product groups,
// read apart into refs. gocsaf v3.7 declares product_tree.product_groups,
// and the group_ids of flags, threats and remediations, with a type of its
// own (an object of product_group_ids) rather than the arrays CSAF 2.0
// sections 3.1.4.6 and 3.1.4.5 define, and so refuses every document that
// uses product groups; the rest of its model is right, and is used.
func withoutGroupRefs(doc []byte, refs *csafGroupRefs) ([]byte, error) {
	if err := json.Unmarshal(doc, refs); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber() // keep numbers (CVSS scores) as written
	var top map[string]any
	if err := dec.Decode(&top); err != nil {
		return nil, err
	}
	if pt, ok := top["product_tree"].(map[string]any); ok {
		delete(pt, "product_groups")
	}
	if vs, ok := top["vulnerabilities"].([]any); ok {
		for _, v := range vs {
			vm, ok := v.(map[string]any)
			if !ok {
				continue
			}
			for _, k := range []string{"flags", "threats", "remediations"} {
				items, _ := vm[k].([]any)
				for _, it := range items {
					if im, ok := it.(map[string]any); ok {
						delete(im, "group_ids")
					}
				}
			}
		}
	}
	return json.Marshal(top)
}

// cdxStates maps CycloneDX impact analysis states onto statuses (CycloneDX
// 1.4+ vulnerabilities[].analysis.state).
var cdxStates = map[cdx.ImpactAnalysisState]Status{
	cdx.IASNotAffected:          NotAffected,
	cdx.IASFalsePositive:        NotAffected,
	cdx.IASExploitable:          Affected,
	cdx.IASInTriage:             UnderInvestigation,
	cdx.IASResolved:             Fixed,
	cdx.IASResolvedWithPedigree: Fixed,
}

// cdxJustifications maps CycloneDX justifications onto OpenVEX's where
// they say the same; the rest are kept as CycloneDX writes them.
var cdxJustifications = map[cdx.ImpactAnalysisJustification]string{
	cdx.IAJCodeNotPresent:               "vulnerable_code_not_present",
	cdx.IAJCodeNotReachable:             "vulnerable_code_not_in_execute_path",
	cdx.IAJProtectedByMitigatingControl: "inline_mitigations_already_exist",
}

// parseCycloneDX reads a CycloneDX BOM (JSON or XML) with cyclonedx-go:
// each vulnerability whose affects names a component of the BOM (or the
// BOM's own component) whose purl names rel. The state comes from the
// analysis; a vulnerability without one (a VDR) gives affected or, where
// affects lists rel's version as unaffected, not_affected. Version ranges
// (vers) are not read: a target that names the package with ranges only
// is left out.
func parseCycloneDX(doc []byte, isXML bool, rel evidence.Purl) ([]Statement, error) {
	format := cdx.BOMFileFormatJSON
	if isXML {
		format = cdx.BOMFileFormatXML
	}
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(doc), format).Decode(&bom); err != nil {
		return nil, fmt.Errorf("vex: couldn't read CycloneDX: %w", err)
	}
	purls := make(map[string]string) // bom-ref -> purl
	var walk func(cs *[]cdx.Component)
	walk = func(cs *[]cdx.Component) {
		if cs == nil {
			return
		}
		for i := range *cs {
			c := &(*cs)[i]
			if c.BOMRef != "" && c.PackageURL != "" {
				purls[c.BOMRef] = c.PackageURL
			}
			walk(c.Components)
		}
	}
	var docTime time.Time
	// self is the bom-ref of the BOM's own component when it has no purl:
	// a VEX document about "this product" that its producer attested about
	// a release is about that release (RESOLUTION.md).
	self := ""
	if bom.Metadata != nil {
		if c := bom.Metadata.Component; c != nil && c.BOMRef != "" {
			if c.PackageURL != "" {
				purls[c.BOMRef] = c.PackageURL
			} else {
				self = c.BOMRef
			}
		}
		docTime = parseTime(bom.Metadata.Timestamp)
	}
	walk(bom.Components)
	if bom.Vulnerabilities == nil {
		return nil, nil
	}
	version := rel.PackageURL().Version
	var out []Statement
	for _, v := range *bom.Vulnerabilities {
		if v.ID == "" || v.Affects == nil {
			continue
		}
		for _, a := range *v.Affects {
			ref := localRef(a.Ref, bom.SerialNumber)
			p, ok := purls[ref]
			if !ok && strings.HasPrefix(ref, "pkg:") {
				p = ref // the bom-ref is the purl itself, as producers often make it
			}
			m, pkgLevel := match(p, rel)
			if !m && ref != "" && ref == self {
				m, p = true, bom.Metadata.Component.Name+"@"+bom.Metadata.Component.Version
			}
			if !m {
				continue
			}
			status, explicit := Status(""), false
			if v.Analysis != nil {
				status, explicit = cdxStates[v.Analysis.State]
			}
			if pkgLevel && a.Range != nil {
				// The package with versions: only an exact version says
				// something of this release.
				found := false
				for _, r := range *a.Range {
					if r.Version == version {
						found = true
						if !explicit {
							status = versionStatus(r.Status)
						}
					}
				}
				if !found {
					continue
				}
				pkgLevel = false
			} else if !explicit {
				status = Affected
			}
			if status == "" {
				continue
			}
			s := Statement{
				Vulnerability: v.ID,
				Product:       p,
				PackageLevel:  pkgLevel,
				Status:        status,
				Timestamp:     docTime,
			}
			if v.References != nil {
				for _, r := range *v.References {
					if r.ID != "" && r.ID != v.ID {
						s.Aliases = append(s.Aliases, r.ID)
					}
				}
			}
			for _, t := range []string{v.Published, v.Updated} {
				if tt := parseTime(t); tt.After(s.Timestamp) {
					s.Timestamp = tt
				}
			}
			if v.Analysis != nil {
				if j, ok := cdxJustifications[v.Analysis.Justification]; ok {
					s.Justification = j
				} else {
					s.Justification = string(v.Analysis.Justification)
				}
				if v.Analysis.State == cdx.IASFalsePositive && s.Justification == "" {
					s.Justification = string(cdx.IASFalsePositive)
				}
				s.ImpactStatement = v.Analysis.Detail
				for _, t := range []string{v.Analysis.FirstIssued, v.Analysis.LastUpdated} {
					if tt := parseTime(t); tt.After(s.Timestamp) {
						s.Timestamp = tt
					}
				}
			}
			s.ActionStatement = v.Recommendation
			if s.ActionStatement == "" {
				s.ActionStatement = v.Workaround
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// localRef returns the bom-ref a target names: ref itself, or the
// fragment of a BOM-Link (urn:cdx:serial/version#bom-ref, CycloneDX 1.5)
// when the link is to this BOM or its bom-ref is a purl (which names the
// component wherever it is). Links to components of other BOMs by other
// bom-refs cannot be followed here.
func localRef(ref, serial string) string {
	if !strings.HasPrefix(ref, "urn:cdx:") && !strings.HasPrefix(ref, "urn:uuid:") {
		return ref
	}
	doc, frag, ok := strings.Cut(ref, "#")
	if !ok {
		return ""
	}
	if f, err := url.PathUnescape(frag); err == nil {
		frag = f
	}
	docSerial, _, _ := strings.Cut(doc, "/")
	docSerial = "urn:uuid:" + strings.TrimPrefix(strings.TrimPrefix(docSerial, "urn:cdx:"), "urn:uuid:")
	if docSerial == serial || strings.HasPrefix(frag, "pkg:") {
		return frag
	}
	return ""
}

func versionStatus(s cdx.VulnerabilityStatus) Status {
	switch s {
	case cdx.VulnerabilityStatusAffected:
		return Affected
	case cdx.VulnerabilityStatusNotAffected:
		return NotAffected
	}
	return UnderInvestigation
}

// parseTime reads an RFC 3339 time, or the zero time.
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}
