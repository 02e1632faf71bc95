package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/evident-dev/evident/evidence"
)

func (a *app) configCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "config",
		Short: "Show or edit the configuration file",
		Long: `Config shows or edits the configuration file: the nodes evident asks, their
log public keys, and the evidence signers you know. See "evident help" for
the file's format and location.`,
		Example: `  evident config add-node apache https://evident.apache.org evident.apache.org/log+1a2b3c4d+AbCd...
  evident config add-signer "Apache release managers" ed25519:AbCd...
  evident config show`,
	}
	var replace bool
	addNode := &cobra.Command{
		Use:   "add-node NAME URL LOG_KEY",
		Short: "Add a node and its log public key",
		Long: `Add-node adds a node to the configuration. LOG_KEY is the public key of the
node's log, as "evidentd init" prints it (origin+hash+base64): evident trusts
nothing the node says unless the log signed it with this key. Get it from
the node's operator over a channel you trust, not from the node itself.`,
		Example: `  evident config add-node local http://127.0.0.1:7420 localhost/evident+0123abcd+AbCd...`,
		Args:    cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			n := nodeConfig{Name: args[0], URL: args[1], LogKey: args[2]}
			if err := checkNode(n); err != nil {
				return err
			}
			found := false
			for i := range cfg.Nodes {
				if cfg.Nodes[i].Name == n.Name {
					if !replace {
						return fmt.Errorf("there is already a node named %s; give --replace to change it", n.Name)
					}
					cfg.Nodes[i], found = n, true
				}
			}
			if !found {
				cfg.Nodes = append(cfg.Nodes, n)
			}
			if err := cfg.save(); err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "added node %s to %s\n", n.Name, cfg.path)
			return nil
		},
	}
	addNode.Flags().BoolVar(&replace, "replace", false, "replace a node of the same name")

	addSigner := &cobra.Command{
		Use:   "add-signer NAME KEY",
		Short: "Record an evidence signer's public key",
		Long: `Add-signer records the public key of someone who signs evidence, such as a
foundation's release managers. Query shows the name next to their evidence,
and bundle puts the key into bundles so that verify can check signatures.
KEY is "ed25519:<base64>" (as keygen prints it), or a file holding it.`,
		Example: `  evident config add-signer "PSF release managers" ed25519:AbCd...`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			pub, err := parseKeyArg(args[1])
			if err != nil {
				return err
			}
			text, err := evidence.FormatSignerKey(pub)
			if err != nil {
				return err
			}
			id, err := evidence.SignerKeyID(pub)
			if err != nil {
				return err
			}
			cfg.Signers = append(cfg.Signers, signerConfig{Name: args[0], Key: text})
			if err := cfg.save(); err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "added signer %s (%s) to %s\n", args[0], id, cfg.path)
			return nil
		},
	}

	show := &cobra.Command{
		Use:     "show",
		Short:   "Print the configuration file and where it is",
		Example: `  evident config show`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			if !cfg.exists {
				fmt.Fprintf(a.stdout, "# %s (does not exist yet)\n", cfg.path)
				return nil
			}
			b, err := os.ReadFile(cfg.path)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "# %s\n%s", cfg.path, b)
			return nil
		},
	}
	c.AddCommand(addNode, addSigner, show)
	return c
}
