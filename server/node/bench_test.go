package node

import (
	"slices"
	"testing"
	"time"
)

// BenchmarkPublishToQuorum measures, in a five-node loopback federation with
// durable storage, the time from a submission's checkpoint being published
// to node0 serving it cosigned by all four peers. It reports p50 and p99.
//
//	go test -run XXX -bench PublishToQuorum -benchtime 200x ./server/node/
func BenchmarkPublishToQuorum(b *testing.B) {
	h := startFederation(b, 5, time.Hour, true)
	var lat []time.Duration
	for i := 0; b.Loop(); i++ {
		idx := h.submit(0, "pkg:pypi/bench@1.0."+itoa(i))
		start := time.Now()
		for {
			got, size := h.cosigners(0)
			if size > idx && len(got) == 4 {
				break
			}
			time.Sleep(100 * time.Microsecond)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)-1)*99/100].Microseconds())/1000, "p99-ms")
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}
