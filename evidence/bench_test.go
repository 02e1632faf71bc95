package evidence

import (
	"encoding/json"
	"strings"
	"testing"
)

// typicalStatement returns the JSON of a statement about one release with a
// small SLSA provenance predicate; signed, its envelope is about 2 KB, the
// size of a typical submission.
func typicalStatement(tb testing.TB) []byte {
	tb.Helper()
	s := &Statement{
		Type: StatementTypeV1,
		Subject: []Subject{{
			Name: "pkg:pypi/requests@2.32.3",
			Digest: map[string]string{
				"sha256": hexSum("requests-2.32.3.tar.gz"),
				"sha512": hexSum("a") + hexSum("b"),
			},
		}},
		PredicateType: PredicateSLSAProvenance,
		Predicate: json.RawMessage(`{
  "buildDefinition": {
    "buildType": "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
    "externalParameters": {
      "workflow": {"ref": "refs/tags/v2.32.3", "repository": "https://github.com/psf/requests", "path": ".github/workflows/publish.yml"}
    },
    "internalParameters": {"github": {"event_name": "release", "repository_id": "1362490", "repository_owner_id": "18033596"}},
    "resolvedDependencies": [{"uri": "git+https://github.com/psf/requests@refs/tags/v2.32.3", "digest": {"gitCommit": "0e322af87745eff34caffe4df68456ebc20d9068"}}]
  },
  "runDetails": {
    "builder": {"id": "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder_generic_slsa3.yml@refs/tags/v2.0.0"},
    "metadata": {"invocationId": "https://github.com/psf/requests/actions/runs/9318428373/attempts/1", "startedOn": "2024-05-29T15:32:41Z", "finishedOn": "2024-05-29T15:34:02Z"}
  }
}`),
	}
	return mustMarshalStatement(tb, s)
}

func BenchmarkParseEnvelope(b *testing.B) {
	env := signedEnvelope(b, PayloadTypeInToto, typicalStatement(b), testKey(1))
	b.SetBytes(int64(len(env)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseEnvelope(env); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseStatement(b *testing.B) {
	st := typicalStatement(b)
	b.SetBytes(int64(len(st)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseStatement(st); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseSubmission is the parsing a node does per submission:
// the envelope, then the statement in its payload.
func BenchmarkParseSubmission(b *testing.B) {
	env := signedEnvelope(b, PayloadTypeInToto, typicalStatement(b), testKey(1))
	b.SetBytes(int64(len(env)))
	b.ReportAllocs()
	for b.Loop() {
		e, err := ParseEnvelope(env)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ParseStatement(e.Payload); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseEnvelopeLarge parses an envelope of a 1 MiB statement, as an
// SBOM would be: the time goes into the payload's base64.
func BenchmarkParseEnvelopeLarge(b *testing.B) {
	st := typicalStatement(b)
	pad := `,"padding":"` + strings.Repeat("x", 1<<20-len(st)) + `"}`
	payload := append(st[:len(st)-1:len(st)-1], pad...)
	env := signedEnvelope(b, PayloadTypeInToto, payload, testKey(1))
	b.SetBytes(int64(len(env)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseEnvelope(env); err != nil {
			b.Fatal(err)
		}
	}
}
