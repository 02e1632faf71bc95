package evidence

import "testing"

func TestClassify(t *testing.T) {
	tests := []struct {
		in   string
		want Kind
	}{
		{PredicateSPDX, KindSPDX},
		{PredicateSPDX23, KindSPDX},
		{PredicateSPDX3, KindSPDX},
		{"https://spdx.dev/Document/v3.0.1", KindSPDX},
		{"https://spdx.dev/DocumentX", KindOther},
		{"http://spdx.dev/Document", KindOther},
		{"https://SPDX.dev/Document", KindOther},
		{PredicateCycloneDX, KindCycloneDX},
		{"https://cyclonedx.org/bom/v1.6", KindCycloneDX},
		{"https://cyclonedx.org/bomb", KindOther},
		{PredicateOpenVEX, KindOpenVEX},
		{"https://openvex.dev/ns", KindOpenVEX},
		{PredicateCSAF, KindCSAF},
		{"https://docs.oasis-open.org/csaf/csaf/v2.1", KindCSAF},
		{PredicateSLSAProvenance, KindSLSAProvenance},
		{PredicateSLSAProvenance02, KindSLSAProvenance},
		{"https://slsa.dev/provenance/v0.1", KindSLSAProvenance},
		{"https://slsa.dev/verification_summary/v1", KindOther},
		{PredicateScorecard, KindScorecard},
		{PredicateSecurityInsights, KindSecurityInsights},
		{PredicateVulnerabilityRecord, KindVulnerabilityRecord},
		{PredicateSecurityPolicy, KindSecurityPolicy},
		{PredicateCVDPolicy, KindCVDPolicy},
		{PredicateSupportPeriod, KindSupportPeriod},
		{PredicateVulnerabilityHandling, KindVulnerabilityHandling},
		{PredicateEUDeclarationOfConformity, KindEUDeclarationOfConformity},
		{PredicateStewardAttestation, KindStewardAttestation},
		{"https://evident.dev/attestation/steward-attestation/v2", KindStewardAttestation},
		{"https://evident.dev/attestation/unknown/v1", KindOther},
		{"https://docs.pypi.org/attestations/publish/v1", KindOther},
		{"", KindOther},
	}
	for _, tt := range tests {
		if got := Classify(tt.in); got != tt.want {
			t.Errorf("Classify(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
	for _, kp := range kindPrefixes {
		if !validKind(kp.kind) {
			t.Errorf("kind %q is not a valid entry kind", kp.kind)
		}
	}
	if !validKind(KindOther) {
		t.Error("KindOther is not a valid entry kind")
	}
}
