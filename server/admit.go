package server

import (
	"fmt"
	"sync/atomic"
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

// admit reserves n envelope bytes for one submission of envelopes and
// returns the function that gives them back. A node holding too much
// answers Unavailable with a retry hint, before reading on or doing any
// work: the client backs off and the node sheds load instead of queueing
// it.
func (p *pending) admit(n, envelopes int) (release func(), err error) {
	cost := int64(n) + int64(envelopes)*pendingOverhead
	for {
		used := p.used.Load()
		if used+cost > p.max {
			return nil, busy(fmt.Sprintf("the node is holding %d MiB of submissions not yet logged, its limit", p.max>>20))
		}
		if p.used.CompareAndSwap(used, used+cost) {
			return func() { p.used.Add(-cost) }, nil
		}
	}
}
