package main

import (
	"encoding/json"
	"testing"

	"github.com/evident-dev/evident/evidence"
	"github.com/google/go-cmp/cmp"
)

// TestOSPSFrom: a Gemara evaluation log and Scorecard's OSPS output become
// the same predicate controls, and the predicate meets its schema.
func TestOSPSFrom(t *testing.T) {
	gemara := `metadata:
  type: EvaluationLog
  author:
    name: pvtr-github-repo
    version: 0.9.0
result: Failed
evaluations:
  - name: MFA
    result: Passed
    message: MFA is required
    control:
      reference-id: OSPS-B
      entry-id: OSPS-AC-01
    assessment-logs: []
  - name: Security contact
    result: Needs Review
    message: no contact in Security Insights
    control:
      reference-id: OSPS-B
      entry-id: OSPS-VM-02
  - name: Releases
    result: Not Applicable
    message: no release yet
    control:
      reference-id: OSPS-B
      entry-id: OSPS-BR-02
`
	scorecard := `{"osps_baseline_version": "2025-10-10", "target_level": 1, "scorecard": {"version": "v5.3.0"},
  "controls": [{"id": "OSPS-AC-01", "level": 1, "status": "PASS"}, {"id": "OSPS-VM-02", "level": 1, "status": "UNKNOWN"}, {"id": "OSPS-BR-02", "level": 1, "status": "NOT_APPLICABLE"}]}`
	for _, c := range []struct {
		name, doc, format, baseline string
		want                        []string
		tool                        string
	}{
		{"gemara", gemara, "gemara-evaluation-log", "", []string{"OSPS-AC-01 passed", "OSPS-VM-02 needs_review", "OSPS-BR-02 not_applicable"}, "pvtr-github-repo"},
		{"scorecard", scorecard, "scorecard-osps", "2025-10-10", []string{"OSPS-AC-01 passed", "OSPS-VM-02 unknown", "OSPS-BR-02 not_applicable"}, "OpenSSF Scorecard"},
	} {
		t.Run(c.name, func(t *testing.T) {
			controls, format, tool, baseline, err := ospsFrom([]byte(c.doc))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ctl := range controls {
				m := ctl.(map[string]any)
				got = append(got, m["id"].(string)+" "+m["result"].(string))
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("controls (-want +got):\n%s", diff)
			}
			if format != c.format || baseline != c.baseline || tool["name"] != c.tool {
				t.Errorf("format %q baseline %q tool %v", format, baseline, tool)
			}
			p, _ := json.Marshal(map[string]any{
				"baseline": map[string]any{"version": "2025-10-10"}, "level_claimed": 1, "controls": controls,
				"assessment": map[string]any{"method": "tool", "date": "2026-11-25T08:00:00Z", "tool": tool,
					"source": map[string]any{"format": format, "sha256": "8d83d7a8f84d5c0bb898b2398f923934e70e071eff28ab8c6900e9ccf80abbfd"}},
			})
			if err := evidence.CheckPredicate(evidence.PredicateOSPSBaseline, p, "predicate"); err != nil {
				t.Errorf("the predicate made from it: %v", err)
			}
		})
	}
	if _, _, _, _, err := ospsFrom([]byte(`{"results": []}`)); err == nil {
		t.Error("a document of neither kind was read")
	}
}

// TestPolicyFrom: a security.txt gives contacts, channels, policy and
// expiry; a Security Insights v2 file its reporting contact and policy.
func TestPolicyFrom(t *testing.T) {
	txt := "# comment\nContact: mailto:security@example.org\nContact: https://example.org/report\nEncryption: https://example.org/pgp.asc\n" +
		"Policy: https://example.org/security-policy\nExpires: 2027-12-31T23:59:59Z\nPreferred-Languages: en, de\n"
	p, err := policyFrom("security.txt", []byte(txt))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(p)
	if err := evidence.CheckPredicate(evidence.PredicateCVDPolicy, b, "predicate"); err != nil {
		t.Fatalf("from security.txt: %v\n%s", err, b)
	}
	if got := p["contact"].([]any); len(got) != 2 || p["policy_url"] != "https://example.org/security-policy" || p["expires"] != "2027-12-31T23:59:59Z" {
		t.Errorf("from security.txt: %s", b)
	}
	ch := p["reporting_channels"].([]any)[0].(map[string]any)
	if ch["type"] != "email" || ch["encryption"] != "https://example.org/pgp.asc" {
		t.Errorf("channel: %v", ch)
	}
	si := "header:\n  schema-version: 2.0.0\nproject:\n  name: x\n  vulnerability-reporting:\n    reports-accepted: true\n    contact:\n      email: sec@example.org\n    policy: https://example.org/SECURITY.md\n"
	p, err = policyFrom("security-insights.yml", []byte(si))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(p)
	if err := evidence.CheckPredicate(evidence.PredicateSecurityPolicy, b, "predicate"); err != nil {
		t.Fatalf("from Security Insights: %v\n%s", err, b)
	}
	if p["contact"].([]any)[0] != "mailto:sec@example.org" || p["policy_url"] != "https://example.org/SECURITY.md" {
		t.Errorf("from Security Insights: %s", b)
	}
}
