package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/evident-dev/evident/check"
	"github.com/evident-dev/evident/client"
	"github.com/evident-dev/evident/internal/durable"
)

// maxListed bounds the components and items the terminal summary lists;
// --json and --html list them all.
const maxListed = 40

func (a *app) checkCmd() *cobra.Command {
	var (
		require      string
		requireFile  string
		until        string
		htmlOut      string
		packOut      string
		signerArgs   []string
		sigstoreRoot string
	)
	c := &cobra.Command{
		Use:   "check SBOM",
		Short: "Check every component of a product SBOM for verified evidence",
		Long: `Check reads a product SBOM (CycloneDX 1.4 to 1.6 JSON or XML, SPDX 2.2/2.3
JSON, tag-value or YAML, SPDX 3.0 JSON-LD), asks every configured node (or
--node) at once about every component, by purl or, for components without
one, by artifact digest, and verifies every item: the checkpoint is signed
with the node's log key and, with a witness policy, cosigned by a quorum;
the entry is proven included; the envelope's signatures verify with the
configured signers' keys (evident config add-signer, --signer-key) or the
Sigstore trusted root; the entry is about the component. An item that fails
any of this is shown as FAILED, never counted as evidence.

It prints counts, then the components that fail the requirements. For each
component the report lists the evidence by kind (SBOM, VEX, security
policy, support period, provenance, OSPS Baseline), each item with its
signer, node and whether it verified. This version does not resolve what
VEX documents and support periods say now: it reports how many verified
documents it found and says that their status is not resolved.

Requirements (--require KIND,..., or --require-file FILE, a YAML policy):
every third-party component must have verified evidence of each kind named
("evidence": any kind). With --until DATE the support period must cover
that date; since this version can't resolve support periods, such a check
can't be made (exit 2) rather than pass.

--json prints the report (check/REPORT.md; check/report.schema.json);
--html FILE writes it as one self-contained page for technical
documentation; -o FILE writes an evidence pack (check/PACK.md) that
"evident verify FILE" checks offline, years later.

Exit codes: 0 the requirements are met (without requirements: every item
verified); 1 they are not met (or an item failed verification); 2 the
check could not be made: the SBOM can't be read, a node could not be asked
about a component that lacks evidence, or a requirement needs a status this
version can't resolve.`,
		Example: `  evident check product.cdx.json
  evident check product.spdx.json --require security-policy,support-period,vex --html report.html -o product.evident.json
  evident check product.cdx.xml --require-file requirements.yaml --json | jq '.components[] | select(.status=="not-met") | .purl'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("couldn't read the SBOM: %w", err)
			}
			req, err := checkRequirements(require, requireFile, until)
			if err != nil {
				return err
			}
			nodes, err := a.selectedNodes(true)
			if err != nil {
				return err
			}
			opts := check.Options{Requirements: req, File: filepath.Base(args[0]), SignerNames: map[string]string{}}
			for _, n := range nodes {
				cl, err := a.newClient(n)
				if err != nil {
					return err
				}
				opts.Nodes = append(opts.Nodes, cl)
			}
			known, err := a.knownSigners()
			if err != nil {
				return err
			}
			for id, s := range known {
				opts.SignerKeys = append(opts.SignerKeys, s.pub)
				opts.SignerNames[id] = s.name
			}
			for _, s := range signerArgs {
				k, err := parseKeyArg(s)
				if err != nil {
					return fmt.Errorf("--signer-key: %w", err)
				}
				opts.SignerKeys = append(opts.SignerKeys, k)
			}
			if opts.SigstoreTrustedRoot, err = a.sigstoreRoot(sigstoreRoot); err != nil {
				return err
			}
			res, err := check.Run(cmd.Context(), data, opts)
			if err != nil {
				return err
			}
			rep := res.Report
			if htmlOut != "" {
				var b bytes.Buffer
				if err := check.WriteHTML(&b, rep); err != nil {
					return err
				}
				if err := durable.WriteFile(htmlOut, b.Bytes(), 0o644); err != nil {
					return fmt.Errorf("couldn't write %s: %w", htmlOut, err)
				}
			}
			if packOut != "" {
				b, err := res.Pack().Marshal()
				if err != nil {
					return err
				}
				if err := durable.WriteFile(packOut, b, 0o644); err != nil {
					return fmt.Errorf("couldn't write %s: %w", packOut, err)
				}
			}
			if a.jsonOut {
				if err := a.printJSON(rep); err != nil {
					return err
				}
			} else {
				printCheck(a, rep)
				if htmlOut != "" {
					fmt.Fprintf(a.stderr, "wrote the HTML report to %s\n", htmlOut)
				}
				if packOut != "" {
					fmt.Fprintf(a.stderr, "wrote the evidence pack (%d items) to %s; check it with evident verify %s\n", len(res.Bundle.Items), packOut, packOut)
				}
			}
			switch rep.Status {
			case check.StatusMet:
				return nil
			case check.StatusNotMet:
				return exitWith(exitFailed)
			}
			return exitWith(exitError)
		},
	}
	f := c.Flags()
	f.StringVar(&require, "require", "", "kinds of verified evidence every component needs, comma-separated (e.g. security-policy,support-period,vex; evidence: any)")
	f.StringVar(&requireFile, "require-file", "", "a requirements policy file (YAML: version: 1, require, until, ignore; see check/REPORT.md)")
	f.StringVar(&until, "until", "", "a date (YYYY-MM-DD) the support period must cover")
	f.StringVar(&htmlOut, "html", "", "write the report as a self-contained HTML page to this file")
	f.StringVarP(&packOut, "output", "o", "", "write an evidence pack (report, SBOM and every verified item with its proofs) to this file")
	f.StringArrayVar(&signerArgs, "signer-key", nil, "public key of an evidence signer (ed25519:<base64>, or a key file); repeatable")
	f.StringVar(&sigstoreRoot, "sigstore-trusted-root", "", "Sigstore trusted_root.json for items logged as Sigstore bundles (default: the configuration's)")
	a.addJSONFlag(c, "the report (schema https://evident.dev/check-report/v1)")
	return c
}

// checkRequirements assembles the requirements of --require, --require-file
// and --until; nil when there are none.
func checkRequirements(require, file, until string) (*check.Requirements, error) {
	var req *check.Requirements
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("couldn't read the requirements: %w", err)
		}
		if req, err = check.ParsePolicy(b); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	if require != "" {
		if req == nil {
			req = &check.Requirements{}
		}
		for _, k := range check.ParseRequire(require) {
			if !contains(req.Require, k) {
				req.Require = append(req.Require, k)
			}
		}
	}
	if until != "" {
		if req == nil {
			req = &check.Requirements{}
		}
		req.Until = until
	}
	if req == nil {
		return nil, nil
	}
	if err := req.Check(); err != nil {
		return nil, err
	}
	return req, nil
}

func printCheck(a *app, rep *check.Report) {
	s := rep.Summary
	w := a.stdout
	name := rep.SBOM.Name
	if name == "" {
		name = rep.SBOM.File
	}
	fmt.Fprintf(w, "SBOM        %s, %s, %d components\n", cut(name, 60), rep.SBOM.Format, s.Components)
	fmt.Fprintf(w, "nodes       %d asked", len(rep.Nodes))
	for _, n := range rep.Nodes {
		if n.Error != "" {
			fmt.Fprintf(w, "; %s: %s", n.Name, cut(n.Error, 200))
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "components  %d with evidence, %d without; %d without a purl (%d looked up by digest); %d the product itself\n",
		s.WithEvidence, s.WithoutEvidence, s.WithoutPurl, s.MatchedByHash, s.Primary)
	fmt.Fprintf(w, "evidence    %d items verified, %d FAILED verification\n", s.VerifiedItems, s.FailedItems)
	if r := rep.Requirements; r != nil && len(r.Require) > 0 {
		what := strings.Join(r.Require, ", ")
		if r.Until != "" {
			what += "; support period until " + r.Until
		}
		fmt.Fprintf(w, "required    %s: %d components do not meet it, %d could not be checked\n", what, s.Failing, s.Unchecked)
	}
	var failing []check.Component
	for _, c := range rep.Components {
		if c.Status == check.StatusNotMet || c.Status == check.StatusCouldNotCheck {
			failing = append(failing, c)
		}
	}
	if len(failing) > 0 {
		fmt.Fprintf(w, "\ncomponents that fail the requirements:\n")
		for i, c := range failing {
			if i == maxListed {
				fmt.Fprintf(w, "  ... and %d more (--json or --html lists them all)\n", len(failing)-maxListed)
				break
			}
			var why []string
			if len(c.Failures) > 0 {
				why = append(why, "missing "+strings.Join(c.Failures, ", "))
			}
			why = append(why, c.Unchecked...)
			fmt.Fprintf(w, "  %s  %s: %s\n", componentLabel(c), c.Status, strings.Join(why, "; "))
		}
	}
	var failed []string
	for _, c := range rep.Components {
		for _, it := range c.Items {
			if !it.Verified {
				failed = append(failed, fmt.Sprintf("  %s  %s item %d of %s: FAILED: %s", componentLabel(c), it.Kind, it.LogIndex, it.Node, cut(it.Error, 300)))
			}
		}
	}
	if len(failed) > 0 {
		fmt.Fprintf(w, "\nitems that failed verification:\n")
		for i, l := range failed {
			if i == maxListed {
				fmt.Fprintf(w, "  ... and %d more\n", len(failed)-maxListed)
				break
			}
			fmt.Fprintln(w, l)
		}
	}
	// What this version can't say, said once.
	var unresolved []string
	for _, k := range []string{"vex", "support-period", "osps-baseline"} {
		n := 0
		for _, c := range rep.Components {
			for _, kr := range c.Kinds {
				if kr.Kind == k && kr.Status != nil && !kr.Status.Resolved {
					n++
				}
			}
		}
		if n > 0 {
			unresolved = append(unresolved, fmt.Sprintf("%s for %d components", k, n))
		}
	}
	if len(unresolved) > 0 {
		fmt.Fprintf(w, "\nnot resolved by this version (documents found and verified, their current status not read): %s\n", strings.Join(unresolved, ", "))
	}
	verdict := map[string]string{check.StatusMet: "requirements met", check.StatusNotMet: "requirements NOT met", check.StatusCouldNotCheck: "could NOT check"}[rep.Status]
	if rep.Requirements == nil || len(rep.Requirements.Require) == 0 {
		verdict = map[string]string{check.StatusMet: "every item verified", check.StatusNotMet: "some items FAILED verification", check.StatusCouldNotCheck: "could NOT check every component"}[rep.Status]
	}
	fmt.Fprintf(w, "\nverdict     %s\n", verdict)
}

func componentLabel(c check.Component) string {
	if c.Purl != "" {
		return c.Purl
	}
	if c.Version != "" {
		return cut(c.Name+" "+c.Version, 80) + " (no purl)"
	}
	return cut(c.Name, 80) + " (no purl)"
}

// verifyPack is evident verify for an evidence pack.
func (a *app) verifyPack(file string, data []byte, opts client.VerifyOptions) error {
	p, err := check.ParsePack(data)
	if err != nil {
		return err
	}
	res, verr := check.VerifyPack(p, opts)
	if a.jsonOut {
		out := struct {
			File     string   `json:"file"`
			Verified bool     `json:"verified"`
			Items    int      `json:"items"`
			Claims   int      `json:"claims"`
			Problems []string `json:"problems,omitempty"`
			Status   string   `json:"report_status"`
		}{file, verr == nil, len(p.Bundle.Items), res.Claims, res.Problems, p.Report.Status}
		if err := a.printJSON(out); err != nil {
			return err
		}
	} else {
		rep := p.Report
		name := rep.SBOM.Name
		if name == "" {
			name = rep.SBOM.File
		}
		fmt.Fprintf(a.stdout, "evidence pack: report of %s about %s (%s, %d components), status %s\n",
			rep.Time.Format("2006-01-02 15:04 UTC"), cut(name, 80), rep.SBOM.Format, rep.SBOM.Components, rep.Status)
		for _, pr := range res.Problems {
			fmt.Fprintf(a.stdout, "FAILED: %s\n", pr)
		}
		ok := 0
		for _, r := range res.Items {
			if r.Err == nil {
				ok++
			}
		}
		fmt.Fprintf(a.stdout, "%d of %d items verified; %d claims of the report checked against them\n", ok, len(p.Bundle.Items), res.Claims)
	}
	if verr != nil {
		return exitWith(exitFailed)
	}
	return nil
}
