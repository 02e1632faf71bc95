package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/evident-dev/evident/evidence"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/server/servertest"
)

// bulkCalls records the calls a proxy saw.
type bulkCalls struct {
	mu         sync.Mutex
	submits    int
	batches    []int // envelopes per batch
	batchBytes []int
}

func (b *bulkCalls) watch(p *proxy) {
	p.submit = func(*evidentv1.SubmitRequest) error {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.submits++
		return nil
	}
	p.submitBatch = func(req *evidentv1.SubmitBatchRequest) error {
		b.mu.Lock()
		defer b.mu.Unlock()
		n := 0
		for _, e := range req.GetEnvelopes() {
			n += len(e)
		}
		b.batches = append(b.batches, len(req.GetEnvelopes()))
		b.batchBytes = append(b.batchBytes, n)
		return nil
	}
}

// collect returns an outcome function and the outcomes it collected, by
// index; it fails the test if an index is reported twice.
func collect(t *testing.T) (func(BulkOutcome), map[int]BulkOutcome) {
	got := map[int]BulkOutcome{}
	return func(o BulkOutcome) {
		if _, ok := got[o.Index]; ok {
			t.Errorf("envelope %d reported twice", o.Index)
		}
		got[o.Index] = o
	}, got
}

func TestSubmitBulk(t *testing.T) {
	n := startNode(t)
	p, url := startProxy(t, n)
	c := newClient(t, url, n.VerifierKey, Options{})
	ctx := context.Background()
	small := len(testEnvelope("pkg:pypi/bulk@1.0", 0))

	const (
		total     = 25
		unread    = 3  // the envelope function fails
		large     = 7  // 1.5 MiB: sent alone
		untrusted = 12 // refused by the node
		empty     = 20 // refused by the node
	)
	errUnread := errors.New("couldn't read it")
	tests := []struct {
		name string
		opts BulkOptions
		// The largest batch that must be seen.
		wantBatch int
	}{
		{"by count", BulkOptions{BatchSize: 4, Concurrency: 3}, 4},
		{"by bytes", BulkOptions{BatchBytes: small*5/2 + 100, Concurrency: 2}, 2},
		{"defaults", BulkOptions{}, total - 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			envs := make([][]byte, total)
			for i := range envs {
				envs[i] = testEnvelope(fmt.Sprintf("pkg:pypi/bulk-%s@1.%d", strings.ReplaceAll(tt.name, " ", "-"), i), i)
			}
			envs[large] = servertest.Envelope(servertest.KeyPyPIMaven, "pkg:pypi/large@1", servertest.Digest(tt.name),
				evidence.PredicateCycloneDX, json.RawMessage(`{"bomFormat":"CycloneDX","pad":"`+strings.Repeat("x", 3<<19)+`"}`))
			envs[untrusted] = servertest.Envelope(servertest.KeyUntrusted, "pkg:pypi/bulk@9", servertest.Digest(tt.name), evidence.PredicateSPDX23, nil)
			envs[empty] = nil
			envelope := func(i int) ([]byte, error) {
				if i == unread {
					return nil, errUnread
				}
				return envs[i], nil
			}

			for run, wantDuplicate := range []bool{false, true} {
				var calls bulkCalls
				calls.watch(p)
				outcome, got := collect(t)
				if err := c.SubmitBulk(ctx, total, envelope, outcome, tt.opts); err != nil {
					t.Fatalf("run %d: SubmitBulk: %v", run, err)
				}
				if len(got) != total {
					t.Errorf("run %d: %d outcomes, want %d", run, len(got), total)
				}
				for i := range total {
					o := got[i]
					var re *RefusedError
					switch i {
					case unread:
						if o.Err != errUnread {
							t.Errorf("run %d: envelope %d: %+v, want the envelope function's error as it is", run, i, o)
						}
					case untrusted, empty:
						if !errors.As(o.Err, &re) {
							t.Errorf("run %d: envelope %d: %+v, want a refusal", run, i, o)
						}
					default:
						if o.Err != nil || o.Result == nil || o.Result.Duplicate != wantDuplicate {
							t.Errorf("run %d: envelope %d: %+v, want logged with Duplicate %v", run, i, o, wantDuplicate)
						}
					}
				}

				// The large and the empty envelope went alone; the others
				// in batches within both bounds.
				opts, _ := tt.opts.withDefaults()
				most, inBatches := 0, 0
				for i, b := range calls.batches {
					if b > opts.BatchSize || calls.batchBytes[i] > opts.BatchBytes {
						t.Errorf("run %d: a batch of %d envelopes, %d bytes; want at most %d, %d", run, b, calls.batchBytes[i], opts.BatchSize, opts.BatchBytes)
					}
					most = max(most, b)
					inBatches += b
				}
				if calls.submits != 2 || inBatches != total-3 || most != tt.wantBatch {
					t.Errorf("run %d: %d Submit calls, %d envelopes in batches %v; want 2 calls, %d envelopes, batches up to %d",
						run, calls.submits, inBatches, calls.batches, total-3, tt.wantBatch)
				}
			}
		})
	}
}

// TestSubmitBulkRetries has the node fail calls (busy), and checks that
// every envelope is logged once all the same.
func TestSubmitBulkRetries(t *testing.T) {
	n := startNode(t)
	p, url := startProxy(t, n)
	c := newClient(t, url, n.VerifierKey, Options{})
	var mu sync.Mutex
	calls := 0
	p.submitBatch = func(*evidentv1.SubmitBatchRequest) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls%3 != 0 {
			return connect.NewError(connect.CodeUnavailable, errors.New("busy"))
		}
		return nil
	}
	const total = 20
	envs := make([][]byte, total)
	for i := range envs {
		envs[i] = testEnvelope(fmt.Sprintf("pkg:pypi/retry@1.%d", i), i)
	}
	outcome, got := collect(t)
	err := c.SubmitBulk(context.Background(), total, func(i int) ([]byte, error) { return envs[i], nil }, outcome,
		BulkOptions{BatchSize: 5, Concurrency: 1, Backoff: time.Millisecond})
	if err != nil {
		t.Fatalf("SubmitBulk: %v", err)
	}
	for i := range total {
		if o := got[i]; o.Result == nil || o.Result.Duplicate {
			t.Errorf("envelope %d: %+v, want logged, new", i, o)
		}
	}
	if calls != 12 {
		t.Errorf("%d calls, want 12 (4 batches, each failing twice)", calls)
	}
	if got := n.Ledger.Size(); got != total {
		t.Errorf("the log has %d entries, want %d", got, total)
	}
}

// TestSubmitBulkGivesUp has every call fail, and checks that SubmitBulk
// stops sending after three and says why.
func TestSubmitBulkGivesUp(t *testing.T) {
	n := startNode(t)
	p, url := startProxy(t, n)
	c := newClient(t, url, n.VerifierKey, Options{})
	p.submitBatch = func(*evidentv1.SubmitBatchRequest) error {
		return connect.NewError(connect.CodeUnavailable, errors.New("down"))
	}
	const total = 50
	outcome, got := collect(t)
	err := c.SubmitBulk(context.Background(), total, func(i int) ([]byte, error) {
		return testEnvelope("pkg:pypi/down@1", i), nil
	}, outcome, BulkOptions{BatchSize: 5, Concurrency: 1, Backoff: time.Millisecond})
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeUnavailable || !strings.Contains(err.Error(), "3 calls in a row failed") {
		t.Fatalf("SubmitBulk: %v, want the give-up error wrapping the last call's", err)
	}
	failed, notSent := 0, 0
	for i := range total {
		o := got[i]
		switch {
		case errors.Is(o.Err, ErrNotSent):
			notSent++
		case errors.As(o.Err, &ce):
			failed++
		default:
			t.Errorf("envelope %d: %+v, want failed or not sent", i, o)
		}
	}
	// One call at a time: the first batch is tried three times.
	if failed != 5 || notSent != total-5 {
		t.Errorf("%d failed, %d not sent; want 5, %d", failed, notSent, total-5)
	}
}

// TestSubmitBulkInterrupted ends the context midway, and checks that the
// calls in flight finish: every envelope reported logged is in the log,
// and no more.
func TestSubmitBulkInterrupted(t *testing.T) {
	n := startNode(t)
	c := newClient(t, n.URL, n.VerifierKey, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const total = 200
	var got []BulkOutcome
	err := c.SubmitBulk(ctx, total, func(i int) ([]byte, error) {
		return testEnvelope("pkg:pypi/interrupted@1", i), nil
	}, func(o BulkOutcome) {
		got = append(got, o)
		if len(got) == 20 {
			cancel()
		}
	}, BulkOptions{BatchSize: 5, Concurrency: 2})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("SubmitBulk: %v, want context.Canceled", err)
	}
	logged, notSent := 0, 0
	for _, o := range got {
		switch {
		case o.Result != nil:
			logged++
		case errors.Is(o.Err, ErrNotSent):
			notSent++
		default:
			t.Errorf("envelope %d: %+v, want logged or not sent", o.Index, o)
		}
	}
	if len(got) != total || notSent == 0 || logged < 20 {
		t.Errorf("%d outcomes: %d logged, %d not sent; want %d, at least 20 logged and some not sent", len(got), logged, notSent, total)
	}
	if got := n.Ledger.Size(); got != uint64(logged) {
		t.Errorf("the log has %d entries; %d were reported logged", got, logged)
	}
}

func TestSubmitBulkOptions(t *testing.T) {
	c, err := New("http://127.0.0.1:1", Options{LogKey: "evident.example.org/log+abf0ee6c+Af0XJDhaoMdbZPt4zWAvodmR/ev3axPFjtcC6sg16fYY"})
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range []BulkOptions{{BatchSize: MaxBatch + 1}, {BatchSize: -1}, {Concurrency: -1}, {Backoff: -time.Second}} {
		called := false
		err := c.SubmitBulk(context.Background(), 1, func(int) ([]byte, error) {
			called = true
			return nil, nil
		}, nil, opts)
		if err == nil || called {
			t.Errorf("%+v: err %v, envelope function called %v; want an error before anything", opts, err, called)
		}
	}
}
