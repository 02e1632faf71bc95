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
)

func (a *app) submitCmd() *cobra.Command {
	o := submitOptions{batchSize: 100, concurrency: 4}
	c := &cobra.Command{
		Use:   "submit FILE|DIR...",
		Short: "Submit signed evidence (DSSE envelopes) to a node",
		Long: `Submit sends DSSE envelopes (as attest writes them) to a node: --node, or the
first node of the configuration. A directory is searched for *.intoto.json
and *.dsse.json files, and for other *.json files that are envelopes; FILE -
reads one envelope from standard input.

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
	a.addJSONFlag(c, "the summary")
	return c
}

type submitOptions struct {
	batchSize, concurrency int
	verbose                bool
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
	nodes, err := a.selectedNodes(false)
	if err != nil {
		return err
	}
	cl, err := a.newClient(nodes[0])
	if err != nil {
		return err
	}
	files, skipped, err := collectEnvelopes(args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no envelopes found in %s (looked for *.intoto.json, *.dsse.json and *.json envelopes)", strings.Join(args, " "))
	}
	sum := &submitSummary{Node: nodes[0].Name, URL: nodes[0].URL, Total: len(files), Skipped: skipped}
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
		s.record(files[bo.Index], bo)
	}, client.BulkOptions{BatchSize: o.batchSize, Concurrency: o.concurrency})
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
			case strings.HasSuffix(name, ".intoto.json"), strings.HasSuffix(name, ".dsse.json"):
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

// isEnvelopeFile reports whether a .json file looks like a DSSE envelope.
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
	return strings.Contains(h, `"payloadType"`) && strings.Contains(h, `"signatures"`)
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

// read reads an envelope file and checks that it is an envelope, so that a
// wrong file is refused with a useful message without asking the node.
func (s *submitter) read(f string) ([]byte, error) {
	var b []byte
	var err error
	if f == "-" {
		b, err = io.ReadAll(io.LimitReader(s.app.stdin, evidence.MaxEnvelopeSize+1))
	} else {
		b, err = os.ReadFile(f)
	}
	if err != nil {
		return nil, localError{fmt.Errorf("couldn't read it: %w", err)}
	}
	if _, err := evidence.ParseEnvelope(b); err != nil {
		return nil, localError{fmt.Errorf("not a DSSE envelope (%v); sign documents with evident attest first", err)}
	}
	return b, nil
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
