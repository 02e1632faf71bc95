package support

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/evident-dev/evident/evidence"
	"github.com/google/go-cmp/cmp"
)

func date(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func parse(t *testing.T, doc, documentType, release string, packageLevel bool, logIndex uint64) []Statement {
	t.Helper()
	sts, err := Parse([]byte(doc), documentType, release, packageLevel, Source{LogIndex: logIndex, Signers: []string{"ed25519:aa"}})
	if err != nil {
		t.Fatal(err)
	}
	return sts
}

// TestResolve: is a release supported on a day, and by whose statement.
func TestResolve(t *testing.T) {
	const rel = "pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1"
	line := `{"covers":"release-line","release_line":"2.24","end_of_security_support":"2027-06-30T23:59:59Z","last_updated":"2026-01-01T00:00:00Z"}`
	own := `{"covers":"release","end_of_security_support":"2026-12-31T23:59:59Z","last_updated":"2025-01-01T00:00:00Z"}`
	tba := `{"covers":"release-line","release_line":"2","end_of_security_support":"tba","last_updated":"2026-05-01T00:00:00Z"}`
	other := `{"covers":"release-line","release_line":"2.25","end_of_security_support":"2030-01-01T00:00:00Z","last_updated":"2026-01-01T00:00:00Z"}`
	eox := `{"$schema":"https://docs.oasis-open.org/openeox/v1.0/schema/core.json","end_of_life":"2029-12-31T12:00:00Z","end_of_security_support":"2028-12-31T12:00:00Z","last_updated":"2026-02-01T12:00:00Z"}`
	cle := `{"events":[{"type":"released","effective":"2024-10-01T00:00:00Z","version":"2.24.1","published":"2024-10-01T00:00:00Z","modified":"2024-10-01T00:00:00Z"},` +
		`{"type":"endOfSupport","effective":"2026-03-31T00:00:00Z","versions":[{"version":"2.24.1"},{"version":"2.24.2"}],"supportId":"standard","published":"2025-01-01T00:00:00Z","modified":"2025-06-01T00:00:00Z"}]}`

	for _, c := range []struct {
		name    string
		sts     func(t *testing.T) []Statement
		day     string
		state   State
		decided uint64 // log index
		count   int
	}{
		{"nothing covers it", func(t *testing.T) []Statement { return parse(t, other, evidence.PredicateSupportPeriod, rel, true, 1) }, "2026-01-01", Unknown, 0, 0},
		{"the line's statement, inside", func(t *testing.T) []Statement { return parse(t, line, evidence.PredicateSupportPeriod, rel, true, 1) }, "2027-06-30", Supported, 1, 1},
		{"the line's statement, the day after", func(t *testing.T) []Statement { return parse(t, line, evidence.PredicateSupportPeriod, rel, true, 1) }, "2027-07-01", Ended, 1, 1},
		{"the release's own statement outranks its line's, even an older one", func(t *testing.T) []Statement {
			return append(parse(t, line, evidence.PredicateSupportPeriod, rel, true, 1), parse(t, own, evidence.PredicateSupportPeriod, rel, false, 2)...)
		}, "2027-01-15", Ended, 2, 2},
		{"a narrower line outranks a wider one, whose end is to be announced", func(t *testing.T) []Statement {
			return append(parse(t, tba, evidence.PredicateSupportPeriod, rel, true, 5), parse(t, line, evidence.PredicateSupportPeriod, rel, true, 1)...)
		}, "2028-01-01", Ended, 1, 2},
		{"to be announced: supported", func(t *testing.T) []Statement { return parse(t, tba, evidence.PredicateSupportPeriod, rel, true, 5) }, "2040-01-01", Supported, 5, 1},
		{"OpenEoX Core about the release", func(t *testing.T) []Statement {
			return parse(t, eox, "https://docs.oasis-open.org/openeox/v1.0/schema/core.json", rel, false, 3)
		}, "2028-12-31", Supported, 3, 1},
		{"CLE: the end of support of the version", func(t *testing.T) []Statement { return parse(t, cle, evidence.DocumentTypeCLE, rel, true, 4) }, "2026-04-01", Ended, 4, 1},
		{"CLE that does not list the version", func(t *testing.T) []Statement {
			return parse(t, cle, evidence.DocumentTypeCLE, "pkg:maven/org.apache.logging.log4j/log4j-core@2.25.0", true, 4)
		}, "2026-04-01", Unknown, 0, 0},
		{"of two release statements the more recently updated decides", func(t *testing.T) []Statement {
			return append(parse(t, own, evidence.PredicateSupportPeriod, rel, false, 9), parse(t, eox, "https://docs.oasis-open.org/openeox/v1.0/schema/core.json", rel, false, 3)...)
		}, "2027-01-15", Supported, 3, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := Resolve(c.sts(t), date(c.day))
			if a.State != c.state || len(a.Statements) != c.count {
				t.Fatalf("state %s with %d statements, want %s with %d", a.State, len(a.Statements), c.state, c.count)
			}
			if c.count > 0 && a.Decided.Source.LogIndex != c.decided {
				t.Errorf("decided by %d, want %d", a.Decided.Source.LogIndex, c.decided)
			}
			if c.count == 0 && a.Decided != nil {
				t.Error("decided without a statement")
			}
		})
	}
}

// TestParseTable reads OpenSSL's own release metadata (a real document):
// a release of 3.0 is supported to 7 September 2026, one of 3.5 (LTS) to
// 8 April 2030, and a month without a day means its last day.
func TestParseTable(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "testdata", "evidence", "support-period", "openssl_release-metadata__data.json"))
	if os.IsNotExist(err) {
		t.Skip("the shared test data is absent")
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		release string
		line    string
		end     string
	}{
		{"pkg:generic/openssl@3.0.15", "3.0", "2026-09-07"},
		{"pkg:generic/openssl@3.5.0", "3.5", "2030-04-08"},
		{"pkg:generic/openssl@5.0.1", "5.0", "2028-11-30"},
	} {
		sts, err := Parse(b, evidence.DocumentTypeSupportTable, c.release, true, Source{})
		if err != nil {
			t.Fatal(err)
		}
		if len(sts) != 1 {
			t.Fatalf("%s: %d statements", c.release, len(sts))
		}
		got := sts[0]
		if got.ReleaseLine != c.line || got.EndOfSecuritySupport.Format(time.DateOnly) != c.end || got.Covers != CoversReleaseLine {
			t.Errorf("%s: line %s ends %s (%s), want %s ending %s", c.release, got.ReleaseLine, got.EndOfSecuritySupport.Format(time.DateOnly), got.Covers, c.line, c.end)
		}
		if Resolve(sts, date(c.end)).State != Supported || Resolve(sts, date(c.end).AddDate(0, 0, 1)).State != Ended {
			t.Errorf("%s: not supported through its last day, or after it", c.release)
		}
	}
	if sts, _ := Parse(b, evidence.DocumentTypeSupportTable, "pkg:generic/openssl@1.1.1w", true, Source{}); len(sts) != 0 {
		t.Errorf("1.1.1, not in the table: %v", sts)
	}
}

func TestInLine(t *testing.T) {
	for _, c := range []struct {
		version, line string
		want          bool
	}{
		{"2.24.1", "2.24", true}, {"2.24", "2.24", true}, {"2.240.0", "2.24", false}, {"v3.0.1", "3.0", true},
		{"3.0-beta1", "3.0", true}, {"3.0+build", "3", true}, {"3", "", false}, {"2.2", "2.24", false},
	} {
		if got := InLine(c.version, c.line); got != c.want {
			t.Errorf("InLine(%q, %q) = %v", c.version, c.line, got)
		}
	}
	if diff := cmp.Diff(Unknown, Resolve(nil, date("2026-01-01")).State); diff != "" {
		t.Error(diff)
	}
}
