package check

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

//go:embed report.html.tmpl report.css
var htmlFiles embed.FS

// reportCSS is the report's only style sheet, inline; the page's Content
// Security Policy allows it by its hash and nothing else.
var reportCSS = mustRead("report.css")

var reportTemplate = template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
	"date":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"short":   shortHex,
	"signers": signerText,
	"join":    strings.Join,
	"kindcell": func(k KindResult) string {
		if k.Found == 0 {
			return "–"
		}
		return fmt.Sprintf("%d/%d", k.Verified, k.Found)
	},
}).ParseFS(htmlFiles, "report.html.tmpl"))

func mustRead(name string) string {
	b, err := htmlFiles.ReadFile(name)
	if err != nil {
		panic("check: " + err.Error()) // embedded
	}
	return string(b)
}

// WriteHTML writes the report as one self-contained HTML page, for people
// and for technical documentation: no script, no request for anything
// (its Content Security Policy forbids every fetch, and the style sheet is
// inline), readable on screen and printable. Everything taken from the
// SBOM, the documents and the nodes is escaped: it is hostile input.
func WriteHTML(w io.Writer, rep *Report) error {
	sum := sha256.Sum256([]byte(reportCSS))
	data := struct {
		*Report
		CSP     string
		CSS     template.CSS
		Kinds   []string
		Failing []Component
	}{
		Report: rep,
		// default-src 'none' forbids scripts, images, fonts, frames and
		// connections; only the inline style sheet, by hash, is allowed.
		CSP:   "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; base-uri 'none'; form-action 'none'",
		CSS:   template.CSS(reportCSS),
		Kinds: Kinds,
	}
	for _, c := range rep.Components {
		if c.Status == StatusNotMet || c.Status == StatusCouldNotCheck {
			data.Failing = append(data.Failing, c)
		}
	}
	if err := reportTemplate.Execute(w, data); err != nil {
		return fmt.Errorf("couldn't write the HTML report: %w", err)
	}
	return nil
}

func shortHex(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}

func signerText(it Item) string {
	if len(it.SignerNames) == len(it.Signers) && len(it.Signers) > 0 {
		return strings.Join(it.SignerNames, ", ")
	}
	var out []string
	for _, s := range it.Signers {
		if alg, h, ok := strings.Cut(s, ":"); ok && len(h) > 16 && !strings.HasPrefix(s, "sigstore:") {
			s = alg + ":" + h[:16] + "…"
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}
