package evidence

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// predicateFiles are the valid example of each predicate type, in
// testdata/predicates.
var predicateFiles = map[string]string{
	PredicateSupportPeriod:             "support-period.json",
	PredicateSecurityPolicy:            "security-policy.json",
	PredicateCVDPolicy:                 "security-policy.json",
	PredicateVulnerabilityHandling:     "vulnerability-handling.json",
	PredicateStewardAttestation:        "steward-attestation.json",
	PredicateEUDeclarationOfConformity: "eu-declaration-of-conformity.json",
	PredicateOSPSBaseline:              "osps-baseline.json",
	PredicateWithdrawal:                "withdrawal.json",
}

func examplePredicate(t *testing.T, predicateType string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "predicates", predicateFiles[predicateType]))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// at returns the object at a dotted path of m ("controls.GV.01" has a
// dot in its last member: paths name objects, then the member).
func at(m map[string]any, path ...string) map[string]any {
	for _, p := range path {
		m = m[p].(map[string]any)
	}
	return m
}

// TestPredicateSchemas: every predicate type has a schema, its example is
// valid, and each broken example is refused with the failing field named.
func TestPredicateSchemas(t *testing.T) {
	for pt := range predicateSchemas {
		if _, ok := predicateFiles[pt]; !ok {
			t.Errorf("%s has a schema and no example in testdata/predicates", pt)
		}
	}
	type breakage struct {
		name   string
		change func(m map[string]any)
		field  string // the field the refusal names
		says   string // a word of the reason
	}
	cases := map[string][]breakage{
		PredicateSupportPeriod: {
			{"no end of security support", func(m map[string]any) { delete(m, "end_of_security_support") }, "predicate.end_of_security_support", "missing"},
			{"an end that is not a date", func(m map[string]any) { m["end_of_security_support"] = "2031-12-31" }, "predicate.end_of_security_support", ""},
			{"a coverage it does not know", func(m map[string]any) { m["covers"] = "forever" }, "predicate.covers", "must be one of"},
			{"a line without release_line", func(m map[string]any) { delete(m, "release_line") }, "predicate.release_line", "missing"},
			{"a release with a release_line", func(m map[string]any) { m["covers"] = "release" }, "predicate.release_line", "not allowed"},
			{"a member it does not have", func(m map[string]any) { m["supportedUntil"] = "2031" }, "predicate.supportedUntil", "not a member"},
			{"a policy URL that is not http", func(m map[string]any) { m["policy_url"] = "ftp://x/y" }, "predicate.policy_url", ""},
		},
		PredicateSecurityPolicy: {
			{"no contact", func(m map[string]any) { delete(m, "contact") }, "predicate.contact", "missing"},
			{"a contact that is not a URI", func(m map[string]any) { m["contact"] = []any{"security at apache"} }, "predicate.contact[0]", ""},
			{"a channel of no known type", func(m map[string]any) { m["reporting_channels"].([]any)[0].(map[string]any)["type"] = "pigeon" }, "predicate.reporting_channels[0].type", "must be one of"},
			{"a negative embargo", func(m map[string]any) { at(m, "disclosure")["embargo_days"] = -1 }, "predicate.disclosure.embargo_days", "minimum"},
		},
		PredicateVulnerabilityHandling: {
			{"no process", func(m map[string]any) { delete(m, "process") }, "predicate.process", "missing"},
			{"no advisory feed", func(m map[string]any) { m["advisory_feeds"] = []any{} }, "predicate.advisory_feeds", ""},
			{"a feed without a URL", func(m map[string]any) { delete(m["advisory_feeds"].([]any)[0].(map[string]any), "url") }, "predicate.advisory_feeds[0].url", "missing"},
		},
		PredicateStewardAttestation: {
			{"an item left out", func(m map[string]any) { delete(at(m, "controls"), "VM.02") }, "predicate.controls.VM.02", "missing"},
			{"met without the link the item asks for", func(m map[string]any) { delete(at(m, "controls", "GV.01"), "evidence_url") }, "predicate.controls.GV.01.evidence_url", "missing"},
			{"not_met without an explanation", func(m map[string]any) { delete(at(m, "controls", "LE.02"), "explanation") }, "predicate.controls.LE.02.explanation", "missing"},
			{"a condition that does not apply, answered met", func(m map[string]any) { at(m, "controls", "QA.05")["status"] = "met" }, "predicate.controls.QA.05.status", ""},
			{"a status of two values", func(m map[string]any) { at(m, "controls", "QA.06")["status"] = "yes" }, "predicate.controls.QA.06.status", "must be one of"},
			{"no registered address", func(m map[string]any) { delete(at(m, "issuer"), "registered_address") }, "predicate.issuer.registered_address", "missing"},
			{"another template", func(m map[string]any) { m["template"] = "template-heavy" }, "predicate.template", ""},
		},
		PredicateEUDeclarationOfConformity: {
			{"no digest", func(m map[string]any) { delete(at(m, "declaration"), "sha256") }, "predicate.declaration.sha256", "missing"},
			{"a digest that is not one", func(m map[string]any) { at(m, "declaration")["sha256"] = "abc" }, "predicate.declaration.sha256", ""},
			{"no product", func(m map[string]any) { delete(m, "product") }, "predicate.product", "missing"},
		},
		PredicateOSPSBaseline: {
			{"a level the baseline does not have", func(m map[string]any) { m["level_claimed"] = 4 }, "predicate.level_claimed", "maximum"},
			{"a control id of another scheme", func(m map[string]any) { m["controls"].([]any)[0].(map[string]any)["id"] = "AC-01" }, "predicate.controls[0].id", ""},
			{"a result it does not know", func(m map[string]any) { m["controls"].([]any)[1].(map[string]any)["result"] = "ok" }, "predicate.controls[1].result", "must be one of"},
			{"no assessment", func(m map[string]any) { delete(m, "assessment") }, "predicate.assessment", "missing"},
		},
		PredicateWithdrawal: {
			{"no reason", func(m map[string]any) { delete(m, "reason") }, "predicate.reason", "missing"},
			{"an empty reason", func(m map[string]any) { m["reason"] = "" }, "predicate.reason", ""},
			{"an envelope digest in capitals", func(m map[string]any) {
				at(m, "withdrawn")["envelope_sha256"] = strings.ToUpper(at(m, "withdrawn")["envelope_sha256"].(string))
			}, "predicate.withdrawn.envelope_sha256", ""},
		},
	}
	for pt, breakages := range cases {
		t.Run(filepath.Base(filepath.Dir(pt)), func(t *testing.T) {
			valid, _ := json.Marshal(examplePredicate(t, pt))
			if err := CheckPredicate(pt, valid, "predicate"); err != nil {
				t.Fatalf("the example is refused: %v", err)
			}
			for _, b := range breakages {
				m := examplePredicate(t, pt)
				b.change(m)
				broken, _ := json.Marshal(m)
				err := CheckPredicate(pt, broken, "predicate")
				var fe *FieldError
				if !errors.As(err, &fe) {
					t.Errorf("%s: %v, want a FieldError", b.name, err)
					continue
				}
				if fe.Field != b.field || !strings.Contains(fe.Reason, b.says) {
					t.Errorf("%s: refused at %q (%s), want %q saying %q", b.name, fe.Field, fe.Reason, b.field, b.says)
				}
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("%s: not ErrMalformed", b.name)
				}
			}
		})
	}
	if err := CheckPredicate(PredicateSupportPeriod, []byte(`{"covers":"release","covers":"release-line"}`), "predicate"); err == nil {
		t.Error("a predicate with a member twice passed")
	}
	if err := CheckPredicate(PredicateOpenVEX, []byte(`{"anything":1}`), "predicate"); err != nil {
		t.Errorf("a predicate type without a schema was checked: %v", err)
	}
}

// TestPredicateCheckedAtSubmission: a node's check (Verify) applies the
// schema to a statement's predicate, and to the content of a document
// attestation whose documentType is an Evident predicate, naming the field
// inside the document.
func TestPredicateCheckedAtSubmission(t *testing.T) {
	key := testKey(9)
	trust, err := NewTrustedKeys([]TrustedKey{{PublicKey: pubOf(key), Namespaces: []string{"pkg:pypi"}}})
	if err != nil {
		t.Fatal(err)
	}
	good := examplePredicate(t, PredicateSupportPeriod)
	bad := examplePredicate(t, PredicateSupportPeriod)
	bad["end_of_security_support"] = "soon"
	sign := func(predicateType string, predicate []byte) []byte {
		st := &Statement{Type: StatementTypeV1, PredicateType: predicateType, Predicate: predicate,
			Subject: []Subject{{Name: "pkg:pypi/requests", Digest: map[string]string{"sha256": strings.Repeat("ab", 32)}}}}
		payload, err := st.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		env, err := Sign(PayloadTypeInToto, payload, key, "")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := env.Marshal()
		return b
	}
	document := func(content []byte) []byte {
		p, err := (&Document{MediaType: "application/json", Content: content, DocumentType: PredicateSupportPeriod, Kind: KindSupportPeriod, Format: "Evident support period v1"}).Predicate()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	g, _ := json.Marshal(good)
	b, _ := json.Marshal(bad)
	for _, c := range []struct {
		name  string
		env   []byte
		field string
	}{
		{"predicate", sign(PredicateSupportPeriod, g), ""},
		{"broken predicate", sign(PredicateSupportPeriod, b), "predicate.end_of_security_support"},
		{"document", sign(PredicateDocument, document(g)), ""},
		{"broken document", sign(PredicateDocument, document(b)), "predicate.document.content.end_of_security_support"},
		{"a document that is not JSON", sign(PredicateDocument, document([]byte("support: forever\n"))), "predicate.document.content"},
		{"no predicate", sign(PredicateSupportPeriod, nil), "predicate"},
	} {
		v, err := Verify(c.env, trust)
		if c.field == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			} else if v.Kind != KindSupportPeriod {
				t.Errorf("%s: kind %s", c.name, v.Kind)
			}
			continue
		}
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: %v, want a refusal at %s", c.name, err, c.field)
		}
	}
}

// TestWithdrawalStatement: a withdrawal's subjects carry the withdrawn
// envelope's digest, and nothing else; and a withdrawal cannot be a
// document.
func TestWithdrawalStatement(t *testing.T) {
	key := testKey(9)
	trust, err := NewTrustedKeys([]TrustedKey{{PublicKey: pubOf(key), Namespaces: []string{"pkg:pypi"}}})
	if err != nil {
		t.Fatal(err)
	}
	target := strings.Repeat("5a", 32)
	var d [32]byte
	hex.Decode(d[:], []byte(target))
	pred, err := (&Withdrawal{EnvelopeDigest: d, LogIndex: 3, HasLogIndex: true, Reason: "wrong release"}).Predicate()
	if err != nil {
		t.Fatal(err)
	}
	w, err := ParseWithdrawal(pred)
	if err != nil || w.EnvelopeDigest != d || !w.HasLogIndex || w.LogIndex != 3 || w.Reason != "wrong release" {
		t.Fatalf("ParseWithdrawal(Predicate()) = %+v, %v", w, err)
	}
	sign := func(digest map[string]string) error {
		st := &Statement{Type: StatementTypeV1, PredicateType: PredicateWithdrawal, Predicate: pred,
			Subject: []Subject{{Name: "pkg:pypi/requests@2.32.3", Digest: digest}}}
		payload, _ := st.Marshal()
		env, _ := Sign(PayloadTypeInToto, payload, key, "")
		b, _ := env.Marshal()
		v, err := Verify(b, trust)
		if err == nil && v.Kind != KindWithdrawal {
			t.Errorf("a withdrawal of kind %s", v.Kind)
		}
		return err
	}
	if err := sign(map[string]string{"sha256": target}); err != nil {
		t.Errorf("a withdrawal: %v", err)
	}
	for _, digest := range []map[string]string{{"sha256": strings.Repeat("6b", 32)}, {"sha256": target, "sha512": strings.Repeat("6b", 64)}} {
		var fe *FieldError
		if err := sign(digest); !errors.As(err, &fe) || fe.Field != "subject[0].digest" {
			t.Errorf("subject digest %v: %v, want a refusal at subject[0].digest", digest, err)
		}
	}
	dp, err := (&Document{MediaType: "application/json", Content: pred, DocumentType: PredicateWithdrawal, Kind: KindWithdrawal, Format: "x"}).Predicate()
	if err != nil {
		t.Fatal(err)
	}
	st := &Statement{Type: StatementTypeV1, PredicateType: PredicateDocument, Predicate: dp,
		Subject: []Subject{{Name: "pkg:pypi/requests@2.32.3", Digest: map[string]string{"sha256": target}}}}
	payload, _ := st.Marshal()
	env, _ := Sign(PayloadTypeInToto, payload, key, "")
	b, _ := env.Marshal()
	var fe *FieldError
	if _, err := Verify(b, trust); !errors.As(err, &fe) || fe.Field != "predicate.documentType" {
		t.Errorf("a withdrawal as a document: %v, want a refusal at predicate.documentType", err)
	}
}
