package detect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/evidence/internal/jsonscan"
)

// object is a JSON object whose members detect reads.
type object struct{ jsonscan.Object }

// decodeObject decodes b, which must be exactly one JSON object, with the
// rule package evidence applies to statements: a member that appears twice
// is refused (see package jsonscan). Whoever reads the document next, its
// consumer or an auditor, might keep either of the two, and detect would
// have labelled, and the producer signed, a document that two readers read
// differently. Every object detect reads a member of is decoded so, not only
// the top level; the objects it does not look into are only checked for
// syntax.
func decodeObject(b []byte) (object, error) {
	// No bound on the members: MaxSize bounds the document.
	o, err := jsonscan.DecodeObject(b, nil, math.MaxInt)
	return object{o}, err
}

// objectProblem says what is wrong with a JSON text decodeObject refused,
// for "is not a valid JSON object (...)".
func objectProblem(err error) string {
	var dup *jsonscan.DuplicateError
	var syntax *jsonscan.SyntaxError
	switch {
	case errors.As(err, &dup):
		return "member " + quote(dup.Name) + " appears twice"
	case errors.As(err, &syntax):
		return fmt.Sprintf("%s at byte %d", syntax.Msg, syntax.Offset)
	}
	return err.Error()
}

// str returns member k if it is a string.
func (o object) str(k string) (string, bool) {
	var s string
	if err := json.Unmarshal(o.Get(k), &s); err != nil {
		return "", false
	}
	return s, true
}

// obj returns member k if it is an object without duplicate members.
func (o object) obj(k string) (object, bool) {
	m, err := decodeObject(o.Get(k))
	return m, err == nil
}

// arr returns member k if it is an array.
func (o object) arr(k string) ([]json.RawMessage, bool) {
	raw := o.Get(k)
	if len(raw) == 0 || raw[0] != '[' {
		return nil, false
	}
	var a []json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, false
	}
	return a, true
}

// version returns member k if it is a string or a number: a version such as
// 2.0 may be written unquoted in YAML.
func (o object) version(k string) (string, bool) {
	if s, ok := o.str(k); ok {
		return s, true
	}
	var n json.Number
	if err := json.Unmarshal(o.Get(k), &n); err == nil && n != "" {
		return n.String(), true
	}
	return "", false
}

// has reports whether member k is present and not null.
func (o object) has(k string) bool {
	return o.Get(k) != nil
}

// detectJSON recognises a JSON document, trimmed of white space and a
// byte order mark; it starts with '{' or '['.
func detectJSON(name string, trimmed []byte) (*Result, error) {
	if trimmed[0] == '[' {
		return detectJSONArray(name, trimmed)
	}
	o, err := decodeObject(trimmed)
	if err != nil {
		// JSON Lines of attestations (an .intoto.jsonl file) hold one
		// envelope or bundle per line.
		if line, _, ok := bytes.Cut(trimmed, []byte("\n")); ok {
			if first, err := decodeObject(bytes.TrimSpace(line)); err == nil {
				if what := attestationKind(first); what != "" {
					return nil, attestation(name, "JSON Lines of attestations; the first line is "+what)
				}
			}
		}
		return nil, unrecognized(name, "is not a valid JSON object (%s)", objectProblem(err))
	}
	if what := attestationKind(o); what != "" {
		return nil, attestation(name, what)
	}
	if o.has("mediaType") && o.has("messageSignature") {
		return nil, unrecognized(name, "is a Sigstore bundle with a message signature: it signs an artifact, it is not evidence about one")
	}
	r, err := classifyObject(o, "JSON")
	if err != nil {
		return nil, unrecognized(name, "%v", err)
	}
	if r == nil {
		return nil, unrecognized(name, "is a JSON object of no known kind")
	}
	return r, nil
}

// attestationKind says which kind of attestation o is, or "" if it is none.
func attestationKind(o object) string {
	if t, _ := o.str("_type"); strings.HasPrefix(t, "https://in-toto.io/Statement/") || o.has("predicateType") && o.has("subject") {
		return "an in-toto statement"
	}
	if o.has("payloadType") && o.has("payload") && o.has("signatures") {
		return "a DSSE envelope"
	}
	if o.has("dsseEnvelope") {
		return "a Sigstore bundle carrying a DSSE envelope"
	}
	// PEP 740: an attestation object, and the provenance object that lists
	// attestation bundles.
	if env, ok := o.obj("envelope"); ok && env.has("statement") && env.has("signature") {
		return "a PEP 740 attestation"
	}
	if o.has("attestation_bundles") {
		return "a PEP 740 provenance object"
	}
	// The npm registry's attestations response.
	if as, ok := o.arr("attestations"); ok && len(as) > 0 {
		if first, err := decodeObject(as[0]); err == nil && (first.has("bundle") || first.has("predicateType")) {
			return "a list of attestations"
		}
	}
	return ""
}

var (
	spdx2Version  = regexp.MustCompile(`^SPDX-(2\.[0-9]+)$`)
	spdx3Context  = regexp.MustCompile(`^https?://spdx\.org/rdf/(3(?:\.[0-9]+)*)/`)
	openVEXCtx    = regexp.MustCompile(`^https://openvex\.dev/ns(?:/v([0-9]+\.[0-9]+\.[0-9]+))?$`)
	cdxVersion    = regexp.MustCompile(`^1\.[0-9]+$`)
	schemaVersion = regexp.MustCompile(`^v?([0-9]+)\.([0-9]+)`)
)

// classifyObject recognises a JSON object; syntax ("JSON" or "YAML") names
// the serialisation in the result's Format. It returns nil, nil if o is of
// no known kind, and an error if it is a known kind in a version Evident
// does not know.
func classifyObject(o object, syntax string) (*Result, error) {
	// mediaType is the document's media type: jsonType for JSON (see
	// Result.MediaType).
	mediaType := func(jsonType string) string {
		if syntax == "YAML" {
			return "application/yaml"
		}
		return jsonType
	}
	// SPDX 2: spdxVersion (SPDX 2.3 spec, clause 6.1).
	if v, ok := o.str("spdxVersion"); ok {
		m := spdx2Version.FindStringSubmatch(v)
		if m == nil {
			return nil, fmt.Errorf("has spdxVersion %s; Evident knows SPDX 2.x documents (SPDX 3 is JSON-LD)", quote(v))
		}
		title, _ := o.str("name") // clause 6.4, the document name
		return result("SPDX "+m[1]+" "+syntax, spdxPredicateType(m[1]), mediaType("application/spdx+json"), title), nil
	}
	// SPDX 3 and OpenVEX: JSON-LD @context.
	for _, c := range contexts(o) {
		if m := spdx3Context.FindStringSubmatch(c); m != nil {
			return result("SPDX "+m[1]+" JSON-LD", evidence.PredicateSPDX3, mediaType("application/ld+json"), spdx3Title(o)), nil
		}
		if m := openVEXCtx.FindStringSubmatch(c); m != nil {
			id, _ := o.str("@id")
			// OpenVEX spec: an attestation's predicateType is the
			// document's @context, so an early unversioned document keeps
			// https://openvex.dev/ns.
			if m[1] == "" {
				return result("OpenVEX (unversioned context)", c, mediaType("application/ld+json"), id), nil
			}
			return result("OpenVEX "+m[1], c, mediaType("application/ld+json"), id), nil
		}
		if strings.HasPrefix(c, "https://openvex.dev/") {
			return nil, fmt.Errorf("has OpenVEX @context %s; Evident knows https://openvex.dev/ns/vX.Y.Z", quote(c))
		}
	}
	// CycloneDX: bomFormat is required in JSON (CycloneDX 1.2 and later).
	if f, _ := o.str("bomFormat"); f == "CycloneDX" {
		format := "CycloneDX " + syntax
		if v, ok := o.str("specVersion"); ok && cdxVersion.MatchString(v) {
			format = "CycloneDX " + v + " " + syntax
		}
		if vs, ok := o.arr("vulnerabilities"); ok && len(vs) > 0 {
			format += " VDR/VEX"
		} else {
			format += " SBOM"
		}
		return result(format, evidence.PredicateCycloneDX, mediaType("application/vnd.cyclonedx+json"), cycloneDXTitle(o)), nil
	}
	// CSAF: document.csaf_version (CSAF 2.0, 4.2 and 3.2.1.6).
	if doc, ok := o.obj("document"); ok {
		if v, ok := doc.str("csaf_version"); ok {
			var t string
			switch v {
			case "2.0":
				t = evidence.PredicateCSAF
			case "2.1":
				t = "https://docs.oasis-open.org/csaf/csaf/v2.1"
			default:
				return nil, fmt.Errorf("has csaf_version %s; Evident knows CSAF 2.0 and 2.1", quote(v))
			}
			cat, _ := doc.str("category")
			var id string
			if tr, ok := doc.obj("tracking"); ok {
				id, _ = tr.str("id") // CSAF 2.0, 3.2.1.12.6
			}
			return result("CSAF "+v+" "+csafCategory(cat), t, mediaType("application/json"), id), nil
		}
	}
	// SLSA provenance predicates (slsa.dev/provenance v1, v0.2, v0.1).
	if isObj(o, "buildDefinition") && isObj(o, "runDetails") {
		return result("SLSA provenance v1", evidence.PredicateSLSAProvenance, mediaType("application/json"), ""), nil
	}
	if isObj(o, "builder") {
		if o.has("buildType") {
			return result("SLSA provenance v0.2", evidence.PredicateSLSAProvenance02, mediaType("application/json"), ""), nil
		}
		if o.has("recipe") {
			return result("SLSA provenance v0.1", "https://slsa.dev/provenance/v0.1", mediaType("application/json"), ""), nil
		}
	}
	// OpenSSF Scorecard's JSON result (scorecard --format json): the checks,
	// and the scorecard tool version or the repository and its score.
	if _, ok := o.arr("checks"); ok {
		if sc, ok := o.obj("scorecard"); ok && sc.has("version") || isObj(o, "repo") && o.has("score") {
			var repo string
			if r, ok := o.obj("repo"); ok {
				repo, _ = r.str("name")
			}
			return result("OpenSSF Scorecard result", evidence.PredicateScorecard, mediaType("application/json"), repo), nil
		}
	}
	// OpenSSF Security Insights: header.schema-version and the sections of
	// v1 (project-lifecycle, ...) or v2 (project, repository).
	if hdr, ok := o.obj("header"); ok {
		if v, ok := hdr.version("schema-version"); ok && hasAny(o, "project", "repository", "project-lifecycle", "contribution-policy", "security-contacts", "vulnerability-reporting", "security-artifacts", "security-testing", "distribution-points") {
			format := "OpenSSF Security Insights " + syntax
			if m := schemaVersion.FindStringSubmatch(v); m != nil {
				format = "OpenSSF Security Insights " + m[1] + "." + m[2] + " " + syntax
			}
			return result(format, evidence.PredicateSecurityInsights, mediaType("application/json"), securityInsightsTitle(o, hdr)), nil
		}
	}
	// Vulnerability records. CVE JSON 5 (CVE Record Format, dataType
	// CVE_RECORD); CVE JSON 4 (data_type CVE); OSV (id plus modified or
	// schema_version, and some content), in JSON or, as the PyPA advisory
	// database keeps it, YAML.
	if dt, _ := o.str("dataType"); dt == "CVE_RECORD" || isObj(o, "cveMetadata") && isObj(o, "containers") {
		format := "CVE JSON record"
		if v, ok := o.version("dataVersion"); ok && schemaVersion.MatchString(v) {
			format = "CVE JSON " + v + " record"
		}
		var id string
		if m, ok := o.obj("cveMetadata"); ok {
			id, _ = m.str("cveId")
		}
		return result(format, evidence.PredicateVulnerabilityRecord, mediaType("application/json"), id), nil
	}
	if dt, _ := o.str("data_type"); dt == "CVE" && isObj(o, "CVE_data_meta") {
		format := "CVE JSON record"
		if v, ok := o.version("data_version"); ok && schemaVersion.MatchString(v) {
			format = "CVE JSON " + v + " record"
		}
		m, _ := o.obj("CVE_data_meta")
		id, _ := m.str("ID")
		return result(format, evidence.PredicateVulnerabilityRecord, mediaType("application/json"), id), nil
	}
	if id, ok := o.str("id"); ok && (o.has("modified") || o.has("schema_version")) && hasAny(o, "affected", "summary", "details", "aliases") {
		format := "OSV record"
		if syntax == "YAML" {
			format = "OSV YAML"
		}
		if v, ok := o.version("schema_version"); ok && schemaVersion.MatchString(v) {
			format = "OSV " + v + " record"
			if syntax == "YAML" {
				format = "OSV " + v + " YAML"
			}
		}
		return result(format, evidence.PredicateVulnerabilityRecord, mediaType("application/json"), id), nil
	}
	// OpenEoX Core documents name their schema; attested as they are, with
	// that schema as their type.
	if sch, _ := o.str("$schema"); strings.HasPrefix(sch, evidence.DocumentTypeOpenEoX+"/") && o.has("end_of_security_support") {
		return result("OpenEoX Core ("+syntax+")", sch, mediaType("application/json"), ""), nil
	}
	if isCLE(o) {
		return result("Common Lifecycle Enumeration ("+syntax+")", evidence.DocumentTypeCLE, mediaType("application/json"), ""), nil
	}
	if isSupportPeriod(o) {
		return result("support-period data ("+syntax+")", evidence.DocumentTypeSupportTable, mediaType("application/json"), ""), nil
	}
	return nil, nil
}

// spdx3Title returns the name of an SPDX 3 JSON-LD document's SpdxDocument
// element (SPDX 3.0 Core/Classes/SpdxDocument), found among the first
// elements of its @graph.
func spdx3Title(o object) string {
	g, _ := o.arr("@graph")
	for _, raw := range g[:min(len(g), 64)] {
		e, err := decodeObject(raw)
		if err != nil {
			continue
		}
		if t, _ := e.str("type"); t == "SpdxDocument" {
			name, _ := e.str("name")
			return name
		}
	}
	return ""
}

// cycloneDXTitle returns a CycloneDX BOM's serialNumber (a URN naming the
// BOM), or else the name and version of the component it describes
// (metadata.component).
func cycloneDXTitle(o object) string {
	if sn, ok := o.str("serialNumber"); ok && sn != "" {
		return sn
	}
	md, _ := o.obj("metadata")
	c, _ := md.obj("component")
	name, _ := c.str("name")
	version, _ := c.str("version")
	return strings.TrimSpace(name + " " + version)
}

// securityInsightsTitle returns a Security Insights file's project name
// (v2: project.name) or else its project's URL (v1: header.project-url).
func securityInsightsTitle(o, hdr object) string {
	if p, ok := o.obj("project"); ok {
		if name, ok := p.str("name"); ok && name != "" {
			return name
		}
	}
	for _, k := range []string{"project-url", "url"} {
		if u, ok := hdr.str(k); ok && u != "" {
			return u
		}
	}
	return ""
}

// spdxPredicateType follows the in-toto SPDX predicate spec: 2.3 has its own
// type, earlier 2.x documents use the unversioned one.
func spdxPredicateType(v string) string {
	if v == "2.3" {
		return evidence.PredicateSPDX23
	}
	return evidence.PredicateSPDX
}

// contexts returns the strings in o's JSON-LD @context, a string or an array.
func contexts(o object) []string {
	if c, ok := o.str("@context"); ok {
		return []string{c}
	}
	a, _ := o.arr("@context")
	var cs []string
	for _, raw := range a {
		var c string
		if json.Unmarshal(raw, &c) == nil {
			cs = append(cs, c)
		}
	}
	return cs
}

// csafCategory describes a CSAF document category (CSAF 2.0 4.1-4.5, CSAF
// 2.1 adds the last three).
func csafCategory(c string) string {
	switch c {
	case "csaf_vex":
		return "VEX"
	case "csaf_security_advisory":
		return "security advisory"
	case "csaf_informational_advisory":
		return "informational advisory"
	case "csaf_security_incident_response":
		return "security incident response"
	case "csaf_base":
		return "base document"
	case "csaf_withdrawn":
		return "withdrawn advisory"
	case "csaf_superseded":
		return "superseded advisory"
	case "csaf_deprecated_security_advisory":
		return "deprecated security advisory"
	}
	return "document"
}

func isObj(o object, k string) bool {
	_, ok := o.obj(k)
	return ok
}

func hasAny(o object, keys ...string) bool {
	for _, k := range keys {
		if o.has(k) {
			return true
		}
	}
	return false
}

// eolKeys are the names support-period data gives the end of support of a
// release series: OpenSSL release-metadata data.json ("eol"), Node.js
// Release schedule.json ("end"), Python's devguide release-cycle.json
// ("end_of_life"), endoflife.date ("eol", "eolFrom", "isEol").
var eolKeys = []string{"eol", "end", "end_of_life", "endOfLife", "end-of-life", "eolFrom", "isEol", "end_of_support", "endOfSupport", "support_end", "supportEnd"}

// isSupportPeriod reports whether o is a table of release series and their
// end of support. There is no standard format, so it accepts two shapes:
// an object mapping series names (which contain a digit) to objects with an
// end-of-support member, like OpenSSL's
//
//	{"3.0": {"release": "07 Sep 2021", "eol": "07 Sep 2026", "lts": true}, ...}
//
// and an object whose "releases" (or result.releases, as the endoflife.date
// API v1 returns) is an array of such objects. Members named "$schema" and
// the like are ignored.
func isSupportPeriod(o object) bool {
	if r, ok := o.obj("result"); ok {
		o = r
	}
	if rs, ok := o.arr("releases"); ok {
		return allReleases(rs)
	}
	n := 0
	for i, k := range o.Names {
		if strings.HasPrefix(k, "$") {
			continue
		}
		if !strings.ContainsAny(k, "0123456789") {
			return false
		}
		if series, err := decodeObject(o.Values[i]); err != nil || !hasAny(series, eolKeys...) {
			return false
		}
		n++
	}
	return n > 0
}

// allReleases reports whether rs is a non-empty array of objects with an
// end-of-support member.
func allReleases(rs []json.RawMessage) bool {
	for _, raw := range rs {
		if r, err := decodeObject(raw); err != nil || !hasAny(r, eolKeys...) {
			return false
		}
	}
	return len(rs) > 0
}

// detectJSONArray recognises a top-level JSON array. The only kind that is
// one is the endoflife.date API's list of release cycles.
func detectJSONArray(name string, trimmed []byte) (*Result, error) {
	var a []json.RawMessage
	if err := json.Unmarshal(trimmed, &a); err != nil {
		return nil, unrecognized(name, "is not valid JSON (%v)", err)
	}
	if allReleases(a) {
		first, _ := decodeObject(a[0]) // allReleases has decoded it
		if hasAny(first, "cycle", "releaseCycle", "name", "version") {
			return result("support-period data (JSON array)", evidence.DocumentTypeSupportTable, "application/json", ""), nil
		}
	}
	return nil, unrecognized(name, "is a JSON array; evidence documents are JSON objects")
}

// cleEventTypes are the event types of the Common Lifecycle Enumeration
// (Ecma TC54).
var cleEventTypes = map[string]bool{
	"released": true, "endOfDevelopment": true, "endOfSupport": true, "endOfLife": true,
	"endOfMarketing": true, "supersededBy": true, "componentRenamed": true, "endOfDistribution": true,
}

// isCLE reports whether o is a Common Lifecycle Enumeration document: an
// "events" array whose events have a CLE type and an effective time.
func isCLE(o object) bool {
	evs, ok := o.arr("events")
	if !ok || len(evs) == 0 {
		return false
	}
	for _, raw := range evs {
		ev, err := decodeObject(raw)
		if err != nil {
			return false
		}
		t, _ := ev.str("type")
		if !cleEventTypes[t] || !ev.has("effective") {
			return false
		}
	}
	return true
}
