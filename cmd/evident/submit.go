package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/evident-dev/evident/client"
	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/evidence/detect"
	"github.com/evident-dev/evident/evidence/sigstore"
)

func (a *app) submitCmd() *cobra.Command {
	o := submitOptions{batchSize: 100, concurrency: 4}
	c := &cobra.Command{
		Use:   "submit FILE|DIR...",
		Short: "Submit signed evidence (DSSE envelopes, Sigstore bundles) to a node",
		Long: `Submit sends signed evidence to a node: --node, or the first node of the
configuration. It takes, exactly as they were signed:

  - DSSE envelopes, as evident attest, cosign attest --key or in-toto
    tooling write them;
  - Sigstore bundles (v0.1 to v0.3) of in-toto attestations, as cosign,
    sigstore-python, actions/attest and slsa-github-generator write them
    (.sigstore, .sigstore.json, .intoto.jsonl);
  - files that hold bundles, each bundle submitted on its own: JSON lines
    (gh attestation download), npm's and GitHub's attestation API responses,
    PEP 740 attestation objects and PyPI provenance files (converted into
    the bundles they stand for).

A directory is searched for *.intoto.json, *.dsse.json, *.sigstore,
*.sigstore.json, *.jsonl, *.attestation and *.slsa files, and for other
*.json files that are one of the above; FILE - reads one from standard input.

Statements made elsewhere often name their subjects by file
(pypi_attestations-0.0.19.tar.gz) rather than by Package URL: give the
release with --release, and the node files them under it if the signed file
name carries the release's name and version.

Envelopes go in batches (--batch-size, at most 1000) over a few concurrent
calls (--concurrency); large envelopes go one at a time, streamed in chunks.
Submitting is idempotent: an envelope the log already holds is reported as
"already present" with its first log index, so an interrupted run can simply
be started again.

Progress is a bar on a terminal and an occasional line otherwise; each file's
outcome is printed with -v (and by default for up to 10 files), refusals
always. The summary counts new, already present, refused (with the node's
reason) and, if any, failed (could not be sent: network) and not sent
(interrupted, or given up on a node that can't be reached) envelopes.

An interrupt (Ctrl-C) stops sending: the calls in flight finish, and the
summary says what was done. A second interrupt stops at once.

Exit codes: 0 all logged (new or already present); 1 some refused; 2 some
could not be sent, or nothing could be; 130 interrupted.`,
		Example: `  evident submit sbom.spdx.json.intoto.json
  evident submit --node apache release-2.24.1/ back-catalogue/
  evident submit --release pkg:pypi/rfc8785@0.1.2 rfc8785-0.1.2-py3-none-any.whl.publish.attestation
  evident submit --release pkg:github/aspect-build/rules_lint@v1.3.1 rules_lint-v1.3.1.tar.gz.intoto.jsonl
  evident attest vex.json --subject pkg:pypi/requests@2.32.3 --artifact requests.tar.gz -o - | evident submit -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.submit(cmd.Context(), args, o)
		},
	}
	f := c.Flags()
	f.IntVar(&o.batchSize, "batch-size", o.batchSize, "envelopes per call, 1 to 1000")
	f.IntVar(&o.concurrency, "concurrency", o.concurrency, "calls in flight at once")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "print every file's outcome")
	f.StringVar(&o.release, "release", "", "Package URL of the release to file subjects named by file under, e.g. pkg:pypi/rfc8785@0.1.2")
	a.addJSONFlag(c, "the summary")
	return c
}

type submitOptions struct {
	batchSize, concurrency int
	verbose                bool
	release                string
}

// outcome is what became of one file.
type outcome struct {
	File    string `json:"file"`
	Status  string `json:"status"` // new, present, refused, failed
	Index   uint64 `json:"log_index,omitempty"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

type submitSummary struct {
	Node           string    `json:"node"`
	URL            string    `json:"url"`
	Total          int       `json:"total"`
	New            int       `json:"new"`
	AlreadyPresent int       `json:"already_present"`
	Refused        int       `json:"refused"`
	Failed         int       `json:"failed"`
	NotSent        int       `json:"not_sent"`
	Skipped        int       `json:"skipped"`
	Interrupted    bool      `json:"interrupted"`
	Refusals       []outcome `json:"refusals"`
	Failures       []outcome `json:"failures"`
	Outcomes       []outcome `json:"outcomes,omitempty"`
}

func (a *app) submit(ctx context.Context, args []string, o submitOptions) error {
	if o.batchSize < 1 || o.batchSize > client.MaxBatch {
		return fmt.Errorf("--batch-size must be 1 to %d", client.MaxBatch)
	}
	if o.concurrency < 1 || o.concurrency > 64 {
		return errors.New("--concurrency must be 1 to 64")
	}
	node, cl, err := a.firstClient()
	if err != nil {
		return err
	}
	if o.release != "" {
		p, err := evidence.ParsePurl(o.release)
		if err != nil {
			return fmt.Errorf("--release: %w", err)
		}
		if !p.HasVersion() {
			return fmt.Errorf("--release %s has no version: name the release, e.g. %s@1.2.3", o.release, o.release)
		}
	}
	paths, skipped, err := collectEnvelopes(args)
	if err != nil {
		return err
	}
	files, err := expandContainers(paths, a.stdin)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no envelopes found in %s (looked for *.intoto.json, *.dsse.json, *.sigstore, *.sigstore.json, *.jsonl, *.attestation, *.slsa and *.json envelopes)", strings.Join(args, " "))
	}
	sum := &submitSummary{Node: node.Name, URL: node.URL, Total: len(files), Skipped: skipped}
	s := &submitter{app: a, sum: sum, verbose: o.verbose, printAll: o.verbose || len(files) <= 10}
	s.progress = newProgress(a.stderr, len(files))
	said := make(chan struct{})
	stopSaying := context.AfterFunc(ctx, func() {
		defer close(said)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.progress.clear()
		fmt.Fprintf(a.stderr, "evident: interrupted: finishing the calls in flight (interrupt again to stop at once)\n")
	})
	err = cl.SubmitBulk(ctx, len(files), func(i int) ([]byte, error) { return s.read(files[i]) }, func(bo client.BulkOutcome) {
		s.record(files[bo.Index].name, bo)
	}, client.BulkOptions{BatchSize: o.batchSize, Concurrency: o.concurrency, ReleasePurl: o.release})
	if !stopSaying() {
		<-said
	}
	s.progress.clear()
	sum.Interrupted = ctx.Err() != nil
	if err != nil && !sum.Interrupted {
		fmt.Fprintf(a.stderr, "evident: gave up: %v\n", err)
	}
	// Calls finish in any order; report in file order.
	for _, os := range [][]outcome{sum.Refusals, sum.Failures, sum.Outcomes} {
		sort.SliceStable(os, func(i, j int) bool { return os[i].File < os[j].File })
	}

	if a.jsonOut {
		if err := a.printJSON(sum); err != nil {
			return err
		}
	} else {
		a.printSubmitSummary(sum)
	}
	switch {
	case sum.Interrupted:
		return exitWith(exitInterrupted)
	case sum.Failed > 0 || sum.NotSent > 0:
		return exitWith(exitError)
	case sum.Refused > 0:
		return exitWith(exitFailed)
	}
	return nil
}

func (a *app) printSubmitSummary(s *submitSummary) {
	w := a.stdout
	fmt.Fprintf(w, "submitted %d envelopes to %s (%s)\n", s.Total-s.NotSent, s.Node, s.URL)
	fmt.Fprintf(w, "  new:             %d\n", s.New)
	fmt.Fprintf(w, "  already present: %d\n", s.AlreadyPresent)
	fmt.Fprintf(w, "  refused:         %d\n", s.Refused)
	if s.Failed > 0 {
		fmt.Fprintf(w, "  failed:          %d (could not be sent; run again)\n", s.Failed)
	}
	if s.NotSent > 0 {
		fmt.Fprintf(w, "  not sent:        %d (stopped early; run again to send them)\n", s.NotSent)
	}
	if s.Skipped > 0 {
		fmt.Fprintf(w, "  skipped:         %d .json files that are not envelopes\n", s.Skipped)
	}
}

// collectEnvelopes expands the arguments into envelope files, and counts
// .json files in directories that aren't envelopes.
func collectEnvelopes(args []string) (files []string, skipped int, err error) {
	for _, arg := range args {
		if arg == "-" {
			files = append(files, arg)
			continue
		}
		fi, err := os.Stat(arg)
		if err != nil {
			return nil, 0, fmt.Errorf("couldn't read %s: %w", arg, err)
		}
		if !fi.IsDir() {
			files = append(files, arg)
			continue
		}
		err = filepath.WalkDir(arg, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			name := strings.ToLower(d.Name())
			switch {
			case strings.HasSuffix(name, ".intoto.json"), strings.HasSuffix(name, ".dsse.json"),
				strings.HasSuffix(name, ".sigstore"), strings.HasSuffix(name, ".sigstore.json"),
				strings.HasSuffix(name, ".jsonl"), strings.HasSuffix(name, ".attestation"), strings.HasSuffix(name, ".slsa"):
				files = append(files, path)
			case strings.HasSuffix(name, ".json"):
				if isEnvelopeFile(path) {
					files = append(files, path)
				} else {
					skipped++
				}
			}
			return nil
		})
		if err != nil {
			return nil, 0, fmt.Errorf("couldn't read %s: %w", arg, err)
		}
	}
	return files, skipped, nil
}

// isEnvelopeFile reports whether a .json file looks like signed evidence: a
// DSSE envelope, a Sigstore bundle, or a file of bundles.
func isEnvelopeFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	// An envelope's members come first or early; SBOMs never have a
	// payloadType.
	head := make([]byte, 64<<10)
	n, _ := io.ReadFull(f, head)
	h := string(head[:n])
	return strings.Contains(h, `"payloadType"`) && strings.Contains(h, `"signatures"`) ||
		strings.Contains(h, `application/vnd.dev.sigstore.bundle`) ||
		strings.Contains(h, `"verification_material"`) || strings.Contains(h, `"attestation_bundles"`)
}

// submitFile is one envelope to submit: a file, or one of the bundles a
// file holds.
type submitFile struct {
	name string // for messages: the file, and which of its bundles
	path string // the file to read, if data is nil
	data []byte // the envelope, if it was read already
}

// expandContainers turns the files into envelopes: a DSSE envelope or a
// bundle is itself (read again when it is sent), and a file of bundles is
// each of its bundles. Files that are neither are kept, for read to refuse
// with a reason.
func expandContainers(paths []string, stdin io.Reader) ([]submitFile, error) {
	var out []submitFile
	for _, p := range paths {
		var b []byte
		var err error
		if p == "-" {
			b, err = io.ReadAll(io.LimitReader(stdin, evidence.MaxEnvelopeSize+1))
		} else {
			b, err = readHead(p)
		}
		if err != nil {
			return nil, fmt.Errorf("couldn't read %s: %w", p, err)
		}
		if _, perr := evidence.ParseEnvelope(b); perr == nil && p != "-" {
			out = append(out, submitFile{name: p, path: p}) // read again when sent
			continue
		} else if perr == nil {
			out = append(out, submitFile{name: p, data: b})
			continue
		}
		if p != "-" && len(b) == headSize {
			// A large file that is not an envelope: read it all to look.
			if b, err = os.ReadFile(p); err != nil {
				return nil, fmt.Errorf("couldn't read %s: %w", p, err)
			}
		}
		format, bundles, uerr := sigstore.Unwrap(b)
		switch {
		case uerr != nil:
			out = append(out, submitFile{name: p, path: p, data: b}) // read refuses it
		case format == sigstore.FormatBundle:
			out = append(out, submitFile{name: p, data: b})
		default:
			for i, bb := range bundles {
				out = append(out, submitFile{name: fmt.Sprintf("%s[%d] (%s)", p, i, format), data: bb})
			}
		}
	}
	return out, nil
}

// headSize is how much of a file expandContainers reads to tell what it is:
// envelopes of SBOMs can be tens of MiB, while containers of bundles are
// small.
const headSize = 4 << 20

// readHead reads up to headSize bytes of a file.
func readHead(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, headSize)
	n, err := io.ReadFull(f, b)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		err = nil
	}
	return b[:n], err
}

// submitter keeps the summary of one submit command and prints outcomes as
// they come.
type submitter struct {
	app      *app
	verbose  bool // keep every outcome in the summary
	printAll bool // print every outcome
	progress *progress

	mu  sync.Mutex
	sum *submitSummary
}

// localError is an envelope file refused without asking the node.
type localError struct{ error }

// read reads an envelope and checks that it is a DSSE envelope or a
// Sigstore bundle, so that a wrong file is refused with a useful message
// without asking the node.
func (s *submitter) read(f submitFile) ([]byte, error) {
	b := f.data
	if f.path != "" {
		var err error
		if b, err = os.ReadFile(f.path); err != nil {
			return nil, localError{fmt.Errorf("couldn't read it: %w", err)}
		}
	}
	if _, err := evidence.ParseEnvelope(b); err == nil {
		return b, nil
	}
	if _, err := sigstore.Parse(b); err == nil || errors.Is(err, sigstore.ErrUnsupported) && !errors.Is(err, sigstore.ErrMalformed) {
		// A bundle, or one the node will refuse with its reason.
		if err != nil {
			return nil, localError{fmt.Errorf("a Sigstore bundle Evident can't log: %v", err)}
		}
		return b, nil
	}
	if _, err := detect.Detect(f.name, b); err == nil {
		return nil, localError{errors.New("not signed evidence but a document: sign it with evident attest first, then submit the envelope attest writes")}
	}
	return nil, localError{errors.New("not signed evidence: neither a DSSE envelope, nor a Sigstore bundle, nor a file of bundles (npm, GitHub, PEP 740); sign documents with evident attest first")}
}

// record counts what became of file, and prints it.
func (s *submitter) record(file string, bo client.BulkOutcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var re *client.RefusedError
	var le localError
	o := outcome{File: file}
	switch {
	case errors.Is(bo.Err, client.ErrNotSent):
		s.sum.NotSent++
		return
	case bo.Err == nil && bo.Result.Duplicate:
		o.Status, o.Index = "present", bo.Result.Index
	case bo.Err == nil:
		o.Status, o.Index = "new", bo.Result.Index
	case errors.As(bo.Err, &re):
		o.Status, o.Code, o.Message = "refused", re.Code.String(), re.Message
	case errors.As(bo.Err, &le):
		o.Status, o.Code, o.Message = "refused", "local", le.Error()
	default:
		o.Status, o.Message = "failed", bo.Err.Error()
	}

	sum := s.sum
	switch o.Status {
	case "new":
		sum.New++
	case "present":
		sum.AlreadyPresent++
	case "refused":
		sum.Refused++
		sum.Refusals = append(sum.Refusals, o)
	case "failed":
		sum.Failed++
		sum.Failures = append(sum.Failures, o)
	}
	if s.verbose {
		sum.Outcomes = append(sum.Outcomes, o)
	}
	w := s.app.stderr
	switch {
	case o.Status == "refused":
		s.progress.clear()
		fmt.Fprintf(w, "%s: refused: %s\n", o.File, o.Message)
	case o.Status == "failed":
		s.progress.clear()
		fmt.Fprintf(w, "%s: failed: %s\n", o.File, o.Message)
	case s.printAll && o.Status == "new":
		s.progress.clear()
		fmt.Fprintf(w, "%s: new, log index %d\n", o.File, o.Index)
	case s.printAll:
		s.progress.clear()
		fmt.Fprintf(w, "%s: already present, log index %d\n", o.File, o.Index)
	}
	s.progress.update(sum.New, sum.AlreadyPresent, sum.Refused, sum.Failed)
}
