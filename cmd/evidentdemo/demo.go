package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"
	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/evidence/detect"
	"github.com/evident-dev/evident/policy"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/proto/evident/v1/evidentv1connect"
	"github.com/evident-dev/evident/server/federation"
	"github.com/evident-dev/evident/server/node"
	"github.com/evident-dev/evident/witness"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

//go:embed testdata
var samples embed.FS

// foundation is one demo node and the evidence its release managers sign.
type foundation struct {
	name       string
	origin     string
	namespaces []string
	docs       []sample

	signer   note.Signer
	logKey   note.Verifier
	logVKey  string
	cosigner *witness.Cosigner
	relKey   ed25519.PrivateKey
	relPub   ed25519.PublicKey
	lis      net.Listener
	node     *node.Node
}

type sample struct {
	file    string
	subject string
}

func foundations() []*foundation {
	return []*foundation{
		{name: "apache", origin: "apache.example/evident", namespaces: []string{"pkg:maven/org.apache"},
			docs: []sample{{"log4j-core-2.24.1.spdx.json", "pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1"}}},
		{name: "eclipse", origin: "eclipse.example/evident", namespaces: []string{"pkg:maven/org.eclipse"},
			docs: []sample{{"jetty-server-12.0.15.cdx.json", "pkg:maven/org.eclipse.jetty/jetty-server@12.0.15"}}},
		{name: "psf", origin: "python.example/evident", namespaces: []string{"pkg:pypi"},
			docs: []sample{
				{"requests-2.32.3.openvex.json", "pkg:pypi/requests@2.32.3"},
				{"SECURITY.md", "pkg:pypi/requests"}, // about every release
			}},
	}
}

func run(ctx context.Context, dir string, basePort int, keepRunning bool, log *slog.Logger, out io.Writer) error {
	fs := foundations()
	for i, f := range fs {
		if err := f.keys(); err != nil {
			return err
		}
		addr := "127.0.0.1:0"
		if basePort > 0 {
			addr = fmt.Sprintf("127.0.0.1:%d", basePort+i)
		}
		lis, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("couldn't listen on %s (use -port 0 for any free ports): %w", addr, err)
		}
		f.lis = lis
	}
	for _, f := range fs {
		var peers []federation.Peer
		for _, g := range fs {
			if g != f {
				peers = append(peers, federation.Peer{Name: g.name, URL: "http://" + g.lis.Addr().String(),
					Origin: g.origin, LogKey: g.logKey, WitnessKey: g.cosigner.Verifier()})
			}
		}
		trust, err := evidence.NewTrustedKeys([]evidence.TrustedKey{{PublicKey: f.relPub, Namespaces: f.namespaces}})
		if err != nil {
			return err
		}
		n, err := node.Start(node.Config{
			Data: filepath.Join(dir, f.name), Listener: f.lis,
			Signer: f.signer, LogKey: f.logKey, Cosigner: f.cosigner,
			Trust: trust, Peers: peers, GossipInterval: 2 * time.Second,
			Logger: log.With("node", f.name),
		})
		if err != nil {
			return fmt.Errorf("starting %s: %w", f.name, err)
		}
		f.node = n
		defer func() {
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			n.Close(cctx)
		}()
		fmt.Fprintf(out, "%-8s node %s  log %s\n", f.name, n.URL(), f.origin)
	}

	// Each foundation's release managers attest and submit its evidence.
	fmt.Fprintln(out)
	for _, f := range fs {
		for _, s := range f.docs {
			idx, format, err := f.submit(ctx, s)
			if err != nil {
				return fmt.Errorf("%s submitting %s: %w", f.name, s.file, err)
			}
			fmt.Fprintf(out, "%-8s logged %-30s (%s) for %s at index %d\n", f.name, s.file, format, s.subject, idx)
		}
	}

	// A client policy: trust a checkpoint of any of the three logs only when
	// two of the three foundations' witnesses cosigned it.
	var pol strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&pol, "log %s\n", f.logVKey)
	}
	for _, f := range fs {
		fmt.Fprintf(&pol, "witness %s %s\n", f.name, f.cosigner.Verifier().VerifierKey())
	}
	fmt.Fprintf(&pol, "group two-of-three 2 %s %s %s\nquorum two-of-three\n", fs[0].name, fs[1].name, fs[2].name)
	p, err := policy.Parse([]byte(pol.String()))
	if err != nil {
		return fmt.Errorf("demo policy: %w", err)
	}

	// Wait until every node serves a checkpoint that meets the policy.
	deadline := time.Now().Add(30 * time.Second)
	for _, f := range fs {
		for {
			cp, size := f.node.Federation.Checkpoint()
			_, total := f.node.Ledger.Checkpoint()
			if _, err := p.Verify(cp); err == nil && size == total {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s's checkpoint was not cosigned by the other two within 30s", f.name)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}

	// A manufacturer asks every node about every release, and verifies.
	fmt.Fprintln(out, "\nA manufacturer asks every node, and verifies every answer (inclusion proof, log signature, 2-of-3 witness quorum):")
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RELEASE\tKIND\tFOUNDATION\tINDEX\tCHECKPOINT\tCOSIGNED BY\tVERIFIED")
	releases := map[string]bool{}
	for _, f := range fs {
		for _, s := range f.docs {
			if strings.Contains(s.subject, "@") { // package-level evidence answers its releases' queries
				releases[s.subject] = true
			}
		}
	}
	var rels []string
	for r := range releases {
		rels = append(rels, r)
	}
	sort.Strings(rels)
	for _, rel := range rels {
		rows := queryAll(ctx, fs, rel, p)
		for _, r := range rows {
			fmt.Fprintln(tw, r)
		}
	}
	tw.Flush()

	if !keepRunning {
		return nil
	}
	fmt.Fprintf(out, "\nThe federation keeps running. Try:\n  curl -s %s/checkpoint\n  grpcurl -plaintext %s list\nPress Ctrl-C to stop.\n",
		fs[0].node.URL(), fs[0].lis.Addr())
	<-ctx.Done()
	return nil
}

func (f *foundation) keys() error {
	skey, vkey, err := note.GenerateKey(rand.Reader, f.origin)
	if err != nil {
		return err
	}
	f.logVKey = vkey
	if f.signer, err = note.NewSigner(skey); err != nil {
		return err
	}
	if f.logKey, err = note.NewVerifier(vkey); err != nil {
		return err
	}
	wskey, _, err := witness.GenerateKey(rand.Reader, f.name+".example/witness")
	if err != nil {
		return err
	}
	if f.cosigner, err = witness.ParseCosignerKey(wskey, nil); err != nil {
		return err
	}
	f.relPub, f.relKey, err = evidence.GenerateKey(rand.Reader)
	return err
}

// submit attests a sample document about a release and submits it.
func (f *foundation) submit(ctx context.Context, s sample) (uint64, string, error) {
	doc, err := samples.ReadFile("testdata/" + s.file)
	if err != nil {
		return 0, "", err
	}
	d, err := detect.Detect(s.file, doc)
	if err != nil {
		return 0, "", err
	}
	// The document travels byte for byte in a document attestation, as
	// evident attest makes it.
	pred, err := d.Document(s.file, doc).Predicate()
	if err != nil {
		return 0, "", err
	}
	// The subject's digest: in real life the release's artifact; here, a
	// stand-in, so the demo is self-contained. Evidence about the whole
	// package (a purl without a version) names the document's own digest.
	sum := sha256.Sum256(append([]byte(s.subject+"\n"), doc...))
	p, err := evidence.ParsePurl(s.subject)
	if err != nil {
		return 0, "", err
	}
	if !p.HasVersion() {
		sum = sha256.Sum256(doc)
	}
	st, err := (&evidence.Statement{
		Type:          evidence.StatementTypeV1,
		Subject:       []evidence.Subject{{Name: s.subject, Digest: map[string]string{"sha256": hex.EncodeToString(sum[:])}}},
		PredicateType: evidence.PredicateDocument,
		Predicate:     pred,
	}).Marshal()
	if err != nil {
		return 0, "", err
	}
	env, err := evidence.Sign(evidence.PayloadTypeInToto, st, f.relKey, "")
	if err != nil {
		return 0, "", err
	}
	b, err := env.Marshal()
	if err != nil {
		return 0, "", err
	}
	c := evidentv1connect.NewEvidenceServiceClient(http.DefaultClient, f.node.URL())
	resp, err := c.Submit(ctx, connect.NewRequest(&evidentv1.SubmitRequest{Envelope: b}))
	if err != nil {
		return 0, "", err
	}
	return resp.Msg.GetResult().GetLogIndex(), d.Format, nil
}

// queryAll asks every node about a release in parallel and verifies each
// item it returns; failures are shown, never dropped.
func queryAll(ctx context.Context, fs []*foundation, release string, p *policy.WitnessPolicy) []string {
	var mu sync.Mutex
	var rows []string
	var wg sync.WaitGroup
	for _, f := range fs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := evidentv1connect.NewEvidenceServiceClient(http.DefaultClient, f.node.URL())
			resp, err := c.QueryEvidence(ctx, connect.NewRequest(&evidentv1.QueryEvidenceRequest{
				Query: &evidentv1.QueryEvidenceRequest_ReleasePurl{ReleasePurl: release},
			}))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				rows = append(rows, fmt.Sprintf("%s\t-\t%s\t-\t-\t-\tFAILED: %v", release, f.name, err))
				return
			}
			for _, ev := range resp.Msg.GetEvidence() {
				status, size, cosigned := verify(ev, resp.Msg.GetCheckpoint(), p)
				kind := ev.GetSummary().GetKind()
				if ev.GetPackageLevel() {
					kind += " (package)"
				}
				rows = append(rows, fmt.Sprintf("%s\t%s\t%s\t%d\t%d\t%s\t%s", release, kind, f.name, ev.GetLogIndex(), size, strings.Join(cosigned, ","), status))
			}
		}()
	}
	wg.Wait()
	sort.Strings(rows)
	return rows
}

// verify checks one query result against the policy: the checkpoint is
// signed by a known log and cosigned by a quorum, and the entry is in it.
func verify(ev *evidentv1.Evidence, signed string, p *policy.WitnessPolicy) (status string, size uint64, cosigned []string) {
	r, err := p.Verify([]byte(signed))
	if err != nil {
		return "FAILED: checkpoint: " + err.Error(), 0, nil
	}
	c := r.Checkpoint
	ip := ev.GetInclusionProof()
	if ip.GetTreeSize() != c.Size {
		return fmt.Sprintf("FAILED: proof is for size %d, checkpoint is %d", ip.GetTreeSize(), c.Size), c.Size, r.Cosigned
	}
	leaf := rfc6962.DefaultHasher.HashLeaf(ev.GetEntry())
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, ev.GetLogIndex(), c.Size, leaf, ip.GetHashes(), c.Hash[:]); err != nil {
		return "FAILED: inclusion: " + err.Error(), c.Size, r.Cosigned
	}
	e, err := evidence.ParseEntry(ev.GetEntry())
	if err != nil {
		return "FAILED: entry: " + err.Error(), c.Size, r.Cosigned
	}
	if !bytes.Equal(e.EnvelopeDigest[:], ev.GetSummary().GetEnvelopeSha256()) {
		return "FAILED: summary does not match the logged entry", c.Size, r.Cosigned
	}
	return "OK", c.Size, r.Cosigned
}
