package federation

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the federation's Prometheus metrics. A nil *metrics records
// nothing.
//
//	evident_misbehaviour_total{origin}          counter: proofs of log misbehaviour found
//	evident_push_errors_total{peer}             counter: failed add-checkpoint pushes
//	evident_gossip_errors_total{peer}           counter: failed gossip pulls
//	evident_publish_to_quorum_seconds           histogram: checkpoint signed -> every peer cosigned
type metrics struct {
	misbehaviours *prometheus.CounterVec
	pushErrors    *prometheus.CounterVec
	gossipErrors  *prometheus.CounterVec
	toQuorum      prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	if reg == nil {
		return nil
	}
	m := &metrics{
		misbehaviours: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "evident_misbehaviour_total",
			Help: "Proofs of log misbehaviour (forks, inconsistent checkpoints) found, by log origin.",
		}, []string{"origin"}),
		pushErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "evident_push_errors_total",
			Help: "Failed attempts to have a peer cosign this node's checkpoint.",
		}, []string{"peer"}),
		gossipErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "evident_gossip_errors_total",
			Help: "Failed gossip pulls from a peer.",
		}, []string{"peer"}),
		toQuorum: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "evident_publish_to_quorum_seconds",
			Help:    "Time from signing a checkpoint to holding every peer's cosignature on it.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
	}
	reg.MustRegister(m.misbehaviours, m.pushErrors, m.gossipErrors, m.toQuorum)
	return m
}

func (m *metrics) misbehaviour(origin string) {
	if m != nil {
		m.misbehaviours.WithLabelValues(origin).Inc()
	}
}

func (m *metrics) pushError(peer string) {
	if m != nil {
		m.pushErrors.WithLabelValues(peer).Inc()
	}
}

func (m *metrics) gossipError(peer string) {
	if m != nil {
		m.gossipErrors.WithLabelValues(peer).Inc()
	}
}

func (m *metrics) quorum(d time.Duration) {
	if m != nil {
		m.toQuorum.Observe(d.Seconds())
	}
}
