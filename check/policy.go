package check

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/evident-dev/evident/evidence"
)

// Requirements are what every third-party component must have for a
// product to pass the check: `evident check --require` or a policy file
// (ParsePolicy).
type Requirements struct {
	// Require names the kinds of verified evidence each component needs
	// (ENTRY.md's kinds, e.g. "security-policy", "support-period", "vex"),
	// or "evidence" for any verified evidence at all.
	Require []string `json:"require" yaml:"require"`
	// Until is a date the support period must cover, "YYYY-MM-DD"; empty:
	// today only.
	Until string `json:"until,omitempty" yaml:"until,omitempty"`
	// Ignore lists purl prefixes of components the requirements do not
	// apply to (the manufacturer's own packages, say), e.g.
	// "pkg:maven/com.example/".
	Ignore []string `json:"ignore,omitempty" yaml:"ignore,omitempty"`
}

// RequireAny is the requirement met by any verified evidence.
const RequireAny = "evidence"

// policyFile is the policy file's form (REPORT.md, "Policy files").
type policyFile struct {
	Version      int `yaml:"version"`
	Requirements `yaml:",inline"`
}

// ParsePolicy reads a policy file: YAML with version: 1, require, and
// optionally until and ignore. Unknown fields are refused.
func ParsePolicy(b []byte) (*Requirements, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var f policyFile
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("couldn't read the policy: %w", err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("couldn't read the policy: version is %d; this version of evident reads version: 1", f.Version)
	}
	r := f.Requirements
	if err := r.Check(); err != nil {
		return nil, fmt.Errorf("couldn't read the policy: %w", err)
	}
	return &r, nil
}

// ParseRequire reads the --require flag's form: kinds separated by commas.
func ParseRequire(s string) []string {
	var out []string
	for _, k := range strings.Split(s, ",") {
		if k = strings.TrimSpace(k); k != "" && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// Check reports whether r names known kinds and a valid date.
func (r *Requirements) Check() error {
	for _, k := range r.Require {
		if k != RequireAny && (!evidence.KnownKind(evidence.Kind(k)) || k == string(evidence.KindOther)) {
			return fmt.Errorf("%q is not a kind of evidence; use %s, or %s for any", k, strings.Join(kindNames(), ", "), RequireAny)
		}
	}
	if _, err := r.until(); err != nil {
		return err
	}
	for _, p := range r.Ignore {
		if !strings.HasPrefix(p, "pkg:") {
			return fmt.Errorf("ignore: %q is not a purl prefix (pkg:type/...)", p)
		}
	}
	return nil
}

// until returns Until as a time, zero if it is empty.
func (r *Requirements) until() (time.Time, error) {
	if r == nil || r.Until == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, r.Until)
	if err != nil {
		return time.Time{}, fmt.Errorf("until %q is not a date (YYYY-MM-DD)", r.Until)
	}
	return t, nil
}

func (r *Requirements) ignores(purl string) bool {
	if r == nil || purl == "" {
		return false
	}
	for _, p := range r.Ignore {
		if strings.HasPrefix(purl, p) {
			return true
		}
	}
	return false
}

func kindNames() []string {
	return []string{"sbom", "vex", "advisory", "provenance", "security-policy", "cvd-policy", "support-period",
		"osps-baseline", "scorecard", "security-insights", "vulnerability-handling", "steward-attestation", "eu-declaration-of-conformity"}
}
