package evidence

import "strings"

// Kind is a stable, lowercase label for the role an item of evidence plays
// (an SBOM, a VEX document, provenance, a security policy, ...), whatever its
// format. It is recorded in log entries; the format is recorded beside it
// (see [Entry]). A CycloneDX document is an SBOM or, when it carries
// vulnerability analyses, a VEX document; a CSAF document is a VEX document
// or an advisory, by its category.
type Kind string

// Kinds. The string values are stable: they are written into log entries.
const (
	KindSBOM                      Kind = "sbom"                         // SPDX, CycloneDX BOMs
	KindVEX                       Kind = "vex"                          // OpenVEX, CSAF VEX, CycloneDX VEX and VDR
	KindAdvisory                  Kind = "advisory"                     // CSAF security advisories, OSV and CVE records
	KindProvenance                Kind = "provenance"                   // SLSA provenance, PyPI and npm publish attestations
	KindScorecard                 Kind = "scorecard"                    // OpenSSF Scorecard results
	KindSecurityInsights          Kind = "security-insights"            // OpenSSF Security Insights
	KindOSPSBaseline              Kind = "osps-baseline"                // OSPS Baseline assessments
	KindSecurityPolicy            Kind = "security-policy"              // SECURITY.md, security.txt
	KindCVDPolicy                 Kind = "cvd-policy"                   // coordinated vulnerability disclosure policies
	KindSupportPeriod             Kind = "support-period"               // support periods, end of life
	KindVulnerabilityHandling     Kind = "vulnerability-handling"       // a project's vulnerability-handling process
	KindEUDeclarationOfConformity Kind = "eu-declaration-of-conformity" // references to EU declarations of conformity
	KindStewardAttestation        Kind = "steward-attestation"          // CRA Art. 24/25 steward attestations
	KindWithdrawal                Kind = "withdrawal"                   // withdrawals of logged evidence (STATUS.md)
	KindOther                     Kind = "other"
)

// Predicate type URIs. Producers (the evident CLI) should write these;
// [Classify] also recognises the variants listed with each kind.
const (
	// SPDX 2.x, from the in-toto predicate spec spdx2.md ("https://spdx.dev/Document"
	// is the unversioned 2.x form).
	PredicateSPDX   = "https://spdx.dev/Document"
	PredicateSPDX23 = "https://spdx.dev/Document/v2.3"
	// SPDX 3, from the in-toto predicate spec spdx3.md.
	PredicateSPDX3 = "https://spdx.dev/Document/v3"
	// CycloneDX, from the in-toto predicate spec cyclonedx.md; versioned forms
	// such as https://cyclonedx.org/bom/v1.6 are also used.
	PredicateCycloneDX = "https://cyclonedx.org/bom"
	// OpenVEX: the document's @context, https://openvex.dev/ns/v0.2.0; the
	// unversioned https://openvex.dev/ns is also used (cosign --type openvex).
	PredicateOpenVEX = "https://openvex.dev/ns/v0.2.0"
	// CSAF 2.0 has no registered in-toto predicate type; Evident uses the
	// OASIS specification's base URI (2.1 is https://docs.oasis-open.org/csaf/csaf/v2.1).
	PredicateCSAF = "https://docs.oasis-open.org/csaf/csaf/v2.0"
	// SLSA provenance v1; v0.2 and v0.1 are recognised too.
	PredicateSLSAProvenance   = "https://slsa.dev/provenance/v1"
	PredicateSLSAProvenance02 = "https://slsa.dev/provenance/v0.2"
	// OpenSSF Scorecard's own in-toto output (scorecard v5
	// pkg/scorecard: InTotoPredicateType).
	PredicateScorecard = "https://scorecard.dev/result/v0.1"

	// Evident's own predicate types for formats that have no registered
	// in-toto predicate type: the predicate is the document converted to
	// JSON (Security Insights YAML) or the record as is.
	PredicateSecurityInsights    = "https://evident.dev/attestation/security-insights/v1"
	PredicateVulnerabilityRecord = "https://evident.dev/attestation/vulnerability-record/v1" // a CVE JSON 5 or OSV record

	// Evident's CRA predicates (PREDICATES.md): each is a JSON object with
	// a JSON Schema in schemas/, checked at submission ([CheckPredicate]),
	// whether it is a statement's predicate or the content of a document
	// attestation whose documentType names it. A new version of one is a
	// new URI, never a change to a published schema.
	PredicateSecurityPolicy            = "https://evident.dev/attestation/security-policy/v1"
	PredicateCVDPolicy                 = "https://evident.dev/attestation/cvd-policy/v1"
	PredicateSupportPeriod             = "https://evident.dev/attestation/support-period/v1"
	PredicateVulnerabilityHandling     = "https://evident.dev/attestation/vulnerability-handling/v1"
	PredicateEUDeclarationOfConformity = "https://evident.dev/attestation/eu-declaration-of-conformity/v1"
	PredicateStewardAttestation        = "https://evident.dev/attestation/steward-attestation/v1"
	PredicateOSPSBaseline              = "https://evident.dev/attestation/osps-baseline/v1"
	// PredicateWithdrawal withdraws logged evidence (STATUS.md).
	PredicateWithdrawal = "https://evident.dev/attestation/withdrawal/v1"
)

// Document types for published documents that have no predicate type of
// their own and are not in the shape of Evident's predicates: what a
// document attestation's documentType says they are (DOCUMENT.md), and the
// predicate type of a statement that embeds them.
const (
	// DocumentTypeSecurityTxt is a security.txt file (RFC 9116).
	DocumentTypeSecurityTxt = "https://www.rfc-editor.org/rfc/rfc9116"
	// DocumentTypeSecurityPolicyText and DocumentTypeCVDPolicyText are a
	// policy written for people (SECURITY.md, reStructuredText, text).
	DocumentTypeSecurityPolicyText = "https://evident.dev/document/security-policy/v1"
	DocumentTypeCVDPolicyText      = "https://evident.dev/document/cvd-policy/v1"
	// DocumentTypeSupportTable is a project's own table of release series
	// and their end of support (OpenSSL's release metadata, endoflife.date
	// answers).
	DocumentTypeSupportTable = "https://evident.dev/document/support-table/v1"
	// DocumentTypeOpenEoX is the prefix of OpenEoX's schema URIs; an
	// OpenEoX core document is attested with its own $schema as its type.
	DocumentTypeOpenEoX = "https://docs.oasis-open.org/openeox"
	// DocumentTypeCLE is an Ecma TC54 Common Lifecycle Enumeration
	// document, whose schema has no published URI yet.
	DocumentTypeCLE = "https://evident.dev/document/cle/v1"
)

// kindPrefixes maps predicate type prefixes to kinds. A prefix matches the
// type itself and anything below it after a "/", so
// "https://spdx.dev/Document" matches "https://spdx.dev/Document/v2.3" but
// not "https://spdx.dev/DocumentX".
var kindPrefixes = []struct {
	prefix string
	kind   Kind
}{
	{"https://spdx.dev/Document", KindSBOM},
	{"https://cyclonedx.org/bom", KindSBOM},
	{"https://cyclonedx.org/vex", KindVEX},
	{"https://openvex.dev/ns", KindVEX},
	{"https://docs.oasis-open.org/csaf/csaf", KindAdvisory},
	{"https://ossf.github.io/osv-schema", KindAdvisory},
	{"https://slsa.dev/provenance", KindProvenance},
	{"https://docs.pypi.org/attestations/publish", KindProvenance},
	{"https://github.com/npm/attestation/tree/main/specs/publish", KindProvenance},
	{"https://scorecard.dev/result", KindScorecard},
	{"https://evident.dev/attestation/security-insights", KindSecurityInsights},
	{"https://evident.dev/attestation/vulnerability-record", KindAdvisory},
	{"https://evident.dev/attestation/osps-baseline", KindOSPSBaseline},
	{"https://evident.dev/attestation/security-policy", KindSecurityPolicy},
	{"https://evident.dev/attestation/cvd-policy", KindCVDPolicy},
	{"https://evident.dev/attestation/support-period", KindSupportPeriod},
	{"https://evident.dev/attestation/vulnerability-handling", KindVulnerabilityHandling},
	{"https://evident.dev/attestation/eu-declaration-of-conformity", KindEUDeclarationOfConformity},
	{"https://evident.dev/attestation/steward-attestation", KindStewardAttestation},
	{"https://evident.dev/attestation/withdrawal", KindWithdrawal},
	{DocumentTypeSecurityTxt, KindCVDPolicy},
	{"https://evident.dev/document/security-policy", KindSecurityPolicy},
	{"https://evident.dev/document/cvd-policy", KindCVDPolicy},
	{"https://evident.dev/document/support-table", KindSupportPeriod},
	{DocumentTypeOpenEoX, KindSupportPeriod},
	{"https://evident.dev/document/cle", KindSupportPeriod},
}

// Classify returns the kind of evidence a predicate type denotes, or
// [KindOther]. Matching is exact and case-sensitive (in-toto TypeURIs are
// compared as strings), on "/" boundaries. Some formats hold more than one
// kind: [ClassifyPredicate] also looks at the predicate.
func Classify(predicateType string) Kind {
	for _, kp := range kindPrefixes {
		if rest, ok := strings.CutPrefix(predicateType, kp.prefix); ok && (rest == "" || rest[0] == '/') {
			return kp.kind
		}
	}
	return KindOther
}

// KnownKind reports whether k is one of the kinds this version writes.
func KnownKind(k Kind) bool {
	switch k {
	case KindSBOM, KindVEX, KindAdvisory, KindProvenance, KindScorecard, KindSecurityInsights,
		KindOSPSBaseline, KindSecurityPolicy, KindCVDPolicy, KindSupportPeriod,
		KindVulnerabilityHandling, KindEUDeclarationOfConformity, KindStewardAttestation, KindWithdrawal, KindOther:
		return true
	}
	return false
}

// validKind reports whether k has the syntax of a kind: 1 to 64 of a-z, 0-9
// and "-". Entries may carry kinds this version does not know.
func validKind(k Kind) bool {
	if len(k) == 0 || len(k) > 64 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}
