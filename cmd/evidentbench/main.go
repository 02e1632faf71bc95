// Command evidentbench measures how fast a node logs evidence over gRPC, and
// prints the numbers a node is judged by:
//
//   - single Submit calls from -c concurrent clients: submissions/s and
//     p50/p99 latency per call;
//   - SubmitBatch calls of -b envelopes from -c concurrent clients:
//     submissions/s and p50/p99 latency per call;
//   - the machine's Ed25519 verification bound (ed25519.Verify of the
//     benchmark's own signatures on every core, measured right before and
//     after each submission phase), and the fraction of it each submission
//     mode achieves (targets: batch >= 50%, single >= 25%), also against the
//     best 0.5 s window of verifying the run saw;
//   - for each phase, how busy the CPUs were and the CPU time and bytes
//     allocated per submission, client and node together: which of the two
//     keeps a phase from its bound;
//   - the RPC stack's own bound: unary calls per second that do no work
//     (gRPC health Check) over the same connections, which every single
//     Submit pays for on top of its verification;
//   - single Submit calls again, open-loop at half the measured single peak
//     rate, and the p99 latency at that rate (target < 50 ms), measured from
//     when each call was due so that queueing counts;
//   - with -ceiling, Submit and SubmitBatch once more against a handler in
//     this process that only verifies and stores nothing (not a node), over
//     the same client and transport: the ceiling any node is under here.
//
// Every envelope is distinct (nothing is a duplicate), carries an in-toto
// statement with a ~1 KiB predicate, and is signed before anything is
// measured. By default the node runs in this process on a loopback port with
// its data in a temporary directory and fsync on (every acknowledged index
// durable), wired as evidentd wires it: h2c, the ledger opened with
// server.LedgerOptions. Client and node then share the CPUs and the heap; to
// measure a node in a process of its own, as deployed, run evidentd and
// point -addr at it with a key it trusts: its CPU, allocations and GCs come
// from its /metrics.
//
//	go run ./cmd/evidentbench                              # defaults for a 2-core machine, about a minute
//	go run ./cmd/evidentbench -n 5000 -paced-time 3s       # quicker
//	go run ./cmd/evidentbench -ceiling                     # and what a verify-only handler reaches
//	go run ./cmd/evidentbench -cpuprofile cpu.out          # profile each phase into cpu.out.single, .batch, .rpc and .paced
//	go tool pprof -top -cum cpu.out.batch
//	go run ./cmd/evidentbench -addr 127.0.0.1:7420 -key evident-data/submitter.key -purl pkg:generic/bench
package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/ledger"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/server/servertest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/experimental"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
)

func main() {
	var cfg config
	flag.StringVar(&cfg.addr, "addr", "", "host:port of a running node (h2c); default: start one in this process")
	flag.StringVar(&cfg.keyFile, "key", "", "PEM PKCS #8 Ed25519 submitter key the node trusts for -purl (with -addr); default: servertest's test key")
	flag.StringVar(&cfg.purl, "purl", "pkg:pypi/evidentbench", "package purl (no version) the envelopes are about")
	flag.IntVar(&cfg.n, "n", 20000, "envelopes per phase (single, batch, paced)")
	flag.IntVar(&cfg.c, "c", 64, "concurrent clients (goroutines)")
	flag.IntVar(&cfg.b, "b", 100, "envelopes per SubmitBatch call")
	flag.IntVar(&cfg.conns, "conns", 4, "gRPC connections the clients share")
	flag.IntVar(&cfg.predicate, "predicate-size", 1024, "bytes of predicate per statement")
	flag.DurationVar(&cfg.verifyTime, "verify-time", 2*time.Second, "how long to measure ed25519.Verify before, between and after the Submit and SubmitBatch phases")
	flag.DurationVar(&cfg.pacedTime, "paced-time", 5*time.Second, "how long to run the paced phase (bounded by -n)")
	flag.DurationVar(&cfg.phaseTimeout, "timeout", 90*time.Second, "deadline of each submission phase")
	flag.StringVar(&cfg.dir, "dir", "", "data directory of the in-process node (default: temporary, removed)")
	flag.BoolVar(&cfg.nosync, "nosync", false, "in-process node without fsync (not durable; to see what fsync costs)")
	flag.DurationVar(&cfg.cpInterval, "checkpoint-interval", 0, "in-process node's ledger CheckpointInterval (0: a checkpoint per batch)")
	flag.DurationVar(&cfg.batchWait, "batch-wait", 0, "in-process node's ledger MaxBatchWait (0: the node's default)")
	flag.BoolVar(&cfg.ceiling, "ceiling", false, "then measure a handler that only verifies (stores nothing; not a node) over the same client and transport: the most any node could reach here")
	flag.StringVar(&cfg.memprofile, "memprofile", "", "write a profile of the allocations made during the run (all phases) to this path")
	flag.StringVar(&cfg.cpuprofile, "cpuprofile", "", "write CPU profiles of the Submit, SubmitBatch, health Check and paced phases to this path + .single, .batch, .rpc and .paced (and .ceiling-single, .ceiling-batch)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("evidentbench: ")
	if err := run(context.Background(), cfg, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

type config struct {
	addr, keyFile, purl    string
	n, c, b, conns         int
	predicate              int
	verifyTime, pacedTime  time.Duration
	phaseTimeout           time.Duration
	dir                    string
	nosync                 bool
	cpInterval             time.Duration
	cpuprofile, memprofile string
	ceiling                bool
	batchWait              time.Duration
}

func run(ctx context.Context, cfg config, out io.Writer) error {
	if cfg.n < 1 || cfg.c < 1 || cfg.b < 1 || cfg.conns < 1 {
		return errors.New("-n, -c, -b and -conns must be positive")
	}
	key := servertest.KeyPyPIMaven
	if cfg.keyFile != "" {
		b, err := os.ReadFile(cfg.keyFile)
		if err != nil {
			return err
		}
		if key, err = evidence.ParsePrivateKey(b); err != nil {
			return err
		}
	}

	addr, baseURL := cfg.addr, "http://"+cfg.addr
	where := "node at " + addr
	if addr == "" {
		n, err := servertest.Start(servertest.Options{Dir: cfg.dir, Sync: !cfg.nosync, Ledger: func(o *ledger.Options) {
			o.CheckpointInterval = cfg.cpInterval
			if cfg.batchWait != 0 {
				o.MaxBatchWait = cfg.batchWait
			}
		}})
		if err != nil {
			return fmt.Errorf("couldn't start a node: %w", err)
		}
		defer n.Close()
		addr, baseURL = n.Addr, n.URL
		where = fmt.Sprintf("node in this process at %s, fsync on", addr)
		if cfg.nosync {
			where = fmt.Sprintf("node in this process at %s, fsync OFF (not durable)", addr)
		}
	}
	fmt.Fprintf(out, "evidentbench: %d CPUs, %s/%s, %s, load average %s; %s\n",
		runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), loadAverage(), where)

	// grpc-go's default buffer pool jumps from 32 KiB to 1 MiB and clears
	// a pooled buffer whole before use: every 200 KB SubmitBatch request,
	// and every 40 KB answer, cleared 1 MiB, some 3 µs of the client's CPU
	// per envelope on these machines, taken from the node beside it. Tiers
	// up to 256 KiB fit them.
	pool, err := mem.NewBinaryTieredBufferPool(8, 12, 14, 15, 16, 17, 18, 20)
	if err != nil {
		return err
	}
	clients, closeClients, err := dial(addr, cfg.conns, pool)
	if err != nil {
		return err
	}
	defer closeClients()

	// Sign everything before measuring anything.
	start := time.Now()
	runID := make([]byte, 6)
	rand.Read(runID)
	sets, err := signEnvelopes(key, cfg.purl, hex.EncodeToString(runID), 3, cfg.n, cfg.predicate)
	if err != nil {
		return err
	}
	single, batch, paced := sets[0], sets[1], sets[2]
	fmt.Fprintf(out, "signed %d distinct envelopes of %d bytes (%d-byte predicate) in %v, before measuring\n",
		3*cfg.n, len(single[0]), cfg.predicate, time.Since(start).Round(time.Millisecond))

	profile := func(phase string) (func(), error) { return startProfile(cfg, phase) }

	// The bound right before and after each phase: on a shared or
	// throttled machine it drifts by tens of percent within a minute, so
	// each phase is held to the faster of the spans either side of it (a
	// span's average rate, not its best moment; the faster, so that a dip
	// after a phase does not flatter it).
	msgs, sigs, err := verifyWork(single)
	if err != nil {
		return err
	}
	pub := key.Public().(ed25519.PublicKey)
	bound0 := verifyBound(pub, msgs, sigs, cfg.verifyTime)

	stop, err := profile("single")
	if err != nil {
		return err
	}
	m0 := scrapeNode(baseURL)
	s := submitLoad(ctx, cfg, clients, single, 1, nil)
	m1 := scrapeNode(baseURL)
	stop()
	s.addNode(m1.sub(m0))
	s.print(out, fmt.Sprintf("Submit, %d clients", cfg.c), m1.sub(m0))
	if s.ok == 0 {
		return errors.New("no submission succeeded")
	}
	bound1 := verifyBound(pub, msgs, sigs, cfg.verifyTime)

	if stop, err = profile("batch"); err != nil {
		return err
	}
	m1 = scrapeNode(baseURL) // again: the node's process ran on meanwhile
	b := submitLoad(ctx, cfg, clients, batch, cfg.b, nil)
	m2 := scrapeNode(baseURL)
	stop()
	b.addNode(m2.sub(m1))
	b.print(out, fmt.Sprintf("SubmitBatch of %d, %d clients", cfg.b, cfg.c), m2.sub(m1))
	bound2 := verifyBound(pub, msgs, sigs, cfg.verifyTime)

	singleBound, batchBound := max(bound0.mean, bound1.mean), max(bound1.mean, bound2.mean)
	best := max(bound0.best, bound1.best, bound2.best)
	fmt.Fprintf(out, "ed25519.Verify of this run's envelopes (%d distinct signatures, %d-byte messages), %d goroutines, %v before Submit, between the phases and after SubmitBatch: %.0f, %.0f and %.0f verifications/s (best 0.5s windows %.0f, %.0f and %.0f)\n",
		len(msgs), len(msgs[0]), runtime.GOMAXPROCS(0), cfg.verifyTime, bound0.mean, bound1.mean, bound2.mean, bound0.best, bound1.best, bound2.best)
	fmt.Fprintf(out, "fraction of the verification bound (the faster span either side of each phase: %.0f/s and %.0f/s, %.0f µs of CPU each): single %.1f%% (target >= 25%%), batch %.1f%% (target >= 50%%)\n",
		singleBound, batchBound, 1e6*float64(cores())/batchBound, 100*s.rate()/singleBound, 100*b.rate()/batchBound)
	fmt.Fprintf(out, "  against the best 0.5s window of the run instead (%.0f/s): single %.1f%%, batch %.1f%%\n",
		best, 100*s.rate()/best, 100*b.rate()/best)
	// The same fractions split in two, to show which to work on: how busy
	// the phase kept the cores, and how many verifications' worth of CPU a
	// submission cost (fraction = busy / cost).
	if (s.inProcess || s.nodeAdded) && s.cpu > 0 && s.ok > 0 && b.ok > 0 {
		// A verification takes cores/bound seconds of CPU.
		cost := func(r *result, bound float64) float64 { return r.cpuPer() * bound / float64(cores()) }
		fmt.Fprintf(out, "  in CPU: a single Submit costs %.2f verifications (25%% at its %.0f%% busy needs <= %.2f), a batched one %.2f (50%% at %.0f%% busy needs <= %.2f)\n",
			cost(s, singleBound), 100*s.busy(), 4*s.busy(), cost(b, batchBound), 100*b.busy(), 2*b.busy())
	}
	if stop, err = profile("rpc"); err != nil {
		return err
	}
	rpcs := rpcBound(ctx, clients, cfg.c, 2*time.Second)
	stop()
	fmt.Fprintf(out, "gRPC health Check (no work), %d clients, same connections: %.0f calls/s, the most unary calls this client and node stack carry here; single Submit reached %.1f%% of it\n",
		cfg.c, rpcs, 100*s.rate()/rpcs)

	rate := s.rate() / 2
	count := min(len(paced), int(rate*cfg.pacedTime.Seconds()))
	if stop, err = profile("paced"); err != nil {
		return err
	}
	m2 = scrapeNode(baseURL) // again: the RPC bound ran on the node meanwhile
	p := submitLoad(ctx, cfg, clients, paced[:max(count, 1)], 1, &rate)
	m3 := scrapeNode(baseURL)
	stop()
	p.addNode(m3.sub(m2))
	p.print(out, fmt.Sprintf("Submit paced at %.0f/s (half the single peak), open loop", rate), m3.sub(m2))
	if cfg.memprofile != "" {
		f, err := os.Create(cfg.memprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			return err
		}
	}
	verdict := "met"
	if p.percentile(99) >= 50*time.Millisecond {
		verdict = "MISSED"
	}
	fmt.Fprintf(out, "p99 at half the single peak: %v (target < 50ms: %s)\n", p.percentile(99).Round(10*time.Microsecond), verdict)
	if cfg.ceiling {
		return runCeiling(ctx, cfg, out, pool, pub, msgs, sigs, single, batch)
	}
	return nil
}

// startProfile profiles one phase into cfg.cpuprofile + "." + phase.
func startProfile(cfg config, phase string) (stop func(), err error) {
	if cfg.cpuprofile == "" {
		return func() {}, nil
	}
	f, err := os.Create(cfg.cpuprofile + "." + phase)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// client is one of the load's connections, for both services it calls.
type client struct {
	evidentv1.EvidenceServiceClient
	health healthpb.HealthClient
}

// dial opens n gRPC connections to addr, as a real fleet of submitters
// would spread over HTTP/2 connections, for the clients to share.
func dial(addr string, n int, pool mem.BufferPool) ([]client, func(), error) {
	var conns []*grpc.ClientConn
	closeAll := func() {
		for _, cc := range conns {
			cc.Close()
		}
	}
	clients := make([]client, n)
	for i := range clients {
		cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()), experimental.WithBufferPool(pool))
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		conns = append(conns, cc)
		clients[i] = client{evidentv1.NewEvidenceServiceClient(cc), healthpb.NewHealthClient(cc)}
	}
	return clients, closeAll, nil
}

// signEnvelopes returns sets of n distinct signed envelopes each, about
// releases of purl, signed on every core.
func signEnvelopes(key ed25519.PrivateKey, purl, runID string, sets, n, predicateSize int) ([][][]byte, error) {
	filler := make([]byte, predicateSize/2)
	rand.Read(filler)
	note := hex.EncodeToString(filler)
	out := make([][][]byte, sets)
	for i := range out {
		out[i] = make([][]byte, n)
	}
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				k := int(next.Add(1) - 1)
				if k >= sets*n {
					return
				}
				set, i := k/n, k%n
				version := fmt.Sprintf("%d.%d.0-%s", set, i, runID)
				pred, _ := json.Marshal(map[string]string{"note": note, "release": version})
				st := &evidence.Statement{
					Type: evidence.StatementTypeV1,
					Subject: []evidence.Subject{{
						Name:   purl + "@" + version,
						Digest: map[string]string{"sha256": servertest.Digest(runID + "/" + version)},
					}},
					PredicateType: evidence.PredicateSPDX23,
					Predicate:     pred,
				}
				payload, err := st.Marshal()
				if err == nil {
					var env *evidence.Envelope
					if env, err = evidence.Sign(evidence.PayloadTypeInToto, payload, key, ""); err == nil {
						out[set][i], err = env.Marshal()
					}
				}
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("couldn't make envelope %d: %w", k, err) })
					return
				}
			}
		})
	}
	wg.Wait()
	return out, firstErr
}

// cores returns how many cores this process can keep busy: GOMAXPROCS, or
// the CPUs if there are fewer.
func cores() int { return min(runtime.GOMAXPROCS(0), runtime.NumCPU()) }

// verifyWork returns what a node verifies for each of envs (at most 4096 of
// them): the DSSE pre-authentication encoding of its payload, and its
// signature.
func verifyWork(envs [][]byte) (msgs, sigs [][]byte, err error) {
	for _, b := range envs[:min(len(envs), 4096)] {
		e, err := evidence.ParseEnvelope(b)
		if err != nil {
			return nil, nil, err
		}
		msgs = append(msgs, evidence.PAE(e.PayloadType, e.Payload))
		sigs = append(sigs, e.Signatures[0].Sig)
	}
	return msgs, sigs, nil
}

// verifyRate is how fast the machine ran ed25519.Verify over one span: on
// average (what a phase of the same length can expect) and in its best
// 0.5 s window (what it can do when nothing else takes a core).
type verifyRate struct{ mean, best float64 }

// verifyBound runs ed25519.Verify on every core for d, over the signatures
// a node verifies in the run (distinct ones, in turn: one signature
// verified again and again lets the branch predictor learn its scalars, and
// runs about 5% faster than the node ever does), and returns the rate: the
// most submissions per second a node on this machine could accept if
// verifying were all it did.
func verifyBound(pub ed25519.PublicKey, msgs, sigs [][]byte, d time.Duration) verifyRate {
	const window = 500 * time.Millisecond
	var r verifyRate
	var all int64
	begin := time.Now()
	for end := begin.Add(d); time.Now().Before(end); {
		var total atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		deadline := start.Add(window)
		for g := range runtime.GOMAXPROCS(0) {
			wg.Go(func() {
				n := int64(0)
				for i := g * len(msgs) / 2; time.Now().Before(deadline); {
					for range 16 {
						k := i % len(msgs)
						if !ed25519.Verify(pub, msgs[k], sigs[k]) {
							panic("ed25519.Verify failed on a benchmark envelope")
						}
						i++
					}
					n += 16
				}
				total.Add(n)
			})
		}
		wg.Wait()
		all += total.Load()
		r.best = max(r.best, float64(total.Load())/time.Since(start).Seconds())
	}
	r.mean = float64(all) / time.Since(begin).Seconds()
	return r
}

// rpcBound returns how many unary calls per second c clients complete over
// conns when the call does no work at all (gRPC health Check): the cost of
// the RPC stack itself, client and node, which every single Submit pays on
// top of its verification.
func rpcBound(ctx context.Context, clients []client, c int, d time.Duration) float64 {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var calls atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := range c {
		hc := clients[i%len(clients)].health
		wg.Go(func() {
			for ctx.Err() == nil {
				if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err == nil {
					calls.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return float64(calls.Load()) / time.Since(start).Seconds()
}

// result is the outcome of one submission phase.
type result struct {
	inProcess bool // the node runs in this process, so cpu, alloc and gcs count it too
	// nodeAdded: the node runs apart (-addr), and its CPU, allocations and
	// GCs from its /metrics are added in (addNode).
	nodeAdded bool
	cpu       time.Duration // this process's CPU time (user and system) during the phase
	alloc     uint64        // bytes this process allocated during the phase
	gcs       uint32        // garbage collections during the phase
	envelopes int
	ok        int // envelopes logged as new
	dups      int // envelopes answered as duplicates: there should be none
	errs      map[string]int
	lat       []time.Duration // per call
	elapsed   time.Duration
}

func (r *result) rate() float64 { return float64(r.ok) / r.elapsed.Seconds() }

// addNode adds what the node used during the phase, m, to r's CPU,
// allocations and GCs, if the node runs in a process of its own that says.
// Its CPU time has the resolution of the system's clock ticks (10 ms).
func (r *result) addNode(m nodeStats) {
	if r.inProcess || m.cpuSeconds <= 0 {
		return
	}
	r.cpu += time.Duration(m.cpuSeconds * float64(time.Second))
	r.alloc += uint64(m.allocBytes)
	r.gcs += uint32(m.gcs)
	r.nodeAdded = true
}

// cpuPer returns the CPU seconds, client and node, per submission logged.
func (r *result) cpuPer() float64 { return r.cpu.Seconds() / float64(r.ok) }

// busy returns the share of the cores the phase kept busy.
func (r *result) busy() float64 {
	return r.cpu.Seconds() / r.elapsed.Seconds() / float64(cores())
}

func (r *result) percentile(p int) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	s := slices.Clone(r.lat)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

func (r *result) print(out io.Writer, what string, m nodeStats) {
	fmt.Fprintf(out, "%s: %d envelopes in %v: %.0f submissions/s; per call p50 %v p99 %v (%d calls)\n",
		what, r.envelopes, r.elapsed.Round(time.Millisecond), r.rate(),
		r.percentile(50).Round(10*time.Microsecond), r.percentile(99).Round(10*time.Microsecond), len(r.lat))
	if r.cpu > 0 && r.ok > 0 {
		// Which is short of the bound: CPU not kept busy, or CPU spent
		// per submission.
		who := "client and node"
		switch {
		case r.nodeAdded:
			who = "this client, and the node at -addr from its /metrics"
		case !r.inProcess:
			who = "this client only: the node at -addr does not say"
		}
		fmt.Fprintf(out, "  CPU: %.0f%% of %d cores busy, %.0f µs per logged submission; %.1f KiB allocated per logged submission, %d GCs (%s)\n",
			100*r.busy(), cores(), 1e6*r.cpuPer(), float64(r.alloc)/1024/float64(r.ok), r.gcs, who)
	}
	if m.batches > 0 {
		fmt.Fprintf(out, "  ledger: %.0f commits, %.1f entries per commit, %.2f ms per commit (fsync included)",
			m.batches, m.entries/m.batches, 1000*m.commitSeconds/m.batches)
		fmt.Fprintln(out)
	}
	if r.dups > 0 || len(r.errs) > 0 {
		fmt.Fprintf(out, "  not logged as new: %d duplicates, errors %v\n", r.dups, r.errs)
	}
}

// submitLoad submits envs from cfg.c goroutines, per envelopes per call
// (Submit when per is 1, else SubmitBatch). With a rate it is open loop:
// call i is due at start + i/rate, and its latency counts from then.
func submitLoad(ctx context.Context, cfg config, clients []client, envs [][]byte, per int, rate *float64) *result {
	ctx, cancel := context.WithTimeout(ctx, cfg.phaseTimeout)
	defer cancel()
	calls := (len(envs) + per - 1) / per
	lat := make([]time.Duration, calls)
	done := make([]bool, calls)
	var mu sync.Mutex
	r := &result{envelopes: len(envs), errs: map[string]int{}, inProcess: cfg.addr == ""}
	fail := func(err error, n int) {
		mu.Lock()
		defer mu.Unlock()
		r.errs[status.Code(err).String()] += n
	}

	// Start from a collected heap, as testing.B does: the garbage the
	// previous phase left (hundreds of megabytes after SubmitBatch) is not
	// this phase's cost, and its collection, landing in this phase's first
	// second, showed as a latency spike at the start of the paced phase.
	runtime.GC()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0 := processCPU()
	start := time.Now()
	due := func(i int) time.Time { return start }
	work := make(chan int, calls)
	if rate == nil {
		for i := range calls {
			work <- i
		}
		close(work)
	} else {
		interval := time.Duration(float64(time.Second) / *rate)
		due = func(i int) time.Time { return start.Add(time.Duration(i) * interval) }
		go func() {
			defer close(work)
			for i := range calls {
				if d := time.Until(due(i)); d > 0 {
					select {
					case <-time.After(d):
					case <-ctx.Done():
						return
					}
				}
				work <- i
			}
		}()
	}

	var wg sync.WaitGroup
	for g := range cfg.c {
		c := clients[g%len(clients)]
		wg.Go(func() {
			ok, dups := 0, 0
			for i := range work {
				if ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				if rate != nil {
					t0 = due(i)
				}
				chunk := envs[i*per : min((i+1)*per, len(envs))]
				if per == 1 {
					res, err := c.Submit(ctx, &evidentv1.SubmitRequest{Envelope: chunk[0]})
					if err != nil {
						fail(err, 1)
						continue
					}
					if res.GetResult().GetDuplicate() {
						dups++
					} else {
						ok++
					}
				} else {
					res, err := c.SubmitBatch(ctx, &evidentv1.SubmitBatchRequest{Envelopes: chunk})
					if err != nil {
						fail(err, len(chunk))
						continue
					}
					for _, it := range res.GetResults() {
						switch {
						case it.GetError() != nil:
							fail(status.Error(codes.Code(it.GetError().GetCode()), ""), 1)
						case it.GetResult().GetDuplicate():
							dups++
						default:
							ok++
						}
					}
				}
				lat[i], done[i] = time.Since(t0), true
			}
			mu.Lock()
			r.ok += ok
			r.dups += dups
			mu.Unlock()
		})
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	if cpu0 > 0 {
		r.cpu = processCPU() - cpu0
	}
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	r.alloc, r.gcs = ms1.TotalAlloc-ms0.TotalAlloc, ms1.NumGC-ms0.NumGC
	for i, d := range done {
		if d {
			r.lat = append(r.lat, lat[i])
		}
	}
	if ctx.Err() != nil {
		r.errs["phase timed out"] = calls - len(r.lat)
	}
	return r
}

// nodeStats are the node's group-commit counters, and its process's CPU
// time, bytes allocated and GCs, from its /metrics.
type nodeStats struct {
	batches, entries, commitSeconds float64
	cpuSeconds, allocBytes, gcs     float64
}

func (a nodeStats) sub(b nodeStats) nodeStats {
	return nodeStats{a.batches - b.batches, a.entries - b.entries, a.commitSeconds - b.commitSeconds,
		a.cpuSeconds - b.cpuSeconds, a.allocBytes - b.allocBytes, a.gcs - b.gcs}
}

// scrapeNode reads the ledger's commit histograms and the process
// collectors from the node's /metrics; zero if it can't.
func scrapeNode(baseURL string) nodeStats {
	var s nodeStats
	res, err := http.Get(baseURL + "/metrics")
	if err != nil {
		return s
	}
	defer res.Body.Close()
	fields := map[string]*float64{
		"evident_ledger_append_batch_entries_count": &s.batches,
		"evident_ledger_append_batch_entries_sum":   &s.entries,
		"evident_ledger_commit_seconds_sum":         &s.commitSeconds,
		"process_cpu_seconds_total":                 &s.cpuSeconds,
		"go_memstats_alloc_bytes_total":             &s.allocBytes,
		"go_gc_duration_seconds_count":              &s.gcs,
	}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			continue
		}
		if field := fields[name]; field != nil {
			*field = f
		}
	}
	return s
}

// loadAverage returns the 1-minute load average, or "?" off Linux: numbers
// taken on a busy machine are not the machine's.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// processCPU is the CPU time (user and system) this process has used so far,
// or 0 where the system does not say.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
