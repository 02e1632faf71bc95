package main

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/evident-dev/evident/evidence"
)

// attestGenerators are the subcommands of attest that make Evident's own
// predicates (evidence/PREDICATES.md) from flags and the files projects
// already have, check them against their schemas and sign them.
func (a *app) attestGenerators() []*cobra.Command {
	return []*cobra.Command{
		a.genSupportPeriod(),
		a.genSecurityPolicy("security-policy", evidence.PredicateSecurityPolicy),
		a.genSecurityPolicy("cvd-policy", evidence.PredicateCVDPolicy),
		a.genVulnerabilityHandling(),
		a.genStewardAttestation(),
		a.genDeclarationOfConformity(),
		a.genOSPSBaseline(),
		a.genWithdrawal(),
	}
}

// genFlags are the flags every generator shares: the subject and where
// the envelope goes.
type genFlags struct {
	subject  string
	artifact string
	digests  []string
	out      string
}

func (g *genFlags) add(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&g.subject, "subject", "", "Package URL of the release, or of the package (without a version) for evidence about every release (required)")
	f.StringVar(&g.artifact, "artifact", "", "the release artifact, to take its sha256 digest")
	f.StringArrayVar(&g.digests, "digest", nil, "digest of the release artifact, alg:hex; for a package, default: the predicate's own sha256")
	f.StringVarP(&g.out, "output", "o", "", "write the envelope here (- for stdout; default <type>.intoto.json)")
	c.MarkFlagsMutuallyExclusive("artifact", "digest")
}

// sign checks predicate against the schema of predicateType, makes the
// statement about the subject, signs it and writes the envelope.
func (a *app) sign(g *genFlags, name, predicateType string, predicate any) error {
	b, err := json.Marshal(predicate)
	if err != nil {
		return err
	}
	if err := evidence.CheckPredicate(predicateType, b, "predicate"); err != nil {
		return failed(err)
	}
	if g.subject == "" {
		return errors.New("give --subject: the Package URL of the release (pkg:pypi/requests@2.32.3), or of the package (pkg:pypi/requests)")
	}
	p, err := evidence.ParsePurl(g.subject)
	if err != nil {
		return fmt.Errorf("--subject: %w", err)
	}
	var digest map[string]string
	if !p.HasVersion() && g.artifact == "" && len(g.digests) == 0 {
		// Package-level evidence: the document's own digest (ENTRY.md).
		sum := sha256.Sum256(b)
		digest = map[string]string{"sha256": hex.EncodeToString(sum[:])}
	} else if digest, err = subjectDigests(g.artifact, g.digests, p.HasVersion()); err != nil {
		return err
	}
	return a.signStatement(g.out, name, &evidence.Statement{
		Type:          evidence.StatementTypeV1,
		Subject:       []evidence.Subject{{Name: g.subject, Digest: digest}},
		PredicateType: predicateType,
		Predicate:     b,
	})
}

// signStatement signs st with the signing key and writes the envelope to
// out ("" is name.intoto.json, "-" stdout).
func (a *app) signStatement(out, name string, st *evidence.Statement) error {
	key, err := a.readKey()
	if err != nil {
		return err
	}
	payload, err := st.Marshal()
	if err != nil {
		return failed(err)
	}
	env, err := evidence.Sign(evidence.PayloadTypeInToto, payload, key, "")
	if err != nil {
		return err
	}
	b, err := env.Marshal()
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if out == "" {
		out = name + ".intoto.json"
	}
	if out == "-" {
		_, err := a.stdout.Write(b)
		return err
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return fmt.Errorf("couldn't write the envelope: %w", err)
	}
	fmt.Fprintf(a.stderr, "wrote %s: %s about %s, signed by %s\n", out, st.PredicateType, st.Subject[0].Name, evidence.KeyID(key.Public().(ed25519.PublicKey)))
	return nil
}

// eoxTime reads a date (YYYY-MM-DD, meaning the end of that day, UTC), an
// RFC 3339 time, or "tba", into OpenEoX's form.
func eoxTime(flag, s string) (string, error) {
	switch {
	case s == "tba":
		return s, nil
	case len(s) == len(time.DateOnly):
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return "", fmt.Errorf("--%s %q: want YYYY-MM-DD, an RFC 3339 time or tba", flag, s)
		}
		return t.Add(24*time.Hour - time.Second).Format(time.RFC3339), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return "", fmt.Errorf("--%s %q: want YYYY-MM-DD, an RFC 3339 time or tba", flag, s)
	}
	return t.UTC().Format(time.RFC3339), nil
}

// now is the generators' clock, for last_updated; a variable for tests.
var now = time.Now

func (a *app) genSupportPeriod() *cobra.Command {
	var g genFlags
	var until, eol, line, policy, notes string
	c := &cobra.Command{
		Use:   "support-period --subject PURL --security-updates-until DATE [--release-line LINE]",
		Short: "Sign a support period: until when a release, or a release line, gets security updates",
		Long: `Makes an Evident support period (https://evident.dev/attestation/support-period/v1,
evidence/PREDICATES.md), with OpenEoX's field names: end_of_security_support,
end_of_life, last_updated (now). A date means the end of that day, UTC; "tba"
says the end is to be announced.

With --release-line the statement covers every release of the line (2.24
covers 2.24.0, 2.24.1, ...), and the subject is usually the package, without
a version; without it, it covers the subject release.`,
		Example: `  evident attest support-period --subject pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1 --artifact log4j-core-2.24.1.jar --security-updates-until 2031-12-31
  evident attest support-period --subject pkg:maven/org.apache.logging.log4j/log4j-core --release-line 2.24 --security-updates-until 2027-06-30 -o - | evident submit -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if until == "" {
				return errors.New("give --security-updates-until: a date, YYYY-MM-DD, or tba")
			}
			p := map[string]any{"covers": "release", "last_updated": now().UTC().Format(time.RFC3339)}
			var err error
			if p["end_of_security_support"], err = eoxTime("security-updates-until", until); err != nil {
				return err
			}
			if eol != "" {
				if p["end_of_life"], err = eoxTime("end-of-life", eol); err != nil {
					return err
				}
			}
			if line != "" {
				p["covers"], p["release_line"] = "release-line", line
			}
			if policy != "" {
				p["policy_url"] = policy
			}
			if notes != "" {
				p["notes"] = notes
			}
			return a.sign(&g, "support-period", evidence.PredicateSupportPeriod, p)
		},
	}
	g.add(c)
	f := c.Flags()
	f.StringVar(&until, "security-updates-until", "", "the last day of security updates, YYYY-MM-DD (or an RFC 3339 time, or tba) (required)")
	f.StringVar(&eol, "end-of-life", "", "the end of all support, YYYY-MM-DD")
	f.StringVar(&line, "release-line", "", "cover every release of this line, e.g. 2.24")
	f.StringVar(&policy, "policy-url", "", "where the support policy is published")
	f.StringVar(&notes, "notes", "", "notes for people")
	return c
}

func (a *app) genSecurityPolicy(name, predicateType string) *cobra.Command {
	var g genFlags
	var from, policy, advisories string
	var contacts []string
	var embargo int
	c := &cobra.Command{
		Use:   name + " --subject PURL (--from FILE | --contact URI...)",
		Short: "Sign a security and CVD policy: contacts, reporting channels, disclosure timeline",
		Long: `Makes an Evident security and CVD policy (` + predicateType + `,
evidence/PREDICATES.md). --from reads a security.txt (RFC 9116: Contact,
Encryption, Policy, Acknowledgments, Preferred-Languages, Expires) or an
OpenSSF Security Insights file (its vulnerability reporting contact and
policy); flags add to or override what it gives.`,
		Example: `  evident attest ` + name + ` --subject pkg:pypi/requests --from .well-known/security.txt
  evident attest ` + name + ` --subject pkg:generic/openssl --contact mailto:openssl-security@openssl.org --policy-url https://openssl-library.org/policies/general/security-policy/ --embargo-days 90`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p := map[string]any{}
			if from != "" {
				b, err := os.ReadFile(from)
				if err != nil {
					return fmt.Errorf("couldn't read --from: %w", err)
				}
				if p, err = policyFrom(from, b); err != nil {
					return failed(err)
				}
			}
			if len(contacts) > 0 {
				var cs []any
				for _, c := range contacts {
					cs = append(cs, c)
				}
				p["contact"] = cs
			}
			if policy != "" {
				p["policy_url"] = policy
			}
			if embargo > 0 || advisories != "" {
				d, _ := p["disclosure"].(map[string]any)
				if d == nil {
					d = map[string]any{}
				}
				if embargo > 0 {
					d["embargo_days"] = embargo
				}
				if advisories != "" {
					d["advisories_url"] = advisories
				}
				p["disclosure"] = d
			}
			return a.sign(&g, name, predicateType, p)
		},
	}
	g.add(c)
	f := c.Flags()
	f.StringVar(&from, "from", "", "a security.txt or Security Insights file to take the policy from")
	f.StringArrayVar(&contacts, "contact", nil, "where to report: mailto:, https: or tel: URI (repeat; most preferred first)")
	f.StringVar(&policy, "policy-url", "", "the published policy")
	f.IntVar(&embargo, "embargo-days", 0, "most days from a report to public disclosure")
	f.StringVar(&advisories, "advisories-url", "", "where advisories are published")
	return c
}

// policyFrom reads a security.txt or a Security Insights file into a
// security policy predicate.
func policyFrom(name string, b []byte) (map[string]any, error) {
	sum := sha256.Sum256(b)
	if looksLikeSecurityTxt(b) {
		p := map[string]any{}
		var contacts, langs []any
		var channels []any
		enc := ""
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			k, v, ok := strings.Cut(line, ":")
			if !ok || strings.HasPrefix(line, "#") {
				continue
			}
			v = strings.TrimSpace(v)
			switch strings.ToLower(k) {
			case "contact":
				contacts = append(contacts, v)
			case "encryption":
				enc = v
			case "policy":
				p["policy_url"] = v
			case "acknowledgments", "acknowledgements":
				p["acknowledgments_url"] = v
			case "expires":
				if t, err := time.Parse(time.RFC3339, v); err == nil {
					p["expires"] = t.UTC().Format(time.RFC3339)
				}
			case "preferred-languages":
				for _, l := range strings.Split(v, ",") {
					langs = append(langs, strings.TrimSpace(l))
				}
			}
		}
		for _, c := range contacts {
			ch := map[string]any{"type": "web-form", "url": c}
			if strings.HasPrefix(c.(string), "mailto:") {
				ch["type"] = "email"
			}
			if enc != "" {
				ch["encryption"] = enc
			}
			channels = append(channels, ch)
		}
		if contacts != nil {
			p["contact"] = contacts
			p["reporting_channels"] = channels
		}
		if langs != nil {
			p["preferred_languages"] = langs
		}
		p["source"] = map[string]any{"format": "security.txt", "sha256": hex.EncodeToString(sum[:])}
		return p, nil
	}
	var si map[string]any
	if err := yaml.Unmarshal(b, &si); err != nil {
		return nil, fmt.Errorf("%s is neither a security.txt nor a Security Insights file: %v", name, err)
	}
	p := map[string]any{"source": map[string]any{"format": "security-insights", "sha256": hex.EncodeToString(sum[:])}}
	// Security Insights v2: project.vulnerability-reporting; v1:
	// vulnerability-reporting at the top.
	vr := lookup(si, "project", "vulnerability-reporting")
	if vr == nil {
		vr = lookup(si, "vulnerability-reporting")
	}
	var contacts []any
	if e, ok := lookup(vr, "contact", "email").(string); ok && e != "" {
		contacts = append(contacts, "mailto:"+e)
	}
	if e, ok := lookup(vr, "email-contact").(string); ok && e != "" {
		contacts = append(contacts, "mailto:"+e)
	}
	for _, k := range []string{"policy", "security-policy"} {
		if u, ok := lookup(vr, k).(string); ok && strings.HasPrefix(u, "http") {
			p["policy_url"] = u
		}
	}
	if contacts != nil {
		p["contact"] = contacts
	}
	return p, nil
}

// looksLikeSecurityTxt reports whether b has a security.txt Contact field:
// at the start of a line, with a value (RFC 9116 section 2.5.3).
func looksLikeSecurityTxt(b []byte) bool {
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(strings.TrimRight(l, "\r"), ":"); ok && strings.EqualFold(k, "Contact") && strings.TrimSpace(v) != "" {
			return true
		}
	}
	return false
}

// lookup follows keys through nested YAML or JSON maps.
func lookup(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// pairs reads FORMAT=URL flag values.
func pairs(flag string, vs []string) ([]any, error) {
	var out []any
	for _, v := range vs {
		f, u, ok := strings.Cut(v, "=")
		if !ok {
			return nil, fmt.Errorf("--%s %q: want FORMAT=URL, e.g. csaf=https://example.com/.well-known/csaf/provider-metadata.json", flag, v)
		}
		out = append(out, map[string]any{"format": f, "url": u})
	}
	return out, nil
}

func (a *app) genVulnerabilityHandling() *cobra.Command {
	var g genFlags
	var process, processURL, processVersion, policy, reporting string
	var feeds, vexChannels []string
	c := &cobra.Command{
		Use:   "vulnerability-handling --subject PURL --process NAME --advisory-feed FORMAT=URL...",
		Short: "Sign a vulnerability-handling statement: the process followed, the advisory feed, the VEX or CSAF channel",
		Example: `  evident attest vulnerability-handling --subject pkg:maven/org.apache.logging.log4j/log4j-core \
      --process "ORC Vulnerability Handling Specification" --process-url https://github.com/orcwg/vulnerability-management-spec \
      --advisory-feed cyclonedx-vex=https://logging.apache.org/cyclonedx/vdr.xml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			pr := map[string]any{"name": process}
			if processURL != "" {
				pr["url"] = processURL
			}
			if processVersion != "" {
				pr["version"] = processVersion
			}
			p := map[string]any{"process": pr}
			fs, err := pairs("advisory-feed", feeds)
			if err != nil {
				return err
			}
			p["advisory_feeds"] = fs
			if len(vexChannels) > 0 {
				if p["vex_channels"], err = pairs("vex-channel", vexChannels); err != nil {
					return err
				}
			}
			if policy != "" {
				p["security_policy_url"] = policy
			}
			if reporting != "" {
				p["reporting_url"] = reporting
			}
			if process == "" {
				delete(p, "process")
			}
			if fs == nil {
				p["advisory_feeds"] = []any{}
			}
			return a.sign(&g, "vulnerability-handling", evidence.PredicateVulnerabilityHandling, p)
		},
	}
	g.add(c)
	f := c.Flags()
	f.StringVar(&process, "process", "", "the vulnerability-handling process followed (required)")
	f.StringVar(&processURL, "process-url", "", "where it is specified")
	f.StringVar(&processVersion, "process-version", "", "its version")
	f.StringArrayVar(&feeds, "advisory-feed", nil, "FORMAT=URL where resolved vulnerabilities are published (repeat; at least one)")
	f.StringArrayVar(&vexChannels, "vex-channel", nil, "FORMAT=URL where VEX or CSAF is published (repeat)")
	f.StringVar(&policy, "security-policy-url", "", "the security policy")
	f.StringVar(&reporting, "reporting-url", "", "how to report a vulnerability")
	return c
}

func (a *app) genStewardAttestation() *cobra.Command {
	var g genFlags
	var from, article string
	c := &cobra.Command{
		Use:   "steward-attestation --subject PURL --from FILE",
		Short: "Sign a steward attestation: the ORC light attestation template, filled in",
		Long: `Signs a filled ORC Working Group light attestation template
(orcwg/cra-attestations proposals/template-lite.md) in its JSON form as an
Evident steward attestation (evidence/PREDICATES.md), after checking every
item is answered as the template asks.`,
		Example: `  evident attest steward-attestation --subject pkg:generic/example-foundation/example-lib --from template-lite.json --cra-article 24`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if from == "" {
				return errors.New("give --from: the filled template, as JSON")
			}
			b, err := os.ReadFile(from)
			if err != nil {
				return fmt.Errorf("couldn't read --from: %w", err)
			}
			var p map[string]any
			if err := json.Unmarshal(b, &p); err != nil {
				return failed(fmt.Errorf("%s: %v", from, err))
			}
			if article != "" {
				p["cra_article"] = article
			}
			return a.sign(&g, "steward-attestation", evidence.PredicateStewardAttestation, p)
		},
	}
	g.add(c)
	c.Flags().StringVar(&from, "from", "", "the filled template, as JSON (required)")
	c.Flags().StringVar(&article, "cra-article", "", "the CRA article it is made under: 24 or 25")
	return c
}

func (a *app) genDeclarationOfConformity() *cobra.Command {
	var g genFlags
	var file, url, product, version, productPurl, manufacturer, issued string
	c := &cobra.Command{
		Use:   "eu-declaration-of-conformity --subject PURL --declaration FILE --url URL --product NAME --manufacturer NAME",
		Short: "Sign a reference to an EU declaration of conformity: its digest, URL and product",
		Example: `  evident attest eu-declaration-of-conformity --subject pkg:generic/example/widget@3.0 --digest sha256:0ffa6dda3e7e0ef2d27d84b4e6ab2cc1e5d9cd1a4d18b3d4cbbc65dc36c5a41f \
      --declaration eu-doc-widget-3.pdf --url https://example.com/doc/eu-doc-widget-3.pdf --product "Example Widget" --product-version 3.0 --manufacturer "Example GmbH"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return errors.New("give --declaration: the declaration as published, to record its SHA-256")
			}
			b, err := os.ReadFile(file)
			if err != nil {
				return fmt.Errorf("couldn't read the declaration: %w", err)
			}
			sum := sha256.Sum256(b)
			d := map[string]any{"sha256": hex.EncodeToString(sum[:]), "url": url}
			if mt := mediaType(file, b); mt != "" {
				d["media_type"] = mt
			}
			if issued != "" {
				d["issued_on"] = issued
			}
			pr := map[string]any{"name": product}
			if version != "" {
				pr["version"] = version
			}
			if productPurl != "" {
				pr["purl"] = productPurl
			}
			p := map[string]any{"declaration": d, "product": pr, "manufacturer": map[string]any{"name": manufacturer}, "legislation": []any{"Regulation (EU) 2024/2847"}}
			return a.sign(&g, "eu-declaration-of-conformity", evidence.PredicateEUDeclarationOfConformity, p)
		},
	}
	g.add(c)
	f := c.Flags()
	f.StringVar(&file, "declaration", "", "the declaration as published (required)")
	f.StringVar(&url, "url", "", "where it is published (required)")
	f.StringVar(&product, "product", "", "the product's name (required)")
	f.StringVar(&version, "product-version", "", "the product's version")
	f.StringVar(&productPurl, "product-purl", "", "the product's Package URL")
	f.StringVar(&manufacturer, "manufacturer", "", "the manufacturer's name (required)")
	f.StringVar(&issued, "issued-on", "", "when it was issued, YYYY-MM-DD")
	return c
}

// gemaraResults maps Gemara's results onto the predicate's.
var gemaraResults = map[string]string{
	"Passed": "passed", "Failed": "failed", "Needs Review": "needs_review",
	"Not Applicable": "not_applicable", "Not Run": "not_run", "Unknown": "unknown",
}

// scorecardResults maps Scorecard's OSPS statuses onto the predicate's.
var scorecardResults = map[string]string{
	"PASS": "passed", "FAIL": "failed", "UNKNOWN": "unknown", "NOT_APPLICABLE": "not_applicable", "ATTESTED": "attested",
}

// ospsFrom reads a Gemara evaluation log (YAML or JSON) or Scorecard's
// OSPS output into the predicate's controls, the source's format, and the
// tool and baseline version when the output names them.
func ospsFrom(b []byte) (controls []any, format string, tool map[string]any, baseline string, err error) {
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, "", nil, "", err
	}
	if evs, ok := doc["evaluations"].([]any); ok {
		// Gemara: each control evaluation names its control by entry-id.
		for _, e := range evs {
			id, _ := lookup(e, "control", "entry-id").(string)
			res, _ := lookup(e, "result").(string)
			r, ok := gemaraResults[res]
			if id == "" || !ok {
				return nil, "", nil, "", fmt.Errorf("evaluation %v: want control.entry-id and a Gemara result", lookup(e, "name"))
			}
			c := map[string]any{"id": id, "result": r}
			if m, _ := lookup(e, "message").(string); m != "" {
				c["message"] = m
			}
			controls = append(controls, c)
		}
		if n, _ := lookup(doc, "metadata", "author", "name").(string); n != "" {
			tool = map[string]any{"name": n}
			if v, _ := lookup(doc, "metadata", "author", "version").(string); v != "" {
				tool["version"] = v
			}
		}
		return controls, "gemara-evaluation-log", tool, "", nil
	}
	if cs, ok := doc["controls"].([]any); ok {
		// Scorecard --format=osps: per-control status.
		for _, e := range cs {
			id, _ := lookup(e, "id").(string)
			if id == "" {
				id, _ = lookup(e, "control_id").(string)
			}
			st, _ := lookup(e, "status").(string)
			r, ok := scorecardResults[st]
			if id == "" || !ok {
				return nil, "", nil, "", fmt.Errorf("control %v: want an id and a Scorecard OSPS status", e)
			}
			c := map[string]any{"id": id, "result": r}
			if l, ok := lookup(e, "level").(int); ok {
				c["level"] = l
			}
			controls = append(controls, c)
		}
		tool = map[string]any{"name": "OpenSSF Scorecard"}
		if v, _ := lookup(doc, "scorecard", "version").(string); v != "" {
			tool["version"] = v
		}
		for _, k := range []string{"osps_baseline_version", "baseline_version", "baseline"} {
			if v, _ := doc[k].(string); v != "" {
				baseline = v
			}
		}
		return controls, "scorecard-osps", tool, baseline, nil
	}
	return nil, "", nil, "", errors.New("neither a Gemara evaluation log (evaluations) nor Scorecard's OSPS output (controls)")
}

func (a *app) genOSPSBaseline() *cobra.Command {
	var g genFlags
	var from, version, statement, by, role string
	var level int
	c := &cobra.Command{
		Use:   "osps-baseline --subject PURL --level N (--from FILE | --attest STATEMENT --attested-by NAME)",
		Short: "Sign an OSPS Baseline assessment: the level claimed, each control's result, a person's attestation",
		Long: `Makes an Evident OSPS Baseline assessment (evidence/PREDICATES.md). --from reads
a Gemara evaluation log (as Privateer writes it) or Scorecard's OSPS output
and records each control's result and the output's SHA-256; --attest adds a
person's attestation of conformance at --level, signed by your key.`,
		Example: `  evident attest osps-baseline --subject pkg:github/ossf/scorecard --level 1 --from evaluation-log.yaml --baseline-version 2025-10-10
  evident attest osps-baseline --subject pkg:pypi/requests --level 2 --baseline-version 2025-10-10 --attest "Requests meets every level 2 control." --attested-by "A. Maintainer"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			assessment := map[string]any{"method": "self", "date": now().UTC().Format(time.RFC3339)}
			p := map[string]any{"level_claimed": level, "assessment": assessment}
			if from != "" {
				b, err := os.ReadFile(from)
				if err != nil {
					return fmt.Errorf("couldn't read --from: %w", err)
				}
				controls, format, tool, bv, err := ospsFrom(b)
				if err != nil {
					return failed(fmt.Errorf("%s: %w", from, err))
				}
				sum := sha256.Sum256(b)
				assessment["method"] = "tool"
				assessment["source"] = map[string]any{"format": format, "sha256": hex.EncodeToString(sum[:])}
				if tool != nil {
					assessment["tool"] = tool
				}
				p["controls"] = controls
				if version == "" {
					version = bv
				}
			}
			if version == "" {
				return errors.New("give --baseline-version: the OSPS Baseline version assessed against, e.g. 2025-10-10")
			}
			p["baseline"] = map[string]any{"version": version}
			if statement != "" {
				who := map[string]any{"name": by}
				if role != "" {
					who["role"] = role
				}
				p["attestation"] = map[string]any{"statement": statement, "attested_by": who}
			}
			return a.sign(&g, "osps-baseline", evidence.PredicateOSPSBaseline, p)
		},
	}
	g.add(c)
	f := c.Flags()
	f.IntVar(&level, "level", 0, "the maturity level claimed, 1 to 3 (0: results only)")
	f.StringVar(&from, "from", "", "a Gemara evaluation log or Scorecard OSPS output")
	f.StringVar(&version, "baseline-version", "", "the OSPS Baseline version, e.g. 2025-10-10")
	f.StringVar(&statement, "attest", "", "a statement of conformance at --level, in your words")
	f.StringVar(&by, "attested-by", "", "your name, with --attest")
	f.StringVar(&role, "role", "", "your role in the project, with --attest")
	return c
}

func (a *app) genWithdrawal() *cobra.Command {
	var envFile, reason, out string
	var logIndex int64
	c := &cobra.Command{
		Use:   "withdraw (--envelope FILE | --log-index N) --reason TEXT",
		Short: "Sign a withdrawal of logged evidence, with the reason",
		Long: `Makes a withdrawal (https://evident.dev/attestation/withdrawal/v1,
evidence/STATUS.md): the withdrawn item stays in the log, marked withdrawn,
with your reason. Name the item by its envelope (the file you submitted) or
by its log index on the node (--node; the entry is fetched and proven).
The withdrawal is about the same subjects and carries the envelope's
SHA-256. Sign it with the key that signed the item, or a key the node
trusts for withdrawals.`,
		Example: `  evident attest withdraw --envelope vex.openvex.json.intoto.json --reason "stated the wrong status" -o - | evident submit -
  evident attest withdraw --log-index 1234 --reason "support period was for the wrong line"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if reason == "" {
				return errors.New("give --reason: why the evidence is withdrawn")
			}
			var digest [32]byte
			var subjects []string
			w := &evidence.Withdrawal{Reason: reason}
			switch {
			case envFile != "" && logIndex < 0:
				b, err := os.ReadFile(envFile)
				if err != nil {
					return fmt.Errorf("couldn't read the envelope: %w", err)
				}
				digest = sha256.Sum256(b)
				payload, err := envelopePayload(b)
				if err != nil {
					return failed(err)
				}
				st, err := evidence.ParseStatement(payload)
				if err != nil {
					return failed(err)
				}
				for _, s := range st.Subject {
					subjects = append(subjects, s.Name)
				}
			case envFile == "" && logIndex >= 0:
				nodes, err := a.selectedNodes(false)
				if err != nil {
					return err
				}
				cl, err := a.newClient(nodes[0])
				if err != nil {
					return err
				}
				r, _, err := cl.Get(cmd.Context(), uint64(logIndex), false)
				if err != nil {
					return err
				}
				if !r.Verified {
					return failed(fmt.Errorf("entry %d did not verify: %w", logIndex, r.Err))
				}
				digest = r.Entry.EnvelopeDigest
				for _, s := range r.Entry.Subjects {
					subjects = append(subjects, s.Purl)
				}
				w.LogIndex, w.HasLogIndex, w.Log = uint64(logIndex), true, cl.Origin()
			default:
				return errors.New("give --envelope or --log-index: which evidence to withdraw")
			}
			w.EnvelopeDigest = digest
			pred, err := w.Predicate()
			if err != nil {
				return failed(err)
			}
			st := &evidence.Statement{Type: evidence.StatementTypeV1, PredicateType: evidence.PredicateWithdrawal, Predicate: pred}
			seen := map[string]bool{}
			for _, s := range subjects {
				if !seen[s] {
					seen[s] = true
					st.Subject = append(st.Subject, evidence.Subject{Name: s, Digest: map[string]string{"sha256": hex.EncodeToString(digest[:])}})
				}
			}
			return a.signStatement(out, "withdrawal", st)
		},
	}
	f := c.Flags()
	f.StringVar(&envFile, "envelope", "", "the withdrawn envelope, as submitted")
	f.Int64Var(&logIndex, "log-index", -1, "the withdrawn entry's index on the node")
	f.StringVar(&reason, "reason", "", "why, for people (required)")
	f.StringVarP(&out, "output", "o", "", "write the envelope here (- for stdout; default withdrawal.intoto.json)")
	return c
}

// envelopePayload returns the statement a DSSE envelope carries; the
// envelope is one the user signed, so its signatures are not checked here.
func envelopePayload(b []byte) ([]byte, error) {
	env, err := evidence.ParseEnvelope(b)
	if err != nil {
		return nil, err
	}
	return env.Payload, nil
}
