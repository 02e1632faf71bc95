// Package support answers "is this release supported with security
// updates on this day, and by whose statement?" from support-period
// evidence: Evident's support-period predicate, OpenEoX Core documents,
// Common Lifecycle Enumeration documents and a project's own table of
// release lines. [Parse] reads what a document says about a release;
// [Resolve] decides. evidence/RESOLUTION.md states the rules.
//
// The package is pure: no I/O, no clock. The day is the caller's.
package support

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/evident-dev/evident/evidence"
)

// State says whether a release is supported on a day.
type State string

// States.
const (
	// Supported: a statement says security updates are provided that day
	// (or that their end is still to be announced).
	Supported State = "supported"
	// Ended: a statement says security updates ended before that day.
	Ended State = "ended"
	// Unknown: no statement covers the release.
	Unknown State = "unknown"
)

// Coverage of a statement.
const (
	CoversRelease     = "release"      // the release itself
	CoversReleaseLine = "release-line" // a line of releases the release belongs to
	CoversPackage     = "package"      // every release of the package
)

// Source says where a statement comes from: the evidence item that makes
// it.
type Source struct {
	LogIndex uint64
	Signers  []string
	// Format names the document's format, e.g. "Evident support period",
	// "OpenEoX", "CLE", "support table".
	Format string
}

// Statement is what one document says of a release's support period.
type Statement struct {
	// Covers is CoversRelease, CoversReleaseLine or CoversPackage;
	// ReleaseLine is the line, for CoversReleaseLine.
	Covers      string
	ReleaseLine string
	// EndOfSecuritySupport is the last moment of security updates; TBA
	// is true, and it zero, when the statement says the end is to be
	// announced.
	EndOfSecuritySupport time.Time
	TBA                  bool
	// EndOfLife is the end of all support, or zero if not given.
	EndOfLife time.Time
	// LastUpdated is when the statement was last changed, or zero.
	LastUpdated time.Time
	// PackageLevel is true when the evidence's subject is the release's
	// whole package.
	PackageLevel bool
	Source       Source
}

// On returns the state the statement gives for day (its date, UTC): the
// release is supported through the whole day security updates end on.
func (s Statement) On(day time.Time) State {
	if s.TBA {
		return Supported
	}
	d := dayOf(day)
	if d.After(dayOf(s.EndOfSecuritySupport)) {
		return Ended
	}
	return Supported
}

func dayOf(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Answer is the support state of a release on a day.
type Answer struct {
	Day   time.Time
	State State
	// Decided is the statement that decided State, nil when Unknown.
	Decided *Statement
	// Statements are every statement that covers the release, Decided
	// first, then by rank.
	Statements []Statement
}

// specificity ranks coverage: the release itself, then release lines (a
// longer line is narrower), then the whole package.
func specificity(s Statement) int {
	switch s.Covers {
	case CoversRelease:
		return 1 << 20
	case CoversReleaseLine:
		return 1 + len(s.ReleaseLine)
	}
	return 0
}

// rank orders statements: the more specific first; then the most
// recently updated; then the later logged.
func rank(a, b Statement) int {
	if c := cmp.Compare(specificity(b), specificity(a)); c != 0 {
		return c
	}
	if c := b.LastUpdated.Compare(a.LastUpdated); c != 0 {
		return c
	}
	return cmp.Compare(b.Source.LogIndex, a.Source.LogIndex)
}

// Resolve decides whether a release is supported on day from the
// statements that cover it (as [Parse] returns them): the most specific
// statement decides (the release's own over its line's over its
// package's), and among equally specific ones the most recently updated,
// then the later logged. The others stand beside it.
func Resolve(statements []Statement, day time.Time) Answer {
	a := Answer{Day: dayOf(day), State: Unknown}
	if len(statements) == 0 {
		return a
	}
	a.Statements = slices.Clone(statements)
	slices.SortStableFunc(a.Statements, rank)
	a.Decided = &a.Statements[0]
	a.State = a.Decided.On(day)
	return a
}

// InLine reports whether version belongs to release line: it is the line,
// or starts with it followed by ".", "-", "+" or "_". A leading "v" on
// either is ignored.
func InLine(version, line string) bool {
	version, line = strings.TrimPrefix(version, "v"), strings.TrimPrefix(line, "v")
	if line == "" {
		return false
	}
	rest, ok := strings.CutPrefix(version, line)
	return ok && (rest == "" || strings.ContainsRune(".-+_", rune(rest[0])))
}

// versionOf returns the version of a release purl.
func versionOf(release evidence.Purl) string { return release.PackageURL().Version }
