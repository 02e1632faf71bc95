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
	"sync/atomic"
	"time"

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

// Envelopes from this size go one per call: from client.DefaultStreamThreshold
// on they are streamed.
const soloEnvelope = 1 << 20

// maxBatchBytes bounds a batch call's envelopes; nodes accept requests of
// their envelope limit plus 1 MiB, 33 MiB by default.
const maxBatchBytes = 8 << 20

// outcome is what became of one file.
type outcome struct {
	File      string `json:"file"`
	Status    string `json:"status"` // new, present, refused, failed
	Index     uint64 `json:"log_index,omitempty"`
	Code      string `json:"code,omitempty"`
	Message   string `json:"message,omitempty"`
	duplicate bool
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
	s := &submitter{app: a, cl: cl, opts: o, sum: sum, verbose: o.verbose || len(files) <= 10}
	s.progress = newProgress(a.stderr, len(files))
	s.run(ctx, files)
	s.progress.clear()
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

// submitter runs one submit command.
type submitter struct {
	app      *app
	cl       *client.Client
	opts     submitOptions
	verbose  bool
	progress *progress

	giveUp      context.CancelCauseFunc
	failedCalls atomic.Int32

	mu  sync.Mutex
	sum *submitSummary
}

// job is one call: a batch, or one large envelope.
type job struct {
	files []string
	envs  [][]byte
}

func (s *submitter) run(parent context.Context, files []string) {
	// ctx ends on an interrupt (parent) or when the node can't be reached
	// (giveUp); sending stops then.
	ctx, giveUp := context.WithCancelCause(parent)
	defer giveUp(nil)
	s.giveUp = giveUp
	jobs := make(chan job)
	var wg sync.WaitGroup
	// Calls run to completion even after an interrupt, so that what the
	// summary reports is what the node did.
	callCtx := context.WithoutCancel(ctx)
	for range s.opts.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				s.do(ctx, callCtx, j)
			}
		}()
	}

	sent := 0
	var batch job
	batchBytes := 0
	send := func(j job) bool {
		select {
		case jobs <- j:
			sent += len(j.files)
			return true
		case <-ctx.Done():
			return false
		}
	}
	stopped := false
	for _, f := range files {
		if ctx.Err() != nil {
			stopped = true
			break
		}
		env, err := s.read(f)
		if err != nil {
			s.record(outcome{File: f, Status: "refused", Code: "local", Message: err.Error()})
			sent++
			continue
		}
		if len(env) >= soloEnvelope {
			if !send(job{files: []string{f}, envs: [][]byte{env}}) {
				stopped = true
				break
			}
			continue
		}
		if len(batch.files) == s.opts.batchSize || batchBytes+len(env) > maxBatchBytes {
			if !send(batch) {
				stopped = true
				break
			}
			batch, batchBytes = job{}, 0
		}
		batch.files = append(batch.files, f)
		batch.envs = append(batch.envs, env)
		batchBytes += len(env)
	}
	if !stopped && len(batch.files) > 0 {
		send(batch)
	}
	if parent.Err() != nil {
		s.progress.clear()
		fmt.Fprintf(s.app.stderr, "evident: interrupted: finishing the calls in flight (interrupt again to stop at once)\n")
	}
	close(jobs)
	wg.Wait()
	s.sum.NotSent = len(files) - sent
	s.sum.Interrupted = parent.Err() != nil
	if cause := context.Cause(ctx); parent.Err() == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		s.progress.clear()
		fmt.Fprintf(s.app.stderr, "evident: gave up: %v\n", cause)
	}
}

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
		return nil, fmt.Errorf("couldn't read it: %w", err)
	}
	if _, err := evidence.ParseEnvelope(b); err != nil {
		return nil, fmt.Errorf("not a DSSE envelope (%v); sign documents with evident attest first", err)
	}
	return b, nil
}

// retry bounds and backoff for calls that fail without a refusal (network,
// a busy node).
const (
	attempts     = 5
	firstBackoff = 500 * time.Millisecond
)

// giveUpAfter is how many calls in a row may fail outright (none of their
// envelopes got an answer) before submit stops sending: the node is down or
// unreachable, and retrying thousands of batches would only take long.
const giveUpAfter = 3

// do makes one call, retrying what may succeed later, and records outcomes.
func (s *submitter) do(ctx, callCtx context.Context, j job) {
	backoff := firstBackoff
	for attempt := 1; ; attempt++ {
		pending := s.call(callCtx, j)
		if len(pending.files) == len(j.files) {
			if s.failedCalls.Add(1) >= giveUpAfter {
				s.giveUp(fmt.Errorf("%d calls in a row failed; the last: %w", giveUpAfter, pending.errs[0]))
			}
		} else {
			s.failedCalls.Store(0)
		}
		if len(pending.files) == 0 {
			return
		}
		if attempt == attempts || ctx.Err() != nil {
			for i, f := range pending.files {
				s.record(outcome{File: f, Status: "failed", Message: pending.errs[i].Error()})
			}
			return
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
		}
		backoff *= 2
		j = job{files: pending.files, envs: pending.envs}
	}
}

// pendingJob is what a call left to retry, with the errors.
type pendingJob struct {
	job
	errs []error
}

func (s *submitter) call(ctx context.Context, j job) pendingJob {
	var p pendingJob
	retry := func(i int, err error) {
		p.files = append(p.files, j.files[i])
		p.envs = append(p.envs, j.envs[i])
		p.errs = append(p.errs, err)
	}
	if len(j.files) == 1 && len(j.envs[0]) >= soloEnvelope {
		r, err := s.cl.Submit(ctx, j.envs[0])
		s.settle(j.files[0], r, err, retry, 0)
		return p
	}
	outs, err := s.cl.SubmitBatch(ctx, j.envs)
	if err != nil {
		for i := range j.files {
			retry(i, err)
		}
		return p
	}
	for i, o := range outs {
		s.settle(j.files[i], o.Result, o.Err, retry, i)
	}
	return p
}

// settle records the outcome of one envelope, or queues it for retry.
func (s *submitter) settle(file string, r *client.SubmitResult, err error, retry func(int, error), i int) {
	var re *client.RefusedError
	switch {
	case err == nil && r.Duplicate:
		s.record(outcome{File: file, Status: "present", Index: r.Index, duplicate: true})
	case err == nil:
		s.record(outcome{File: file, Status: "new", Index: r.Index})
	case errors.As(err, &re):
		s.record(outcome{File: file, Status: "refused", Code: re.Code.String(), Message: re.Message})
	default:
		retry(i, err)
	}
}

func (s *submitter) record(o outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
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
	if s.opts.verbose {
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
	case s.verbose && o.Status == "new":
		s.progress.clear()
		fmt.Fprintf(w, "%s: new, log index %d\n", o.File, o.Index)
	case s.verbose:
		s.progress.clear()
		fmt.Fprintf(w, "%s: already present, log index %d\n", o.File, o.Index)
	}
	s.progress.update(sum.New, sum.AlreadyPresent, sum.Refused, sum.Failed)
}
