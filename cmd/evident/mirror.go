package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/evident-dev/evident/mirror"
	"github.com/evident-dev/evident/monitor"
	"github.com/evident-dev/evident/server/web"
	"github.com/evident-dev/evident/witness"
)

// logKeyFor finds the log key to check the node at url with: --log-key, or
// the configured node with that URL or name.
func (a *app) logKeyFor(url, flagKey string) (note.Verifier, string, error) {
	if flagKey != "" {
		v, err := note.NewVerifier(flagKey)
		if err != nil {
			return nil, "", fmt.Errorf("--log-key: %w", err)
		}
		return v, strings.TrimRight(url, "/"), nil
	}
	cfg, err := a.config()
	if err != nil {
		return nil, "", err
	}
	for _, n := range cfg.Nodes {
		if n.Name == url || strings.TrimRight(n.URL, "/") == strings.TrimRight(url, "/") {
			v, err := note.NewVerifier(n.LogKey)
			return v, strings.TrimRight(n.URL, "/"), err
		}
	}
	return nil, "", fmt.Errorf("no log key for %s: give --log-key, or add the node with evident config add-node NAME %s LOG_KEY", url, url)
}

// logKeyText returns the text of the log key logKeyFor found (a
// c2sp.org/signed-note vkey), for the web pages, or "" if there is none.
func (a *app) logKeyText(url, flagKey string) string {
	if flagKey != "" {
		return flagKey
	}
	cfg, err := a.config()
	if err != nil {
		return ""
	}
	for _, n := range cfg.Nodes {
		if n.Name == url || strings.TrimRight(n.URL, "/") == strings.TrimRight(url, "/") {
			return n.LogKey
		}
	}
	return ""
}

func (a *app) mirrorCmd() *cobra.Command {
	var (
		logKey, policyPath, serve string
		envelopes                 bool
	)
	c := &cobra.Command{
		Use:   "mirror URL DIR",
		Short: "Keep a verified copy of a log, fetched through its static tiles",
		Long: `Mirror follows a log using only its c2sp.org/tlog-tiles static endpoints
(/checkpoint, /tile/..., /tile/entries/..., and with --envelopes
/evidence/sha256/...). It verifies every tile and entry against the log's
signed checkpoint (and the witness policy, when one is configured or given)
before keeping it, checks that the new tree extends the one it held before,
and resumes where it stopped. DIR has the same layout as the URL paths, so
any static web server can serve it; --serve ADDR serves it read-only,
with the explorer's pages at / (search, entries, proofs and the log's
growth from the mirror's data, verified in the browser; documents with
--envelopes).

The log key comes from --log-key or from the configured node with that URL
or name.

Exit codes: 0 the mirror holds the log's latest checkpoint, verified; 1 the
log served something that does not verify, or a history inconsistent with
what the mirror held (a proof of misbehaviour is printed); 2 could not
check (network, disk, configuration).`,
		Example: `  evident mirror https://evident.apache.org ./apache-mirror
  evident mirror apache ./apache-mirror --envelopes --serve 127.0.0.1:8080`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			lk, url, err := a.logKeyFor(args[0], logKey)
			if err != nil {
				return err
			}
			pol, err := a.policy(policyPath)
			if err != nil {
				return err
			}
			st := newStatus(a.stderr)
			res, err := mirror.Sync(cmd.Context(), mirror.Options{
				URL: url, Dir: args[1], LogKey: lk, Policy: pol, Envelopes: envelopes,
				Progress: func(p mirror.Progress) {
					st.show(fmt.Sprintf("mirroring %s: %d/%d entries verified, %d envelopes, %d MiB", url, p.Verified, p.Size, p.Envelopes, p.Bytes>>20))
				},
			})
			st.clear()
			if err != nil {
				if errors.Is(err, context.Canceled) {
					return &codeError{exitInterrupted, errors.New("interrupted; what was verified is kept, run again to resume")}
				}
				if isVerificationFailure(err) {
					return failed(err)
				}
				return err
			}
			if a.jsonOut {
				if err := a.printJSON(res); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(a.stdout, "mirror %s: %d entries verified (was %d; %d fetched now, %d tiles, %d bundles, %d envelopes)\n",
					args[1], res.Size, res.Previous, res.Entries, res.Tiles, res.Bundles, res.Envelopes)
			}
			if serve == "" {
				return nil
			}
			lis, err := net.Listen("tcp", serve)
			if err != nil {
				return err
			}
			m, err := mirror.Open(args[1], lk)
			if err != nil {
				return err
			}
			pages, err := web.MirrorHandler(cmd.Context(), args[1], m, a.logKeyText(args[0], logKey))
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "serving the mirror read-only at http://%s/ (Ctrl-C to stop)\n", lis.Addr())
			hs := &http.Server{Handler: pages, ReadHeaderTimeout: 10 * time.Second}
			go func() { <-cmd.Context().Done(); hs.Close() }()
			if err := hs.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&logKey, "log-key", "", "the log's public key (origin+hash+base64; default: the configured node's)")
	f.StringVar(&policyPath, "policy", "", "witness policy the checkpoint must satisfy (default: the configuration's)")
	f.BoolVar(&envelopes, "envelopes", false, "also mirror every entry's envelope, checking its digest")
	f.StringVar(&serve, "serve", "", "after syncing, serve the mirror read-only on this address")
	a.addJSONFlag(c, "the result")
	return c
}

// isVerificationFailure tells a log that served something wrong (exit 1)
// from a failure to check (exit 2).
func isVerificationFailure(err error) bool {
	var ve *mirror.VerifyError
	var me *witness.MisbehaviourError
	return errors.As(err, &ve) || errors.As(err, &me)
}

func (a *app) monitorCmd() *cobra.Command {
	var (
		logKey, policyPath, mirrorDir, outDir string
	)
	c := &cobra.Command{
		Use:   "monitor URL",
		Short: "Check that a node's query answers leave nothing out",
		Long: `Monitor mirrors the node's log through its static tiles (see evident mirror),
rebuilds from the verified entries which entries are about each release,
package, artifact digest and predicate type, then asks the node each of
those questions and compares. An entry an answer leaves out is reported with
the entry, its inclusion proof and the checkpoint, written with --out as a
file anyone can check offline (evident verify-omission). Answers whose items
don't verify are reported too.

Exit codes: 0 every answer was complete and verified; 1 an omission, a bad
answer or a proof of misbehaviour was found; 2 could not check.`,
		Example: `  evident monitor https://evident.apache.org --out ./omissions
  evident monitor apache --mirror ./apache-mirror --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lk, url, err := a.logKeyFor(args[0], logKey)
			if err != nil {
				return err
			}
			pol, err := a.policy(policyPath)
			if err != nil {
				return err
			}
			if outDir != "" {
				if err := os.MkdirAll(outDir, 0o755); err != nil {
					return err
				}
			}
			st := newStatus(a.stderr)
			rep, err := monitor.Run(cmd.Context(), monitor.Options{
				URL: url, LogKey: lk, Policy: pol, Mirror: mirrorDir, OmissionDir: outDir,
				Progress: func(p monitor.Progress) {
					if p.Phase == monitor.PhaseMirror {
						st.show(fmt.Sprintf("mirroring: %d/%d entries verified", p.Mirror.Verified, p.Mirror.Size))
					} else {
						st.show(fmt.Sprintf("%s: %d entries indexed, %d/%d queries checked, %d omissions", p.Phase, p.Entries, p.Done, p.Queries, p.Omissions))
					}
				},
			})
			st.clear()
			if err != nil {
				if isVerificationFailure(err) {
					return failed(err)
				}
				return err
			}
			if a.jsonOut {
				if err := a.printJSON(rep); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(a.stdout, "monitor %s: %d entries, %d queries, %d pages, %d items checked\n", url, rep.Entries, rep.Queries, rep.Pages, rep.Items)
				for _, o := range rep.Omissions {
					fmt.Fprintf(a.stdout, "OMISSION: entry %d was left out of the answer to %s %s\n", o.Index, o.Query.Kind, o.Query.Key)
				}
				for _, f := range rep.OmissionFiles {
					fmt.Fprintf(a.stdout, "evidence: %s\n", f)
				}
				for _, b := range rep.BadAnswers {
					fmt.Fprintf(a.stdout, "BAD ANSWER: %+v\n", b)
				}
				for _, m := range rep.Misbehaviour {
					fmt.Fprintf(a.stdout, "MISBEHAVIOUR: log %q (%s)\n", m.Origin, m.Reason)
				}
				for _, f := range rep.Failed {
					fmt.Fprintf(a.stdout, "could not check: %+v\n", f)
				}
				if rep.OK() && len(rep.Failed) == 0 {
					fmt.Fprintln(a.stdout, "OK: every answer was complete and verified")
				}
			}
			if !rep.OK() {
				return exitWith(exitFailed)
			}
			if len(rep.Failed) > 0 {
				return exitWith(exitError)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&logKey, "log-key", "", "the log's public key (origin+hash+base64; default: the configured node's)")
	f.StringVar(&policyPath, "policy", "", "witness policy the mirrored checkpoint must satisfy (default: the configuration's)")
	f.StringVar(&mirrorDir, "mirror", "", "mirror directory to keep between runs (default: a temporary one)")
	f.StringVar(&outDir, "out", "", "directory to write each omission to, as a file anyone can check")
	a.addJSONFlag(c, "the report")
	return c
}

func (a *app) verifyOmissionCmd() *cobra.Command {
	var logKeyArgs []string
	var policyPath string
	c := &cobra.Command{
		Use:   "verify-omission FILE",
		Short: "Check offline that a node left an entry out of a query answer",
		Long: `Verify-omission checks, with no network access, a file written by
"evident monitor": the checkpoint is signed by the log, the entry is in its
tree at the stated index (the inclusion proof), and the entry is about what
was asked, so the node's answer at that checkpoint should have included it.

Exit codes: 0 the omission is proven; 1 it is not; 2 the file can't be read
or there is no log key to check with.`,
		Example: `  evident verify-omission omissions/omission-41-release_purl-1a2b3c.txt --log-key evident.apache.org/log+1a2b3c4d+AbCd...`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
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
			var lastErr error
			for _, k := range keys {
				o, err := monitor.VerifyOmission(data, k)
				if err == nil {
					fmt.Fprintf(a.stdout, "PROVEN: entry %d was left out of the answer to %s %s\n", o.Index, o.Query.Kind, o.Query.Key)
					return nil
				}
				lastErr = err
			}
			fmt.Fprintf(a.stdout, "NOT PROVEN: %v\n", lastErr)
			return exitWith(exitFailed)
		},
	}
	c.Flags().StringArrayVar(&logKeyArgs, "log-key", nil, "public key of the log (origin+hash+base64); repeatable")
	c.Flags().StringVar(&policyPath, "policy", "", "witness policy whose log lines name logs you know (default: the configuration's)")
	return c
}
