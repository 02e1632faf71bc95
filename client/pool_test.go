package client

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeCalls is a pool's call and fail functions over int items, answering
// as answer says and recording what happened.
type fakeCalls struct {
	// answer returns which items of the batch get no answer, with the
	// error for them. Nil: every item is answered.
	answer func(call int, batch []int) (retry []int, err error)

	mu      sync.Mutex
	calls   int
	batches [][]int
	settled []int
	failed  map[int]error
}

func (f *fakeCalls) pool(concurrency, attempts, giveUpAfter int) *pool[int] {
	return &pool[int]{
		concurrency: concurrency,
		attempts:    attempts,
		backoff:     time.Millisecond,
		giveUpAfter: giveUpAfter,
		call: func(ctx context.Context, batch []int) ([]int, []error) {
			f.mu.Lock()
			f.calls++
			call := f.calls
			f.batches = append(f.batches, slices.Clone(batch))
			f.mu.Unlock()
			var retry []int
			var err error
			if f.answer != nil {
				retry, err = f.answer(call, batch)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			var errs []error
			for _, it := range batch {
				if slices.Contains(retry, it) {
					errs = append(errs, err)
				} else {
					f.settled = append(f.settled, it)
				}
			}
			return retry, errs
		},
		fail: func(it int, err error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.failed == nil {
				f.failed = map[int]error{}
			}
			f.failed[it] = err
		},
	}
}

// sendAll sends batches of two of items 0..n-1, and returns how many
// items were sent.
func sendAll(n int) (func(context.Context, func([]int) bool), *int) {
	sent := new(int)
	return func(stop context.Context, send func([]int) bool) {
		for i := 0; i < n; i += 2 {
			b := []int{i}
			if i+1 < n {
				b = append(b, i+1)
			}
			if !send(b) {
				return
			}
			*sent += len(b)
		}
	}, sent
}

func TestPoolRetries(t *testing.T) {
	errBusy := errors.New("busy")
	tests := []struct {
		name        string
		attempts    int
		answer      func(call int, batch []int) ([]int, error)
		wantCalls   int
		wantSettled []int
		wantFailed  []int
	}{
		{
			name:        "all answered",
			attempts:    5,
			wantCalls:   1,
			wantSettled: []int{0, 1},
		},
		{
			// Only the item without an answer is sent again.
			name:     "one item retried until answered",
			attempts: 5,
			answer: func(call int, batch []int) ([]int, error) {
				if call < 3 {
					return []int{1}, errBusy
				}
				return nil, nil
			},
			wantCalls:   3,
			wantSettled: []int{0, 1},
		},
		{
			name:     "attempts run out",
			attempts: 3,
			answer: func(call int, batch []int) ([]int, error) {
				return []int{1}, errBusy
			},
			wantCalls:   3,
			wantSettled: []int{0},
			wantFailed:  []int{1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeCalls{answer: tt.answer}
			produce, _ := sendAll(2)
			if err := f.pool(1, tt.attempts, 3).run(context.Background(), produce); err != nil {
				t.Errorf("run: %v", err)
			}
			if f.calls != tt.wantCalls {
				t.Errorf("%d calls, want %d: %v", f.calls, tt.wantCalls, f.batches)
			}
			for _, b := range f.batches[1:] {
				if !slices.Equal(b, []int{1}) {
					t.Errorf("retried batch %v, want only item 1", b)
				}
			}
			slices.Sort(f.settled)
			if !slices.Equal(f.settled, tt.wantSettled) {
				t.Errorf("settled %v, want %v", f.settled, tt.wantSettled)
			}
			for _, it := range tt.wantFailed {
				if f.failed[it] != errBusy {
					t.Errorf("item %d failed with %v, want the last call's error", it, f.failed[it])
				}
			}
			if len(f.failed) != len(tt.wantFailed) {
				t.Errorf("failed %v, want %v", f.failed, tt.wantFailed)
			}
		})
	}
}

// TestPoolGivesUp checks that sending stops after giveUpAfter calls in a
// row answer nothing, and not while some calls get answers.
func TestPoolGivesUp(t *testing.T) {
	errDown := errors.New("connection refused")
	f := &fakeCalls{answer: func(call int, batch []int) ([]int, error) { return batch, errDown }}
	produce, sent := sendAll(100)
	err := f.pool(1, 5, 3).run(context.Background(), produce)
	if !errors.Is(err, errDown) || !strings.Contains(err.Error(), "3 calls in a row failed") {
		t.Errorf("run: %v, want the give-up error wrapping the last call's", err)
	}
	// One goroutine: the first batch's three tries, then no more.
	if f.calls != 3 || *sent != 2 || len(f.failed) != 2 {
		t.Errorf("%d calls, %d items sent, %d failed; want 3, 2, 2", f.calls, *sent, len(f.failed))
	}

	// Every other call answers one item: the count starts again each time.
	f = &fakeCalls{answer: func(call int, batch []int) ([]int, error) {
		if call%2 == 0 && len(batch) == 2 {
			return batch[1:], errDown
		}
		return batch, errDown
	}}
	produce, sent = sendAll(100)
	if err := f.pool(1, 2, 3).run(context.Background(), produce); err != nil {
		t.Errorf("run with calls that get some answers: %v", err)
	}
	if *sent != 100 {
		t.Errorf("%d items sent, want 100", *sent)
	}
}

// TestPoolStop checks that a call in flight when ctx ends runs to the end
// with a live context, that nothing is sent after, and that run says why.
func TestPoolStop(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	refused := make(chan struct{}) // send refused a batch
	var callErr error
	f := &fakeCalls{answer: func(call int, batch []int) ([]int, error) {
		if call == 2 {
			cancel()
			select {
			case <-refused:
			case <-time.After(10 * time.Second):
				t.Error("send still took batches after ctx ended")
			}
		}
		return nil, nil
	}}
	p := f.pool(1, 5, 3)
	call := p.call
	p.call = func(ctx context.Context, batch []int) ([]int, []error) {
		r, errs := call(ctx, batch)
		if ctx.Err() != nil {
			callErr = ctx.Err()
		}
		return r, errs
	}
	sent := 0
	err := p.run(ctx, func(stop context.Context, send func([]int) bool) {
		for i := 0; i < 100; i += 2 {
			if !send([]int{i, i + 1}) {
				close(refused)
				if send([]int{i, i + 1}) {
					t.Error("send took a batch after refusing one")
				}
				return
			}
			sent += 2
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("run: %v, want context.Canceled", err)
	}
	if callErr != nil {
		t.Errorf("a call's context ended: %v", callErr)
	}
	if f.calls != 2 || sent != 4 || len(f.settled) != 4 {
		t.Errorf("%d calls, %d sent, %d settled; want 2 calls that settled the 4 items sent", f.calls, sent, len(f.settled))
	}
}

// TestPoolConcurrency checks that the pool has as many calls in flight as
// it may, and no more.
func TestPoolConcurrency(t *testing.T) {
	const concurrency = 3
	var mu sync.Mutex
	inFlight, most := 0, 0
	all := make(chan struct{})
	f := &fakeCalls{answer: func(call int, batch []int) ([]int, error) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		if inFlight == concurrency && call <= concurrency {
			close(all)
		}
		mu.Unlock()
		if call <= concurrency {
			// The first calls wait until all of them are in flight.
			select {
			case <-all:
			case <-time.After(10 * time.Second):
			}
		}
		mu.Lock()
		inFlight--
		mu.Unlock()
		return nil, nil
	}}
	produce, sent := sendAll(40)
	if err := f.pool(concurrency, 1, 3).run(context.Background(), produce); err != nil {
		t.Fatal(err)
	}
	if most != concurrency || *sent != 40 || len(f.settled) != 40 {
		t.Errorf("at most %d calls in flight (want %d), %d sent, %d settled", most, concurrency, *sent, len(f.settled))
	}
}
