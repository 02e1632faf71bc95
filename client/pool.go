package client

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// A pool makes calls for batches of items on a few goroutines at once,
// retries the items a call got no answer for, and stops when calls keep
// failing outright, as they do when the node is down. It knows nothing of
// what the items are: [Client.SubmitBulk] uses it for envelopes, and
// batches of queries can use it the same way.
type pool[T any] struct {
	concurrency int           // calls in flight at once
	attempts    int           // calls made for an item before it fails
	backoff     time.Duration // wait before the first retry, doubled before each next one
	giveUpAfter int           // calls in a row that may fail outright before sending stops

	// call makes one call for batch, settles the items it got an answer
	// for, and returns the others, with their errors, to be tried again.
	call func(ctx context.Context, batch []T) (retry []T, errs []error)
	// fail settles an item that no call got an answer for, with the last
	// error.
	fail func(item T, err error)
}

// run starts the calls and runs produce, which hands batches to them with
// send. Sending stops when ctx ends or when giveUpAfter calls in a row have
// failed outright; produce's stop context ends then, and send returns false
// without sending. send blocks until a goroutine is free.
//
// Calls in flight when sending stops run to the end (their context is not
// cancelled), so that what is settled is what the node did; only their
// retries are dropped. run returns once every batch sent is settled, with
// why sending stopped (ctx's cause, or the error of the last failed call)
// or nil.
func (p *pool[T]) run(ctx context.Context, produce func(stop context.Context, send func(batch []T) bool)) error {
	stop, giveUp := context.WithCancelCause(ctx)
	defer giveUp(nil)
	callCtx := context.WithoutCancel(ctx)
	var failedCalls atomic.Int32

	do := func(batch []T) {
		backoff := p.backoff
		for attempt := 1; ; attempt++ {
			retry, errs := p.call(callCtx, batch)
			if len(retry) == len(batch) {
				if int(failedCalls.Add(1)) >= p.giveUpAfter {
					giveUp(fmt.Errorf("%d calls in a row failed; the last: %w", p.giveUpAfter, errs[0]))
				}
			} else {
				failedCalls.Store(0)
			}
			if len(retry) == 0 {
				return
			}
			if attempt == p.attempts || stop.Err() != nil {
				for i, it := range retry {
					p.fail(it, errs[i])
				}
				return
			}
			select {
			case <-time.After(backoff):
			case <-stop.Done():
			}
			backoff *= 2
			batch = retry
		}
	}

	batches := make(chan []T)
	var wg sync.WaitGroup
	for range p.concurrency {
		wg.Go(func() {
			for b := range batches {
				do(b)
			}
		})
	}
	produce(stop, func(b []T) bool {
		if stop.Err() != nil {
			return false
		}
		select {
		case batches <- b:
			return true
		case <-stop.Done():
			return false
		}
	})
	close(batches)
	wg.Wait()
	return context.Cause(stop)
}
