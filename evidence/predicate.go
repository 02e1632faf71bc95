package evidence

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// schemaFiles holds the JSON Schemas of Evident's own predicates, one file
// per predicate type and version (PREDICATES.md).
//
//go:embed schemas/*.json
var schemaFiles embed.FS

// predicateSchemas names the schema file of each predicate type that has
// one. security-policy and cvd-policy share theirs: a CVD policy is a
// security policy labelled by its role.
var predicateSchemas = map[string]string{
	PredicateSupportPeriod:             "support-period.v1.json",
	PredicateSecurityPolicy:            "security-policy.v1.json",
	PredicateCVDPolicy:                 "security-policy.v1.json",
	PredicateVulnerabilityHandling:     "vulnerability-handling.v1.json",
	PredicateStewardAttestation:        "steward-attestation.v1.json",
	PredicateEUDeclarationOfConformity: "eu-declaration-of-conformity.v1.json",
	PredicateOSPSBaseline:              "osps-baseline.v1.json",
	PredicateWithdrawal:                "withdrawal.v1.json",
}

// HasSchema reports whether predicateType is one of Evident's predicates
// with a JSON Schema, which [CheckPredicate] enforces.
func HasSchema(predicateType string) bool {
	_, ok := predicateSchemas[predicateType]
	return ok
}

// Schema returns the JSON Schema of an Evident predicate type, as the
// repository holds it (evidence/schemas), or nil if it has none.
func Schema(predicateType string) []byte {
	name, ok := predicateSchemas[predicateType]
	if !ok {
		return nil
	}
	b, err := schemaFiles.ReadFile("schemas/" + name)
	if err != nil {
		panic("evidence: embedded schema " + name + " is missing")
	}
	return b
}

// compiledSchemas compiles every schema once, on first use. The schemas
// are part of the binary: one that does not compile is a bug, found by the
// first test that checks a predicate.
var compiledSchemas = sync.OnceValue(func() map[string]*jsonschema.Schema {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	// Formats (date-time, uri, date) are assertions here, not annotations:
	// a support period whose end is not a date is refused.
	c.AssertFormat()
	out := make(map[string]*jsonschema.Schema)
	byFile := make(map[string]*jsonschema.Schema)
	for pt, name := range predicateSchemas {
		if s := byFile[name]; s != nil {
			out[pt] = s
			continue
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema(pt)))
		if err != nil {
			panic(fmt.Sprintf("evidence: schema %s: %v", name, err))
		}
		url := "https://evident.dev/schemas/" + name
		if err := c.AddResource(url, doc); err != nil {
			panic(fmt.Sprintf("evidence: schema %s: %v", name, err))
		}
		s, err := c.Compile(url)
		if err != nil {
			panic(fmt.Sprintf("evidence: schema %s: %v", name, err))
		}
		out[pt], byFile[name] = s, s
	}
	return out
})

// maxPredicateSize bounds the JSON a schema check decodes: Evident's
// predicates are a few KiB.
const maxPredicateSize = 1 << 20

var englishPrinter = message.NewPrinter(language.English)

// CheckPredicate checks predicate, the JSON value of a statement's predicate
// or the content of a document attestation, against the schema of
// predicateType, one of Evident's predicates ([HasSchema]); other types
// pass unchecked. A refusal is a [*FieldError] that names the failing
// field below field (e.g. "predicate.end_of_security_support") and says
// what the schema wants there.
func CheckPredicate(predicateType string, predicate []byte, field string) error {
	s, ok := compiledSchemas()[predicateType]
	if !ok {
		return nil
	}
	if len(predicate) > maxPredicateSize {
		return fieldErr(field, "is %d bytes; a %s predicate is at most %d", len(predicate), predicateType, maxPredicateSize)
	}
	// Decode with the strict scanner first, so that duplicate members
	// (which encoding/json would silently resolve) are refused as they are
	// in statements.
	if _, err := decodeObject(predicate, field, nil, maxMembers*64); err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(predicate))
	if err != nil {
		return fieldErr(field, "must be a JSON object: %v", err)
	}
	err = s.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return fieldErr(field, "couldn't check against the %s schema: %v", predicateType, err)
	}
	loc, msg := firstLeaf(ve)
	return fieldErr(loc.under(field), "%s (schema of %s, evidence/schemas)", msg, predicateType)
}

// instancePath is a location in a JSON value, as the schema library gives
// it: member names and array indexes.
type instancePath []string

// under writes p as a field path below field: members joined with ".",
// array indexes in brackets.
func (p instancePath) under(field string) string {
	var b strings.Builder
	b.WriteString(field)
	for _, tok := range p {
		if _, err := strconv.Atoi(tok); err == nil {
			b.WriteString("[" + tok + "]")
			continue
		}
		b.WriteString("." + tok)
	}
	return b.String()
}

// firstLeaf returns the location and message of the first error with no
// causes, the one that says what is wrong rather than which rule failed.
// For a missing or an unexpected member, the location is the member's.
func firstLeaf(e *jsonschema.ValidationError) (instancePath, string) {
	for len(e.Causes) > 0 {
		e = e.Causes[0]
	}
	loc := instancePath(e.InstanceLocation)
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		if len(k.Missing) > 0 {
			return append(loc[:len(loc):len(loc)], k.Missing[0]), "is missing"
		}
	case *kind.AdditionalProperties:
		if len(k.Properties) > 0 {
			return append(loc[:len(loc):len(loc)], k.Properties[0]), "is not a member this predicate has"
		}
	case *kind.FalseSchema:
		return loc, "is not allowed here"
	}
	return loc, e.ErrorKind.LocalizedString(englishPrinter)
}
