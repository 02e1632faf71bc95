package ledger

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the ledger's Prometheus metrics. A nil *metrics records
// nothing.
//
//	evident_ledger_append_batch_entries  histogram: entries per committed batch
//	evident_ledger_append_new_entries_total  counter: entries added (not duplicates)
//	evident_ledger_commit_seconds        histogram: time to commit one batch (incl. fsync)
//	evident_ledger_pushback_total        counter: Append calls refused with ErrPushback
//	evident_ledger_queue_entries         gauge: entries queued, not yet committed
//	evident_ledger_tree_size             gauge: committed tree size
//	evident_ledger_checkpoint_size       gauge: tree size of the latest signed checkpoint
type metrics struct {
	batchEntries prometheus.Histogram
	newEntries   prometheus.Counter
	commit       prometheus.Histogram
	pushbacks    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, l *Ledger) *metrics {
	if reg == nil {
		return nil
	}
	m := &metrics{
		batchEntries: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "evident_ledger_append_batch_entries",
			Help:    "Entries per committed append batch (one transaction, one fsync).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}),
		newEntries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "evident_ledger_append_new_entries_total",
			Help: "Entries added to the log (duplicates excluded).",
		}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "evident_ledger_commit_seconds",
			Help:    "Time to commit one append batch, fsync included.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		pushbacks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "evident_ledger_pushback_total",
			Help: "Append calls refused because the queue was full.",
		}),
	}
	reg.MustRegister(m.batchEntries, m.newEntries, m.commit, m.pushbacks,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "evident_ledger_queue_entries",
			Help: "Entries queued for appending and not yet committed.",
		}, func() float64 { return float64(l.pending.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "evident_ledger_tree_size",
			Help: "Committed size of the log's Merkle tree.",
		}, func() float64 { return float64(l.Size()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "evident_ledger_checkpoint_size",
			Help: "Tree size of the latest signed checkpoint.",
		}, func() float64 { _, n := l.Checkpoint(); return float64(n) }),
	)
	return m
}

func (m *metrics) batch(entries, added int, d time.Duration) {
	if m == nil {
		return
	}
	m.batchEntries.Observe(float64(entries))
	m.newEntries.Add(float64(added))
	m.commit.Observe(d.Seconds())
}

func (m *metrics) pushback() {
	if m == nil {
		return
	}
	m.pushbacks.Inc()
}
