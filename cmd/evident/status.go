package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/evident-dev/evident/client"
	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/evidence/support"
)

func (a *app) statusCmd() *cobra.Command {
	var date string
	c := &cobra.Command{
		Use:   "status PURL [--date YYYY-MM-DD]",
		Short: "Say what holds now for a release: VEX status per vulnerability, and support",
		Long: `Status asks each configured node (or --node) what holds now for a release (a
Package URL with a version): the current VEX status of each vulnerability
that its current OpenVEX, CSAF or CycloneDX evidence names, and whether it
is supported with security updates on a day (--date, default today).

Each answer names the statement that decided it and shows conflicting
statements beside it (evidence/RESOLUTION.md). The answer is checked
before it is shown: every cited item is proven in the node's checkpoint,
its envelope is fetched and checked against its entry, and the documents
are resolved again here; an answer that does not hold up is FAILED.

Exit codes: 0 every node answered and every answer verified; 1 some answer
FAILED; 2 some node could not be asked.`,
		Example: `  evident status pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1
  evident status pkg:pypi/requests@2.32.3 --date 2031-01-01 --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := evidence.ParsePurl(args[0])
			if err != nil {
				return err
			}
			if !p.HasVersion() {
				return fmt.Errorf("%s has no version: status is about one release", args[0])
			}
			var day time.Time
			if date != "" {
				if day, err = time.Parse(time.DateOnly, date); err != nil {
					return fmt.Errorf("--date %q: want YYYY-MM-DD", date)
				}
			}
			nodes, err := a.selectedNodes(true)
			if err != nil {
				return err
			}
			code := exitOK
			var out []statusOutput
			for _, n := range nodes {
				cl, err := a.newClient(n)
				if err != nil {
					return err
				}
				st, err := cl.Status(cmd.Context(), p.Release(), day)
				if err != nil {
					fmt.Fprintf(a.stderr, "evident: node %s: %v\n", n.Name, err)
					code = max(code, exitError)
					continue
				}
				if !st.Verified {
					code = exitFailed
				}
				out = append(out, makeStatusOutput(st))
			}
			if a.jsonOut {
				if out == nil {
					out = []statusOutput{}
				}
				if err := a.printJSON(out); err != nil {
					return err
				}
				return exitWith(code)
			}
			for _, o := range out {
				printStatus(a, o)
			}
			return exitWith(code)
		},
	}
	c.Flags().StringVar(&date, "date", "", "the day to judge support on, YYYY-MM-DD (default: the node's today)")
	a.addJSONFlag(c, "the answers")
	return c
}

type statusOutput struct {
	Node            string            `json:"node"`
	Release         string            `json:"release"`
	Verified        bool              `json:"verified"`
	Error           string            `json:"error,omitempty"`
	Vulnerabilities []statusVuln      `json:"vulnerabilities"`
	Support         statusSupport     `json:"support"`
	Unread          map[uint64]string `json:"unread,omitempty"`
}

type statusVuln struct {
	Vulnerability string          `json:"vulnerability"`
	Aliases       []string        `json:"aliases,omitempty"`
	Status        string          `json:"status"`
	Justification string          `json:"justification,omitempty"`
	Conflict      bool            `json:"conflict,omitempty"`
	Statements    []statusVexStmt `json:"statements"` // the deciding one first
}

type statusVexStmt struct {
	LogIndex      uint64    `json:"log_index"`
	Format        string    `json:"format"`
	Signers       []string  `json:"signers"`
	Status        string    `json:"status"`
	Justification string    `json:"justification,omitempty"`
	Product       string    `json:"product"`
	PackageLevel  bool      `json:"package_level,omitempty"`
	Time          time.Time `json:"time,omitzero"`
}

type statusSupport struct {
	Date       string              `json:"date"`
	State      string              `json:"state"`
	Statements []statusSupportStmt `json:"statements"` // the deciding one first
}

type statusSupportStmt struct {
	LogIndex             uint64    `json:"log_index"`
	Format               string    `json:"format"`
	Signers              []string  `json:"signers"`
	Covers               string    `json:"covers"`
	ReleaseLine          string    `json:"release_line,omitempty"`
	EndOfSecuritySupport string    `json:"end_of_security_support"` // RFC 3339, or "tba"
	EndOfLife            time.Time `json:"end_of_life,omitzero"`
	State                string    `json:"state"`
}

func makeStatusOutput(st *client.Status) statusOutput {
	o := statusOutput{Node: st.Node, Release: st.Release, Verified: st.Verified, Unread: st.Unread, Vulnerabilities: []statusVuln{}}
	if st.Err != nil {
		o.Error = st.Err.Error()
	}
	for _, v := range st.Vulnerabilities {
		sv := statusVuln{Vulnerability: v.Vulnerability, Aliases: v.Aliases, Status: string(v.Status), Justification: v.Justification, Conflict: v.Conflict}
		for _, s := range v.Statements {
			sv.Statements = append(sv.Statements, statusVexStmt{
				LogIndex: s.Source.LogIndex, Format: s.Source.Format, Signers: s.Source.Signers, Status: string(s.Status),
				Justification: s.Justification, Product: s.Product, PackageLevel: s.PackageLevel, Time: s.Timestamp,
			})
		}
		o.Vulnerabilities = append(o.Vulnerabilities, sv)
	}
	o.Support = statusSupport{Date: st.Day.Format(time.DateOnly), State: string(st.Support.State), Statements: []statusSupportStmt{}}
	for _, s := range st.Support.Statements {
		end := "tba"
		if !s.TBA {
			end = s.EndOfSecuritySupport.Format(time.RFC3339)
		}
		o.Support.Statements = append(o.Support.Statements, statusSupportStmt{
			LogIndex: s.Source.LogIndex, Format: s.Source.Format, Signers: s.Source.Signers, Covers: s.Covers,
			ReleaseLine: s.ReleaseLine, EndOfSecuritySupport: end, EndOfLife: s.EndOfLife, State: string(s.On(st.Day)),
		})
	}
	return o
}

func printStatus(a *app, o statusOutput) {
	fmt.Fprintf(a.stdout, "%s on %s", o.Release, o.Node)
	if !o.Verified {
		fmt.Fprintf(a.stdout, ": FAILED: %s\n", o.Error)
		return
	}
	fmt.Fprintln(a.stdout, " (verified)")
	sup := o.Support
	switch {
	case sup.State == string(support.Unknown):
		fmt.Fprintf(a.stdout, "  support on %s: unknown (no current support-period evidence)\n", sup.Date)
	default:
		d := sup.Statements[0]
		fmt.Fprintf(a.stdout, "  support on %s: %s (security updates until %s, %s %s, entry %d, signed by %s)\n",
			sup.Date, sup.State, d.EndOfSecuritySupport, d.Format, coverage(d), d.LogIndex, signerList(d.Signers))
		for _, s := range sup.Statements[1:] {
			fmt.Fprintf(a.stdout, "    beside it: %s until %s (%s %s, entry %d, signed by %s)\n", s.State, s.EndOfSecuritySupport, s.Format, coverage(s), s.LogIndex, signerList(s.Signers))
		}
	}
	if len(o.Vulnerabilities) == 0 {
		fmt.Fprintln(a.stdout, "  no VEX statements about this release")
	} else {
		w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(w, "  VULNERABILITY\tSTATUS\tJUSTIFICATION\tDECIDED BY\tCONFLICTS\n")
		for _, v := range o.Vulnerabilities {
			d := v.Statements[0]
			var beside []string
			for _, s := range v.Statements[1:] {
				beside = append(beside, fmt.Sprintf("%s (%s, entry %d)", s.Status, s.Format, s.LogIndex))
			}
			conflict := "-"
			if v.Conflict {
				conflict = strings.Join(beside, "; ")
			}
			fmt.Fprintf(w, "  %s\t%s\t%s\t%s entry %d by %s\t%s\n", v.Vulnerability, v.Status, cut(v.Justification, 40), d.Format, d.LogIndex, signerList(d.Signers), conflict)
		}
		w.Flush()
	}
	for i, r := range o.Unread {
		fmt.Fprintf(a.stdout, "  entry %d not read: %s\n", i, r)
	}
}

func coverage(s statusSupportStmt) string {
	if s.Covers == support.CoversReleaseLine {
		return "for line " + s.ReleaseLine
	}
	return "for the " + s.Covers
}

func signerList(ids []string) string {
	var out []string
	for _, id := range ids {
		out = append(out, shortSigner(id))
	}
	return strings.Join(out, ", ")
}
