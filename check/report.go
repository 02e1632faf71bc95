package check

import (
	_ "embed"
	"time"
)

// ReportSchema is the schema member of a report of this version;
// report.schema.json beside this file is its JSON Schema and REPORT.md its
// documentation.
const ReportSchema = "https://evident.dev/check-report/v1"

// Report is the outcome of [Run]: for every component of a product SBOM,
// the evidence the nodes hold about it, verified, by kind. Its JSON form is
// `evident check --json`, documented in REPORT.md.
type Report struct {
	Schema string    `json:"schema"`
	Time   time.Time `json:"time"`
	// Status is the verdict: "met" (every requirement is met by verified
	// evidence and nothing failed verification), "not-met" or
	// "could-not-check" (a node could not be asked, or a requirement needs
	// something this version can't resolve).
	Status       string        `json:"status"`
	SBOM         SBOMInfo      `json:"sbom"`
	Requirements *Requirements `json:"requirements,omitempty"`
	Nodes        []NodeInfo    `json:"nodes"`
	Summary      Summary       `json:"summary"`
	Components   []Component   `json:"components"`
}

// Report statuses.
const (
	StatusMet           = "met"
	StatusNotMet        = "not-met"
	StatusCouldNotCheck = "could-not-check"
)

// SBOMInfo describes the SBOM that was checked.
type SBOMInfo struct {
	// Name is the SBOM's own file name, as given; may be empty.
	File       string `json:"file,omitempty"`
	Format     string `json:"format"`
	Name       string `json:"name,omitempty"`
	SHA256     string `json:"sha256"`
	Size       int64  `json:"size"`
	Components int    `json:"components"`
}

// NodeInfo is one node asked.
type NodeInfo struct {
	Name   string `json:"name"`
	URL    string `json:"url"`
	Origin string `json:"origin"`
	// Checkpoints are the verified checkpoints the node's answers were
	// proven against, as origin@size:roothash (base64).
	Checkpoints []string `json:"checkpoints,omitempty"`
	// Error says why some or all of the components' queries got no answer
	// from the node; the components concerned are marked.
	Error string `json:"error,omitempty"`
}

// Summary counts what the report holds.
type Summary struct {
	Components      int `json:"components"`
	Primary         int `json:"primary"`
	WithEvidence    int `json:"with_evidence"`
	WithoutEvidence int `json:"without_evidence"`
	WithoutPurl     int `json:"without_purl"`
	MatchedByHash   int `json:"matched_by_hash"`
	Items           int `json:"items"`
	VerifiedItems   int `json:"verified_items"`
	FailedItems     int `json:"failed_items"`
	Failing         int `json:"failing"`
	Unchecked       int `json:"unchecked"`
}

// Component is what the report says about one component of the SBOM.
type Component struct {
	Ref       string   `json:"ref,omitempty"`
	Name      string   `json:"name,omitempty"`
	Version   string   `json:"version,omitempty"`
	Purl      string   `json:"purl,omitempty"`
	PurlError string   `json:"purl_error,omitempty"`
	Hashes    []string `json:"hashes,omitempty"`
	// Primary marks what the SBOM describes (the product itself): it is
	// listed, but requirements apply to third-party components only.
	Primary bool `json:"primary,omitempty"`
	// Ignored marks a component the requirements' ignore list exempts.
	Ignored bool `json:"ignored,omitempty"`
	// MatchedBy says how evidence was looked up: "purl", "hash" (no purl,
	// by the artifact digests), or "" (neither was possible).
	MatchedBy string `json:"matched_by,omitempty"`
	// Kinds summarises the evidence by kind, in the order of Kinds.
	Kinds []KindResult `json:"kinds"`
	// Items is every item found, verified or not.
	Items []Item `json:"items"`
	// NoEvidence is true when no node holds any item about the component.
	NoEvidence bool `json:"no_evidence,omitempty"`
	// Status is "met", "not-met", "could-not-check", or "" when no
	// requirement applies.
	Status string `json:"status,omitempty"`
	// Failures name the requirements not met; Unchecked those that could
	// not be checked, with why.
	Failures  []string `json:"failures,omitempty"`
	Unchecked []string `json:"unchecked,omitempty"`
}

// KindResult is a component's evidence of one kind.
type KindResult struct {
	Kind     string `json:"kind"`
	Found    int    `json:"found"`
	Verified int    `json:"verified"`
	// Status is what the verified documents of the kind say now, where the
	// kind has a status: VEX, support period, OSPS Baseline.
	Status *KindStatus `json:"status,omitempty"`
}

// KindStatus is a resolved (or not yet resolvable) status of a kind.
type KindStatus struct {
	// Resolved is false when this version can't tell what the documents
	// say now; Summary then says so, and nothing else is claimed.
	Resolved bool   `json:"resolved"`
	Summary  string `json:"summary"`
	// CoversToday and CoversUntil answer the support-period questions, when
	// resolved.
	CoversToday *bool `json:"covers_today,omitempty"`
	CoversUntil *bool `json:"covers_until,omitempty"`
	// Level is an OSPS Baseline level, when resolved.
	Level string `json:"level,omitempty"`
	// Vulnerabilities are the current VEX statuses, when resolved.
	Vulnerabilities []VulnStatus `json:"vulnerabilities,omitempty"`
	// DecidedBy are the log items (node and index) the status rests on.
	DecidedBy []ItemRef `json:"decided_by,omitempty"`
}

// VulnStatus is the current VEX status of one vulnerability.
type VulnStatus struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// ItemRef names a log item.
type ItemRef struct {
	Node     string `json:"node"`
	LogIndex uint64 `json:"log_index"`
}

// Item is one evidence item found for a component.
type Item struct {
	Kind           string    `json:"kind"`
	Format         string    `json:"format,omitempty"`
	Name           string    `json:"name,omitempty"`
	PredicateType  string    `json:"predicate_type,omitempty"`
	Node           string    `json:"node"`
	Origin         string    `json:"origin,omitempty"`
	LogIndex       uint64    `json:"log_index"`
	Checkpoint     string    `json:"checkpoint,omitempty"`
	LoggedAt       time.Time `json:"logged_at,omitzero"`
	Signers        []string  `json:"signers,omitempty"`
	SignerNames    []string  `json:"signer_names,omitempty"`
	Subjects       []string  `json:"subjects,omitempty"`
	PackageLevel   bool      `json:"package_level,omitempty"`
	DocumentSHA256 string    `json:"document_sha256,omitempty"`
	DocumentSize   int64     `json:"document_size,omitempty"`
	MediaType      string    `json:"media_type,omitempty"`
	EnvelopeSHA256 string    `json:"envelope_sha256,omitempty"`
	// Verified is true only if the checkpoint (signature and witness
	// quorum), the inclusion proof, the entry, the envelope and its
	// signatures all verified, and the entry is about the component.
	Verified   bool   `json:"verified"`
	Error      string `json:"error,omitempty"`
	FailedPart string `json:"failed_part,omitempty"`
	// PackItem is the item's position in the evidence pack's bundle, when
	// the report is part of a pack; -1 when it is not in the pack.
	PackItem *int `json:"pack_item,omitempty"`
}

// Kinds are the kinds of evidence a report summarises for every
// component, in order: what CRA due diligence asks about a component (the
// Commission's FAQ on Art. 13(5)). Other kinds found are listed after them.
var Kinds = []string{"sbom", "vex", "security-policy", "support-period", "provenance", "osps-baseline"}

// ReportJSONSchema is report.schema.json: the JSON Schema of a report's
// JSON form.
//
//go:embed report.schema.json
var ReportJSONSchema []byte
