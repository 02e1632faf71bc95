package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/spf13/cobra"

	"github.com/evident-dev/evident/client"
)

func (a *app) auditCmd() *cobra.Command {
	var state string
	c := &cobra.Command{
		Use:   "audit [--state DIR]",
		Short: "Check that logs only ever grow (consistency)",
		Long: `Audit checks every configured node's log (or --node's): it fetches the latest
checkpoint, verifies its signature (and witness quorum, with a policy),
fetches a consistency proof from the checkpoint remembered from the last
audit, verifies it, and remembers the new checkpoint. The first audit of a
log trusts what it sees and remembers it.

The state is one file per log in --state (default
$XDG_STATE_HOME/evident/audit, else ~/.local/state/evident/audit).

When a log can't prove it extends what it showed before (two different
trees of one size, or a tree that doesn't extend the old one), audit writes
the evidence next to the state, prints the file's name and keeps the old
state. Anyone with the log's public key can check the evidence offline: it
holds both signed checkpoints and the proof (the format of package witness,
evident/misbehaviour/v1). A consistency proof that is merely wrong, without
proving a conflict, is fetched again; if it stays wrong it is written as
evident/unproven-inconsistency/v1, which is a warning, not a proof.

Exit codes: 0 every log consistent; 1 some log inconsistent (evidence
written); 2 some log could not be checked (network, bad signature, ...).`,
		Example: `  evident audit
  evident audit --node apache --state /var/lib/evident-audit --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir := state
			if dir == "" {
				d, err := defaultStateDir()
				if err != nil {
					return err
				}
				dir = d
			}
			nodes, err := a.selectedNodes(true)
			if err != nil {
				return err
			}
			out := make([]auditOutput, len(nodes))
			var wg sync.WaitGroup
			for i, n := range nodes {
				cl, err := a.newClient(n)
				if err != nil {
					return err
				}
				wg.Go(func() {
					out[i] = auditOne(cmd, cl, n, dir)
				})
			}
			wg.Wait()
			code := exitOK
			for _, o := range out {
				switch o.Status {
				case "inconsistent":
					code = exitFailed
				case "error":
					if code == exitOK {
						code = exitError
					}
				}
			}
			if a.jsonOut {
				if err := a.printJSON(out); err != nil {
					return err
				}
				return exitWith(code)
			}
			for _, o := range out {
				switch o.Status {
				case "consistent":
					fmt.Fprintf(a.stdout, "%s: consistent: %s\n", o.Node, o.Message)
				case "inconsistent":
					fmt.Fprintf(a.stdout, "%s: INCONSISTENT: %s\nevidence: %s\n", o.Node, o.Message, o.Evidence)
				default:
					fmt.Fprintf(a.stderr, "evident: %s: could not check: %s\n", o.Node, o.Message)
				}
			}
			return exitWith(code)
		},
	}
	c.Flags().StringVar(&state, "state", "", "directory of the remembered checkpoints")
	a.addJSONFlag(c, "each log's result")
	return c
}

type auditOutput struct {
	Node     string `json:"node"`
	Origin   string `json:"origin"`
	Status   string `json:"status"` // consistent, inconsistent, error
	OldSize  uint64 `json:"old_size"`
	NewSize  uint64 `json:"new_size"`
	First    bool   `json:"first,omitempty"`
	Stale    bool   `json:"stale,omitempty"`
	Evidence string `json:"evidence,omitempty"`
	Message  string `json:"message"`
}

func auditOne(cmd *cobra.Command, cl *client.Client, n nodeConfig, dir string) auditOutput {
	o := auditOutput{Node: n.Name, Origin: cl.Origin()}
	res, err := cl.Audit(cmd.Context(), dir)
	var ie *client.InconsistencyError
	switch {
	case errors.As(err, &ie):
		o.Status, o.Evidence, o.Message = "inconsistent", ie.File, ie.Error()
		return o
	case err != nil:
		o.Status, o.Message = "error", err.Error()
		return o
	}
	o.Status, o.NewSize = "consistent", res.New.Size
	switch {
	case res.Old == nil:
		o.First = true
		o.Message = fmt.Sprintf("first audit of %s: remembered tree size %d", o.Origin, res.New.Size)
	case res.Stale:
		o.OldSize = res.Old.Size
		o.Message = fmt.Sprintf("%s served an older checkpoint (size %d) than seen before (%d), consistent with it; keeping %d", o.Origin, res.New.Size, res.Old.Size, res.Old.Size)
	case res.Old.Size == res.New.Size:
		o.OldSize = res.Old.Size
		o.Message = fmt.Sprintf("%s unchanged at %d entries, same root", o.Origin, res.New.Size)
	default:
		o.OldSize = res.Old.Size
		o.Message = fmt.Sprintf("%s grew from %d to %d entries, proven consistent", o.Origin, res.Old.Size, res.New.Size)
	}
	return o
}

// defaultStateDir is $XDG_STATE_HOME/evident/audit, else
// ~/.local/state/evident/audit.
func defaultStateDir() (string, error) {
	if d := getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "evident", "audit"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("couldn't find a state directory: %w; give --state", err)
	}
	return filepath.Join(home, ".local", "state", "evident", "audit"), nil
}
