package mirror_test

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/evident-dev/evident/mirror"
	"github.com/evident-dev/evident/mirror/mirrortest"
)

// BenchmarkMirrorSync measures a first sync of a log of N small (~20-byte)
// entries served over tlog-tiles on loopback (server/tiles over a ledger, in
// the same process): every tile and bundle fetched, verified up to the
// checkpoint's root and written to a fresh directory. It reports verified
// entries per second. Building the log is not measured.
//
// N is 1,000,000 unless EVIDENT_MIRROR_BENCH_N says otherwise; one sync of
// that size takes seconds, so run it with -benchtime 1x:
//
//	go test -run '^$' -bench MirrorSync -benchtime 1x ./mirror
//
// "fsync" syncs like a real mirror (one syncfs(2) every 256 bundles and at
// the end); "nofsync" sets Options.NoSync.
func BenchmarkMirrorSync(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("EVIDENT_MIRROR_BENCH_N"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			b.Fatalf("EVIDENT_MIRROR_BENCH_N=%q is not a positive number", s)
		}
		n = v
	}
	start := time.Now()
	lg := mirrortest.NewLog(b, "example.org/mirror-bench")
	lg.Grow(b, n)
	b.Logf("built a log of %d entries in %v", n, time.Since(start).Round(time.Millisecond))

	for _, durable := range []bool{false, true} {
		name := "nofsync"
		if durable {
			name = "fsync"
		}
		b.Run(fmt.Sprintf("%s/N=%d", name, n), func(b *testing.B) {
			var elapsed time.Duration
			var bytes int64
			for b.Loop() {
				b.StopTimer()
				dir := b.TempDir()
				opts := syncOpts(lg.Server.URL, dir, lg.LogKey)
				opts.NoSync = !durable
				b.StartTimer()
				t0 := time.Now()
				res, err := mirror.Sync(bg, opts)
				elapsed += time.Since(t0)
				if err != nil {
					b.Fatal(err)
				}
				if res.Size != uint64(n) || res.Entries != uint64(n) {
					b.Fatalf("Sync: size %d, %d entries; want %d", res.Size, res.Entries, n)
				}
				bytes += res.Bytes
			}
			b.ReportMetric(float64(n)*float64(b.N)/elapsed.Seconds(), "entries/s")
			b.ReportMetric(float64(bytes)/elapsed.Seconds()/1e6, "MB/s")
		})
	}
}
