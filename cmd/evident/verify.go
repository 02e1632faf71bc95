package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/evident-dev/evident/check"
	"github.com/evident-dev/evident/client"
	"github.com/evident-dev/evident/policy"
)

func (a *app) verifyCmd() *cobra.Command {
	var (
		policyPath     string
		logKeyArgs     []string
		trustedSigners []string
		sigstoreRoot   string
	)
	c := &cobra.Command{
		Use:   "verify FILE",
		Short: "Verify a bundle or an evidence pack offline",
		Long: `Verify checks a bundle (as "evident bundle" writes it) or an evidence pack (as
"evident check -o" writes it) with no network access at all. For each item: the checkpoint is signed by a log you trust and, with a
witness policy, cosigned by a quorum; the entry is in the checkpoint's tree;
the envelope is the one the entry commits to; every signer's DSSE signature
verifies; the statement says what the entry records. client/BUNDLE.md lists
the checks. For a pack, also: the SBOM is the one its report describes, and
every item the report says verified is in the pack, verified, and about the
component it is listed under (check/PACK.md).

The logs you trust are those of --log-key (repeatable), of the configured
nodes, and of the witness policy (--policy, else the configuration's). A log
key written in a bundle is never trusted. With --trusted-signer, every item
must also be signed by one of those keys. Items logged as Sigstore bundles
are verified against the Sigstore trusted root of --sigstore-trusted-root,
else the configuration's sigstore_trusted_root.

Exit codes: 0 every item verified; 1 some item FAILED (each failure names
what failed: checkpoint, witness quorum, inclusion proof, entry, envelope,
signature, statement, signer); 2 the file can't be read or isn't a bundle,
or there is no log key to verify with.`,
		Example: `  evident verify requests-2.32.3.evident.json
  evident verify bundle.evident.json --log-key evident.apache.org/log+1a2b3c4d+AbCd... --policy witnesses.policy`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("couldn't read the bundle: %w", err)
			}
			pack := check.IsPack(data)
			var b *client.Bundle
			if !pack {
				if b, err = client.ParseBundle(data); err != nil {
					return err
				}
			}
			pol, err := a.policy(policyPath)
			if err != nil {
				return err
			}
			opts := client.VerifyOptions{Policy: pol}
			if opts.SigstoreTrustedRoot, err = a.sigstoreRoot(sigstoreRoot); err != nil {
				return err
			}
			if opts.LogKeys, err = a.logKeys(logKeyArgs, pol); err != nil {
				return err
			}
			for _, s := range trustedSigners {
				k, err := parseKeyArg(s)
				if err != nil {
					return fmt.Errorf("--trusted-signer: %w", err)
				}
				opts.TrustedSigners = append(opts.TrustedSigners, k)
			}
			if pack {
				return a.verifyPack(args[0], data, opts)
			}
			known, err := a.knownSigners()
			if err != nil {
				return err
			}
			results, verr := client.VerifyBundle(b, opts)
			items := make([]verifyItem, len(results))
			for i, r := range results {
				items[i] = makeVerifyItem(r, known)
			}
			if a.jsonOut {
				if err := a.printJSON(verifyOutput{File: args[0], Verified: verr == nil, Items: items}); err != nil {
					return err
				}
			} else {
				printVerify(a, items)
			}
			if verr != nil {
				return exitWith(exitFailed)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&policyPath, "policy", "", "witness policy file (c2sp.org/tlog-policy; default: the configuration's)")
	f.StringArrayVar(&logKeyArgs, "log-key", nil, "public key of a log you trust (origin+hash+base64); repeatable")
	f.StringArrayVar(&trustedSigners, "trusted-signer", nil, "require a signature by this key (ed25519:<base64>, or a key file); repeatable")
	f.StringVar(&sigstoreRoot, "sigstore-trusted-root", "", "Sigstore trusted_root.json for items logged as Sigstore bundles (default: the configuration's)")
	a.addJSONFlag(c, "each item's result")
	return c
}

type verifyOutput struct {
	File     string       `json:"file"`
	Verified bool         `json:"verified"`
	Items    []verifyItem `json:"items"`
}

type verifyItem struct {
	Item           int       `json:"item"`
	Verified       bool      `json:"verified"`
	Error          string    `json:"error,omitempty"`
	FailedPart     string    `json:"failed_part,omitempty"`
	Subjects       []string  `json:"subjects,omitempty"`
	Kind           string    `json:"kind,omitempty"`
	Format         string    `json:"format,omitempty"`
	Name           string    `json:"name,omitempty"`
	DocumentSHA256 string    `json:"document_sha256,omitempty"`
	DocumentSize   int64     `json:"document_size,omitempty"`
	MediaType      string    `json:"media_type,omitempty"`
	PredicateType  string    `json:"predicate_type,omitempty"`
	LogIndex       uint64    `json:"log_index"`
	Origin         string    `json:"origin,omitempty"`
	TreeSize       uint64    `json:"tree_size,omitempty"`
	Signers        []string  `json:"signers,omitempty"`
	SignerNames    []string  `json:"signer_names,omitempty"`
	LoggedAt       time.Time `json:"logged_at,omitzero"`
}

func makeVerifyItem(r client.ItemResult, known map[string]signer) verifyItem {
	it := verifyItem{Item: r.Item, Verified: r.Err == nil, LogIndex: r.Index}
	if r.Err != nil {
		it.Error = r.Err.Error()
		var ve *client.VerificationError
		if errors.As(r.Err, &ve) {
			it.FailedPart = ve.Part
		}
	}
	if r.Checkpoint != nil {
		it.Origin, it.TreeSize = r.Checkpoint.Origin, r.Checkpoint.Size
	}
	if e := r.Entry; e != nil {
		it.Kind, it.PredicateType, it.LoggedAt, it.Signers = string(e.Kind), e.PredicateType, e.Time, e.Signers
		it.Format, it.Name = e.Format, e.Name
		it.DocumentSHA256, it.DocumentSize, it.MediaType = hex.EncodeToString(e.Document.Digest[:]), e.Document.Size, e.Document.MediaType
		for _, s := range e.Subjects {
			it.Subjects = append(it.Subjects, s.Purl)
		}
		for _, id := range e.Signers {
			if s, ok := known[id]; ok {
				it.SignerNames = append(it.SignerNames, s.name)
			}
		}
	}
	return it
}

func printVerify(a *app, items []verifyItem) {
	ok := 0
	for _, it := range items {
		if !it.Verified {
			fmt.Fprintf(a.stdout, "item %d: FAILED: %s\n", it.Item, it.Error)
			continue
		}
		ok++
		signers := strings.Join(it.Signers, ", ")
		if len(it.SignerNames) == len(it.Signers) {
			signers = strings.Join(it.SignerNames, ", ")
		}
		fmt.Fprintf(a.stdout, "item %d: verified: %s %s %q (%s, %s, sha256:%s), log entry %d of %s (tree size %d), logged %s, signed by %s\n",
			it.Item, strings.Join(it.Subjects, " "), it.Kind, it.Name, it.Format, byteSize(it.DocumentSize), it.DocumentSHA256,
			it.LogIndex, it.Origin, it.TreeSize, it.LoggedAt.Format(time.RFC3339), signers)
	}
	fmt.Fprintf(a.stdout, "%d of %d items verified\n", ok, len(items))
}

// logKeys are the log keys a user trusts for offline checks: --log-key
// flags, the configured nodes' keys and the policy's logs. A key written in
// the file being checked is never among them.
func (a *app) logKeys(flagKeys []string, pol *policy.WitnessPolicy) ([]note.Verifier, error) {
	var keys []note.Verifier
	for _, k := range flagKeys {
		v, err := note.NewVerifier(k)
		if err != nil {
			return nil, fmt.Errorf("--log-key %q: %w", k, err)
		}
		keys = append(keys, v)
	}
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	for _, n := range cfg.Nodes {
		v, err := note.NewVerifier(n.LogKey)
		if err != nil {
			return nil, err // checked when loading
		}
		keys = append(keys, v)
	}
	if pol != nil {
		for _, l := range pol.Logs {
			keys = append(keys, l.Verifier)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no log key to verify with: give --log-key, a policy with log lines, or configure the node the file came from")
	}
	return keys, nil
}
