package tea_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"connectrpc.com/connect"

	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/evidence/detect"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/proto/evident/v1/evidentv1connect"
	"github.com/evident-dev/evident/server/servertest"
	"github.com/evident-dev/evident/server/tea"
)

const testdata = "../../../shared/testdata/evidence"

// attest makes an envelope of a real document about subject, signed by
// the key test nodes trust for pkg:pypi, as evident attest would.
func attest(t *testing.T, file, subject string) ([]byte, []byte) {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(testdata, file))
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("%s is absent", testdata)
	}
	if err != nil {
		t.Fatal(err)
	}
	d, err := detect.Detect(filepath.Base(file), doc)
	if err != nil {
		t.Fatal(err)
	}
	pred, err := d.Document(filepath.Base(file), doc).Predicate()
	if err != nil {
		t.Fatal(err)
	}
	st := servertest.Statement{Type: evidence.StatementTypeV1, PredicateType: evidence.PredicateDocument, Predicate: pred,
		Subject: []servertest.Subject{{Name: subject, Digest: map[string]string{"sha256": servertest.Digest(subject + file)}}}}
	return servertest.Sign(servertest.KeyPyPIMaven, evidence.PayloadTypeInToto, st.Marshal()), doc
}

func get(t *testing.T, u string, wantStatus int, v any) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != wantStatus {
		t.Fatalf("GET %s: %d %s; want %d", u, resp.StatusCode, b, wantStatus)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %v: %s", u, err, b)
		}
	}
	return b
}

func TestTEA(t *testing.T) {
	n, err := servertest.Start(servertest.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	const release = "pkg:pypi/requests@2.32.3"
	sbomEnv, sbomDoc := attest(t, "spdx/spdx_spdx-examples__example8_examplemaven-0.0.1.spdx.json", release)
	vexEnv, _ := attest(t, "openvex/openvex_vexctl__demo.vex.json", release)
	policyEnv, _ := attest(t, "security-policy/python_cpython__SECURITY.md", "pkg:pypi/requests")
	c := evidentv1connect.NewEvidenceServiceClient(http.DefaultClient, n.URL)
	for _, e := range [][]byte{sbomEnv, vexEnv, policyEnv} {
		if _, err := c.Submit(context.Background(), connect.NewRequest(&evidentv1.SubmitRequest{Envelope: e, WaitForCheckpoint: true})); err != nil {
			t.Fatal(err)
		}
	}

	var wk struct {
		SchemaVersion int `json:"schemaVersion"`
		Endpoints     []struct {
			URL      string   `json:"url"`
			Versions []string `json:"versions"`
		} `json:"endpoints"`
	}
	get(t, n.URL+"/.well-known/tea", 200, &wk)
	if wk.SchemaVersion != 1 || len(wk.Endpoints) != 1 || wk.Endpoints[0].URL != n.URL+"/tea" || wk.Endpoints[0].Versions[0] != tea.Version {
		t.Fatalf(".well-known/tea: %+v", wk)
	}
	api := wk.Endpoints[0].URL + "/v" + tea.Version

	// Discovery, as TEA clients build the URL: the TEI URL-encoded.
	var disc struct {
		ProductReleaseUUID string `json:"productReleaseUuid"`
		Servers            []struct {
			RootURL  string   `json:"rootUrl"`
			Versions []string `json:"versions"`
		} `json:"servers"`
	}
	get(t, api+"/discovery?tei="+url.QueryEscape("urn:tei:purl:python.org:"+release+"?extension=tar.gz"), 200, &disc)
	if disc.ProductReleaseUUID != tea.ReleaseUUID(release) || len(disc.Servers) != 1 || disc.Servers[0].RootURL != n.URL+"/tea" {
		t.Errorf("discovery: %+v", disc)
	}
	get(t, api+"/discovery?tei="+url.QueryEscape("urn:tei:hash:python.org:SHA256:"+servertest.Digest(release+"openvex/openvex_vexctl__demo.vex.json")), 200, &disc)
	if disc.ProductReleaseUUID != tea.ReleaseUUID(release) {
		t.Errorf("discovery by hash: %+v", disc)
	}
	for _, tei := range []string{"urn:tei:purl:python.org:pkg:pypi/requests@9.9.9", "urn:tei:uuid:python.org:d4d9f54a-abcf-11ee-ac79-1a52914d44b1"} {
		get(t, api+"/discovery?tei="+url.QueryEscape(tei), 404, nil)
	}
	get(t, api+"/discovery?tei=pkg:pypi/requests@2.32.3", 400, nil)

	var rel struct {
		UUID        string `json:"uuid"`
		Version     string `json:"version"`
		ProductName string `json:"productName"`
		CreatedDate string `json:"createdDate"`
		Components  []any  `json:"components"`
	}
	get(t, api+"/productRelease/"+disc.ProductReleaseUUID, 200, &rel)
	if rel.UUID != disc.ProductReleaseUUID || rel.Version != "2.32.3" || rel.ProductName != "pkg:pypi/requests" || rel.Components == nil || rel.CreatedDate == "" {
		t.Errorf("productRelease: %+v", rel)
	}

	var col struct {
		UUID      string `json:"uuid"`
		Version   int    `json:"version"`
		BelongsTo string `json:"belongsTo"`
		Artifacts []struct {
			UUID    string `json:"uuid"`
			Name    string `json:"name"`
			Type    string `json:"type"`
			Formats []struct {
				MediaType    string `json:"mediaType"`
				URL          string `json:"url"`
				SignatureURL string `json:"signatureUrl"`
				Checksums    []struct {
					AlgType  string `json:"algType"`
					AlgValue string `json:"algValue"`
				} `json:"checksums"`
			} `json:"formats"`
		} `json:"artifacts"`
	}
	get(t, api+"/productRelease/"+disc.ProductReleaseUUID+"/collection/latest", 200, &col)
	if col.UUID != disc.ProductReleaseUUID || col.Version != 3 || col.BelongsTo != "PRODUCT_RELEASE" || len(col.Artifacts) != 3 {
		t.Fatalf("collection: %+v", col)
	}
	types := map[string]bool{}
	envelopes := map[string][]byte{"sbom": sbomEnv, "vex": vexEnv, "policy": policyEnv}
	for _, a := range col.Artifacts {
		types[a.Type] = true
		f := a.Formats[0]
		// The document is the one published, byte for byte: its digest is
		// the checksum given.
		doc := get(t, f.URL, 200, nil)
		sum := sha256.Sum256(doc)
		if f.Checksums[0].AlgType != "SHA-256" || f.Checksums[0].AlgValue != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: checksum %+v; the document's SHA-256 is %x", a.Name, f.Checksums, sum)
		}
		if a.Type == "BOM" && (!json.Valid(doc) || len(doc) < len(sbomDoc)/2) {
			t.Errorf("the SBOM served is not the one logged: %.100s", doc)
		}
		// The signature URL gives one of the envelopes logged.
		env := get(t, f.SignatureURL, 200, nil)
		found := false
		for _, e := range envelopes {
			found = found || string(e) == string(env)
		}
		if !found {
			t.Errorf("%s: signatureUrl %s is not an envelope that was logged", a.Name, f.SignatureURL)
		}
	}
	if !types["BOM"] || !types["VULNERABILITIES"] || !types["OTHER"] {
		t.Errorf("artifact types %v", types)
	}
	get(t, api+"/componentRelease/"+disc.ProductReleaseUUID+"/collection/latest", 200, &col)
	if col.BelongsTo != "COMPONENT_RELEASE" {
		t.Errorf("componentRelease collection belongs to %s", col.BelongsTo)
	}
	get(t, api+"/productRelease/00000000-0000-0000-0000-000000000000", 404, nil)
	get(t, api+"/document/sha256/"+servertest.Digest("nothing"), 404, nil)
	get(t, api+"/products", 404, nil)
}
