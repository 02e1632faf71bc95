// Command webbench measures the web explorer (server/web) and prints the
// numbers its issue set:
//
//   - page speed: a release page with -items items (default 500) opened in
//     headless Chromium, -views times, each a fresh page load, timed with
//     the browser's performance timing from navigation start. The page
//     loads the items 50, then 100 at a time, showing and verifying each
//     page as it comes. "Usable" is the mark the page sets when the first
//     50 items (more than a screen holds) are shown, the browser has
//     verified their checkpoint's signature and cosignatures and each of
//     their inclusion proofs, and it has painted the result. The time when
//     all items are shown, verified and painted is printed too. Target:
//     usable in under 1 s. The CPU time Chromium (all its processes) and
//     the node spent until usable is printed beside it: on a machine
//     other work keeps busy, it moves far less than the wall time.
//   - the node's answers to the pages' API calls, open-loop at -rate
//     requests/s (default 200) for -duration: the calls a visitor's pages
//     make, in turn (the page and a script, /api/v1/log, /api/v1/growth,
//     /api/v1/misbehaviour, QueryEvidence of a 10-item release, GetEvidence,
//     GetDocument, and QueryEvidence of 100 items of the -items release, as
//     its page asks for them), latency
//     measured from when each request was due so that queueing counts.
//     Target: p99 under 50 ms. GET /checkpoint, the cheapest thing the node
//     serves, runs in the same rotation as the baseline. The CPU time per
//     request (node and load tool, one process) says how many of the cores
//     the rate takes, whatever the latencies of a run on a busy machine.
//
// The node runs in this process (servertest: a whole node as evidentd
// assembles it, on loopback, without fsync: the benchmark only reads), so
// the load tool and the node share the CPUs. Chromium is Debian's
// (apt-get install chromium); without it the page-speed part is skipped.
//
//	go run ./cmd/webbench
//	go run ./cmd/webbench -rate 100 -duration 10s -views 3
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"connectrpc.com/connect"
	"github.com/chromedp/chromedp"
	"github.com/evident-dev/evident/evidence"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/proto/evident/v1/evidentv1connect"
	"github.com/evident-dev/evident/server/servertest"
)

var (
	items    = flag.Int("items", 500, "items logged about the release whose page is timed")
	views    = flag.Int("views", 5, "page loads timed in Chromium")
	rate     = flag.Int("rate", 200, "API requests per second, open-loop")
	duration = flag.Duration("duration", 20*time.Second, "how long the API load runs")
	chromium = flag.String("chromium", "", "Chromium binary (default: chromium on $PATH)")
)

const (
	bigRelease   = "pkg:pypi/bench@1.0.0"
	smallRelease = "pkg:pypi/bench-small@1.0.0"
)

func main() {
	flag.Parse()
	log.SetFlags(0)
	n, err := servertest.Start(servertest.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer n.Close()
	docs := seed(n.URL)
	fmt.Printf("node %s: %d items about %s, 10 about %s\n", n.URL, *items, bigRelease, smallRelease)
	pageSpeed(n.URL)
	load(n.URL, docs)
}

// seed logs the releases' evidence in batches and returns the document
// digests logged.
func seed(url string) [][]byte {
	c := evidentv1connect.NewEvidenceServiceClient(http.DefaultClient, url)
	key := servertest.KeyPyPIMaven
	var envs [][]byte
	add := func(purl string, i int) {
		switch i % 3 {
		case 0:
			d := evidence.Document{FileName: "bom.cdx.json", MediaType: "application/vnd.cyclonedx+json",
				Content:      fmt.Appendf(nil, `{"bomFormat":"CycloneDX","specVersion":"1.6","version":%d,"components":[{"type":"library","name":"dep%d","version":"1.0.0"}]}`, i+1, i),
				DocumentType: "https://cyclonedx.org/bom/v1.6", Kind: evidence.KindSBOM, Format: "CycloneDX 1.6 JSON", Title: fmt.Sprintf("SBOM %d of %s", i, purl)}
			pred, err := d.Predicate()
			if err != nil {
				log.Fatal(err)
			}
			envs = append(envs, servertest.Envelope(key, purl, servertest.Digest(fmt.Sprint(purl, i)), evidence.PredicateDocument, pred))
		case 1:
			envs = append(envs, servertest.Envelope(key, purl, servertest.Digest(fmt.Sprint(purl, i)), evidence.PredicateOpenVEX,
				fmt.Appendf(nil, `{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://example.org/vex/%d","author":"bench","timestamp":"2026-01-01T00:00:00Z","version":1,"statements":[{"vulnerability":{"name":"CVE-2026-%04d"},"products":[{"@id":"%s"}],"status":"not_affected","justification":"vulnerable_code_not_present"}]}`, i, i, purl)))
		default:
			envs = append(envs, servertest.Envelope(key, purl, servertest.Digest(fmt.Sprint(purl, i)), evidence.PredicateSLSAProvenance,
				fmt.Appendf(nil, `{"buildDefinition":{"buildType":"https://example.org/build/v1","externalParameters":{"n":%d}},"runDetails":{"builder":{"id":"https://ci.example.org"}}}`, i)))
		}
	}
	for i := range *items {
		add(bigRelease, i)
	}
	for i := range 10 {
		add(smallRelease, i)
	}
	var digests [][]byte
	for len(envs) > 0 {
		k := min(100, len(envs))
		res, err := c.SubmitBatch(context.Background(), connect.NewRequest(&evidentv1.SubmitBatchRequest{Envelopes: envs[:k], WaitForCheckpoint: true}))
		if err != nil {
			log.Fatal(err)
		}
		for _, r := range res.Msg.GetResults() {
			if r.GetError() != nil {
				log.Fatalf("seeding: %v", r.GetError())
			}
			e, err := evidence.ParseEntry(r.GetResult().GetEntry())
			if err != nil {
				log.Fatal(err)
			}
			digests = append(digests, e.Document.Digest[:])
		}
		envs = envs[k:]
	}
	return digests
}

func findChromium() string {
	if *chromium != "" {
		return *chromium
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

type timing struct {
	Listed, Usable, Verified float64
	Items, Verifieds         int
	OK                       bool
}

// pageSpeed times the release page in Chromium.
func pageSpeed(url string) {
	bin := findChromium()
	if bin == "" {
		fmt.Println("page speed: skipped, no Chromium (apt-get install chromium)")
		return
	}
	dir, err := os.MkdirTemp("", "webbench-chromium")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(dir), chromedp.WindowSize(1280, 900))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// The first Do starts the browser, for as long as ctx.
	if err := chromedp.Do(ctx); err != nil {
		log.Fatal(err)
	}
	page := url + "/#/release/" + strings.NewReplacer(":", "%3A", "/", "%2F", "@", "%40").Replace(bigRelease)
	var usable, all, cpuUsable []float64
	var browserPID int
	if pr := chromedp.FromContext(ctx).Browser.Process(); pr != nil {
		browserPID = pr.Pid
	}
	fmt.Printf("page speed: %s, %d items, Chromium %s\n", bigRelease, *items, bin)
	for v := range *views {
		tctx, tcancel := context.WithTimeout(ctx, 60*time.Second)
		if err := chromedp.Do(tctx, chromedp.Navigate("about:blank")); err != nil {
			log.Fatal(err)
		}
		cpu0 := treeCPU(browserPID) + cpuTime()
		if err := chromedp.Do(tctx, chromedp.Navigate(page)); err != nil {
			log.Fatal(err)
		}
		if _, err := chromedp.Run(tctx, chromedp.Poll[bool](`performance.getEntriesByName('evident-usable').length > 0`, chromedp.WithPollingInterval(5*time.Millisecond))); err != nil {
			log.Fatal(err)
		}
		cpu := treeCPU(browserPID) + cpuTime() - cpu0
		t, err := chromedp.Run(tctx, chromedp.Poll[timing](`(() => {
			const v = performance.getEntriesByName('evident-verified')[0];
			if (!v) return false;
			const u = performance.getEntriesByName('evident-usable')[0];
			const l = performance.getEntriesByName('evident-listed')[0];
			return { Listed: l ? l.startTime : -1, Usable: u ? u.startTime : -1, Verified: v.startTime,
				Items: document.querySelectorAll('article.item').length,
				Verifieds: document.querySelectorAll('.item-verify .mark-ok').length,
				OK: document.body.innerText.includes('Verified in your browser') };
		})()`, chromedp.WithPollingInterval(10*time.Millisecond)))
		tcancel()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("  view %d: first 50 items shown at %4.0f ms, verified and painted (usable) at %4.0f ms (CPU until then %4.0f ms); all %d items shown and verified (%v) at %4.0f ms\n", v+1, t.Listed, t.Usable, ms(cpu), t.Items, t.OK && t.Verifieds == *items, t.Verified)
		cpuUsable = append(cpuUsable, ms(cpu))
		if t.Items != *items || t.Verifieds != *items || !t.OK {
			log.Fatalf("the page shows %d items, %d verified; want %d, all verified", t.Items, t.Verifieds, *items)
		}
		usable = append(usable, t.Usable)
		all = append(all, t.Verified)
	}
	slices.Sort(usable)
	slices.Sort(all)
	slices.Sort(cpuUsable)
	fmt.Printf("page speed: usable in median %.0f ms, worst %.0f ms over %d loads (target < 1000 ms); all %d verified in median %.0f ms, worst %.0f ms\n",
		usable[len(usable)/2], usable[len(usable)-1], len(usable), *items, all[len(all)/2], all[len(all)-1])
	// CPU time moves least with the machine's load: what Chromium (all its
	// processes) and the node spent from navigation to usable.
	fmt.Printf("page speed: CPU until usable, Chromium and node together: median %.0f ms (%d cores)\n", cpuUsable[len(cpuUsable)/2], runtime.NumCPU())
}

// call is one of the pages' requests.
type call struct {
	name string
	do   func(c *http.Client, i int) error
}

func load(url string, docs [][]byte) {
	get := func(path string) func(c *http.Client, i int) error {
		return func(c *http.Client, _ int) error { return fetch(c, "GET", url+path, "", nil) }
	}
	rpc := func(method string, body func(i int) string) func(c *http.Client, i int) error {
		return func(c *http.Client, i int) error {
			return fetch(c, "POST", url+"/evident.v1.EvidenceService/"+method, "application/json", []byte(body(i)))
		}
	}
	calls := []call{
		{"GET /checkpoint (baseline)", get("/checkpoint")},
		{"GET / (the page)", get("/")},
		{"GET /ui/js/main.js", get("/ui/js/main.js")},
		{"GET /api/v1/log", get("/api/v1/log")},
		{"GET /api/v1/growth", get("/api/v1/growth")},
		{"GET /api/v1/misbehaviour", get("/api/v1/misbehaviour")},
		{"QueryEvidence, 10 items", rpc("QueryEvidence", func(int) string { return `{"releasePurl":"` + smallRelease + `","pageSize":500}` })},
		{"GetEvidence", rpc("GetEvidence", func(i int) string { return fmt.Sprintf(`{"logIndex":"%d"}`, i%len(docs)) })},
		{"GetDocument", func(c *http.Client, i int) error {
			msg := []byte(`{"documentSha256":"` + base64.StdEncoding.EncodeToString(docs[i%len(docs)]) + `"}`)
			body := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(msg)))
			return fetch(c, "POST", url+"/evident.v1.EvidenceService/GetDocument", "application/connect+json", append(body, msg...))
		}},
		{"QueryEvidence, 100 of 500 items", rpc("QueryEvidence", func(int) string { return `{"releasePurl":"` + bigRelease + `","pageSize":100}` })},
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	// Warm up: every call once.
	for i, cl := range calls {
		if err := cl.do(c, i); err != nil {
			log.Fatalf("%s: %v", cl.name, err)
		}
	}
	total := int(float64(*rate) * duration.Seconds())
	lat := make([][]time.Duration, len(calls))
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := 0
	cpu0 := cpuTime()
	start := time.Now()
	interval := time.Second / time.Duration(*rate)
	for i := range total {
		due := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(due))
		k := i % len(calls)
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := calls[k].do(c, i)
			d := time.Since(due)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs++
				return
			}
			lat[k] = append(lat[k], d)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	fmt.Printf("API load: %d requests open-loop at %d/s for %v (achieved %.0f/s), %d errors; latency from when each was due:\n", total, *rate, duration.Round(time.Second), float64(total)/elapsed.Seconds(), errs)
	var all []time.Duration
	base := pct(lat[0], 99)
	for k, cl := range calls {
		all = append(all, lat[k]...)
		fmt.Printf("  %-32s n=%4d  p50 %6.2f ms  p99 %6.2f ms  (%.1fx the baseline's p99)\n", cl.name, len(lat[k]), ms(pct(lat[k], 50)), ms(pct(lat[k], 99)), float64(pct(lat[k], 99))/float64(base))
	}
	fmt.Printf("API load: all calls p50 %.2f ms, p99 %.2f ms (target p99 < 50 ms)\n", ms(pct(all, 50)), ms(pct(all, 99)))
	// CPU time is what a loaded machine moves least: it says whether the
	// rate fits the cores, whatever the latencies of this run.
	fmt.Printf("API load: CPU %.2f ms per request, node and load tool together: %.2f of %d cores at %d/s\n",
		ms(cpu)/float64(total), cpu.Seconds()/elapsed.Seconds()*float64(*rate)/(float64(total)/elapsed.Seconds()), runtime.NumCPU(), *rate)
}

// treeCPU is the user and system CPU time of process pid and every process
// under it, from /proc; 0 where /proc can't tell.
func treeCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	parent := map[int]int{}
	ticks := map[int]int64{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The command name is in parentheses and may hold spaces.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 13 {
			continue
		}
		pp, _ := strconv.Atoi(f[1])
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		parent[p], ticks[p] = pp, ut+st
	}
	var sum int64
	for p, t := range ticks {
		for q := p; q != 0; q = parent[q] {
			if q == pid {
				sum += t
				break
			}
			if _, ok := parent[q]; !ok {
				break
			}
		}
	}
	// USER_HZ is 100 on Linux.
	return time.Duration(sum) * 10 * time.Millisecond
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func fetch(c *http.Client, method, url, contentType string, body []byte) error {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	// As the browser asks: compressed if the server likes.
	req.Header.Set("Accept-Encoding", "gzip")
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s", method, url, res.Status)
	}
	return nil
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, len(s)*p/100)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
