// Command ledgerbench measures the ledger and prints the numbers the ledger
// is judged by: durable appends per second of 1 KiB entries from 64 and 1024
// concurrent goroutines (after raw bbolt group commits on the same disk, the
// baseline), inclusion and consistency proofs and full entry-bundle reads
// per second in a log of a million entries, the time to open a log of ten
// million entries, bytes on disk per entry, and peak RSS.
//
// Every append is durable (fsync per batch, deduplication on) unless
// -nosync is given. Logs are built in -dir (default a temporary directory,
// removed afterwards).
//
//	go run ./cmd/ledgerbench                       # everything (several minutes, ~2 GB disk)
//	go run ./cmd/ledgerbench -proof-size 100000 -open-size 0   # quicker
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/evident-dev/evident/ledger"
	"github.com/evident-dev/evident/tile"
	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"
)

func main() {
	dir := flag.String("dir", "", "directory for the logs (default: a temporary one, removed at exit)")
	appends := flag.Int("appends", 200000, "entries appended per concurrency level")
	conc := flag.String("concurrency", "64,1024", "comma-separated appender goroutine counts")
	entrySize := flag.Int("entry-size", 1024, "bytes per entry in the append and proof logs")
	proofSize := flag.Int("proof-size", 1000000, "entries in the log that proofs are measured on (0 to skip)")
	proofDur := flag.Duration("proof-time", 5*time.Second, "how long to measure each proof kind")
	openSize := flag.Int("open-size", 10000000, "entries in the log whose open time is measured (0 to skip); 128-byte entries")
	nosync := flag.Bool("nosync", false, "skip fsync (not durable: only to see the cost of fsync)")
	indexes := flag.Bool("indexes", false, "file each entry under secondary-index keys shaped like a node's (two distinct per entry, one shared)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	batchWait := flag.Duration("batch-wait", 0, "ledger MaxBatchWait: how long a batch waits for more entries once started")
	raw := flag.Bool("raw", true, "first measure raw bbolt group commits of the same entries on this disk, the baseline the append rates are judged against")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	log.SetFlags(0)

	if *dir == "" {
		d, err := os.MkdirTemp("", "ledgerbench")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	skey, _, err := note.GenerateKey(rand.Reader, "bench.example/log")
	if err != nil {
		log.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	fmt.Printf("ledgerbench: %d CPUs, %s/%s, %s, durable=%v\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), !*nosync)

	if *raw {
		for _, batch := range []int{256, 1024} {
			rate := rawBolt(filepath.Join(*dir, "raw.db"), batch, *appends, *entrySize, *nosync)
			fmt.Printf("raw bbolt, one goroutine, batches of %4d: %8.0f values/s (sequential keys, %d B values, no ledger)\n", batch, rate, *entrySize)
		}
	}

	var levels []int
	for _, s := range splitComma(*conc) {
		var n int
		fmt.Sscan(s, &n)
		if n > 0 {
			levels = append(levels, n)
		}
	}
	for _, g := range levels {
		path := filepath.Join(*dir, fmt.Sprintf("append-%d.db", g))
		reg := prometheus.NewRegistry()
		opts := ledger.Options{Signer: signer, NoSync: *nosync, MaxPending: 1 << 20, MaxBatchWait: *batchWait, Metrics: reg}
		if *indexes {
			opts.Index = nodeLikeIndex
		}
		l, err := ledger.Open(ctx, path, opts)
		if err != nil {
			log.Fatal(err)
		}
		rate, p50, p99 := appendLoad(ctx, l, g, *appends, *entrySize)
		l.Close()
		fi, _ := os.Stat(path)
		batches, batchMean, commitMean := batchStats(reg)
		fmt.Printf("append  %4d goroutines: %8.0f entries/s durable, latency p50 %v p99 %v, %d B on disk per %d B entry; %d batches of %.0f entries, %v per commit\n",
			g, rate, p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond), fi.Size()/int64(*appends), *entrySize,
			batches, batchMean, commitMean.Round(time.Microsecond))
		os.Remove(path)
	}

	if *proofSize > 0 {
		path := filepath.Join(*dir, "proofs.db")
		start := time.Now()
		l := build(ctx, path, signer, *proofSize, *entrySize)
		fi, _ := os.Stat(path)
		fmt.Printf("built a %d-entry log in %v: %.0f B on disk per entry (%d B entries)\n",
			*proofSize, time.Since(start).Round(time.Millisecond), float64(fi.Size())/float64(*proofSize), *entrySize)
		size := l.Size()
		n := proofLoad(*proofDur, func(r *mrand.Rand) error {
			_, err := l.InclusionProof(ctx, r.Uint64N(size), size)
			return err
		})
		fmt.Printf("inclusion proofs, %d-entry log: %8.0f /s (%d goroutines)\n", size, n, runtime.NumCPU())
		n = proofLoad(*proofDur, func(r *mrand.Rand) error {
			_, err := l.ConsistencyProof(ctx, 1+r.Uint64N(size-1), size)
			return err
		})
		fmt.Printf("consistency proofs, %d-entry log: %8.0f /s (%d goroutines)\n", size, n, runtime.NumCPU())
		if full := size / tile.FullWidth; full > 0 {
			n = proofLoad(*proofDur, func(r *mrand.Rand) error {
				_, err := l.EntryBundle(ctx, r.Uint64N(full), tile.FullWidth)
				return err
			})
			fmt.Printf("full entry bundles, %d-entry log: %8.0f /s (%d goroutines)\n", size, n, runtime.NumCPU())
		}
		l.Close()
		os.Remove(path)
	}

	if *openSize > 0 {
		path := filepath.Join(*dir, "open.db")
		start := time.Now()
		l := build(ctx, path, signer, *openSize, 128)
		l.Close()
		fmt.Printf("built a %d-entry log (128 B entries) in %v\n", *openSize, time.Since(start).Round(time.Millisecond))
		start = time.Now()
		l, err := ledger.Open(ctx, path, ledger.Options{Signer: signer})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("open a %d-entry log: %v\n", l.Size(), time.Since(start).Round(time.Microsecond))
		l.Close()
		os.Remove(path)
	}

	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("peak RSS: %d MiB\n", ru.Maxrss/1024)
}

// appendLoad appends total distinct entries from g goroutines, one entry per
// Append call, and returns entries per second and latency percentiles.
func appendLoad(ctx context.Context, l *ledger.Ledger, g, total, size int) (float64, time.Duration, time.Duration) {
	var next atomic.Int64
	lat := make([]time.Duration, total)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := make([]byte, size)
			rand.Read(e)
			binary.BigEndian.PutUint64(e[8:], uint64(w))
			for {
				i := next.Add(1) - 1
				if i >= int64(total) {
					return
				}
				binary.BigEndian.PutUint64(e, uint64(i))
				t := time.Now()
				if _, err := l.Append(ctx, [][]byte{e}); err != nil {
					log.Fatal(err)
				}
				lat[i] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	return float64(total) / el.Seconds(), percentile(lat, 50), percentile(lat, 99)
}

// build makes a log of n entries quickly (large batches, no fsync).
func build(ctx context.Context, path string, signer note.Signer, n, size int) *ledger.Ledger {
	l, err := ledger.Open(ctx, path, ledger.Options{Signer: signer, NoSync: true, MaxBatchSize: 8192, MaxPending: 1 << 20})
	if err != nil {
		log.Fatal(err)
	}
	const batch = 8192
	e := make([]byte, size*batch)
	rand.Read(e)
	for i := 0; i < n; i += batch {
		m := min(batch, n-i)
		es := make([][]byte, m)
		for j := range es {
			es[j] = e[j*size : (j+1)*size]
			binary.BigEndian.PutUint64(es[j], uint64(i+j))
		}
		if _, err := l.Append(ctx, es); err != nil {
			log.Fatal(err)
		}
	}
	return l
}

// proofLoad runs fn on every CPU for d and returns calls per second.
func proofLoad(d time.Duration, fn func(*mrand.Rand) error) float64 {
	var count atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	start := time.Now()
	for w := range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := mrand.New(mrand.NewPCG(uint64(w), 1))
			for time.Now().Before(stop) {
				for range 64 {
					if err := fn(r); err != nil {
						log.Fatal(err)
					}
				}
				count.Add(64)
			}
		}()
	}
	wg.Wait()
	return float64(count.Load()) / time.Since(start).Seconds()
}

func percentile(d []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), d...)
	sortDurations(s)
	return s[(len(s)-1)*p/100]
}

func sortDurations(s []time.Duration) { slices.Sort(s) }

// batchStats reads the ledger's own batch metrics: how many batches it
// committed, their mean size in entries and mean commit time.
func batchStats(reg *prometheus.Registry) (n uint64, meanEntries float64, meanCommit time.Duration) {
	mfs, err := reg.Gather()
	if err != nil {
		log.Fatal(err)
	}
	for _, mf := range mfs {
		if len(mf.GetMetric()) == 0 || mf.GetMetric()[0].GetHistogram() == nil {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		if h.GetSampleCount() == 0 {
			continue
		}
		switch mf.GetName() {
		case "evident_ledger_append_batch_entries":
			n = h.GetSampleCount()
			meanEntries = h.GetSampleSum() / float64(n)
		case "evident_ledger_commit_seconds":
			meanCommit = time.Duration(h.GetSampleSum() / float64(h.GetSampleCount()) * float64(time.Second))
		}
	}
	return n, meanEntries, meanCommit
}

// rawBolt measures what bbolt alone does on this disk: one goroutine
// committing batches of values under sequential keys, one transaction (and
// fsync) per batch, with bbolt's default options. No hashing, signing or
// deduplication: the ceiling the ledger is compared with.
func rawBolt(path string, batch, n, size int, nosync bool) float64 {
	defer os.Remove(path)
	db, err := bolt.Open(path, 0o600, &bolt.Options{NoSync: nosync})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	v := make([]byte, size)
	rand.Read(v)
	start := time.Now()
	for i := 0; i < n; i += batch {
		err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("raw"))
			if err != nil {
				return err
			}
			b.FillPercent = 1
			for j := i; j < min(i+batch, n); j++ {
				if err := b.Put(binary.BigEndian.AppendUint64(nil, uint64(j)), v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			log.Fatal(err)
		}
	}
	return float64(n) / time.Since(start).Seconds()
}

func splitComma(s string) []string { return strings.Split(s, ",") }

// nodeLikeIndex files an entry the way a node does: under its release and
// its artifact digest (distinct per entry, so inserts land on random pages)
// and its predicate type (shared, so they append).
func nodeLikeIndex(e []byte) ([]ledger.IndexKey, error) {
	h := sha256.Sum256(e)
	return []ledger.IndexKey{
		{Name: "release", Key: fmt.Appendf(nil, "pkg:pypi/p%x@1.0", h[:6])},
		{Name: "digest", Key: fmt.Appendf(nil, "sha256:%x", h)},
		{Name: "predicate", Key: []byte("https://spdx.dev/Document/v2.3")},
	}, nil
}
