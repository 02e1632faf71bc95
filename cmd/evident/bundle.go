package main

import (
	"crypto"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/evident-dev/evident/client"
	"github.com/evident-dev/evident/internal/durable"
)

func (a *app) bundleCmd() *cobra.Command {
	var (
		out          string
		signerArgs   []string
		sigstoreRoot string
	)
	c := &cobra.Command{
		Use:   "bundle PURL|INDEX -o FILE",
		Short: "Save evidence with its proofs, for offline verification",
		Long: `Bundle fetches the evidence about a release (PURL, as query takes it) or one
log entry (INDEX) from a node (--node, or the first configured node),
verifies each item and its envelope, and writes them to FILE (- for
stdout) as a bundle: for each item the envelope, its log entry, a
c2sp.org/tlog-proof (inclusion proof and the signed, cosigned checkpoint)
and its signers' public keys. "evident verify FILE" checks a bundle with no
network access, years later. client/BUNDLE.md specifies the format.

A node names signers by key id only, so bundle needs their public keys: from
the configuration's signers, your own signing key, and --signer-key.

Exit codes: 0 every item bundled; 1 some items failed verification or lacked
a signer's key (the others are written, the failures printed); 2 nothing
could be fetched.`,
		Example: `  evident bundle pkg:pypi/requests@2.32.3 -o requests-2.32.3.evident.json
  evident bundle 1234 --node apache --signer-key ed25519:AbCd... -o entry-1234.evident.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return errors.New("give -o FILE (or -o - for standard output)")
			}
			_, cl, err := a.firstClient()
			if err != nil {
				return err
			}
			known, err := a.knownSigners()
			if err != nil {
				return err
			}
			var keys []crypto.PublicKey
			for _, s := range known {
				keys = append(keys, s.pub)
			}
			for _, s := range signerArgs {
				k, err := parseKeyArg(s)
				if err != nil {
					return fmt.Errorf("--signer-key: %w", err)
				}
				keys = append(keys, k)
			}
			root, err := a.sigstoreRoot(sigstoreRoot)
			if err != nil {
				return err
			}
			b, bErr := cl.Bundle(cmd.Context(), args[0], client.BundleOptions{SignerKeys: keys, SigstoreTrustedRoot: root})
			if bErr != nil && strings.Contains(bErr.Error(), "no public key for its signer") {
				bErr = fmt.Errorf("%w\n(a node names signers by key id only: give their public keys with --signer-key, or record them with evident config add-signer)", bErr)
			}
			switch {
			case b == nil:
				return bErr // nothing could be fetched
			case len(b.Items) == 0:
				return failed(fmt.Errorf("nothing to bundle:\n%w", bErr))
			}
			data, err := b.Marshal()
			if err != nil {
				return err
			}
			if out == "-" {
				if _, err := a.stdout.Write(data); err != nil {
					return err
				}
			} else if err := durable.WriteFile(out, data, 0o644); err != nil {
				// A bundle is for sharing: readable by all, as the umask allows.
				return fmt.Errorf("couldn't write %s: %w", out, err)
			}
			if out != "-" {
				fmt.Fprintf(a.stderr, "wrote %d evidence items from %s to %s\n", len(b.Items), cl.Name(), out)
			}
			if bErr != nil {
				return failed(fmt.Errorf("some evidence was left out of the bundle:\n%w", bErr))
			}
			return nil
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "", "write the bundle here (- for stdout)")
	c.Flags().StringVar(&sigstoreRoot, "sigstore-trusted-root", "", "Sigstore trusted_root.json to check items logged as Sigstore bundles (default: the configuration's)")
	c.Flags().StringArrayVar(&signerArgs, "signer-key", nil, "public key of a signer (ed25519:<base64>, or a key file); repeatable")
	return c
}
