package evidence

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/entry-v2.txt")

var entryTime = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

// goldenVerified returns a deterministic verified envelope with two signers
// and three subjects.
func goldenVerified(t testing.TB) *Verified {
	t.Helper()
	k1, k2 := testKey(1), testKey(2)
	trust, err := NewTrustedKeys([]TrustedKey{
		{PublicKey: pubOf(k1), Namespaces: []string{"pkg:maven/org.apache"}},
		{PublicKey: pubOf(k2), Namespaces: []string{"pkg:maven/org.apache.logging", "pkg:npm/@angular"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	jar := subject("pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1?type=jar")
	jar.Digest["sha512"] = strings.Repeat("0f", 64)
	jar.Digest["gitCommit"] = strings.Repeat("c0", 20)
	st := &Statement{
		Type: StatementTypeV1,
		Subject: []Subject{
			jar,
			subject("pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1?classifier=sources&type=jar"),
			subject("pkg:npm/@angular/core@17.0.0"),
			{Name: "pkg:maven/org.apache.logging.log4j/log4j-api", Digest: map[string]string{"gitCommit": strings.Repeat("c1", 20)}},
		},
		PredicateType: PredicateDocument,
		Predicate:     goldenDocument(t),
	}
	v, err := Verify(signedEnvelope(t, PayloadTypeInToto, mustMarshalStatement(t, st), k2, k1), trust)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// goldenDocument is the predicate of the golden entry's document
// attestation: a CycloneDX SBOM with a title that needs encoding.
func goldenDocument(t testing.TB) []byte {
	t.Helper()
	p, err := (&Document{
		FileName:     "log4j-core-2.24.1.cdx.json",
		MediaType:    "application/vnd.cyclonedx+json",
		Content:      []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6"}` + "\n"),
		DocumentType: "https://cyclonedx.org/bom/v1.6",
		Kind:         KindSBOM,
		Format:       "CycloneDX 1.6 JSON",
		Title:        "Apache Log4j Core 2.24.1 – 100%  SBOM\t",
	}).Predicate()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEntryGolden(t *testing.T) {
	e, err := NewEntry(goldenVerified(t), entryTime.Add(999*time.Millisecond).In(time.FixedZone("CET", 3600)))
	if err != nil {
		t.Fatal(err)
	}
	got := e.Marshal()
	path := filepath.Join("testdata", "entry-v2.txt")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("entry encoding changed (-want +got):\n%s\nThe entry format is frozen; if this is intended, run go test -update and update ENTRY.md.", diff)
	}

	parsed, err := ParseEntry(want)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(e, parsed); diff != "" {
		t.Errorf("ParseEntry mismatch (-want +got):\n%s", diff)
	}
	if !bytes.Equal(parsed.Marshal(), want) {
		t.Error("Marshal(ParseEntry(b)) != b")
	}

	// What a node indexes.
	if diff := cmp.Diff([]string{
		"pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1",
		"pkg:npm/%40angular/core@17.0.0",
	}, e.Releases()); diff != "" {
		t.Errorf("Releases mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{
		"pkg:maven/org.apache.logging.log4j/log4j-core",
		"pkg:npm/%40angular/core",
		"pkg:maven/org.apache.logging.log4j/log4j-api",
	}, e.Packages()); diff != "" {
		t.Errorf("Packages mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"pkg:maven/org.apache.logging.log4j/log4j-api"}, e.PackageLevel()); diff != "" {
		t.Errorf("PackageLevel mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{
		"gitCommit:" + strings.Repeat("c0", 20),
		"sha256:" + hexSum("pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1?type=jar"),
		"sha512:" + strings.Repeat("0f", 64),
		"sha256:" + hexSum("pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1?classifier=sources&type=jar"),
		"sha256:" + hexSum("pkg:npm/@angular/core@17.0.0"),
		"gitCommit:" + strings.Repeat("c1", 20),
	}, e.Digests()); diff != "" {
		t.Errorf("Digests mismatch (-want +got):\n%s", diff)
	}
}

func TestNewEntry(t *testing.T) {
	v := goldenVerified(t)
	e, err := NewEntry(v, entryTime)
	if err != nil {
		t.Fatal(err)
	}
	if e.EnvelopeDigest != v.EnvelopeDigest || e.EnvelopeSize != v.EnvelopeSize || e.Kind != KindSBOM {
		t.Errorf("entry %+v does not reflect %+v", e, v)
	}
	if e.Time != entryTime {
		t.Errorf("Time = %v; want %v", e.Time, entryTime)
	}

	tests := []struct {
		name  string
		edit  func(*Verified)
		t     time.Time
		field string
	}{
		{"nil statement", func(v *Verified) { v.Statement = nil }, entryTime, "entry"},
		{"zero time", func(*Verified) {}, time.Time{}, "time"},
		{"year 10000", func(*Verified) {}, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "time"},
		{"zero size", func(v *Verified) { v.EnvelopeSize = 0 }, entryTime, "size"},
		{"no signers", func(v *Verified) { v.SignerIDs = nil }, entryTime, "signer"},
		{"signer with space", func(v *Verified) { v.SignerIDs = []string{"a b"} }, entryTime, "signer"},
		{"too many signers", func(v *Verified) {
			v.SignerIDs = nil
			for i := 0; i <= MaxSignatures; i++ {
				v.SignerIDs = append(v.SignerIDs, fmt.Sprint(i))
			}
		}, entryTime, "signer"},
		{"bad kind", func(v *Verified) { v.Kind = "SPDX" }, entryTime, "kind"},
		{"bad type", func(v *Verified) { v.PredicateType = "no uri" }, entryTime, "predicateType"},
		{"bad subject", func(v *Verified) { v.SubjectPurls[1] = "pkg:npm" }, entryTime, "subject[1].name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := goldenVerified(t)
			tt.edit(v)
			e, err := NewEntry(v, tt.t)
			if e != nil {
				t.Error("NewEntry returned an entry with an error")
			}
			wantFieldError(t, err, tt.field)
		})
	}
	if _, err := NewEntry(nil, entryTime); err == nil {
		t.Error("NewEntry(nil) succeeded")
	}

	// Empty Kind and PredicateType are filled in from the statement.
	v = goldenVerified(t)
	v.Kind, v.PredicateType = "", ""
	e, err = NewEntry(v, entryTime)
	if err != nil {
		t.Fatal(err)
	}
	if e.Kind != KindSBOM || e.PredicateType != PredicateDocument {
		t.Errorf("Kind, PredicateType = %q, %q", e.Kind, e.PredicateType)
	}
}

func TestParseEntry(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("testdata", "entry-v2.txt"))
	if err != nil {
		t.Fatal(err)
	}
	g := string(golden)
	lines := strings.SplitAfter(g, "\n")
	lines = lines[:len(lines)-1] // after the final "\n"
	// line returns the golden line with the given keyword (first match).
	line := func(keyword string) string {
		for _, l := range lines {
			if strings.HasPrefix(l, keyword+" ") {
				return l
			}
		}
		t.Fatalf("golden entry has no %q line", keyword)
		return ""
	}
	replace := func(old, new string) string {
		if !strings.Contains(g, old) {
			t.Fatalf("golden entry does not contain %q", old)
		}
		return strings.Replace(g, old, new, 1)
	}
	sha := hexSum("pkg:npm/@angular/core@17.0.0")
	subjectLine := "subject pkg:npm/%40angular/core@17.0.0 sha256:" + sha + "\n"
	manySubjects := replace(subjectLine, strings.Repeat(subjectLine, MaxSubjects+1))
	envFields := strings.Fields(line("envelope"))
	envHex, envSize := strings.TrimPrefix(envFields[1], "sha256:"), envFields[2]
	signer2 := ""
	for _, l := range lines {
		if strings.HasPrefix(l, "signer ") && l != line("signer") {
			signer2 = l
			break
		}
	}

	tests := []struct {
		name, in, msg string
	}{
		{"empty", "", "want 1 to 65535"},
		{"too large", g + strings.Repeat("x", MaxEntrySize), "want 1 to 65535"},
		{"no final newline", strings.TrimSuffix(g, "\n"), "does not end with a newline"},
		{"CRLF", strings.ReplaceAll(g, "\n", "\r\n"), "byte 0x0d"},
		{"tab", replace("kind ", "kind\t"), "byte 0x09"},
		{"non-ASCII", replace("kind sbom", "kind sbom\u00e9"), "byte 0xc3"},
		{"NUL", replace("kind ", "kind \x00"), "byte 0x00"},
		{"v1 header", replace(EntryHeader, "evident.dev/entry/v1"), `want "evident.dev/entry/v2"`},
		{"blank line", replace("type ", "\ntype "), `want a "type" line`},
		{"lines swapped", replace(line("type")+line("kind"), line("kind")+line("type")), `want a "type" line`},
		{"envelope uppercase hex", replace(line("envelope"), strings.ToUpper(line("envelope")[:80])+line("envelope")[80:]), "want a \"envelope\" line"},
		{"envelope hex uppercase", replace("envelope sha256:"+envHex, "envelope sha256:"+strings.ToUpper(envHex)), "64 lowercase hex"},
		{"envelope sha512", replace("envelope sha256:", "envelope sha512:"), "sha256:<64"},
		{"envelope two values", replace(" dsse\n", "\n"), "must have 3 values"},
		{"size leading zero", replace(envHex+" ", envHex+" 0"), "leading zeros"},
		{"size zero", replace(envHex+" "+envSize, envHex+" 0"), "positive"},
		{"size negative", replace(envHex+" ", envHex+" -"), "positive"},
		{"size plus", replace(envHex+" ", envHex+" +"), "positive"},
		{"size overflow", replace(envHex+" "+envSize, envHex+" 99999999999999999999"), "positive"},
		{"encoding uppercase", replace(" dsse\n", " DSSE\n"), "encoding must be"},
		{"trailing space", replace(line("kind"), strings.TrimSuffix(line("kind"), "\n")+" \n"), "printable ASCII separated by single spaces"},
		{"double space", replace("kind ", "kind  "), "printable ASCII separated by single spaces"},
		{"type not a URI", replace(line("type"), "type cyclonedx\n"), "not a URI"},
		{"kind uppercase", replace("kind sbom", "kind SBOM"), "kind must be"},
		{"document missing", removeLines(g, "document "), `want a "document" line`},
		{"document digest", replace("document sha256:", "document sha1:"), "document digest must be"},
		{"document size", replace(" 46 application", " 046 application"), "document size must be"},
		{"media type", replace(" application/vnd.cyclonedx+json\n", " cyclonedx\n"), "must be a media type"},
		{"format missing", removeLines(g, "format "), `want a "format" line`},
		{"format lowercase hex", replace("name Apache Log4j Core 2.24.1 %E2", "name Apache Log4j Core 2.24.1 %e2"), "not in canonical form"},
		{"format needless escape", replace("name Apache", "name %41pache"), "not in canonical form"},
		{"format bad escape", replace("name Apache", "name %ZZpache"), "bad percent-encoding"},
		{"format truncated escape", replace("SBOM\n", "SBOM%2\n"), "truncated percent-encoding"},
		{"name invalid UTF-8", replace("%E2%80%93", "%E2%80"), "not in canonical form"},
		{"name escaped space", replace("Log4j Core", "Log4j%20Core"), "not in canonical form"},
		{"name too long", replace(line("name"), "name "+strings.Repeat("x", maxNameLen+1)+"\n"), "longer than 512"},
		{"no signer", removeLines(g, "signer "), "at least one signer"},
		{"signers unsorted", replace(line("signer")+signer2, signer2+line("signer")), "sorted and distinct"},
		{"duplicate signer", replace(line("signer"), line("signer")+line("signer")), "sorted and distinct"},
		{"no subject", removeLines(g, "subject "), "at least one subject"},
		{"too many subjects", manySubjects, "more than 64 subjects"},
		{"subject without digest", replace(subjectLine, "subject pkg:npm/%40angular/core@17.0.0\n"), "purl and at least one digest"},
		{"subject not canonical", replace(subjectLine, "subject pkg:npm/@angular/core@17.0.0 sha256:"+sha+"\n"), "not canonical"},
		{"subject bad purl", replace(subjectLine, "subject npm/core@1 sha256:"+sha+"\n"), "subject purl"},
		{"release without sha256", replace(subjectLine, "subject pkg:npm/%40angular/core@17.0.0 gitCommit:"+strings.Repeat("c0", 20)+"\n"), "no sha256"},
		{"package without digest", replace("log4j-api gitCommit:", "log4j-api sha1:"), "no sha256, sha512 or gitCommit"},
		{"digests unsorted", replace(" gitCommit:"+strings.Repeat("c0", 20)+" sha256:", " sha256:"+hexSum("x")+" gitCommit:"+strings.Repeat("c0", 20)+" sha256:"), "sorted by algorithm"},
		{"duplicate digest alg", replace(subjectLine, "subject pkg:npm/%40angular/core@17.0.0 sha256:"+sha+" sha256:"+sha+"\n"), "sorted by algorithm, each once"},
		{"digest not alg:value", replace(subjectLine, "subject pkg:npm/%40angular/core@17.0.0 "+sha+"\n"), "not alg:value"},
		{"no sha256", replace(subjectLine, "subject pkg:npm/%40angular/core@17.0.0 sha1:"+strings.Repeat("ab", 20)+"\n"), "no sha256"},
		{"bad sha256", replace(subjectLine, "subject pkg:npm/%40angular/core@17.0.0 sha256:abc\n"), "64 lowercase hex"},
		{"subject double space", replace(subjectLine, "subject pkg:npm/%40angular/core@17.0.0  sha256:"+sha+"\n"), "not alg:value"},
		{"time with zone", replace("2026-11-25T08:00:00Z", "2026-11-25T09:00:00+01:00"), "RFC 3339 UTC"},
		{"time fractional", replace("2026-11-25T08:00:00Z", "2026-11-25T08:00:00.5Z"), "RFC 3339 UTC"},
		{"time lowercase z", replace("2026-11-25T08:00:00Z", "2026-11-25T08:00:00z"), "RFC 3339 UTC"},
		{"time invalid date", replace("2026-11-25T08:00:00Z", "2026-02-30T08:00:00Z"), "RFC 3339 UTC"},
		{"missing time", removeLines(g, "time "), `missing "time" line`},
		{"line after time", g + "extra line\n", "unexpected line after time"},
		{"unknown line", replace(line("time"), "note hello\n"+line("time")), `want a "time" line`},
		{"unknown line before signers", replace(line("name"), line("name")+"note hello\n"), "at least one signer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseEntry([]byte(tt.in))
			if e != nil {
				t.Error("ParseEntry returned an entry with an error")
			}
			wantFieldError(t, err, "", tt.msg)
		})
	}

	// Entries may carry kinds and signer key types this version does not know.
	future := replace("kind sbom", "kind sbom-ai")
	future = strings.Replace(future, " dsse\n", " cose-sign1\n", 1)
	future = strings.Replace(future, line("signer"), "signer ecdsa-p256:"+hex.EncodeToString([]byte("k"))+"\n", 1)
	if _, err := ParseEntry([]byte(future)); err != nil {
		t.Errorf("entry with a new kind and key type: %v", err)
	}
}

// removeLines removes the lines starting with prefix.
func removeLines(s, prefix string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if !strings.HasPrefix(l, prefix) {
			b.WriteString(l)
		}
	}
	return b.String()
}

// TestEntrySizeAndTime: size is exactly the encoding's length, and the
// hand-written time encoding is time.Format's.
func TestEntrySizeAndTime(t *testing.T) {
	r := mrand.New(mrand.NewPCG(1, 2))
	for i := range 2000 {
		tm := time.Unix(r.Int64N(253402300799+62135596800)-62135596800, 0).UTC() // years 1 to 9999
		if got, want := string(appendEntryTime(nil, tm)), tm.Format(entryTimeLayout); got != want {
			t.Fatalf("appendEntryTime(%v) = %q, want %q", tm, got, want)
		}
		e := &Entry{
			EnvelopeSize:  r.Int64N(1 << uint(r.IntN(62))),
			PredicateType: strings.Repeat("p", 1+r.IntN(40)),
			Kind:          Kind(strings.Repeat("k", 1+r.IntN(10))),
			Time:          tm,
		}
		for range r.IntN(4) {
			e.Signers = append(e.Signers, strings.Repeat("s", 1+r.IntN(70)))
		}
		for range 1 + r.IntN(4) {
			sub := EntrySubject{Purl: strings.Repeat("u", 1+r.IntN(90))}
			for range r.IntN(4) {
				sub.Digests = append(sub.Digests, Digest{Alg: strings.Repeat("a", 1+r.IntN(8)), Value: strings.Repeat("f", 1+r.IntN(128))})
			}
			e.Subjects = append(e.Subjects, sub)
		}
		if got, want := e.size(), len(e.Marshal()); got != want {
			t.Fatalf("entry %d: size %d, encoding is %d bytes:\n%s", i, got, want, e.Marshal())
		}
	}
}
