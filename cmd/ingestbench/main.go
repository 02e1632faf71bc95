// Command ingestbench measures how fast real evidence documents become
// logged evidence: `evident attest` (recognise each document, carry it byte
// for byte in a document attestation, sign it) and `evident submit` (bulk
// submission to a durable node), on the real documents of the shared corpus
// (../shared/testdata/evidence), cycled to -n documents, each about its own
// release.
//
// Beside the rates it measures, in the same run, the disk's fsync'd
// sequential write rate (1 MiB writes, each followed by fdatasync, as a
// ledger commit of that size is): the node cannot log faster than its disk
// takes durable bytes, so its ingest rate is printed as a fraction of that.
//
//	go run ./cmd/ingestbench            # make bench-ingest
//	go run ./cmd/ingestbench -n 5000 -corpus DIR
package main

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/evident-dev/evident/client"
	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/evidence/detect"
	"github.com/evident-dev/evident/server/servertest"
)

func main() {
	var (
		n       = flag.Int("n", 1000, "documents to attest and submit (the corpus is cycled)")
		corpus  = flag.String("corpus", filepath.Join("..", "shared", "testdata", "evidence"), "directory of evidence documents")
		diskMiB = flag.Int("disk-mib", 64, "MiB written to measure the disk's fsync'd write rate")
		dir     = flag.String("dir", "", "directory for the node's data and the disk test (default: temporary)")
	)
	flag.Parse()
	if err := run(*n, *corpus, *diskMiB, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "ingestbench:", err)
		os.Exit(1)
	}
}

type document struct {
	name string
	data []byte
	res  *detect.Result
}

func run(n int, corpus string, diskMiB int, dir string) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "ingestbench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	docs, skipped, err := loadCorpus(corpus)
	if err != nil {
		return err
	}
	fmt.Printf("corpus: %d documents from %s (%d attestations and unrecognised files left out)\n", len(docs), corpus, skipped)

	disk, err := diskRate(dir, diskMiB)
	if err != nil {
		return err
	}
	fmt.Printf("disk: %.1f MB/s fsync'd sequential writes (%d MiB in 1 MiB writes, fdatasync after each)\n", disk/1e6, diskMiB)

	// Attest, in parallel as evident attest does.
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		return err
	}
	envs := make([][]byte, n)
	var docBytes int64
	for i := range n {
		docBytes += int64(len(docs[i%len(docs)].data))
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				env, err := attest(docs[i%len(docs)], i, key)
				if err != nil {
					select {
					case errs <- err:
					default:
					}
					continue
				}
				envs[i] = env
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	attestTime := time.Since(start)
	select {
	case err := <-errs:
		return err
	default:
	}
	var envBytes int64
	for _, e := range envs {
		envBytes += int64(len(e))
	}
	fmt.Printf("attest: %d documents (%.1f MB) in %v: %.0f documents/s, %.1f MB/s of documents; envelopes %.1f MB (%.2fx the documents)\n",
		n, float64(docBytes)/1e6, attestTime.Round(time.Millisecond), float64(n)/attestTime.Seconds(), float64(docBytes)/1e6/attestTime.Seconds(),
		float64(envBytes)/1e6, float64(envBytes)/float64(docBytes))

	// Submit to a durable node in this process.
	trust, err := evidence.NewTrustedKeys([]evidence.TrustedKey{{PublicKey: key.Public(), Namespaces: []string{"pkg:generic/ingestbench"}}})
	if err != nil {
		return err
	}
	node, err := servertest.Start(servertest.Options{Dir: filepath.Join(dir, "node"), Sync: true, Trust: trust})
	if err != nil {
		return err
	}
	defer node.Close()
	c, err := client.New(node.URL, client.Options{Name: "bench", LogKey: node.VerifierKey})
	if err != nil {
		return err
	}
	ctx := context.Background()
	start = time.Now()
	var logged, refused int
	var mu sync.Mutex
	var firstRefusal error
	err = c.SubmitBulk(ctx, n, func(i int) ([]byte, error) { return envs[i], nil }, func(o client.BulkOutcome) {
		mu.Lock()
		defer mu.Unlock()
		if o.Err != nil {
			refused++
			if firstRefusal == nil {
				firstRefusal = o.Err
			}
			return
		}
		logged++
	}, client.BulkOptions{})
	submitTime := time.Since(start)
	if err != nil {
		return err
	}
	if refused > 0 {
		return fmt.Errorf("%d of %d envelopes were not logged; the first: %w", refused, n, firstRefusal)
	}
	ingest := float64(envBytes) / submitTime.Seconds()
	fmt.Printf("submit: %d envelopes (%.1f MB) in %v: %.0f documents/s, node ingest %.1f MB/s of envelopes = %.2f of the disk's fsync'd write rate\n",
		logged, float64(envBytes)/1e6, submitTime.Round(time.Millisecond), float64(logged)/submitTime.Seconds(), ingest/1e6, ingest/disk)
	fmt.Printf("attest + submit: %.0f documents/s, %.1f MB/s of documents\n",
		float64(n)/(attestTime+submitTime).Seconds(), float64(docBytes)/1e6/(attestTime+submitTime).Seconds())
	return nil
}

// loadCorpus reads every document of the corpus that attest recognises.
func loadCorpus(dir string) (docs []document, skipped int, err error) {
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.EqualFold(d.Name(), "SOURCES.md") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		r, err := detect.Detect(d.Name(), b)
		if err != nil {
			skipped++
			return nil
		}
		docs = append(docs, document{name: d.Name(), data: b, res: r})
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("couldn't read the corpus: %w", err)
	}
	if len(docs) == 0 {
		return nil, 0, fmt.Errorf("no documents in %s", dir)
	}
	slices.SortFunc(docs, func(a, b document) int { return strings.Compare(a.name, b.name) })
	return docs, skipped, nil
}

// attest does what evident attest does with one document: recognise it,
// carry it in a document attestation about release i, sign it.
func attest(d document, i int, key ed25519.PrivateKey) ([]byte, error) {
	r, err := detect.Detect(d.name, d.data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.name, err)
	}
	pred, err := r.Document(d.name, d.data).Predicate()
	if err != nil {
		return nil, err
	}
	artifact := sha256.Sum256(fmt.Appendf(nil, "artifact %d", i))
	st := &evidence.Statement{
		Type:          evidence.StatementTypeV1,
		Subject:       []evidence.Subject{{Name: fmt.Sprintf("pkg:generic/ingestbench/p%d@1.0.%d", i%97, i), Digest: map[string]string{"sha256": hex.EncodeToString(artifact[:])}}},
		PredicateType: evidence.PredicateDocument,
		Predicate:     pred,
	}
	payload, err := st.Marshal()
	if err != nil {
		return nil, err
	}
	env, err := evidence.Sign(evidence.PayloadTypeInToto, payload, key, "")
	if err != nil {
		return nil, err
	}
	return env.Marshal()
}

// diskRate measures sequential writes of 1 MiB, each made durable with
// fdatasync, in bytes per second.
func diskRate(dir string, mib int) (float64, error) {
	path := filepath.Join(dir, "disk-rate")
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer os.Remove(path)
	defer f.Close()
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	start := time.Now()
	for range mib {
		if _, err := f.Write(buf); err != nil {
			return 0, err
		}
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			return 0, errors.Join(errors.New("fdatasync"), err)
		}
	}
	return float64(mib<<20) / time.Since(start).Seconds(), nil
}
