package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/server/servertest"
)

const testLogKey = "test.evident.example/log+5f701499+AW56HN0psLeP0Tr0xVmP7/TvKpcWbjym8uT7/M2AUFvx"

func TestLoadConfig(t *testing.T) {
	node := "nodes:\n  - name: a\n    url: http://127.0.0.1:7420\n    log_key: " + testLogKey + "\n"
	tests := []struct {
		name, text, wantErr string
		wantNodes           int
	}{
		{"empty", "", "", 0},
		{"one node", node, "", 1},
		{"two nodes", node + "  - name: b\n    url: https://evident.example.org\n    log_key: " + testLogKey + "\n", "", 2},
		{"duplicate name", node + "  - name: a\n    url: https://evident.example.org\n    log_key: " + testLogKey + "\n", "appears twice", 0},
		{"bad url", strings.Replace(node, "http://127.0.0.1:7420", "127.0.0.1:7420", 1), "must be http://host:port", 0},
		{"bad log key", strings.Replace(node, testLogKey, "ed25519:abc", 1), "is not a log public key", 0},
		{"name with space", strings.Replace(node, "name: a", "name: a b", 1), "without spaces", 0},
		{"unknown field", node + "colour: blue\n", "field colour not found", 0},
		{"bad signer", "signers:\n  - name: x\n    key: ed25519:zz\n", "signers[0] (x)", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(tt.text), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := loadConfig(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("loadConfig: got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Nodes) != tt.wantNodes {
				t.Errorf("%d nodes, want %d", len(c.Nodes), tt.wantNodes)
			}
		})
	}
	if c, err := loadConfig(filepath.Join(t.TempDir(), "missing.yaml")); err != nil || c.exists || len(c.Nodes) != 0 {
		t.Errorf("a missing file: %+v, %v; want an empty configuration", c, err)
	}
}

func TestSelectedNodes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(path, []byte(fmt.Sprintf(`nodes:
  - {name: a, url: "http://127.0.0.1:1", log_key: %q}
  - {name: b, url: "http://127.0.0.1:2/", log_key: %q}
`, testLogKey, testLogKey)), 0o600)
	tests := []struct {
		flag, env string
		all       bool
		want      string
		wantErr   string
	}{
		{all: true, want: "a,b"},
		{all: false, want: "a"},
		{flag: "b", want: "b"},
		{env: "b", want: "b"},
		{flag: "a", env: "b", want: "a"},
		{flag: "http://127.0.0.1:2", want: "b"},
		{flag: "c", wantErr: `no node named "c"`},
		{flag: "http://127.0.0.1:3", wantErr: "evident config add-node NAME http://127.0.0.1:3 LOG_KEY"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s,%s,%v", tt.flag, tt.env, tt.all), func(t *testing.T) {
			defer func(g func(string) string) { getenv = g }(getenv)
			getenv = func(k string) string {
				if k == "EVIDENT_NODE" {
					return tt.env
				}
				return ""
			}
			a := &app{configFlag: path, nodeFlag: tt.flag}
			ns, err := a.selectedNodes(tt.all)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, n := range ns {
				names = append(names, n.Name)
			}
			if got := strings.Join(names, ","); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestCollectEnvelopes(t *testing.T) {
	dir := t.TempDir()
	env := servertest.Envelope(servertest.KeyPyPIMaven, "pkg:pypi/a@1", servertest.Digest("a"), evidence.PredicateSPDX23, nil)
	files := map[string][]byte{
		"a.intoto.json":          env,
		"sub/b.dsse.json":        env,
		"sub/c.json":             env,                                  // an envelope by content
		"sub/sbom.json":          []byte(`{"spdxVersion":"SPDX-2.3"}`), // not an envelope
		"notes.txt":              []byte("not json"),
		"sub/deep/d.INTOTO.JSON": env,
	}
	for name, b := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, skipped, err := collectEnvelopes([]string{dir, filepath.Join(dir, "notes.txt"), "-"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		got[i] = strings.TrimPrefix(filepath.ToSlash(got[i]), filepath.ToSlash(dir)+"/")
	}
	want := "a.intoto.json sub/b.dsse.json sub/c.json sub/deep/d.INTOTO.JSON notes.txt -"
	if strings.Join(got, " ") != want || skipped != 1 {
		t.Errorf("got %v (skipped %d), want %s (skipped 1)", got, skipped, want)
	}
	if _, _, err := collectEnvelopes([]string{filepath.Join(dir, "missing")}); err == nil {
		t.Error("collecting a missing file succeeded")
	}
}

// TestSubmitInProcess runs the submit command in this process against an
// in-process node, so that the race detector sees its concurrency.
func TestSubmitInProcess(t *testing.T) {
	n, err := servertest.Start(servertest.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, fmt.Appendf(nil, "nodes:\n  - {name: test, url: %q, log_key: %q}\n", n.URL, n.VerifierKey), 0o600)
	for i := range 250 {
		env := servertest.Envelope(servertest.KeyPyPIMaven, fmt.Sprintf("pkg:pypi/a@1.%d", i), servertest.Digest(fmt.Sprint(i)), evidence.PredicateSPDX23, nil)
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("%03d.intoto.json", i)), env, 0o644)
	}
	untrusted := servertest.Envelope(servertest.KeyUntrusted, "pkg:pypi/a@9", servertest.Digest("u"), evidence.PredicateSPDX23, nil)
	os.WriteFile(filepath.Join(dir, "untrusted.intoto.json"), untrusted, 0o644)

	submit := func() (submitSummary, int) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"submit", "--config", cfg, "--json", "--batch-size", "7", "--concurrency", "8", dir}, nil, &stdout, &stderr)
		var s submitSummary
		if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
			t.Fatalf("%v\n%s\n%s", err, stdout.String(), stderr.String())
		}
		return s, code
	}
	s, code := submit()
	if code != exitFailed || s.New != 250 || s.AlreadyPresent != 0 || s.Refused != 1 || s.Total != 251 {
		t.Errorf("first submit: exit %d, %+v", code, s)
	}
	if len(s.Refusals) != 1 || !strings.HasSuffix(s.Refusals[0].File, "untrusted.intoto.json") || s.Refusals[0].Code != "permission_denied" {
		t.Errorf("refusals: %+v", s.Refusals)
	}
	s, code = submit()
	if code != exitFailed || s.New != 0 || s.AlreadyPresent != 250 || s.Refused != 1 {
		t.Errorf("second submit: exit %d, %+v", code, s)
	}
}

// TestSubmitUnreachable checks that submit gives up soon on a node that
// can't be reached, rather than retrying every batch.
func TestSubmitUnreachable(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	url := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	os.WriteFile(cfg, fmt.Appendf(nil, "nodes:\n  - {name: down, url: %q, log_key: %q}\n", url, testLogKey), 0o600)
	for i := range 100 {
		env := servertest.Envelope(servertest.KeyPyPIMaven, fmt.Sprintf("pkg:pypi/a@1.%d", i), servertest.Digest(fmt.Sprint(i)), evidence.PredicateSPDX23, nil)
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("%03d.intoto.json", i)), env, 0o644)
	}
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := run(context.Background(), []string{"submit", "--config", cfg, "--json", "--batch-size", "5", dir}, nil, &stdout, &stderr)
	var s submitSummary
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
		t.Fatalf("%v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	if code != exitError || s.Interrupted || s.New != 0 || s.Failed == 0 || s.Failed+s.NotSent != 100 {
		t.Errorf("exit %d, %+v", code, s)
	}
	if !strings.Contains(stderr.String(), "gave up: 3 calls in a row failed") {
		t.Errorf("stderr does not say why it gave up:\n%s", stderr.String())
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("took %v to give up", d)
	}
}
