package check

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/mod/sumdb/note"

	"github.com/evident-dev/evident/client"
	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/evidence/detect"
	"github.com/evident-dev/evident/policy"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/proto/evident/v1/evidentv1connect"
	"github.com/evident-dev/evident/server/servertest"
)

// testdata is the shared directory of real documents; tests that read it
// skip when it is absent.
const testdata = "../../shared/testdata/evidence"

func readReal(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdata, name))
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("%s is absent", testdata)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Release managers' keys: one per foundation, trusted by its node for its
// namespaces.
var (
	keyPHP     = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{41}, 32))
	keyEclipse = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{42}, 32))
	keyGeneric = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{43}, 32))
	// keyStranger is trusted by the php node too, but the manufacturer
	// does not know it.
	keyStranger = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{44}, 32))
)

func pub(k ed25519.PrivateKey) crypto.PublicKey { return k.Public() }

// federation is three foundations' nodes on loopback, witnessing each
// other: php holds evidence about Composer packages, eclipse about Maven
// ones, generic about anything named by its files.
type federation struct {
	*servertest.Federation
	policy *policy.WitnessPolicy
}

func startFederation(t *testing.T) *federation {
	t.Helper()
	trust := map[string][]evidence.TrustedKey{
		"php":     {{PublicKey: pub(keyPHP), Namespaces: []string{"pkg:composer"}}, {PublicKey: pub(keyStranger), Namespaces: []string{"pkg:composer"}}},
		"eclipse": {{PublicKey: pub(keyEclipse), Namespaces: []string{"pkg:maven"}}},
		"generic": {{PublicKey: pub(keyGeneric), Namespaces: []string{"pkg:generic"}}},
	}
	f, err := servertest.StartFederation(servertest.FederationOptions{
		Names: []string{"php", "eclipse", "generic"},
		Dir:   t.TempDir(),
		Trust: func(name string) *evidence.TrustedSigners {
			tp, err := evidence.NewTrustedKeys(trust[name])
			if err != nil {
				t.Fatal(err)
			}
			return tp
		},
		GossipInterval: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Error(err)
		}
	})
	p, err := policy.Parse([]byte(f.Policy))
	if err != nil {
		t.Fatal(err)
	}
	return &federation{f, p}
}

func (f *federation) member(name string) *servertest.Member {
	for _, m := range f.Members {
		if m.Name == name {
			return m
		}
	}
	panic("no member " + name)
}

// attest returns an envelope of the real document file (a path under
// testdata), recognised as evident attest does, about subject with the
// artifact digest sha256Hex, signed by key.
func attest(t testing.TB, key ed25519.PrivateKey, file, subject, sha256Hex string) []byte {
	t.Helper()
	doc := readReal(t, file)
	d, err := detect.Detect(filepath.Base(file), doc)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if sha256Hex == "" {
		s := sha256.Sum256(append([]byte(subject+"\n"), doc...))
		sha256Hex = hex.EncodeToString(s[:])
	}
	pred, err := d.Document(filepath.Base(file), doc).Predicate()
	if err != nil {
		t.Fatal(err)
	}
	st, err := json.Marshal(map[string]any{
		"_type":         evidence.StatementTypeV1,
		"subject":       []any{map[string]any{"name": subject, "digest": map[string]string{"sha256": sha256Hex}}},
		"predicateType": evidence.PredicateDocument,
		"predicate":     json.RawMessage(pred),
	})
	if err != nil {
		t.Fatal(err)
	}
	return servertest.Sign(key, evidence.PayloadTypeInToto, st)
}

// submit logs envelopes on a member and fails the test unless each is.
func (f *federation) submit(t testing.TB, name string, envs ...[]byte) {
	t.Helper()
	c := evidentv1connect.NewEvidenceServiceClient(http.DefaultClient, f.member(name).URL)
	for _, e := range envs {
		if _, err := c.Submit(context.Background(), connect.NewRequest(&evidentv1.SubmitRequest{Envelope: e})); err != nil {
			t.Fatalf("submit to %s: %v", name, err)
		}
	}
}

func (f *federation) waitCosigned(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.WaitCosigned(ctx); err != nil {
		t.Fatal(err)
	}
}

// clients returns a client of each member, with the federation's policy;
// urls, when given, replace members' URLs (a proxy in front of one).
func (f *federation) clients(t testing.TB, urls map[string]string) []*client.Client {
	t.Helper()
	var out []*client.Client
	for _, m := range f.Members {
		u := m.URL
		if urls[m.Name] != "" {
			u = urls[m.Name]
		}
		c, err := client.New(u, client.Options{Name: m.Name, LogKey: m.Keys.VerifierKey, Policy: f.policy})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.CloseIdleConnections)
		out = append(out, c)
	}
	return out
}

// proxy stands in front of a node and lets a test change its BatchQuery
// answers: a misbehaving node, or someone between it and the client.
type proxy struct {
	evidentv1connect.UnimplementedEvidenceServiceHandler
	ev    evidentv1connect.EvidenceServiceClient
	batch func(*evidentv1.BatchQueryResponse)
}

func startProxy(t testing.TB, url string, batch func(*evidentv1.BatchQueryResponse)) string {
	t.Helper()
	p := &proxy{ev: evidentv1connect.NewEvidenceServiceClient(http.DefaultClient, url), batch: batch}
	mux := http.NewServeMux()
	mux.Handle(evidentv1connect.NewEvidenceServiceHandler(p))
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

func (p *proxy) BatchQuery(ctx context.Context, req *connect.Request[evidentv1.BatchQueryRequest], out *connect.ServerStream[evidentv1.BatchQueryResponse]) error {
	in, err := p.ev.BatchQuery(ctx, req)
	if err != nil {
		return err
	}
	defer in.Close()
	for in.Receive() {
		m := in.Msg()
		if p.batch != nil {
			p.batch(m)
		}
		if err := out.Send(m); err != nil {
			return err
		}
	}
	return in.Err()
}

func (p *proxy) GetEnvelope(ctx context.Context, req *connect.Request[evidentv1.GetEnvelopeRequest], out *connect.ServerStream[evidentv1.GetEnvelopeResponse]) error {
	in, err := p.ev.GetEnvelope(ctx, req)
	if err != nil {
		return err
	}
	defer in.Close()
	for in.Receive() {
		if err := out.Send(in.Msg()); err != nil {
			return err
		}
	}
	return in.Err()
}

func keyID(t testing.TB, k ed25519.PrivateKey) string {
	t.Helper()
	id, err := evidence.SignerKeyID(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func verifier(t testing.TB, vkey string) note.Verifier {
	t.Helper()
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
