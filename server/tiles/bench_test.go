package tiles

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/evident-dev/evident/tile"
)

// BenchmarkTileRequests measures tlog-tiles requests served over HTTP/1.1 on
// loopback, from concurrent keep-alive clients, against a real ledger of
// 65,536+7 entries. It reports requests per second; ns/op is the inverse
// across all goroutines.
func BenchmarkTileRequests(b *testing.B) {
	tl := newTestLog(b)
	tl.grow(b, 65536+7)
	srv := httptest.NewServer(New(tl.l, Options{}))
	b.Cleanup(srv.Close)

	paths := func(f func(i int) tile.Tile) []string {
		var ps []string
		for i := range 256 {
			ps = append(ps, srv.URL+"/"+tile.PathFor(f(i)))
		}
		return ps
	}
	for _, bb := range []struct {
		name  string
		paths []string
		gzip  bool
	}{
		{"checkpoint", []string{srv.URL + "/checkpoint"}, false},
		{"tile/full", paths(func(i int) tile.Tile { return tile.Tile{N: uint64(i), Width: 256} }), false},
		{"tile/partial", paths(func(i int) tile.Tile { return tile.Tile{Level: 1, Width: i%255 + 1} }), false},
		{"entries/full", paths(func(i int) tile.Tile { return tile.Tile{Entries: true, N: uint64(i), Width: 256} }), false},
		{"entries/full-gzip", paths(func(i int) tile.Tile { return tile.Tile{Entries: true, N: uint64(i), Width: 256} }), true},
		{"notfound", paths(func(i int) tile.Tile { return tile.Tile{N: uint64(1000 + i), Width: 256} }), false},
	} {
		b.Run(bb.name, func(b *testing.B) {
			conns := 4 * runtime.GOMAXPROCS(0)
			c := &http.Client{Transport: &http.Transport{
				MaxIdleConns:        conns,
				MaxIdleConnsPerHost: conns,
				DisableCompression:  true, // the client asks itself, below
			}}
			b.Cleanup(c.CloseIdleConnections)
			b.SetParallelism(4)
			var next atomic.Uint64
			var bytes atomic.Int64
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := next.Add(7919) // spread goroutines over the paths
				var n int64
				for pb.Next() {
					i++
					req, _ := http.NewRequest("GET", bb.paths[i%uint64(len(bb.paths))], nil)
					if bb.gzip {
						req.Header.Set("Accept-Encoding", "gzip")
					}
					resp, err := c.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					m, _ := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					n += m
					if want := http.StatusOK; bb.name != "notfound" && resp.StatusCode != want {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
				bytes.Add(n)
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
			b.ReportMetric(float64(bytes.Load())/float64(b.N), "B/resp")
		})
	}
}
