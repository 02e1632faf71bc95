package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// BulkOptions configures [Client.SubmitBulk]. The zero value of every field
// is a sensible default.
type BulkOptions struct {
	// BatchSize is the most envelopes sent in one SubmitBatch call, 1 to
	// [MaxBatch]. Default 100.
	BatchSize int
	// BatchBytes bounds the envelope bytes of one SubmitBatch call.
	// Default 8 MiB, well within the request size nodes accept by default
	// (their envelope limit plus 1 MiB, 33 MiB).
	BatchBytes int
	// Concurrency is how many calls are in flight at once. Default 4.
	Concurrency int
	// Attempts is how many calls are made for an envelope that got no
	// answer (the network, a busy node) before it is reported failed.
	// Default 5.
	Attempts int
	// Backoff is the wait before the first retry; it doubles before each
	// next one. Default 500 ms.
	Backoff time.Duration
	// ReleasePurl is the release under which the node files statement
	// subjects named by file rather than by purl ([Client.SubmitFor]), for
	// every envelope. Default: none.
	ReleasePurl string
	// GiveUpAfter is how many calls in a row may fail outright (none of
	// their envelopes got an answer) before SubmitBulk stops sending: the
	// node is down or can't be reached, and retrying thousands of batches
	// would only take long. Default 3.
	GiveUpAfter int
}

// bulkAlone is the envelope size from which SubmitBulk sends an envelope
// on its own, with Submit (which streams it from Options.StreamThreshold
// on): a few large envelopes would otherwise fill batches by bytes.
const bulkAlone = 1 << 20

// withDefaults returns o with its zero fields set to their defaults.
func (o BulkOptions) withDefaults() (BulkOptions, error) {
	if o.BatchSize < 0 || o.BatchSize > MaxBatch {
		return o, fmt.Errorf("BulkOptions.BatchSize is %d; want 1 to %d", o.BatchSize, MaxBatch)
	}
	if o.BatchBytes < 0 || o.Concurrency < 0 || o.Attempts < 0 || o.Backoff < 0 || o.GiveUpAfter < 0 {
		return o, fmt.Errorf("BulkOptions has a negative field: %+v", o)
	}
	if o.BatchSize == 0 {
		o.BatchSize = 100
	}
	if o.BatchBytes == 0 {
		o.BatchBytes = 8 << 20
	}
	if o.Concurrency == 0 {
		o.Concurrency = 4
	}
	if o.Attempts == 0 {
		o.Attempts = 5
	}
	if o.Backoff == 0 {
		o.Backoff = 500 * time.Millisecond
	}
	if o.GiveUpAfter == 0 {
		o.GiveUpAfter = 3
	}
	return o, nil
}

// BulkOutcome is what became of one envelope of [Client.SubmitBulk].
type BulkOutcome struct {
	// Index is the envelope's, 0 to n-1.
	Index int
	// Result is the node's answer when the envelope is logged: new, or
	// already present (Result.Duplicate).
	Result *SubmitResult
	// Err is why it is not logged, when Result is nil:
	//   - [ErrNotSent]: sending stopped before the envelope was sent;
	//   - a [*RefusedError]: the node refused it, and will again;
	//   - the error the envelope function returned for it, as it is;
	//   - any other error: no call got an answer for it (the network, a
	//     busy node), the last call's error; it may be sent again.
	Err error
}

// ErrNotSent is the outcome of an envelope that [Client.SubmitBulk] did not
// send because sending stopped first.
var ErrNotSent = errors.New("not sent: sending stopped first")

// SubmitBulk submits n envelopes to the node, a few calls at once: small
// ones in batches ([Client.SubmitBatch]) bounded by count and by bytes,
// envelopes from 1 MiB on, or larger than opts.BatchBytes, one per call
// ([Client.Submit]). It calls envelope(i) once for each i, in order, from
// one goroutine, as it fills batches, so envelopes can be read from disk as
// they go; an error from it becomes the envelope's outcome, and the
// envelope is not sent.
//
// outcome is called once for each of the n envelopes, in no particular
// order and never concurrently; see [BulkOutcome]. A nil outcome discards
// them. An envelope that got no answer is sent again (opts.Attempts, with
// opts.Backoff); submitting is idempotent, so an envelope that was logged
// after all is then reported already present.
//
// Sending stops early when ctx ends, or when calls keep failing outright
// (opts.GiveUpAfter). The calls in flight then run to the end, so that
// every outcome reported is what the node did, but nothing is retried.
// SubmitBulk returns once every outcome is reported, with why sending
// stopped (ctx's cause, or an error saying that calls kept failing,
// wrapping the last one's error), or nil if it did not; or, having sent
// nothing, with an error about opts.
func (c *Client) SubmitBulk(ctx context.Context, n int, envelope func(i int) ([]byte, error), outcome func(BulkOutcome), opts BulkOptions) error {
	o, err := opts.withDefaults()
	if err != nil {
		return err
	}
	var mu sync.Mutex
	report := func(i int, r *SubmitResult, err error) {
		if outcome == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		outcome(BulkOutcome{Index: i, Result: r, Err: err})
	}
	type item struct {
		i   int
		env []byte
	}
	alone := func(env []byte) bool {
		// SubmitBatch takes no empty envelope; alone, the node refuses it.
		return len(env) >= bulkAlone || len(env) > o.BatchBytes || len(env) == 0
	}

	p := &pool[item]{
		concurrency: o.Concurrency,
		attempts:    o.Attempts,
		backoff:     o.Backoff,
		giveUpAfter: o.GiveUpAfter,
		fail:        func(it item, err error) { report(it.i, nil, err) },
	}
	p.call = func(ctx context.Context, batch []item) (retry []item, errs []error) {
		settle := func(it item, r *SubmitResult, err error) {
			var re *RefusedError
			if err != nil && !errors.As(err, &re) {
				retry, errs = append(retry, it), append(errs, err)
				return
			}
			report(it.i, r, err)
		}
		if len(batch) == 1 && alone(batch[0].env) {
			r, err := c.SubmitFor(ctx, batch[0].env, opts.ReleasePurl)
			settle(batch[0], r, err)
			return retry, errs
		}
		envs := make([][]byte, len(batch))
		var releases []string
		for i, it := range batch {
			envs[i] = it.env
			if opts.ReleasePurl != "" {
				releases = append(releases, opts.ReleasePurl)
			}
		}
		outs, err := c.SubmitBatchFor(ctx, envs, releases)
		if err != nil {
			// The call failed as a whole: no envelope got an answer.
			for _, it := range batch {
				retry, errs = append(retry, it), append(errs, err)
			}
			return retry, errs
		}
		for i, it := range batch {
			settle(it, outs[i].Result, outs[i].Err)
		}
		return retry, errs
	}

	return p.run(ctx, func(stop context.Context, send func([]item) bool) {
		var batch []item
		batchBytes := 0
		// notSent reports the envelopes held, and those from index from on.
		notSent := func(held []item, from int) {
			for _, it := range held {
				report(it.i, nil, ErrNotSent)
			}
			for i := from; i < n; i++ {
				report(i, nil, ErrNotSent)
			}
		}
		for i := range n {
			if stop.Err() != nil {
				notSent(batch, i)
				return
			}
			env, err := envelope(i)
			if err != nil {
				report(i, nil, err)
				continue
			}
			it := item{i, env}
			if alone(env) {
				if !send([]item{it}) {
					notSent(append(batch, it), i+1)
					return
				}
				continue
			}
			if len(batch) == o.BatchSize || batchBytes+len(env) > o.BatchBytes {
				if !send(batch) {
					notSent(append(batch, it), i+1)
					return
				}
				batch, batchBytes = nil, 0
			}
			batch = append(batch, it)
			batchBytes += len(env)
		}
		if len(batch) > 0 && !send(batch) {
			notSent(batch, n)
		}
	})
}
