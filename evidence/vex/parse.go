package vex

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
	var adv csaf.Advisory
	if err := json.Unmarshal(withoutProductGroups(doc), &adv); err != nil {
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
			for _, r := range *pt.RelationShips {
				if r != nil {
					consider(r.FullProductName)
				}
			}
		}
	}
	groups := csafGroups(doc)
	if len(matched) == 0 {
		return nil, nil
	}
	inGroups := func(g *csaf.ProductGroups, id csaf.ProductID) bool {
		if g == nil {
			return false
		}
		for _, gid := range g.ProductGroupIDs {
			if gid == nil {
				continue
			}
			for _, m := range groups[string(*gid)] {
				if m == id {
					return true
				}
			}
		}
		return false
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
	for _, v := range adv.Vulnerabilities {
		if v == nil || v.ProductStatus == nil {
			continue
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
				for _, f := range v.Flags {
					if f != nil && f.Label != nil && (has(f.ProductIds, *pid) || inGroups(f.GroupIDs, *pid)) {
						s.Justification = string(*f.Label)
					}
				}
				for _, t := range v.Threats {
					if t != nil && t.Category != nil && *t.Category == csaf.CSAFThreatCategoryImpact && t.Details != nil && (has(t.ProductIds, *pid) || inGroups(t.GroupIds, *pid)) {
						s.ImpactStatement = *t.Details
					}
				}
				for _, r := range v.Remediations {
					if r != nil && r.Details != nil && (has(r.ProductIds, *pid) || inGroups(r.GroupIds, *pid)) {
						s.ActionStatement = *r.Details
					}
				}
				out = append(out, s)
			}
		}
	}
	return out, nil
}

// withoutProductGroups returns doc without product_tree.product_groups.
// gocsaf v3.7 declares product_groups with the type of a reference to
// groups (an object of group ids) rather than the list of groups CSAF 2.0
// section 3.1.4.6 defines, and refuses any document that has them; the
// groups are read by csafGroups instead.
func withoutProductGroups(doc []byte) []byte {
	var top map[string]json.RawMessage
	if json.Unmarshal(doc, &top) != nil {
		return doc
	}
	var pt map[string]json.RawMessage
	if json.Unmarshal(top["product_tree"], &pt) != nil || pt["product_groups"] == nil {
		return doc
	}
	delete(pt, "product_groups")
	b, err := json.Marshal(pt)
	if err != nil {
		return doc
	}
	top["product_tree"] = b
	out, err := json.Marshal(top)
	if err != nil {
		return doc
	}
	return out
}

// csafGroups reads the product groups of a CSAF document (see
// withoutProductGroups), which flags, threats and remediations may name
// instead of products.
func csafGroups(doc []byte) map[string][]csaf.ProductID {
	var raw struct {
		ProductTree struct {
			ProductGroups []struct {
				GroupID    string   `json:"group_id"`
				ProductIDs []string `json:"product_ids"`
			} `json:"product_groups"`
		} `json:"product_tree"`
	}
	out := make(map[string][]csaf.ProductID)
	if json.Unmarshal(doc, &raw) != nil {
		return out
	}
	for _, g := range raw.ProductTree.ProductGroups {
		for _, p := range g.ProductIDs {
			out[g.GroupID] = append(out[g.GroupID], csaf.ProductID(p))
		}
	}
	return out
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
	if bom.Metadata != nil {
		if c := bom.Metadata.Component; c != nil && c.BOMRef != "" && c.PackageURL != "" {
			purls[c.BOMRef] = c.PackageURL
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
			ref := a.Ref
			p, ok := purls[ref]
			if !ok && strings.HasPrefix(ref, "pkg:") {
				p = ref // some producers put the purl itself in ref
			}
			m, pkgLevel := match(p, rel)
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
