package evidence

import "testing"

func TestClassify(t *testing.T) {
	tests := []struct {
		in   string
		want Kind
	}{
		{PredicateSPDX, KindSBOM},
		{PredicateSPDX23, KindSBOM},
		{PredicateSPDX3, KindSBOM},
		{"https://spdx.dev/Document/v3.0.1", KindSBOM},
		{"https://spdx.dev/DocumentX", KindOther},
		{"http://spdx.dev/Document", KindOther},
		{"https://SPDX.dev/Document", KindOther},
		{PredicateCycloneDX, KindSBOM},
		{"https://cyclonedx.org/bom/v1.6", KindSBOM},
		{"https://cyclonedx.org/bomb", KindOther},
		{PredicateOpenVEX, KindVEX},
		{"https://openvex.dev/ns", KindVEX},
		{PredicateCSAF, KindAdvisory},
		{"https://docs.oasis-open.org/csaf/csaf/v2.1", KindAdvisory},
		{PredicateSLSAProvenance, KindProvenance},
		{PredicateSLSAProvenance02, KindProvenance},
		{"https://slsa.dev/provenance/v0.1", KindProvenance},
		{"https://slsa.dev/verification_summary/v1", KindOther},
		{PredicateScorecard, KindScorecard},
		{PredicateSecurityInsights, KindSecurityInsights},
		{PredicateVulnerabilityRecord, KindAdvisory},
		{PredicateSecurityPolicy, KindSecurityPolicy},
		{PredicateCVDPolicy, KindCVDPolicy},
		{PredicateSupportPeriod, KindSupportPeriod},
		{PredicateVulnerabilityHandling, KindVulnerabilityHandling},
		{PredicateEUDeclarationOfConformity, KindEUDeclarationOfConformity},
		{PredicateStewardAttestation, KindStewardAttestation},
		{"https://evident.dev/attestation/steward-attestation/v2", KindStewardAttestation},
		{"https://evident.dev/attestation/unknown/v1", KindOther},
		{"https://docs.pypi.org/attestations/publish/v1", KindProvenance},
		{"https://cyclonedx.org/vex", KindVEX},
		{"https://evident.dev/attestation/osps-baseline/v1", KindOSPSBaseline},
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
