package server

import (
	"fmt"
	"sync/atomic"

	"connectrpc.com/connect"
)

// DefaultMaxPendingBytes is the default for Options.MaxPendingBytes.
const DefaultMaxPendingBytes = 256 << 20

// pendingOverhead is what a submission costs beyond its envelope's bytes
// (request, parsed statement, entry), charged so that many small
// submissions are bounded too.
const pendingOverhead = 2 << 10

// pending bounds the envelope bytes held for submissions not yet logged:
// received, waiting for a verifier or for the ledger. Verification is the
// node's bottleneck, and without a bound every request beyond what the CPUs
// keep up with would wait in memory, however many there are.
type pending struct {
	max  int64
	used atomic.Int64
}

// take reserves cost bytes. A node holding too much answers Unavailable
// with a retry hint: the client backs off and the node sheds load instead
// of queueing it. What could never fit is ResourceExhausted.
func (p *pending) take(cost int64) error {
	if cost > p.max {
		return connect.NewError(connect.CodeResourceExhausted, fmt.Errorf(
			"this submission needs %d MiB of the %d MiB the node holds for submissions in flight: send fewer or smaller envelopes per call", cost>>20, p.max>>20))
	}
	for {
		used := p.used.Load()
		if used+cost > p.max {
			return busy(fmt.Sprintf("the node is holding %d MiB of submissions not yet logged, its limit", p.max>>20))
		}
		if p.used.CompareAndSwap(used, used+cost) {
			return nil
		}
	}
}

// admit reserves n envelope bytes for one submission of envelopes, before
// its work (a unary request has been read by then; its size is bounded by
// the read limit), and returns the function that gives them back.
func (p *pending) admit(n, envelopes int) (release func(), err error) {
	cost := int64(n) + int64(envelopes)*pendingOverhead
	if err := p.take(cost); err != nil {
		return nil, err
	}
	return func() { p.used.Add(-cost) }, nil
}
