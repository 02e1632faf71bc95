// Command checkbench measures `evident check` at a manufacturer's scale and
// prints the numbers issue 15 sets targets for:
//
//   - the time to fill three nodes' ledgers with -entries entries each,
//     written straight into the ledgers in large batches without fsync, then
//     served by three nodes on loopback that witness each other;
//   - a product SBOM (CycloneDX 1.6 JSON) of -components components, half
//     of them with evidence of four kinds (SBOM, VEX, and package-level
//     security policy and support period) spread over the nodes: the time
//     from reading the SBOM to a verified report (every checkpoint with its
//     witness quorum, every proof, every envelope signature), with clients
//     and nodes just started, nothing cached by an earlier check (target
//     < 5 s), and items verified per second;
//   - each node's BatchQuery latency p50/p99 for calls of 1000 components
//     with envelopes, as the check asks, and components answered per second
//     per node (target >= 20,000).
//
// The filler entries are entries whose envelopes are never fetched (no
// envelope is stored for them): they make the logs' trees, indexes and
// proofs as large as a million real items would, at the cost of writing
// entries only. The evidence for the SBOM's components is real: signed DSSE
// envelopes verified by the node's own verification and logged with their
// entries.
//
//	go run ./cmd/checkbench                        # 3 x 1,000,000 entries, 2,000 components
//	go run ./cmd/checkbench -entries 100000        # quicker
//	go run ./cmd/checkbench -dir /tmp/cb -keep     # keep the filled ledgers for another run (-reuse)
package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"syscall"
	"time"

	"connectrpc.com/connect"
	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/evident-dev/evident/check"
	"github.com/evident-dev/evident/client"
	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/ledger"
	"github.com/evident-dev/evident/ledger/evidentledger"
	"github.com/evident-dev/evident/policy"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/proto/evident/v1/evidentv1connect"
	"github.com/evident-dev/evident/server"
	"github.com/evident-dev/evident/server/servertest"
)

var names = []string{"apache", "eclipse", "python"}

var cpuProfile string

func main() {
	entries := flag.Int("entries", 1_000_000, "entries in each node's log")
	components := flag.Int("components", 2000, "components in the product SBOM; every other one has evidence")
	calls := flag.Int("calls", 20, "BatchQuery calls of 1000 components per node for the latency figures")
	dir := flag.String("dir", "", "where the nodes' data goes (default: a temporary directory, removed at the end)")
	keep := flag.Bool("keep", false, "keep -dir at the end")
	reuse := flag.Bool("reuse", false, "serve the ledgers already in -dir (made by an earlier run with the same -entries and -components)")
	cpuprofile := flag.String("cpuprofile", "", "write CPU profiles of the fill, check and batch phases to this file with .fill, .check and .batch appended")
	flag.Parse()
	log.SetFlags(0)
	cpuProfile = *cpuprofile
	if err := run(*dir, *entries, *components, *calls, *keep, *reuse); err != nil {
		log.Fatal(err)
	}
}

// releaseKey is the key a foundation's release managers sign with.
func releaseKey(i int) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(60 + i)}, ed25519.SeedSize))
}

func trust(i int) *evidence.TrustedSigners {
	t, err := evidence.NewTrustedKeys([]evidence.TrustedKey{{PublicKey: releaseKey(i).Public(), Namespaces: []string{"pkg:maven"}}})
	if err != nil {
		panic(err)
	}
	return t
}

func componentPurl(i int) string {
	return fmt.Sprintf("pkg:maven/org.example.lib%d/component-%d@1.%d.0", i, i, i%17)
}

func run(dir string, entries, components, calls int, keep, reuse bool) error {
	ctx := context.Background()
	if dir == "" {
		d, err := os.MkdirTemp("", "checkbench")
		if err != nil {
			return err
		}
		dir = d
	}
	if !keep {
		defer os.RemoveAll(dir)
	}
	fmt.Printf("checkbench: %d nodes x %d entries, SBOM of %d components (%d with evidence), GOMAXPROCS %d\n",
		len(names), entries, components, components/2, runtime.GOMAXPROCS(0))

	if !reuse {
		stop := profile("fill")
		cpu0 := cpuTime()
		start := time.Now()
		var wg sync.WaitGroup
		errs := make([]error, len(names))
		for i := range names {
			wg.Go(func() { errs[i] = fill(ctx, filepath.Join(dir, names[i]), i, entries, components) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		d := time.Since(start)
		cpu := cpuTime() - cpu0
		stop()
		fmt.Printf("fill: %d entries in %v (%.0f entries/s), straight into the ledgers, no fsync; CPU %v (%.1f µs per entry)\n",
			len(names)*entries, d.Round(time.Millisecond), float64(len(names)*entries)/d.Seconds(), cpu.Round(time.Millisecond), float64(cpu.Microseconds())/float64(len(names)*entries))
	}

	start := time.Now()
	fed, err := servertest.StartFederation(servertest.FederationOptions{
		Names: names, Dir: dir, GossipInterval: time.Second,
		Trust: func(name string) *evidence.TrustedSigners { return trust(slices.Index(names, name)) },
	})
	if err != nil {
		return err
	}
	defer fed.Close()
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := fed.WaitCosigned(wctx); err != nil {
		return err
	}
	fmt.Printf("serve: 3 nodes opened and cosigned each other's checkpoints in %v\n", time.Since(start).Round(time.Millisecond))

	pol, err := policy.Parse([]byte(fed.Policy))
	if err != nil {
		return err
	}
	newClients := func() ([]*client.Client, error) {
		var cls []*client.Client
		for _, m := range fed.Members {
			c, err := client.New(m.URL, client.Options{Name: m.Name, LogKey: m.Keys.VerifierKey, Policy: pol})
			if err != nil {
				return nil, err
			}
			cls = append(cls, c)
		}
		return cls, nil
	}
	sbomData, err := productSBOM(components)
	if err != nil {
		return err
	}

	// The check, cold: new clients and connections, nothing verified before.
	cls, err := newClients()
	if err != nil {
		return err
	}
	opts := check.Options{Nodes: cls, Requirements: &check.Requirements{Require: []string{"security-policy", "support-period", "vex"}}}
	for i := range names {
		opts.SignerKeys = append(opts.SignerKeys, releaseKey(i).Public())
	}
	stop := profile("check")
	cpu0 := cpuTime()
	start = time.Now()
	res, err := check.Run(ctx, sbomData, opts)
	if err != nil {
		return err
	}
	took := time.Since(start)
	cpu := cpuTime() - cpu0
	stop()
	s := res.Report.Summary
	verdict := "met"
	if took >= 5*time.Second {
		verdict = "NOT met"
	}
	fmt.Printf("check: verified report in %v (target < 5s: %s): %d components, %d with evidence, %d items verified, %d failed; %.0f items verified/s; report %s\n",
		took.Round(time.Millisecond), verdict, s.Components, s.WithEvidence, s.VerifiedItems, s.FailedItems, float64(s.VerifiedItems)/took.Seconds(), res.Report.Status)
	fmt.Printf("check: CPU %v, client and the 3 nodes together (%.0f%% of %d cores over the wall time)\n",
		cpu.Round(time.Millisecond), 100*cpu.Seconds()/took.Seconds()/float64(runtime.GOMAXPROCS(0)), runtime.GOMAXPROCS(0))
	if s.VerifiedItems != components/2*4 || s.FailedItems != 0 {
		return fmt.Errorf("the report has %d verified and %d failed items; want %d and 0", s.VerifiedItems, s.FailedItems, components/2*4)
	}
	for _, c := range cls {
		c.CloseIdleConnections()
	}

	// Each node's batch API: calls of 1000 components, as check makes them.
	var queries []*evidentv1.BatchQueryItem
	for i := range min(components, client.MaxBatchQueries) {
		queries = append(queries, &evidentv1.BatchQueryItem{Query: &evidentv1.BatchQueryItem_ReleasePurl{ReleasePurl: componentPurl(i)}})
	}
	defer profile("batch")()
	for _, m := range fed.Members {
		// On loopback, without compression: what the node costs.
		ev := evidentv1connect.NewEvidenceServiceClient(h2c(), m.URL, connect.WithReadMaxBytes(64<<20), connect.WithAcceptCompression("gzip", nil, nil))
		var lat []time.Duration
		items := 0
		cpu0 := cpuTime()
		for range calls {
			t0 := time.Now()
			n, err := batchCall(ctx, ev, queries)
			if err != nil {
				return fmt.Errorf("%s: %w", m.Name, err)
			}
			lat = append(lat, time.Since(t0))
			items = n
		}
		slices.Sort(lat)
		p50, p99 := lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)]
		rate := float64(len(queries)) / p50.Seconds()
		v := "met"
		if rate < 20000 {
			v = "NOT met"
		}
		cpu := (cpuTime() - cpu0) / time.Duration(calls)
		fmt.Printf("batch %s: %d components per call, %d items with envelopes: p50 %v p99 %v (%d calls); %.0f components/s per node at p50 (target >= 20000: %s); CPU per call %v, node and reading client (%.0f components per CPU-second)\n",
			m.Name, len(queries), items, p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond), calls, rate, v, cpu.Round(10*time.Microsecond), float64(len(queries))/cpu.Seconds())
	}
	return nil
}

func h2c() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Protocols = new(http.Protocols)
	t.Protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: t}
}

// batchCall makes one BatchQuery call with envelopes and reads the whole
// stream; it returns how many items came.
func batchCall(ctx context.Context, ev evidentv1connect.EvidenceServiceClient, queries []*evidentv1.BatchQueryItem) (int, error) {
	stream, err := ev.BatchQuery(ctx, connect.NewRequest(&evidentv1.BatchQueryRequest{Queries: queries, IncludeEnvelopes: true}))
	if err != nil {
		return 0, err
	}
	defer stream.Close()
	n := 0
	for stream.Receive() {
		n += len(stream.Msg().GetEvidence())
	}
	return n, stream.Err()
}

// productSBOM is a CycloneDX 1.6 JSON SBOM of n components.
func productSBOM(n int) ([]byte, error) {
	bom := cdx.NewBOM()
	bom.Metadata = &cdx.Metadata{Component: &cdx.Component{Type: cdx.ComponentTypeApplication, Name: "bench-product", Version: "1.0"}}
	cs := make([]cdx.Component, n)
	for i := range cs {
		sum := sha256.Sum256([]byte(componentPurl(i)))
		cs[i] = cdx.Component{Type: cdx.ComponentTypeLibrary, BOMRef: fmt.Sprint("c", i), Name: fmt.Sprint("component-", i),
			Version: fmt.Sprintf("1.%d.0", i%17), PackageURL: componentPurl(i),
			Hashes: &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: hex.EncodeToString(sum[:])}}}
	}
	bom.Components = &cs
	var b bytes.Buffer
	if err := cdx.NewBOMEncoder(&b, cdx.BOMFileFormatJSON).SetPretty(false).EncodeVersion(bom, cdx.SpecVersion1_6); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// fill writes entries entries into node i's ledger: the real evidence for
// the components node i holds (every other component, one in three of
// those per node), spread through filler entries.
func fill(ctx context.Context, dir string, node, entries, components int) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	k := servertest.KeysFor(names[node])
	l, err := ledger.Open(ctx, filepath.Join(dir, "ledger.db"), server.LedgerOptions(ledger.Options{
		Signer: k.Signer(), NoSync: true, MaxBatchSize: 1 << 16, MaxPending: 1 << 17, MaxBatchBytes: 256 << 20, MaxPendingBytes: 1 << 30,
		MaxBatchWait: -1,
	}))
	if err != nil {
		return err
	}
	defer l.Close()
	real, err := evidenceFor(node, components)
	if err != nil {
		return err
	}
	if len(real) > entries {
		return fmt.Errorf("%d evidence items do not fit %d entries", len(real), entries)
	}
	// One real entry every stride filler entries or so.
	stride := entries / (len(real) + 1)
	rng := rand.New(rand.NewChaCha8([32]byte{byte(node)}))
	template := real[0].entry
	const batch = 1 << 16
	var es, blobs [][]byte
	var keys [][]ledger.IndexKey
	flush := func() error {
		if len(es) == 0 {
			return nil
		}
		_, err := l.AppendIndexed(ctx, es, blobs, keys)
		es, blobs, keys = es[:0], blobs[:0], keys[:0]
		return err
	}
	r := 0
	for i := range entries {
		var e *evidence.Entry
		var blob []byte
		if r < len(real) && (i%(stride+1) == stride || entries-i == len(real)-r) {
			e, blob = real[r].entry, real[r].envelope
			r++
		} else {
			f := *template
			binary.LittleEndian.PutUint64(f.EnvelopeDigest[:], rng.Uint64())
			binary.LittleEndian.PutUint64(f.EnvelopeDigest[8:], rng.Uint64())
			binary.LittleEndian.PutUint64(f.EnvelopeDigest[16:], uint64(i))
			// Each filler entry has its own envelope and document, as
			// real ones do: none shares an index key it should not.
			f.Document.Digest = sha256.Sum256(f.EnvelopeDigest[:])
			f.Subjects = []evidence.EntrySubject{{Purl: fmt.Sprintf("pkg:maven/org.filler.n%d/filler-%d@1.0", node, i%2000),
				Digests: []evidence.Digest{{Alg: "sha256", Value: hex.EncodeToString(f.EnvelopeDigest[:])}}}}
			e = &f
		}
		es = append(es, e.Marshal())
		blobs = append(blobs, blob)
		keys = append(keys, evidentledger.Keys(e))
		if len(es) == batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if r != len(real) {
		return fmt.Errorf("logged %d of %d evidence items", r, len(real))
	}
	return nil
}

type logged struct {
	entry    *evidence.Entry
	envelope []byte
}

// evidenceFor makes, signs and verifies (as the node would) the evidence
// node holds: for every other component, one in three of them on this
// node, an SBOM and a VEX document about the release and a security policy
// and a support period about its package.
func evidenceFor(node, components int) ([]logged, error) {
	key := releaseKey(node)
	tp := trust(node)
	now := time.Now()
	var out []logged
	for i := 0; i < components; i += 2 {
		if (i/2)%len(names) != node {
			continue
		}
		purl := componentPurl(i)
		p, _ := evidence.ParsePurl(purl)
		sum := sha256.Sum256([]byte(purl))
		digest := hex.EncodeToString(sum[:])
		docs := []struct {
			subject, predicateType string
			predicate              any
		}{
			{purl, evidence.PredicateSPDX23, map[string]any{"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": purl, "packages": []any{}}},
			{purl, evidence.PredicateOpenVEX, map[string]any{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.org/vex/" + digest,
				"author": "bench", "timestamp": "2026-01-01T00:00:00Z", "version": 1,
				"statements": []any{map[string]any{"vulnerability": map[string]any{"name": fmt.Sprint("CVE-2026-", 1000+i)}, "products": []any{map[string]any{"@id": purl}}, "status": "not_affected", "justification": "component_not_present"}}}},
			{p.Package(), evidence.PredicateSecurityPolicy, map[string]any{"contact": "security@example.org", "policy": "https://example.org/security"}},
			{p.Package(), evidence.PredicateSupportPeriod, map[string]any{"1.x": map[string]any{"eol": "2031-12-31"}}},
		}
		for _, d := range docs {
			pred, err := json.Marshal(d.predicate)
			if err != nil {
				return nil, err
			}
			subjectDigest := digest
			if d.subject != purl {
				s := sha256.Sum256(pred)
				subjectDigest = hex.EncodeToString(s[:])
			}
			st, err := json.Marshal(map[string]any{"_type": evidence.StatementTypeV1, "predicateType": d.predicateType, "predicate": json.RawMessage(pred),
				"subject": []any{map[string]any{"name": d.subject, "digest": map[string]string{"sha256": subjectDigest}}}})
			if err != nil {
				return nil, err
			}
			env := servertest.Sign(key, evidence.PayloadTypeInToto, st)
			v, err := evidence.Verify(env, tp)
			if err != nil {
				return nil, fmt.Errorf("component %d: %w", i, err)
			}
			e, err := v.EntryAt(now)
			if err != nil {
				return nil, err
			}
			out = append(out, logged{e, env})
		}
	}
	return out, nil
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// profile starts a CPU profile of a phase, when -cpuprofile is set, and
// returns what stops it.
func profile(phase string) func() {
	if cpuProfile == "" {
		return func() {}
	}
	f, err := os.Create(cpuProfile + "." + phase)
	if err != nil {
		log.Printf("cpuprofile: %v", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		log.Printf("cpuprofile: %v", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
