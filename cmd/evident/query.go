package main

import (
	"encoding/hex"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/evident-dev/evident/client"
	"github.com/evident-dev/evident/evidence"
)

func (a *app) queryCmd() *cobra.Command {
	var current bool
	c := &cobra.Command{
		Use:   "query PURL",
		Short: "Find and verify the evidence about a release or package",
		Long: `Query asks every configured node (or --node) at once for the evidence about a
release (a Package URL with a version, pkg:pypi/requests@2.32.3) or about
every release of a package (without a version, pkg:pypi/requests).

Every item is verified before it is shown as verified: the checkpoint is
signed with the node's configured log key and, if the configuration names a
witness policy, cosigned by a quorum of witnesses; the entry is proven
included in that checkpoint's tree; the entry parses and names the purl.
Items that fail are shown as FAILED with the reason, never left out.

The table is grouped by release and kind: foundation (the node's name),
signer (a name from the configuration's signers, else the key id), log index,
when it was logged, and the status. --json prints every item for programs.

Exit codes: 0 every node answered and every item verified (also when there
is no evidence); 1 some item FAILED verification; 2 some node could not be
asked (the others' answers are still shown).`,
		Example: `  evident query pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1
  evident query pkg:pypi/requests --json | jq '.results[] | select(.verified)'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			purl := args[0]
			p, err := evidence.ParsePurl(purl)
			if err != nil {
				return err
			}
			nodes, err := a.selectedNodes(true)
			if err != nil {
				return err
			}
			signers, err := a.knownSigners()
			if err != nil {
				return err
			}
			type answer struct {
				node    nodeConfig
				results []client.Result
				err     error
			}
			answers := make([]answer, len(nodes))
			var wg sync.WaitGroup
			for i, n := range nodes {
				answers[i].node = n
				cl, err := a.newClient(n)
				if err != nil {
					return err
				}
				wg.Go(func() {
					if current {
						answers[i].results, answers[i].err = cl.QueryCurrent(cmd.Context(), purl)
						return
					}
					answers[i].results, answers[i].err = cl.Query(cmd.Context(), purl)
				})
			}
			wg.Wait()

			var rows []queryRow
			var nodeErrs []nodeError
			for _, ans := range answers {
				if ans.err != nil {
					nodeErrs = append(nodeErrs, nodeError{Node: ans.node.Name, Error: ans.err.Error()})
				}
				for _, r := range ans.results {
					rows = append(rows, makeRows(r, p, signers)...)
				}
			}
			sortRows(rows)
			code := exitOK
			for _, r := range rows {
				if !r.Verified {
					code = exitFailed
				}
			}
			if len(nodeErrs) > 0 && code == exitOK {
				code = exitError
			}
			if a.jsonOut {
				if rows == nil {
					rows = []queryRow{}
				}
				if err := a.printJSON(queryOutput{Query: p.String(), Results: rows, Errors: nodeErrs}); err != nil {
					return err
				}
				return exitWith(code)
			}
			for _, e := range nodeErrs {
				fmt.Fprintf(a.stderr, "evident: node %s: %s\n", e.Node, e.Error)
			}
			if len(rows) == 0 {
				fmt.Fprintf(a.stderr, "no evidence about %s on %d node(s)\n", p, len(nodes)-len(nodeErrs))
				return exitWith(code)
			}
			printRows(a, rows)
			return exitWith(code)
		},
	}
	a.addJSONFlag(c, "every item")
	c.Flags().BoolVar(&current, "current", false, "only current items: leave out what is superseded or withdrawn (evidence/STATUS.md)")
	return c
}

type queryOutput struct {
	Query   string      `json:"query"`
	Results []queryRow  `json:"results"`
	Errors  []nodeError `json:"errors,omitempty"`
}

type nodeError struct {
	Node  string `json:"node"`
	Error string `json:"error"`
}

// queryRow is one item under one release. Fields from the entry are empty
// when the entry did not parse.
type queryRow struct {
	Release        string    `json:"release"`
	Kind           string    `json:"kind"`
	PackageLevel   bool      `json:"package_level,omitempty"` // evidence about every release of the package
	Format         string    `json:"format,omitempty"`
	Name           string    `json:"name,omitempty"`
	DocumentSHA256 string    `json:"document_sha256,omitempty"`
	DocumentSize   int64     `json:"document_size,omitempty"`
	MediaType      string    `json:"media_type,omitempty"`
	PredicateType  string    `json:"predicate_type"`
	Node           string    `json:"node"`
	LogIndex       uint64    `json:"log_index"`
	LoggedAt       time.Time `json:"logged_at,omitzero"`
	Signers        []string  `json:"signers"`
	SignerNames    []string  `json:"signer_names,omitempty"`
	Subjects       []string  `json:"subjects"`
	EnvelopeSHA256 string    `json:"envelope_sha256,omitempty"`
	Checkpoint     string    `json:"checkpoint,omitempty"` // origin@size:root, when it verified
	Verified       bool      `json:"verified"`
	Error          string    `json:"error,omitempty"`
	// Status is the node's word (evidence/STATUS.md): current, superseded
	// or withdrawn.
	Status           string  `json:"status,omitempty"`
	SupersededBy     *uint64 `json:"superseded_by,omitempty"`
	WithdrawnBy      *uint64 `json:"withdrawn_by,omitempty"`
	WithdrawalReason string  `json:"withdrawal_reason,omitempty"`
}

// makeRows turns a result into one row per release of the queried package
// that it names (one row, for a failed result whose entry didn't parse).
func makeRows(r client.Result, q evidence.Purl, signers map[string]signer) []queryRow {
	row := queryRow{Node: r.Node, LogIndex: r.Index, Verified: r.Verified, Signers: []string{}, Subjects: []string{},
		Status: r.Status, SupersededBy: r.SupersededBy, WithdrawnBy: r.WithdrawnBy, WithdrawalReason: r.WithdrawalReason}
	if r.Err != nil {
		row.Error = r.Err.Error()
	}
	if r.Checkpoint != nil {
		row.Checkpoint = r.Checkpoint.Checkpoint.String()
	}
	e := r.Entry
	if e == nil {
		row.Release, row.Kind = q.String(), "?"
		return []queryRow{row}
	}
	row.Kind, row.PredicateType, row.LoggedAt = string(e.Kind), e.PredicateType, e.Time
	row.PackageLevel = r.PackageLevel
	row.Format, row.Name = e.Format, e.Name
	row.DocumentSHA256, row.DocumentSize, row.MediaType = hex.EncodeToString(e.Document.Digest[:]), e.Document.Size, e.Document.MediaType
	row.EnvelopeSHA256 = hex.EncodeToString(e.EnvelopeDigest[:])
	row.Signers = e.Signers
	for _, id := range e.Signers {
		if s, ok := signers[id]; ok {
			row.SignerNames = append(row.SignerNames, s.name)
		}
	}
	var releases []string
	for _, s := range e.Subjects {
		row.Subjects = append(row.Subjects, s.Purl)
		sp, err := evidence.ParsePurl(s.Purl)
		if err != nil {
			continue
		}
		if (q.HasVersion() && sp.Release() == q.Release()) || (!q.HasVersion() && sp.Package() == q.Package()) {
			if !contains(releases, sp.Release()) {
				releases = append(releases, sp.Release())
			}
		}
	}
	if len(releases) == 0 {
		releases = []string{q.String()} // a failed result that names something else
	}
	var rows []queryRow
	for _, rel := range releases {
		rr := row
		rr.Release = rel
		rows = append(rows, rr)
	}
	return rows
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// sortRows orders rows by release, kind, node, then newest first.
func sortRows(rows []queryRow) {
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.Release != b.Release {
			return a.Release < b.Release
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Node != b.Node {
			return a.Node < b.Node
		}
		return a.LogIndex > b.LogIndex
	})
}

func printRows(a *app, rows []queryRow) {
	w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	release := ""
	for _, r := range rows {
		if r.Release != release {
			if release != "" {
				fmt.Fprintln(w)
			}
			release = r.Release
			fmt.Fprintf(w, "%s\n", r.Release)
			fmt.Fprintf(w, "  KIND\tDOCUMENT\tFORMAT\tSIZE\tSHA-256\tFOUNDATION\tSIGNER\tINDEX\tLOGGED\tSTATUS\n")
		}
		logged := ""
		if !r.LoggedAt.IsZero() {
			logged = r.LoggedAt.Format(time.RFC3339)
		}
		status := "verified"
		switch {
		case !r.Verified:
			status = "FAILED: " + r.Error
		case r.SupersededBy != nil:
			status += fmt.Sprintf(", superseded by %d", *r.SupersededBy)
		case r.WithdrawnBy != nil:
			status += fmt.Sprintf(", withdrawn by %d: %s", *r.WithdrawnBy, cut(r.WithdrawalReason, 60))
		}
		kind := r.Kind
		if r.PackageLevel {
			kind += " (package)"
		}
		digest := r.DocumentSHA256
		if len(digest) > 12 {
			digest = digest[:12] + "…"
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", kind, cut(r.Name, 40), cut(r.Format, 32), byteSize(r.DocumentSize), digest, r.Node, signerLabel(r), r.LogIndex, logged, status)
	}
	w.Flush()
}

// cut shortens s to at most n characters for a table, with "…".
func cut(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	if s == "" {
		return "-"
	}
	return s
}

// byteSize formats a size in bytes for people.
func byteSize(n int64) string {
	switch {
	case n >= 10<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 10<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// signerLabel shows known signers by name and others by a short key id.
func signerLabel(r queryRow) string {
	if len(r.SignerNames) == len(r.Signers) && len(r.SignerNames) > 0 {
		return strings.Join(r.SignerNames, ", ")
	}
	var ids []string
	for _, id := range r.Signers {
		ids = append(ids, shortSigner(id))
	}
	if len(ids) == 0 {
		return "?"
	}
	return strings.Join(ids, ", ")
}

// shortSigner shortens a signer id for a table: a key id to its algorithm
// and 12 hex digits, a Sigstore identity to its subject (a workflow, an
// email address), decoded.
func shortSigner(id string) string {
	if rest, ok := strings.CutPrefix(id, "sigstore:"); ok {
		if _, san, ok := strings.Cut(rest, ":"); ok {
			if s, err := url.PathUnescape(san); err == nil {
				return cut(strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "github.com/"), 72)
			}
		}
		return cut(id, 60)
	}
	if alg, h, ok := strings.Cut(id, ":"); ok && len(h) > 12 {
		return alg + ":" + h[:12] + "…"
	}
	return id
}
