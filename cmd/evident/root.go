package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes. They are documented in the root command's help.
const (
	exitOK          = 0
	exitFailed      = 1   // a check failed: verification, refusal, inconsistency
	exitError       = 2   // couldn't run or couldn't check: usage, config, I/O, network
	exitInterrupted = 130 // interrupted (128 + SIGINT), after reporting what was done
)

// exitError carries an exit code through cobra. A nil err means the
// command has already said everything.
type codeError struct {
	code int
	err  error
}

func (e *codeError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit code %d", e.code)
	}
	return e.err.Error()
}

func (e *codeError) Unwrap() error { return e.err }

// failed returns an error that exits with exitFailed; err nil means the
// command already printed why.
func failed(err error) error { return &codeError{exitFailed, err} }

// exitWith returns an error that exits with code, printing nothing more.
func exitWith(code int) error {
	if code == exitOK {
		return nil
	}
	return &codeError{code: code}
}

const rootLong = `evident signs, submits, finds and verifies software-supply-chain evidence
(SBOMs, VEX, advisories, provenance, security policies, support periods, ...)
kept in Evident nodes: signed, append-only, witnessed Merkle logs run by
open-source foundations and software producers.

Release managers:  evident keygen; evident attest; evident submit
Manufacturers:     evident check (a product SBOM); evident query; evident status;
                   evident get; evident bundle; evident verify (offline)
Auditors:          evident audit; evident mirror; evident monitor;
                   evident verify-misbehaviour; evident verify-omission

Configuration

  The configuration file is $EVIDENT_CONFIG, else
  $XDG_CONFIG_HOME/evident/config.yaml, else ~/.config/evident/config.yaml:

    nodes:                      # the nodes you ask, in order; the first is
      - name: apache            # the default for submit and bundle
        url: https://evident.apache.org
        log_key: evident.apache.org/log+1a2b3c4d+AbCd...   # as evidentd prints it
    key: signing.key            # your signing key (evident keygen)
    policy: witnesses.policy    # optional c2sp.org/tlog-policy: witness quorum
    signers:                    # public keys of evidence signers you know,
      - name: Apache release managers     # shown by query, put into bundles
        key: ed25519:AbCd...

  Relative paths are relative to the configuration file's directory.
  "evident config add-node" and "evident config add-signer" edit it.

  Environment: EVIDENT_CONFIG (configuration file), EVIDENT_NODE (like
  --node), EVIDENT_KEY (like --key). Flags win over the environment, which
  wins over the file.

Exit codes

  0    success: everything asked for was done and verified
  1    a check failed: evidence did not verify (query, verify, bundle), a node
       refused evidence (submit), a log is inconsistent (audit), or a
       document was not recognised (attest)
  2    could not run or could not check: bad usage or configuration,
       unreadable files, a node that could not be reached
  130  interrupted; submit reports what it did before stopping
`

// app holds what every command shares: the streams and the global flags.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	configFlag string
	nodeFlag   string
	keyFlag    string
	jsonOut    bool

	cfg *config // loaded on first use
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ce *codeError
	if errors.As(err, &ce) {
		if ce.err != nil {
			fmt.Fprintf(stderr, "evident: %v\n", ce.err)
		}
		return ce.code
	}
	fmt.Fprintf(stderr, "evident: %v\n", err)
	return exitError
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "evident",
		Short:         "Sign, submit, find and verify software-supply-chain evidence",
		Long:          rootLong,
		SilenceErrors: true,
		SilenceUsage:  true,
		Example: `  evident keygen
  evident attest sbom.spdx.json --subject pkg:pypi/requests@2.32.3 --artifact dist/requests-2.32.3.tar.gz
  evident submit sbom.spdx.json.intoto.json
  evident query pkg:pypi/requests@2.32.3
  evident bundle pkg:pypi/requests@2.32.3 -o requests-2.32.3.evident.json
  evident verify requests-2.32.3.evident.json`,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.configFlag, "config", "", "configuration file (default $EVIDENT_CONFIG, $XDG_CONFIG_HOME/evident/config.yaml)")
	pf.StringVar(&a.nodeFlag, "node", "", "node to use: a name from the configuration or a URL (default $EVIDENT_NODE; query and audit: all nodes)")
	pf.StringVar(&a.keyFlag, "key", "", "signing key file (default $EVIDENT_KEY, the configuration's key, ~/.config/evident/signing.key)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &codeError{exitError, fmt.Errorf("%w (see evident %s --help)", err, c.Name())}
	})
	root.AddCommand(
		a.keygenCmd(),
		a.attestCmd(),
		a.submitCmd(),
		a.queryCmd(),
		a.getCmd(),
		a.statusCmd(),
		a.checkCmd(),
		a.bundleCmd(),
		a.verifyCmd(),
		a.auditCmd(),
		a.verifyMisbehaviourCmd(),
		a.mirrorCmd(),
		a.monitorCmd(),
		a.verifyOmissionCmd(),
		a.configCmd(),
	)
	return root
}

// addJSONFlag adds --json to a command.
func (a *app) addJSONFlag(c *cobra.Command, what string) {
	c.Flags().BoolVar(&a.jsonOut, "json", false, "print "+what+" as JSON, for programs")
}

// getenv is os.Getenv; a variable for tests of the configuration.
var getenv = os.Getenv

// printJSON writes v to stdout as indented JSON, for --json.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
