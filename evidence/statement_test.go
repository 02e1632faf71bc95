package evidence

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseStatement(t *testing.T) {
	sha := hexSum("artifact")
	sha512 := strings.Repeat("ab", 64)
	subj := func(name string) string {
		return `{"name":"` + name + `","digest":{"sha256":"` + sha + `"}}`
	}
	stmt := func(typ, subjects, rest string) string {
		return `{"_type":"` + typ + `","subject":[` + subjects + `],"predicateType":"https://spdx.dev/Document/v2.3"` + rest + `}`
	}
	valid := []struct {
		name string
		in   string
		want *Statement
	}{
		{"v1", stmt(StatementTypeV1, subj("pkg:pypi/requests@2.32.3"), `,"predicate":{"a":1}`), &Statement{
			Type: StatementTypeV1, PredicateType: PredicateSPDX23, Predicate: json.RawMessage(`{"a":1}`),
			Subject: []Subject{{Name: "pkg:pypi/requests@2.32.3", Digest: map[string]string{"sha256": sha}}},
		}},
		{"v0.1", stmt(StatementTypeV01, subj("pkg:pypi/requests@2.32.3"), ``), &Statement{
			Type: StatementTypeV01, PredicateType: PredicateSPDX23,
			Subject: []Subject{{Name: "pkg:pypi/requests@2.32.3", Digest: map[string]string{"sha256": sha}}},
		}},
		{"null predicate", stmt(StatementTypeV1, subj("pkg:pypi/requests@2.32.3"), `,"predicate":null`), &Statement{
			Type: StatementTypeV1, PredicateType: PredicateSPDX23,
			Subject: []Subject{{Name: "pkg:pypi/requests@2.32.3", Digest: map[string]string{"sha256": sha}}},
		}},
		{"unknown members ignored", `{"_type":"` + StatementTypeV1 + `","x-ext":{"y":[1,2]},"subject":[{"name":"pkg:pypi/requests@2.32.3","uri":"https://pypi.org/x","annotations":{},"digest":{"sha256":"` + sha + `","sha512":"` + sha512 + `","gitCommit":"` + sha[:40] + `","myhash":"AbC+/=_.:-"}}],"predicateType":"https://spdx.dev/Document/v2.3"}`, &Statement{
			Type: StatementTypeV1, PredicateType: PredicateSPDX23,
			Subject: []Subject{{Name: "pkg:pypi/requests@2.32.3", Digest: map[string]string{"sha256": sha, "sha512": sha512, "gitCommit": sha[:40], "myhash": "AbC+/=_.:-"}}},
		}},
		{"many subjects", stmt(StatementTypeV1, strings.TrimSuffix(strings.Repeat(subj("pkg:pypi/requests@2.32.3")+",", MaxSubjects), ","), ``), nil},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStatement([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != nil {
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("mismatch (-want +got):\n%s", diff)
				}
			}
			// Marshal and parse again: same statement.
			b, err := got.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			again, err := ParseStatement(b)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, again); diff != "" {
				t.Errorf("round trip mismatch (-want +got):\n%s", diff)
			}
		})
	}

	v1 := StatementTypeV1
	ok := subj("pkg:pypi/requests@2.32.3")
	digest := func(d string) string {
		return stmt(v1, `{"name":"pkg:pypi/requests@2.32.3","digest":{`+d+`}}`, ``)
	}
	invalid := []struct {
		name, in, field string
		msg             string
	}{
		{"not JSON", `{`, "payload", "not valid JSON"},
		{"not an object", `"x"`, "payload", "JSON object"},
		{"invalid UTF-8", "{\"_type\":\"\xc3\"}", "payload", "UTF-8"},
		{"trailing data", stmt(v1, ok, ``) + `x`, "payload", "data after"},
		{"missing _type", `{"subject":[` + ok + `],"predicateType":"https://x"}`, "_type", "missing"},
		{"wrong _type", stmt("https://in-toto.io/Statement/v2", ok, ``), "_type", "Evident accepts"},
		{"duplicate _type", `{"_type":"` + v1 + `","_type":"x","subject":[` + ok + `],"predicateType":"https://x"}`, "payload", `"_type" more than once`},
		{"case variant subject", `{"_type":"` + v1 + `","subject":[` + ok + `],"Subject":[],"predicateType":"https://x"}`, "payload", `spell it "subject"`},
		{"case-folded subject", `{"_type":"` + v1 + `","subject":[` + ok + `],"ſubject":[],"predicateType":"https://x"}`, "payload", `spell it "subject"`},
		{"missing subject", `{"_type":"` + v1 + `","predicateType":"https://x"}`, "subject", "missing or empty"},
		{"empty subject", stmt(v1, ``, ``), "subject", "missing or empty"},
		{"subject not array", `{"_type":"` + v1 + `","subject":{},"predicateType":"https://x"}`, "subject", "array"},
		{"too many subjects", stmt(v1, strings.Repeat(ok+",", MaxSubjects)+ok, ``), "subject", "more than 64"},
		{"subject not object", stmt(v1, `"pkg:pypi/requests@2.32.3"`, ``), "subject[0]", "object"},
		{"name missing", stmt(v1, `{"digest":{"sha256":"`+sha+`"}}`, ``), "subject[0].name", "missing"},
		{"name in uri", stmt(v1, `{"uri":"pkg:npm/x@1","digest":{"sha256":"`+sha+`"}}`, ``), "subject[0].name", "not uri"},
		{"name not a string", stmt(v1, `{"name":1,"digest":{"sha256":"`+sha+`"}}`, ``), "subject[0].name", "string"},
		{"name lone surrogate", stmt(v1, `{"name":"pkg:pypi/a\ud800@1","digest":{"sha256":"`+sha+`"}}`, ``), "subject[0].name", "U+FFFD"},
		{"name a bad purl", stmt(v1, ok+","+subj("pkg:/x"), ``), "subject[1].name", "; use a Package URL such as pkg:pypi/requests@2.32.3"},
		{"name with a control character", stmt(v1, ok+","+subj("a\\u0001b.tar.gz"), ``), "subject[1].name", "control character"},
		{"maven without namespace", stmt(v1, subj("pkg:maven/log4j-core@2.24.1"), ``), "subject[0].name", "need a namespace"},
		{"digest missing", stmt(v1, `{"name":"pkg:pypi/requests@2.32.3"}`, ``), "subject[0].digest", "missing or empty"},
		{"digest empty", digest(``), "subject[0].digest", "missing or empty"},
		{"digest not object", stmt(v1, `{"name":"pkg:pypi/requests@2.32.3","digest":"`+sha+`"}`, ``), "subject[0].digest", "object"},
		{"no sha256", digest(`"sha1":"` + strings.Repeat("ab", 20) + `"`), "subject[0].digest", "no sha256"},
		{"sha256 uppercase", digest(`"sha256":"` + strings.ToUpper(sha) + `"`), "subject[0].digest.sha256", "64 lowercase hex"},
		{"sha256 short", digest(`"sha256":"abcd"`), "subject[0].digest.sha256", "64 lowercase hex"},
		{"sha256 number", digest(`"sha256":1`), `subject[0].digest["sha256"]`, "string"},
		{"SHA256", digest(`"SHA256":"` + sha + `"`), "subject[0].digest", `spells it "sha256"`},
		{"sha-256", digest(`"sha-256":"` + sha + `"`), "subject[0].digest", `spells it "sha256"`},
		{"sha512 wrong length", digest(`"sha256":"` + sha + `","sha512":"` + sha + `"`), "subject[0].digest.sha512", "128 lowercase hex"},
		{"gitCommit wrong length", digest(`"sha256":"` + sha + `","gitCommit":"abcd"`), "subject[0].digest.gitCommit", "40 or 64"},
		{"unknown alg bad name", digest(`"sha256":"` + sha + `","1x":"ab"`), "subject[0].digest", "algorithm name"},
		{"unknown alg bad value", digest(`"sha256":"` + sha + `","myhash":"a b"`), "subject[0].digest.myhash", "1 to 256"},
		{"duplicate digest", digest(`"sha256":"` + sha + `","sha256":"` + sha + `"`), "subject[0].digest", "more than once"},
		{"too many digests", digest(`"sha256":"` + sha + `"` + manyDigests(16)), "subject[0].digest", "more than 16"},
		{"missing predicateType", `{"_type":"` + v1 + `","subject":[` + ok + `]}`, "predicateType", "missing"},
		{"predicateType not a URI", `{"_type":"` + v1 + `","subject":[` + ok + `],"predicateType":"spdx"}`, "predicateType", "not a URI"},
		{"predicateType with space", `{"_type":"` + v1 + `","subject":[` + ok + `],"predicateType":"https://x y"}`, "predicateType", "printable ASCII"},
		{"predicateType too long", `{"_type":"` + v1 + `","subject":[` + ok + `],"predicateType":"https://` + strings.Repeat("x", 512) + `"}`, "predicateType", "longer than 512"},
		{"predicate array", stmt(v1, ok, `,"predicate":[]`), "predicate", "JSON object"},
		{"predicate string", stmt(v1, ok, `,"predicate":"x"`), "predicate", "JSON object"},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseStatement([]byte(tt.in))
			if s != nil {
				t.Errorf("got a statement with error %v", err)
			}
			wantFieldError(t, err, tt.field, tt.msg)
		})
	}
}

// manyDigests returns n extra unknown-algorithm digest members.
func manyDigests(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `,"h%d":"ab"`, i)
	}
	return b.String()
}

func TestStatementMarshalValidates(t *testing.T) {
	s := testStatement(subject("requests-2.32.3.tar.gz"))
	if _, err := s.Marshal(); err == nil {
		t.Error("Marshal of a statement about a file name succeeded")
	}
	s = testStatement(subject("pkg:pypi/requests@2.32.3"))
	b, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"pkg:pypi/requests@2.32.3","digest":{"sha256":"` +
		hexSum("pkg:pypi/requests@2.32.3") + `"}}],"predicateType":"https://spdx.dev/Document/v2.3","predicate":{"spdxVersion":"SPDX-2.3"}}`
	if string(b) != want {
		t.Errorf("Marshal =\n%s\nwant\n%s", b, want)
	}
}
