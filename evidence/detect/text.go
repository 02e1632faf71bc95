package detect

import (
	"regexp"
	"strings"

	"github.com/evident-dev/evident/evidence"
)

// detectText recognises a text document that is not JSON: SPDX tag-value,
// YAML (SPDX, Security Insights, OSV), security.txt, or a security policy.
func detectText(name, text string) (*Result, error) {
	if v, title, ok := spdxTagValue(text); ok {
		return result("SPDX "+v+" tag-value", spdxPredicateType(v), "text/spdx", title), nil
	}
	r, err, yamlErr := detectYAML(text)
	if err != nil {
		return nil, unrecognized(name, "%v", err)
	}
	if r != nil {
		return r, nil
	}
	if ok, signed := securityTxt(text); ok {
		format := "security.txt (RFC 9116)"
		if signed {
			format = "security.txt (RFC 9116, OpenPGP clear-signed)"
		}
		// A security.txt file is how a vendor publishes where to report
		// vulnerabilities and its disclosure policy (RFC 9116, section 1):
		// CVD evidence. It is served as text/plain (section 3).
		return result(format, evidence.DocumentTypeSecurityTxt, "text/plain", ""), nil
	}
	if r := securityPolicy(name, text); r != nil {
		return r, nil
	}
	if yamlErr != nil {
		return nil, unrecognized(name, "is text of no known kind; read as YAML, %v", yamlErr)
	}
	return nil, unrecognized(name, "is text of no known kind")
}

// lines splits text into lines without their line endings.
func lines(text string) []string {
	ls := strings.Split(text, "\n")
	for i, l := range ls {
		ls[i] = strings.TrimRight(l, "\r")
	}
	return ls
}

// spdxTagValue recognises an SPDX 2 tag-value document (SPDX 2.3 spec,
// clause 6): its first tag is SPDXVersion, and it has a DataLicense or an
// SPDXID tag. Lines starting with "#" are comments. title is the
// DocumentName (clause 6.4), if it comes among the first lines.
func spdxTagValue(text string) (version, title string, ok bool) {
	first := true
	ls := lines(text)
	for _, l := range ls[:min(len(ls), 64)] {
		if v, found := strings.CutPrefix(strings.TrimSpace(l), "DocumentName:"); found && title == "" {
			title = strings.TrimSpace(v)
		}
	}
	for _, l := range ls {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if first {
			v, found := strings.CutPrefix(t, "SPDXVersion:")
			if !found {
				return "", "", false
			}
			m := spdx2Version.FindStringSubmatch(strings.TrimSpace(v))
			if m == nil {
				return "", "", false
			}
			version, first = m[1], false
			continue
		}
		if strings.HasPrefix(t, "DataLicense:") || strings.HasPrefix(t, "SPDXID:") {
			return version, title, true
		}
	}
	return "", "", false
}

// securityTxtField matches a field line of RFC 9116, section 4: field-name
// ":" OWS value.
var securityTxtField = regexp.MustCompile(`^([A-Za-z0-9-]+):[ \t]*\S`)

// securityTxtFields are the fields RFC 9116 defines (section 2.5), and CSAF,
// registered by CSAF 2.0 (section 7.1.8) to point to a provider's metadata.
var securityTxtFields = map[string]bool{
	"acknowledgments": true, "canonical": true, "contact": true, "encryption": true,
	"expires": true, "hiring": true, "policy": true, "preferred-languages": true,
	"csaf": true,
}

// securityTxt recognises a security.txt file (RFC 9116): every line is a
// field, a comment or blank, and at least one field is a known one. Field
// names are case-insensitive (section 2.4). RFC 9116 requires Contact and
// Expires, but published files often lack Expires, and a CSAF provider's may
// hold only CSAF, so neither is required here. signed reports an OpenPGP
// cleartext signature (section 2.3).
func securityTxt(text string) (ok, signed bool) {
	ls := lines(text)
	ls, signed = clearSigned(ls)
	known := 0
	for _, l := range ls {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		m := securityTxtField.FindStringSubmatch(t)
		if m == nil {
			return false, false
		}
		if securityTxtFields[strings.ToLower(m[1])] {
			known++
		}
	}
	return known > 0, signed
}

// clearSigned returns the signed text of an OpenPGP cleartext signed message
// (RFC 4880, section 7), dash-unescaped, or ls itself if it is not one.
func clearSigned(ls []string) ([]string, bool) {
	i := 0
	for i < len(ls) && strings.TrimSpace(ls[i]) == "" {
		i++
	}
	if i == len(ls) || strings.TrimSpace(ls[i]) != "-----BEGIN PGP SIGNED MESSAGE-----" {
		return ls, false
	}
	// Armor headers ("Hash: SHA256") end at a blank line.
	for i++; i < len(ls) && strings.TrimSpace(ls[i]) != ""; i++ {
	}
	var body []string
	for i++; i < len(ls); i++ {
		if strings.TrimSpace(ls[i]) == "-----BEGIN PGP SIGNATURE-----" {
			return body, true
		}
		body = append(body, strings.TrimPrefix(ls[i], "- "))
	}
	return ls, false // no signature: not a cleartext signed message
}

// markup is a text format a policy may be written in.
type markup struct {
	name      string // for Result.Format
	mediaType string
}

var (
	markdown   = markup{"Markdown", "text/markdown"} // RFC 7763
	rst        = markup{"reStructuredText", "text/x-rst"}
	asciidoc   = markup{"AsciiDoc", "text/x-asciidoc"}
	html       = markup{"HTML", "text/html"}
	plainText  = markup{"plain text", "text/plain"}
	extMarkups = map[string]markup{
		".md": markdown, ".markdown": markdown, ".mdown": markdown, ".mkd": markdown,
		".rst": rst, ".rest": rst,
		".adoc": asciidoc, ".asciidoc": asciidoc,
		".html": html, ".htm": html,
		".txt": plainText,
	}
)

// outline is what securityPolicy reads of a document's structure.
type outline struct {
	title    string   // the first heading, lower case
	heading  string   // the first heading, as written
	headings []string // all headings, lower case
	// prose is the text of the lines that are not headings, adornments,
	// directives, comments or code, one space between lines: all of it, or
	// with longProse, its first maxPointer bytes or more.
	prose     string
	longProse bool

	// The kinds of heading and markup seen.
	atx, setext, overline, asciidoc, html, directive bool
}

var (
	htmlHeading  = regexp.MustCompile(`(?i)<h[1-6][^>]*>([^<]*)`)
	htmlComment  = regexp.MustCompile(`(?s)<!--.*?(-->|$)`)
	adornment    = regexp.MustCompile(`^([=\-~^*#"+'` + "`" + `:._])+$`)
	frontMatterT = regexp.MustCompile(`^title:\s*(.*)$`)
)

// isAdornment reports whether l is a Markdown setext underline or a
// reStructuredText section adornment: three or more of one punctuation
// character.
func isAdornment(l string) bool {
	l = strings.TrimRight(l, " \t")
	return len(l) >= 3 && adornment.MatchString(l) && strings.Count(l, l[:1]) == len(l)
}

// readOutline finds the headings of a Markdown, reStructuredText, AsciiDoc,
// HTML or plain text document: a YAML front matter title, ATX ("# Title"),
// setext and reStructuredText (a line over an adornment), AsciiDoc
// ("= Title") and HTML (<h1>) headings. Fenced code blocks and HTML comments
// are skipped. A plain text document's title is its first line, if short.
func readOutline(text string) outline {
	var o outline
	add := func(h string) {
		h = strings.TrimSpace(h)
		if h == "" {
			return
		}
		if o.heading == "" {
			o.heading = h
		}
		h = strings.ToLower(h)
		if o.title == "" {
			o.title = h
		}
		o.headings = append(o.headings, h)
	}
	ls := lines(text)
	// YAML front matter, as Jekyll and Hugo read it.
	if len(ls) > 0 && ls[0] == "---" {
		for i := 1; i < len(ls); i++ {
			if ls[i] == "---" || ls[i] == "..." {
				for _, fm := range ls[1:i] {
					if m := frontMatterT.FindStringSubmatch(fm); m != nil {
						add(strings.Trim(m[1], `"'`))
					}
				}
				ls = ls[i+1:]
				break
			}
		}
	}
	ls = lines(htmlComment.ReplaceAllString(strings.Join(ls, "\n"), ""))
	var prose []byte
	fenced := false
	for i, l := range ls {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			fenced = !fenced
			continue
		}
		if fenced || t == "" {
			continue
		}
		if h, ok := atxHeading(t, '#'); ok {
			o.atx = true
			add(h)
			continue
		}
		if h, ok := atxHeading(t, '='); ok {
			o.asciidoc = true
			add(h)
			continue
		}
		if m := htmlHeading.FindStringSubmatch(t); m != nil {
			o.html = true
			add(m[1])
			continue
		}
		if strings.HasPrefix(t, ".. ") {
			o.directive = true
			continue
		}
		if isAdornment(l) {
			continue
		}
		if i+1 < len(ls) && isAdornment(ls[i+1]) {
			if i > 0 && isAdornment(ls[i-1]) {
				o.overline = true
			} else {
				o.setext = true
			}
			add(t)
			continue
		}
		if len(prose) <= maxPointer {
			prose = append(append(prose, t...), ' ')
		}
	}
	o.prose = strings.TrimSpace(string(prose))
	o.longProse = len(prose) > maxPointer
	if o.title == "" {
		for _, l := range ls {
			if t := strings.TrimSpace(l); t != "" {
				if len(t) <= 100 {
					add(t)
				}
				break
			}
		}
	}
	return o
}

// atxHeading parses "## Heading ##" with marker '#' (Markdown) or '='
// (AsciiDoc): one to six markers, then a space.
func atxHeading(t string, marker byte) (string, bool) {
	n := 0
	for n < len(t) && t[n] == marker {
		n++
	}
	if n == 0 || n > 6 || n == len(t) || (t[n] != ' ' && t[n] != '\t') {
		return "", false
	}
	return strings.TrimRight(strings.TrimSpace(t[n:]), string(marker)+" "), true
}

// markupOf says what markup a policy document is in: from the file name's
// extension if it names one, else from the headings found.
func markupOf(name string, o outline) markup {
	base := baseName(name)
	if i := strings.LastIndexByte(base, '.'); i >= 0 {
		if m, ok := extMarkups[strings.ToLower(base[i:])]; ok {
			return m
		}
	}
	switch {
	case o.atx:
		return markdown
	case o.overline || o.directive:
		return rst
	case o.asciidoc:
		return asciidoc
	case o.html:
		return html
	case o.setext:
		return markdown
	}
	return plainText
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// policyPhrases name a security or disclosure policy, or what one tells the
// reader to do.
var policyPhrases = []string{
	"security policy", "security policies", "vulnerability policy",
	"vulnerability disclosure", "disclosure policy", "coordinated disclosure", "responsible disclosure",
	"report a vulnerability", "reporting a vulnerability", "report vulnerabilities", "reporting vulnerabilities",
	"report a security", "reporting a security", "report security", "reporting security",
	"private vulnerability reporting",
}

// policyHeading reports whether a heading (lower case) is one a security
// policy has: "Security Policy", "Reporting a Vulnerability", "Supported
// Versions" does not count on its own.
func policyHeading(h string) bool {
	switch {
	case containsAny(h, policyPhrases...), strings.Contains(h, "disclosure"), h == "security":
		return true
	case strings.Contains(h, "security"):
		return containsAny(h, "issue", "bug", "vulnerabilit", "advisor", "contact", "response", "report", "handling", "process", "team")
	case strings.Contains(h, "vulnerabilit"):
		return containsAny(h, "report", "handling", "management", "process", "response")
	}
	return false
}

// securityPolicy recognises a security policy or coordinated vulnerability
// disclosure (CVD) policy written as prose, in any markup. There is no
// standard format, so it is a heuristic. The document must
//
//   - talk about vulnerabilities or security issues, and about reporting or
//     disclosing them; and
//   - have a policy heading ("Security Policy", "Reporting a Vulnerability",
//     "Reporting security issues", ...), or say one of the policy phrases
//     ("security policy", "coordinated disclosure", "report a security
//     issue", ...), or be named like a policy (SECURITY.md,
//     security-policy.rst, ...);
//
// or else be a pointer to a policy kept elsewhere (see pointerPolicy).
//
// It is a CVD policy if its title names disclosure ("Vulnerability
// Disclosure Policy", "Coordinated Vulnerability Disclosure") or CVD;
// otherwise it is a security policy, since a SECURITY.md typically mixes
// reporting channels, supported versions and disclosure practice.
func securityPolicy(name, text string) *Result {
	lower := strings.ToLower(text)
	named := strings.HasPrefix(strings.ToLower(baseName(name)), "security")
	if !containsAny(lower, "vulnerabilit", "security issue", "security bug", "security problem", "security flaw", "security defect") ||
		!containsAny(lower, "report", "disclos") {
		return pointerPolicy(name, text, named)
	}
	o := readOutline(text)
	ok := named || containsAny(lower, policyPhrases...)
	for _, h := range o.headings {
		ok = ok || policyHeading(h)
	}
	if !ok {
		return pointerPolicy(name, text, named)
	}
	m := markupOf(name, o)
	if strings.Contains(o.title, "disclosure") || containsWord(o.title, "cvd") {
		return result("coordinated vulnerability disclosure policy ("+m.name+")", evidence.DocumentTypeCVDPolicyText, m.mediaType, o.heading)
	}
	return result("security policy ("+m.name+")", evidence.DocumentTypeSecurityPolicyText, m.mediaType, o.heading)
}

// maxPointer bounds the prose of a pointer policy, in bytes: a sentence or
// two. The whole document may be longer (a licence header in a comment).
const maxPointer = 512

// pointerPolicy recognises a security policy that only points to the policy
// of the foundation or organisation the project belongs to, as Apache
// Commons' and Sigstore's projects' SECURITY.md files do:
//
//	The Apache Commons security page is [https://commons.apache.org/security.html](...).
//
//	# Security
//	Should you discover any security issues, please refer to sigstore's [security process](https://github.com/...).
//
// The document must be named like a policy (named; SECURITY.md) or have a
// policy heading ("Security", "Security Policy") as its title, have at most
// two headings and at most maxPointer bytes of prose, and that prose must
// link somewhere (a URL or mailto:) and say "security" or "vulnerability".
// A README, whose title is its project's name, is not one.
func pointerPolicy(name, text string, named bool) *Result {
	if len(text) > 16*maxPointer {
		return nil
	}
	o := readOutline(text)
	titled := o.title != "" && policyHeading(o.title)
	if !named && !titled || len(o.headings) > 2 || o.longProse {
		return nil
	}
	prose := strings.ToLower(o.prose)
	if !containsAny(prose, "http://", "https://", "mailto:") || !containsAny(prose+" "+o.title, "security", "vulnerab") {
		return nil
	}
	m := markupOf(name, o)
	title := o.heading
	if len(o.headings) == 0 {
		title = "" // the first line of prose, not a title
	}
	return result("security policy pointer ("+m.name+")", evidence.DocumentTypeSecurityPolicyText, m.mediaType, title)
}

// containsWord reports whether w occurs in s between non-letters.
func containsWord(s, w string) bool {
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return (r < 'a' || r > 'z') && (r < '0' || r > '9') }) {
		if f == w {
			return true
		}
	}
	return false
}
