package server_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/evident-dev/evident/evidence"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/server/servertest"
	"google.golang.org/protobuf/encoding/protojson"
)

// These tests send what curl would: a POST of JSON to the Connect route of
// a procedure, over HTTP/1.1, without any Connect headers.

// postJSON posts body to the procedure and returns the status and body.
func postJSON(t *testing.T, n *servertest.Node, procedure, contentType, body string) (int, []byte) {
	t.Helper()
	res, err := http.Post(n.URL+procedure, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", procedure, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.ProtoMajor != 1 {
		t.Errorf("served over HTTP/%d; a plain client speaks HTTP/1.1", res.ProtoMajor)
	}
	return res.StatusCode, b
}

func TestConnectJSON(t *testing.T) {
	t.Parallel()
	n := startNode(t, servertest.Options{})
	const (
		getCheckpoint = "/evident.v1.LogService/GetCheckpoint"
		submitProc    = "/evident.v1.EvidenceService/Submit"
		appJSON       = "application/json"
	)
	b64 := base64.StdEncoding.EncodeToString

	t.Run("GetCheckpoint of the empty log", func(t *testing.T) {
		code, body := postJSON(t, n, getCheckpoint, appJSON, `{}`)
		if code != http.StatusOK {
			t.Fatalf("status %d: %s", code, body)
		}
		var res evidentv1.GetCheckpointResponse
		if err := protojson.Unmarshal(body, &res); err != nil {
			t.Fatalf("response %s: %v", body, err)
		}
		if cp := openCheckpoint(t, n, res.GetCheckpoint()); cp.Size != 0 || res.GetOrigin() != servertest.Origin {
			t.Errorf("checkpoint of size %d, origin %q", cp.Size, res.GetOrigin())
		}
	})

	env := envelope(servertest.KeyPyPIMaven, "pkg:pypi/requests@2.32.3", evidence.PredicateSPDX23)
	t.Run("Submit", func(t *testing.T) {
		for i, wantDup := range []bool{false, true} {
			code, body := postJSON(t, n, submitProc, appJSON, `{"envelope":"`+b64(env)+`","waitForCheckpoint":true}`)
			if code != http.StatusOK {
				t.Fatalf("submission %d: status %d: %s", i, code, body)
			}
			var res evidentv1.SubmitResponse
			if err := protojson.Unmarshal(body, &res); err != nil {
				t.Fatalf("response %s: %v", body, err)
			}
			r := res.GetResult()
			if r.GetLogIndex() != 0 || r.GetDuplicate() != wantDup {
				t.Errorf("submission %d: index %d duplicate %v; want 0, %v", i, r.GetLogIndex(), r.GetDuplicate(), wantDup)
			}
			checkEntry(t, r.GetEntry(), env)
			verifyInclusion(t, openCheckpoint(t, n, r.GetCheckpoint()), r.GetEntry(), r.GetInclusionProof())
		}
		// uint64 fields are JSON strings, bytes are base64, as protojson has it.
		code, body := postJSON(t, n, getCheckpoint, appJSON, `{}`)
		var raw map[string]any
		if err := json.Unmarshal(body, &raw); err != nil || code != http.StatusOK {
			t.Fatalf("status %d, body %s: %v", code, body, err)
		}
		if raw["treeSize"] != "1" {
			t.Errorf(`treeSize is %#v; want "1"`, raw["treeSize"])
		}
	})

	badSig := func() []byte {
		e, err := evidence.ParseEnvelope(envelope(servertest.KeyPyPIMaven, "pkg:pypi/requests@2.0.0", evidence.PredicateSPDX23))
		if err != nil {
			t.Fatal(err)
		}
		e.Signatures[0].Sig[3] ^= 0x40
		b, err := e.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}()
	tests := []struct {
		name        string
		procedure   string
		contentType string
		body        string
		wantStatus  int
		wantCode    string   // Connect error code in the JSON body
		wantMsg     []string // substrings of the message
	}{
		{
			name: "garbage envelope", procedure: submitProc, body: `{"envelope":"` + b64([]byte("not an envelope")) + `"}`,
			wantStatus: 400, wantCode: "invalid_argument", wantMsg: []string{"envelope"},
		},
		{
			name: "no envelope", procedure: submitProc, body: `{}`,
			wantStatus: 400, wantCode: "invalid_argument", wantMsg: []string{"envelope", "required"},
		},
		{
			name: "envelope not base64", procedure: submitProc, body: `{"envelope":"%%%"}`,
			wantStatus: 400, wantCode: "invalid_argument",
		},
		{
			name: "body not JSON", procedure: submitProc, body: `envelope=abc`,
			wantStatus: 400, wantCode: "invalid_argument",
		},
		{
			name: "unknown JSON field", procedure: submitProc, body: `{"envelop":"` + b64(env) + `"}`,
			wantStatus: 400, wantCode: "invalid_argument",
		},
		{
			name: "signature does not verify", procedure: submitProc, body: `{"envelope":"` + b64(badSig) + `"}`,
			wantStatus: 401, wantCode: "unauthenticated", wantMsg: []string{"does not verify"},
		},
		{
			name: "untrusted key", procedure: submitProc,
			body:       `{"envelope":"` + b64(envelope(servertest.KeyUntrusted, "pkg:pypi/requests@2.0.0", evidence.PredicateSPDX23)) + `"}`,
			wantStatus: 403, wantCode: "permission_denied", wantMsg: []string{"not signed by a key this node trusts"},
		},
		{
			name: "key outside its namespace", procedure: submitProc,
			body:       `{"envelope":"` + b64(envelope(servertest.KeyNPM, "pkg:pypi/requests@2.0.0", evidence.PredicateSPDX23)) + `"}`,
			wantStatus: 403, wantCode: "permission_denied", wantMsg: []string{"pkg:pypi/requests@2.0.0", "outside the namespaces"},
		},
		{
			name: "unknown procedure", procedure: "/evident.v1.EvidenceService/Delete", body: `{}`,
			wantStatus: 404,
		},
		{
			name: "wrong content type", procedure: getCheckpoint, contentType: "text/plain", body: `{}`,
			wantStatus: 415,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := n.Ledger.Size()
			ct := tt.contentType
			if ct == "" {
				ct = appJSON
			}
			code, body := postJSON(t, n, tt.procedure, ct, tt.body)
			if code != tt.wantStatus {
				t.Fatalf("status %d (%s); want %d", code, body, tt.wantStatus)
			}
			if after := n.Ledger.Size(); after != before {
				t.Errorf("tree grew from %d to %d", before, after)
			}
			if tt.wantCode == "" {
				return
			}
			var e struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("error body %s is not JSON: %v", body, err)
			}
			if e.Code != tt.wantCode {
				t.Errorf("code %q; want %q (body %s)", e.Code, tt.wantCode, body)
			}
			for _, s := range tt.wantMsg {
				if !strings.Contains(e.Message, s) {
					t.Errorf("message %q does not contain %q", e.Message, s)
				}
			}
			if bytes.Contains(body, []byte("internal")) {
				t.Errorf("error body mentions internals: %s", body)
			}
		})
	}
}
