package web_test

import (
	"github.com/evident-dev/evident/server/servertest"
	"io"
	"net/http"
	"strings"
	"testing"

	"encoding/json"
)

// TestRoutes checks that the pages take "/" and their own paths only: the
// node's tiles, RPCs and metrics answer as before, and every page response
// carries the security headers.
func TestRoutes(t *testing.T) {
	n := startNode(t)
	seedRelease(t, n.URL, "pkg:pypi/demo", "1.0.0")
	get := func(path string) (*http.Response, string) {
		t.Helper()
		res, err := http.Get(n.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res, string(b)
	}
	for _, tc := range []struct {
		path, contentType, contains string
		code                        int
		page                        bool
	}{
		{"/", "text/html; charset=utf-8", `<script type="module" src="/ui/js/main.js">`, 200, true},
		{"/ui/js/main.js", "text/javascript; charset=utf-8", "verifyInclusion", 200, true},
		{"/ui/app.css", "text/css; charset=utf-8", "--accent", 200, true},
		{"/ui/nope.js", "text/plain; charset=utf-8", "not found", 404, true},
		{"/api/v1/log", "application/json", `"logKey":"` + servertest.Origin, 200, true},
		{"/api/v1/growth", "application/json", `"points":[{"size":1,`, 200, true},
		{"/api/v1/misbehaviour", "application/json", `"available":true`, 200, true},
		{"/checkpoint", "text/plain; charset=utf-8", servertest.Origin + "\n4\n", 200, false},
		{"/tile/entries/000.p/4", "application/octet-stream", "evident.dev/entry/v2", 200, false},
		{"/metrics", "", "evident_tiles_requests_total", 200, false},
		{"/index.html", "", "not found", 404, false},
		{"/misbehaviour", "text/plain; charset=utf-8", "", 200, false},
	} {
		res, body := get(tc.path)
		if res.StatusCode != tc.code || !strings.Contains(body, tc.contains) {
			t.Errorf("GET %s: %d, body %.200q; want %d with %q", tc.path, res.StatusCode, body, tc.code, tc.contains)
		}
		if tc.contentType != "" && res.Header.Get("Content-Type") != tc.contentType {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, res.Header.Get("Content-Type"), tc.contentType)
		}
		csp := res.Header.Get("Content-Security-Policy")
		if tc.page {
			for _, d := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'", "require-trusted-types-for 'script'"} {
				if !strings.Contains(csp, d) {
					t.Errorf("GET %s: Content-Security-Policy %q lacks %q", tc.path, csp, d)
				}
			}
			for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
				if got := res.Header.Get(h); got != want {
					t.Errorf("GET %s: %s %q, want %q", tc.path, h, got, want)
				}
			}
		} else if csp != "" {
			t.Errorf("GET %s: the node's own path got the pages' headers", tc.path)
		}
	}
	// The RPCs are the node's.
	res, err := http.Post(n.URL+"/evident.v1.EvidenceService/QueryEvidence", "application/json", strings.NewReader(`{"releasePurl":"pkg:pypi/demo@1.0.0"}`))
	if err != nil {
		t.Fatal(err)
	}
	var q struct{ Evidence []json.RawMessage }
	json.NewDecoder(res.Body).Decode(&q)
	res.Body.Close()
	if res.StatusCode != 200 || len(q.Evidence) != 4 {
		t.Errorf("QueryEvidence: %d with %d items, want 200 with 4", res.StatusCode, len(q.Evidence))
	}
	// An unchanged file is revalidated, not sent again.
	req, _ := http.NewRequest("GET", n.URL+"/ui/js/main.js", nil)
	first, _ := get("/ui/js/main.js")
	req.Header.Set("If-None-Match", first.Header.Get("ETag"))
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotModified {
		t.Errorf("GET with the ETag: %d, want 304", res.StatusCode)
	}
}
