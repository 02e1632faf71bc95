package support

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/evident-dev/evident/evidence"
)

// ErrNotSupport means a document is not in a support-period format this
// package reads.
var ErrNotSupport = errors.New("support: not a support-period document this package reads")

// Parse returns what a support-period document says of release (a purl
// with a version), nothing if it covers another release. documentType is
// its in-toto type; packageLevel says whether the evidence's subject is
// the release's whole package rather than the release.
func Parse(doc []byte, documentType, release string, packageLevel bool, src Source) ([]Statement, error) {
	rel, err := evidence.ParsePurl(release)
	if err != nil || !rel.HasVersion() {
		return nil, fmt.Errorf("support: %q is not the purl of a release", release)
	}
	var sts []Statement
	switch {
	case documentType == evidence.PredicateSupportPeriod:
		src.Format = "Evident support period"
		sts, err = parseEvident(doc, rel, packageLevel)
	case strings.HasPrefix(documentType, evidence.DocumentTypeOpenEoX+"/"):
		src.Format = "OpenEoX"
		sts, err = parseOpenEoX(doc, packageLevel)
	case documentType == evidence.DocumentTypeCLE:
		src.Format = "CLE"
		sts, err = parseCLE(doc, rel)
	case documentType == evidence.DocumentTypeSupportTable:
		src.Format = "support table"
		sts, err = parseTable(doc, rel)
	default:
		return nil, ErrNotSupport
	}
	if err != nil {
		return nil, err
	}
	for i := range sts {
		sts[i].Source = src
		sts[i].PackageLevel = packageLevel
	}
	return sts, nil
}

// eoxTime reads an OpenEoX timestamp: RFC 3339, or "tba".
func eoxTime(s string) (t time.Time, tba bool, err error) {
	if s == "tba" {
		return time.Time{}, true, nil
	}
	t, err = time.Parse(time.RFC3339, s)
	return t.UTC(), false, err
}

// parseEvident reads Evident's support-period predicate (checked against
// its schema when it was logged, and again here by the caller's decoder).
func parseEvident(doc []byte, rel evidence.Purl, packageLevel bool) ([]Statement, error) {
	if err := evidence.CheckPredicate(evidence.PredicateSupportPeriod, doc, "predicate"); err != nil {
		return nil, err
	}
	var p struct {
		Covers      string `json:"covers"`
		ReleaseLine string `json:"release_line"`
		EoSS        string `json:"end_of_security_support"`
		EoL         string `json:"end_of_life"`
		LastUpdated string `json:"last_updated"`
	}
	if err := json.Unmarshal(doc, &p); err != nil {
		return nil, err
	}
	s := Statement{Covers: p.Covers, ReleaseLine: p.ReleaseLine}
	switch p.Covers {
	case CoversRelease:
		if packageLevel {
			return nil, nil // a release statement about a package says nothing of one release
		}
	case CoversReleaseLine:
		if !InLine(versionOf(rel), p.ReleaseLine) {
			return nil, nil
		}
	}
	var err error
	if s.EndOfSecuritySupport, s.TBA, err = eoxTime(p.EoSS); err != nil {
		return nil, fmt.Errorf("support: end_of_security_support: %w", err)
	}
	if p.EoL != "" && p.EoL != "tba" {
		s.EndOfLife, _, _ = eoxTime(p.EoL)
	}
	s.LastUpdated, _, _ = eoxTime(p.LastUpdated)
	return []Statement{s}, nil
}

// parseOpenEoX reads an OpenEoX Core document: it has no scope of its own,
// so it covers the evidence's subject.
func parseOpenEoX(doc []byte, packageLevel bool) ([]Statement, error) {
	var p struct {
		EoSS        string `json:"end_of_security_support"`
		EoL         string `json:"end_of_life"`
		LastUpdated string `json:"last_updated"`
	}
	if err := json.Unmarshal(doc, &p); err != nil {
		return nil, fmt.Errorf("support: couldn't read OpenEoX: %w", err)
	}
	s := Statement{Covers: CoversRelease}
	if packageLevel {
		s.Covers = CoversPackage
	}
	var err error
	if s.EndOfSecuritySupport, s.TBA, err = eoxTime(p.EoSS); err != nil {
		return nil, fmt.Errorf("support: OpenEoX end_of_security_support: %w", err)
	}
	if p.EoL != "" && p.EoL != "tba" {
		s.EndOfLife, _, _ = eoxTime(p.EoL)
	}
	s.LastUpdated, _, _ = eoxTime(p.LastUpdated)
	return []Statement{s}, nil
}

// parseCLE reads a Common Lifecycle Enumeration document: its endOfSupport
// and endOfLife events whose versions list the release's version (version
// ranges, vers, are not read). Security support ends at endOfSupport, or
// at endOfLife if the document gives only that.
func parseCLE(doc []byte, rel evidence.Purl) ([]Statement, error) {
	var p struct {
		Events []struct {
			Type      string            `json:"type"`
			Effective string            `json:"effective"`
			Modified  string            `json:"modified"`
			Versions  []json.RawMessage `json:"versions"`
			Version   string            `json:"version"`
		} `json:"events"`
	}
	if err := json.Unmarshal(doc, &p); err != nil {
		return nil, fmt.Errorf("support: couldn't read CLE: %w", err)
	}
	version := versionOf(rel)
	lists := func(vs []json.RawMessage, one string) bool {
		if one == version {
			return true
		}
		for _, raw := range vs {
			var s string
			if json.Unmarshal(raw, &s) == nil && s == version {
				return true
			}
			var o struct {
				Version string `json:"version"`
			}
			if json.Unmarshal(raw, &o) == nil && o.Version == version {
				return true
			}
		}
		return false
	}
	var s Statement
	found := false
	for _, ev := range p.Events {
		if (ev.Type != "endOfSupport" && ev.Type != "endOfLife") || !lists(ev.Versions, ev.Version) {
			continue
		}
		t, err := time.Parse(time.RFC3339, ev.Effective)
		if err != nil {
			return nil, fmt.Errorf("support: CLE %s event: effective: %w", ev.Type, err)
		}
		if ev.Type == "endOfSupport" {
			s.EndOfSecuritySupport = t.UTC()
		} else {
			s.EndOfLife = t.UTC()
		}
		if m, err := time.Parse(time.RFC3339, ev.Modified); err == nil && m.After(s.LastUpdated) {
			s.LastUpdated = m.UTC()
		}
		found = true
	}
	if !found {
		return nil, nil
	}
	if s.EndOfSecuritySupport.IsZero() {
		s.EndOfSecuritySupport = s.EndOfLife
	}
	s.Covers = CoversRelease
	return []Statement{s}, nil
}

// tableDates are the date forms projects write in their own tables.
var tableDates = []string{"2006-01-02", "02 Jan 2006", "2 Jan 2006", "Jan 2 2006", "January 2, 2006"}

// parseTable reads a project's own table of release lines and their end of
// support, the shapes evidence/detect recognises: an object keyed by line
// ({"3.0": {"eol": "07 Sep 2026"}}), or with a "releases" list (endoflife.
// date). The end given is taken as the end of security updates, and of
// life. A month without a day ("Oct 2027") means its last day.
func parseTable(doc []byte, rel evidence.Purl) ([]Statement, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(doc, &top); err != nil {
		return nil, fmt.Errorf("support: couldn't read the table: %w", err)
	}
	if r, ok := top["result"]; ok {
		var inner map[string]json.RawMessage
		if json.Unmarshal(r, &inner) == nil {
			top = inner
		}
	}
	rows := make(map[string]map[string]json.RawMessage)
	if rs, ok := top["releases"]; ok {
		var list []map[string]json.RawMessage
		if err := json.Unmarshal(rs, &list); err == nil {
			for _, row := range list {
				for _, k := range []string{"name", "cycle", "releaseCycle"} {
					var line string
					if json.Unmarshal(row[k], &line) == nil && line != "" {
						rows[line] = row
						break
					}
				}
			}
		}
	} else {
		for k, raw := range top {
			var row map[string]json.RawMessage
			if !strings.HasPrefix(k, "$") && json.Unmarshal(raw, &row) == nil {
				rows[k] = row
			}
		}
	}
	version := versionOf(rel)
	var best *Statement
	for line, row := range rows {
		if !InLine(version, line) {
			continue
		}
		var end string
		for _, k := range []string{"eol", "eolFrom", "end_of_life", "endOfLife", "end", "end_of_support", "endOfSupport", "support_end", "supportEnd"} {
			if json.Unmarshal(row[k], &end) == nil && end != "" {
				break
			}
		}
		t, ok := tableDate(end)
		if !ok {
			continue
		}
		s := Statement{Covers: CoversReleaseLine, ReleaseLine: line, EndOfSecuritySupport: t, EndOfLife: t}
		if best == nil || len(line) > len(best.ReleaseLine) {
			best = &s
		}
	}
	if best == nil {
		return nil, nil
	}
	return []Statement{*best}, nil
}

// tableDate reads a date as projects write them, as the last moment of
// that day, UTC.
func tableDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, f := range tableDates {
		if t, err := time.Parse(f, s); err == nil {
			return t.Add(24*time.Hour - time.Second), true
		}
	}
	if t, err := time.Parse("Jan 2006", s); err == nil {
		return t.AddDate(0, 1, 0).Add(-time.Second), true
	}
	return time.Time{}, false
}
