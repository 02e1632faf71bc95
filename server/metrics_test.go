package server_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/evident-dev/evident/evidence"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/server"
	"github.com/evident-dev/evident/server/servertest"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// scrape fetches /metrics and returns every sample of the named metrics,
// keyed by the sample's text form without its value, e.g.
// `evident_rpc_requests_total{code="ok",procedure="/evident.v1.LogService/GetCheckpoint"}`.
func scrape(t *testing.T, n *servertest.Node, names ...string) map[string]float64 {
	t.Helper()
	res, err := http.Get(n.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d, %v", res.StatusCode, err)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		key := line[:i]
		name, _, _ := strings.Cut(key, "{")
		for _, want := range names {
			if name == want {
				v, err := strconv.ParseFloat(line[i+1:], 64)
				if err != nil {
					t.Fatalf("metrics line %q: %v", line, err)
				}
				out[key] = v
			}
		}
	}
	return out
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := startNode(t, servertest.Options{})
	c := dial(t, n)

	submit(t, c, envelope(servertest.KeyPyPIMaven, "pkg:pypi/requests@2.32.3", evidence.PredicateSPDX23))
	submit(t, c, envelope(servertest.KeyPyPIMaven, "pkg:pypi/requests@2.32.4", evidence.PredicateSPDX23))
	submit(t, c, envelope(servertest.KeyPyPIMaven, "pkg:pypi/requests@2.32.4", evidence.PredicateSPDX23)) // duplicate
	for _, env := range [][]byte{nil, []byte("garbage")} {
		if _, err := c.ev.Submit(ctx, &evidentv1.SubmitRequest{Envelope: env}); err == nil {
			t.Fatal("bad submission accepted")
		}
	}
	if _, err := c.ev.Submit(ctx, &evidentv1.SubmitRequest{Envelope: envelope(servertest.KeyUntrusted, "pkg:pypi/x@1", evidence.PredicateSPDX23)}); err == nil {
		t.Fatal("untrusted submission accepted")
	}
	for range 4 {
		if _, err := c.log.GetCheckpoint(ctx, &evidentv1.GetCheckpointRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	s, err := c.ev.SubmitStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Send(&evidentv1.SubmitStreamRequest{Part: &evidentv1.SubmitStreamRequest_Header{Header: &evidentv1.SubmitStreamHeader{EnvelopeSize: 10}}})
	if _, err := s.CloseAndRecv(); err == nil {
		t.Fatal("truncated stream accepted")
	}

	// Failures before any interceptor runs: over the read limit, a body
	// that does not decode (protobuf, JSON); and health, which has no
	// interceptor; a path that is no procedure is not counted.
	_, err = c.log.GetCheckpoint(ctx, padded(&evidentv1.GetCheckpointRequest{}, server.MaxSmallRequest+1))
	wantStatus(t, err, codes.ResourceExhausted)
	for _, ct := range []string{"application/proto", "application/json"} {
		res, err := http.Post(n.URL+"/evident.v1.EvidenceService/Submit", ct, strings.NewReader("\xff\xff{not this"))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("undecodable %s body: status %d, want 400", ct, res.StatusCode)
		}
	}
	if _, err := healthpb.NewHealthClient(c.conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	_, err = healthpb.NewHealthClient(c.conn).Check(ctx, padded(&healthpb.HealthCheckRequest{}, server.MaxSmallRequest+1))
	wantStatus(t, err, codes.ResourceExhausted)
	if res, err := http.Post(n.URL+"/evident.v1.EvidenceService/NoSuchMethod", "application/json", strings.NewReader("{}")); err == nil {
		res.Body.Close()
	}

	got := scrape(t, n, "evident_rpc_requests_total", "evident_ledger_tree_size")
	req := func(procedure, code string) string {
		return `evident_rpc_requests_total{code="` + code + `",procedure="/evident.v1.` + procedure + `"}`
	}
	want := map[string]float64{
		req("EvidenceService/Submit", "ok"): 3,
		// Refused by protovalidate (empty envelope), by the handler, and
		// undecodable as protobuf and as JSON.
		req("EvidenceService/Submit", "invalid_argument"):                                                4,
		req("EvidenceService/Submit", "permission_denied"):                                               1,
		req("EvidenceService/SubmitStream", "invalid_argument"):                                          1,
		req("LogService/GetCheckpoint", "ok"):                                                            4,
		req("LogService/GetCheckpoint", "resource_exhausted"):                                            1,
		`evident_rpc_requests_total{code="ok",procedure="/grpc.health.v1.Health/Check"}`:                 1,
		`evident_rpc_requests_total{code="resource_exhausted",procedure="/grpc.health.v1.Health/Check"}`: 1,
		"evident_ledger_tree_size":                                                                       2,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}

	// Latencies by procedure and code, append batch sizes, queue depth and
	// what submissions hold: as many observations as there were events.
	got = scrape(t, n, "evident_rpc_duration_seconds_count", "evident_ledger_append_batch_entries_sum",
		"evident_ledger_append_batch_entries_count", "evident_ledger_queue_entries", "evident_submissions_pending_bytes")
	dur := func(procedure, code string) string {
		return `evident_rpc_duration_seconds_count{code="` + code + `",procedure="/evident.v1.` + procedure + `"}`
	}
	if got[dur("EvidenceService/Submit", "ok")] != 3 || got[dur("LogService/GetCheckpoint", "ok")] != 4 {
		t.Errorf("latency observations: %v", got)
	}
	// The three accepted submissions went through the ledger (the
	// duplicate is found there).
	if got["evident_ledger_append_batch_entries_sum"] != 3 || got["evident_ledger_append_batch_entries_count"] < 1 {
		t.Errorf("append batches: %v entries in %v batches, want 3 in at least 1", got["evident_ledger_append_batch_entries_sum"], got["evident_ledger_append_batch_entries_count"])
	}
	for _, k := range []string{"evident_ledger_queue_entries", "evident_submissions_pending_bytes"} {
		if v, ok := got[k]; !ok || v != 0 {
			t.Errorf("%s = %v (present: %v), want 0 with nothing in flight", k, v, ok)
		}
	}
}
