package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/evident-dev/evident/checkpoint"
	"github.com/evident-dev/evident/witness"
)

func (a *app) verifyMisbehaviourCmd() *cobra.Command {
	var (
		policyPath string
		logKeyArgs []string
	)
	c := &cobra.Command{
		Use:   "verify-misbehaviour FILE",
		Short: "Check offline that a proof of log misbehaviour is genuine",
		Long: `Verify-misbehaviour checks, with no network access, a proof that a log
signed two checkpoints that cannot both be true: the files evidentd serves on
GET /misbehaviour and ListMisbehaviour, and that "evident audit" writes.

Both checkpoints must carry a valid signature by the log (give its public key
with --log-key, or configure the node or a policy that names it), and they
must conflict: the same tree size with different root hashes (a fork), or,
for different sizes, a consistency proof that reaches the larger checkpoint's
signed root while implying another root for the smaller size.

Exit codes: 0 the file proves the log misbehaved; 1 it does not (bad
signatures, no conflict); 2 the file can't be read or parsed, or there is no
log key to check with.`,
		Example: `  evident verify-misbehaviour fork.misbehaviour --log-key rogue.example/log+1a2b3c4d+AbCd...`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("couldn't read the file: %w", err)
			}
			m, err := witness.ParseMisbehaviour(data)
			if err != nil {
				return err
			}
			pol, err := a.policy(policyPath)
			if err != nil {
				return err
			}
			keys, err := a.logKeys(logKeyArgs, pol)
			if err != nil {
				return err
			}
			verr := witness.VerifyMisbehaviour(m, keys...)
			out := misbehaviourOutput{File: args[0], Origin: m.Origin, Reason: string(m.Reason), Proven: verr == nil}
			for _, n := range [][]byte{m.A, m.B} {
				if c, err := checkpoint.Peek(n); err == nil {
					out.Sizes = append(out.Sizes, c.Size)
				}
			}
			if verr != nil {
				out.Error = verr.Error()
			}
			if a.jsonOut {
				if err := a.printJSON(out); err != nil {
					return err
				}
			} else if verr == nil {
				fmt.Fprintf(a.stdout, "PROVEN: log %q misbehaved (%s): it signed checkpoints of sizes %v that cannot both be true\n", m.Origin, m.Reason, out.Sizes)
			} else {
				fmt.Fprintf(a.stdout, "NOT PROVEN: %v\n", verr)
			}
			if verr != nil {
				return exitWith(exitFailed)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&policyPath, "policy", "", "witness policy file whose log lines name logs you know (default: the configuration's)")
	f.StringArrayVar(&logKeyArgs, "log-key", nil, "public key of the log (origin+hash+base64); repeatable")
	a.addJSONFlag(c, "the result")
	return c
}

type misbehaviourOutput struct {
	File   string   `json:"file"`
	Origin string   `json:"origin"`
	Reason string   `json:"reason"`
	Sizes  []uint64 `json:"sizes"`
	Proven bool     `json:"proven"`
	Error  string   `json:"error,omitempty"`
}
