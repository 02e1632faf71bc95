// Package vex answers "what is the current VEX status of each
// vulnerability for this release?" from OpenVEX, CSAF VEX and CycloneDX VEX
// documents: [Parse] reads the statements a document makes about a release,
// with the formats' own libraries (go-vex, gocsaf, cyclonedx-go), and
// [Resolve] decides, for each vulnerability, which statement holds and
// which statements conflict with it. evidence/RESOLUTION.md states the
// rules.
//
// The package is pure: it does no I/O and holds no state, so a node (for
// EvidenceService.GetStatus) and a client (on documents it verified itself)
// reach the same answer from the same statements.
package vex

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/evident-dev/evident/evidence"
)

// Status is a VEX status, in OpenVEX's terms; the other formats' statuses
// map onto it (RESOLUTION.md, "Formats").
type Status string

// Statuses.
const (
	NotAffected        Status = "not_affected"
	Affected           Status = "affected"
	Fixed              Status = "fixed"
	UnderInvestigation Status = "under_investigation"
)

// Source says where a statement comes from: the evidence item whose
// document holds it.
type Source struct {
	// LogIndex is the item's index in its log.
	LogIndex uint64
	// Signers are the item's signer ids, sorted. Statements by the same
	// signers are one source: the newest of them about a vulnerability is
	// that source's word.
	Signers []string
	// Format names the document's format: "OpenVEX", "CSAF", "CycloneDX".
	Format string
}

func (s Source) key() string { return strings.Join(s.Signers, " ") }

// Statement is what one document says about one vulnerability in a
// release.
type Statement struct {
	// Vulnerability is the id the statement gives (a CVE id, a GHSA, ...),
	// Aliases the other ids it gives the same vulnerability.
	Vulnerability string
	Aliases       []string
	// Product is the product id the statement names that matched the
	// release: its purl, as the document writes it.
	Product string
	// PackageLevel is true when Product names the release's whole package
	// (a purl without a version), not the release itself.
	PackageLevel bool
	Status       Status
	// Justification says why not_affected, in OpenVEX's terms where the
	// format maps onto them, else as the document writes it.
	Justification   string
	ImpactStatement string
	ActionStatement string
	// Timestamp is when the statement was made, as the document says
	// (the statement's own time, else the document's); zero if it says
	// nothing.
	Timestamp time.Time
	Source    Source
	// Position is the statement's place in its document: the later of two
	// statements of one document made at the same time wins.
	Position int
}

// VulnerabilityStatus is the current status of one vulnerability for a
// release.
type VulnerabilityStatus struct {
	// Vulnerability is the deciding statement's id for it; Aliases are
	// every other id the statements give it, sorted.
	Vulnerability string
	Aliases       []string
	Status        Status
	Justification string
	// Decided is the statement that decided Status.
	Decided Statement
	// Statements are each source's current statement about the
	// vulnerability, Decided first and then in the order Resolve ranks
	// them: what conflicts with the decision stands beside it.
	Statements []Statement
	// Conflict is true when Statements do not all give the same status.
	Conflict bool
}

// newer ranks statements about one vulnerability: a statement about the
// release itself outranks one about its whole package; then the later
// Timestamp, the later-logged evidence (LogIndex) and the later Position in
// the document win. It returns a positive number if a outranks b.
func newer(a, b Statement) int {
	if a.PackageLevel != b.PackageLevel {
		if b.PackageLevel {
			return 1
		}
		return -1
	}
	if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Source.LogIndex, b.Source.LogIndex); c != 0 {
		return c
	}
	return cmp.Compare(a.Position, b.Position)
}

// normalizeID makes vulnerability ids that differ only by case, or by
// surrounding space, equal: "cve-2021-44228" is CVE-2021-44228.
func normalizeID(id string) string {
	return strings.ToUpper(strings.TrimSpace(id))
}

// Resolve decides the current status of each vulnerability the statements
// name (RESOLUTION.md):
//
//  1. statements whose ids or aliases share an id are about one
//     vulnerability;
//  2. each source's (signers') current statement about it is the one
//     that ranks highest ([Statement] order: release before package,
//     then newest);
//  3. of those, the highest-ranking decides; the others stand beside it,
//     and differing statuses are a conflict.
//
// The result is ordered by vulnerability id. Statements without a status
// or a vulnerability id are ignored.
func Resolve(statements []Statement) []VulnerabilityStatus {
	// Union-find over ids: a statement joins every id it gives.
	parent := make(map[string]string)
	find := func(x string) string {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	union := func(a, b string) {
		ra, rb := find(a), find(b)
		if ra != rb {
			parent[max(ra, rb)] = min(ra, rb)
		}
	}
	var valid []Statement
	for _, st := range statements {
		id := normalizeID(st.Vulnerability)
		if id == "" || st.Status == "" {
			continue
		}
		valid = append(valid, st)
		if _, ok := parent[id]; !ok {
			parent[id] = id
		}
		for _, a := range st.Aliases {
			a = normalizeID(a)
			if a == "" {
				continue
			}
			if _, ok := parent[a]; !ok {
				parent[a] = a
			}
			union(id, a)
		}
	}
	groups := make(map[string][]Statement)
	for _, st := range valid {
		root := find(normalizeID(st.Vulnerability))
		groups[root] = append(groups[root], st)
	}
	out := make([]VulnerabilityStatus, 0, len(groups))
	for _, sts := range groups {
		bySource := make(map[string]Statement)
		for _, st := range sts {
			k := st.Source.key()
			if cur, ok := bySource[k]; !ok || newer(st, cur) > 0 {
				bySource[k] = st
			}
		}
		current := make([]Statement, 0, len(bySource))
		for _, st := range bySource {
			current = append(current, st)
		}
		slices.SortFunc(current, func(a, b Statement) int {
			if c := newer(b, a); c != 0 {
				return c
			}
			return strings.Compare(a.Source.key(), b.Source.key())
		})
		d := current[0]
		vs := VulnerabilityStatus{
			Vulnerability: d.Vulnerability,
			Status:        d.Status,
			Justification: d.Justification,
			Decided:       d,
			Statements:    current,
		}
		seen := map[string]bool{normalizeID(d.Vulnerability): true}
		for _, st := range sts {
			for _, id := range append([]string{st.Vulnerability}, st.Aliases...) {
				if n := normalizeID(id); n != "" && !seen[n] {
					seen[n] = true
					vs.Aliases = append(vs.Aliases, strings.TrimSpace(id))
				}
			}
		}
		slices.Sort(vs.Aliases)
		for _, st := range current[1:] {
			if st.Status != d.Status {
				vs.Conflict = true
			}
		}
		out = append(out, vs)
	}
	slices.SortFunc(out, func(a, b VulnerabilityStatus) int {
		return strings.Compare(normalizeID(a.Vulnerability), normalizeID(b.Vulnerability))
	})
	return out
}

// match reports whether the product id names release (a purl with a
// version, canonical or not): the release itself, ignoring qualifiers and
// subpath, or its whole package (a purl without a version), then with
// packageLevel set.
func match(id string, release evidence.Purl) (ok, packageLevel bool) {
	if !strings.HasPrefix(id, "pkg:") {
		return false, false
	}
	p, err := evidence.ParsePurl(id)
	if err != nil {
		return false, false
	}
	if p.HasVersion() {
		return p.Release() == release.Release(), false
	}
	return p.Package() == release.Package(), true
}
