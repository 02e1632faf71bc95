package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	"github.com/evident-dev/evident/client"
	"github.com/evident-dev/evident/internal/durable"
)

func (a *app) getCmd() *cobra.Command {
	var (
		out      string
		document bool
	)
	c := &cobra.Command{
		Use:   "get INDEX|sha256:HEX [--document] [-o FILE]",
		Short: "Fetch a logged envelope, or the original document it carries",
		Long: `Get fetches one log entry from a node (--node, or the first configured node),
verifies it, and writes its envelope exactly as it was submitted or, with
--document, the document it carries, exactly as its project published it: the
SHA-256 of what get writes is the document digest the entry records.

The entry is named by
  INDEX       its log index, a decimal number;
  sha256:HEX  the SHA-256 of its envelope or of its document (64 hex digits;
              "sha256:" may be left out). Get looks for an envelope with
              that digest first, then for a document: the two can't be
              confused, since an envelope holds its document encoded. A
              document logged more than once is taken from its first entry.

Before writing anything, get verifies what it got as query does: the node's
checkpoint is signed with its configured log key (and cosigned as the
witness policy requires), the entry is proven included in that checkpoint's
tree, and the envelope, or the document, has the digest and size the entry
commits to. It says on stderr which entry and document it wrote.

Output goes to -o FILE, or to standard output.

Exit codes: 0 written; 1 nothing is logged under that name, or what the
node sent failed verification (nothing is written); 2 could not run (bad
arguments, configuration, a node that could not be reached, a file that
could not be written).`,
		Example: `  evident get 1234 -o entry-1234.intoto.json
  evident get 1234 --document -o SECURITY.md
  evident get sha256:5d64edc0725079f1cd9af3604bdfa09bc4f859f1f039d326a92227dd606a4612 --document > PYSEC-2023-74.yaml
  evident get --node apache sha256:0e57b801af632de48e95cae0d71c6336220fef16986e97e539a3bb89412c06db -o bom.intoto.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.get(cmd.Context(), args[0], document, out)
		},
	}
	c.Flags().BoolVar(&document, "document", false, "write the document the envelope carries, not the envelope")
	c.Flags().StringVarP(&out, "output", "o", "", "write it to this file (default standard output)")
	return c
}

// getTarget is what get was asked for: a log index, or a digest.
type getTarget struct {
	index  uint64
	digest *[32]byte
}

func parseGetTarget(s string) (getTarget, error) {
	if i, err := strconv.ParseUint(s, 10, 63); err == nil {
		return getTarget{index: i}, nil
	}
	h := strings.TrimPrefix(s, "sha256:")
	var d [32]byte
	if n, err := hex.Decode(d[:], []byte(h)); err != nil || n != len(d) || len(h) != 2*len(d) {
		return getTarget{}, fmt.Errorf("%q: want a log index (a decimal number) or sha256:<64 hex digits>, the digest of an envelope or a document", s)
	}
	return getTarget{digest: &d}, nil
}

func (a *app) get(ctx context.Context, what string, document bool, out string) error {
	target, err := parseGetTarget(what)
	if err != nil {
		return err
	}
	_, cl, err := a.firstClient()
	if err != nil {
		return err
	}
	var r client.Result
	switch {
	case target.digest == nil:
		r, _, err = cl.Get(ctx, target.index, false)
	default:
		r, err = cl.GetByDigest(ctx, *target.digest, false)
		if connect.CodeOf(err) == connect.CodeNotFound {
			r, err = cl.GetByDigest(ctx, *target.digest, true)
		}
	}
	if connect.CodeOf(err) == connect.CodeNotFound {
		return failed(fmt.Errorf("%s: nothing is logged on %s under %s", what, cl.Name(), what))
	}
	if err != nil {
		return err
	}
	if !r.Verified {
		return failed(fmt.Errorf("entry %d from %s FAILED verification, nothing written: %w", r.Index, cl.Name(), r.Err))
	}
	e := r.Entry
	var b []byte
	if document {
		b, err = cl.Document(ctx, e)
	} else {
		b, err = cl.Envelope(ctx, e)
	}
	var ve *client.VerificationError
	if errors.As(err, &ve) {
		return failed(fmt.Errorf("entry %d from %s FAILED verification, nothing written: %w", r.Index, cl.Name(), err))
	}
	if err != nil {
		return err
	}

	dest := "standard output"
	if out == "" || out == "-" {
		if _, err := a.stdout.Write(b); err != nil {
			return err
		}
	} else {
		dest = out
		// Evidence is for sharing: readable by all, as the umask allows.
		if err := durable.WriteFile(out, b, 0o644); err != nil {
			return fmt.Errorf("couldn't write %s: %w", out, err)
		}
	}
	name := e.Name
	if name == "" {
		name = "(unnamed)"
	}
	fmt.Fprintf(a.stderr, "entry %d of %s (tree size %d), verified: %s, %s, kind %s; document sha256:%x, %d bytes, %s\n",
		r.Index, cl.Origin(), r.Checkpoint.Size, name, e.Format, e.Kind, e.Document.Digest, e.Document.Size, e.Document.MediaType)
	if document {
		fmt.Fprintf(a.stderr, "wrote the document to %s\n", dest)
	} else {
		fmt.Fprintf(a.stderr, "wrote the envelope (sha256:%x, %d bytes) to %s\n", e.EnvelopeDigest, e.EnvelopeSize, dest)
	}
	return nil
}
