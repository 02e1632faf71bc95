package evidence

import (
	"fmt"
	"sync"

	"github.com/package-url/packageurl-go"
)

// MaxPurlLen is the longest purl accepted, in bytes, both as written and in
// canonical form.
const MaxPurlLen = 1024

// Purl is a validated Package URL (ECMA-427) in normalized form.
//
// Normalization is packageurl-go's: [ParsePurl] parses with
// packageurl.FromString, which lowercases the type, applies the per-type
// rules of the purl spec that the library implements (for example lowercase
// names for github, golang and deb; lowercase with "_" replaced by "-" for
// pypi), drops empty qualifiers and sorts qualifiers by key; the canonical
// string is the library's String(), which percent-encodes every byte other
// than ASCII letters, digits and "-._~:" in each component. Evident stores,
// indexes and compares purls only in this canonical form.
type Purl struct {
	p     packageurl.PackageURL
	canon string
	// pkg and rel are Package() and Release(), made once at parse time.
	pkg, rel string
}

// Namespace requirements per purl type, from the purl-spec type definitions
// (github.com/package-url/purl-spec types/*-definition.json,
// namespace_definition.requirement, at commit 16f3d0e3 of 2026-08-21).
// packageurl-go checks only a few of them.
var (
	namespaceRequired = map[string]bool{
		"alpm": true, "apk": true, "bitbucket": true, "composer": true, "deb": true,
		"git": true, "github": true, "golang": true, "huggingface": true, "maven": true,
		"qpkg": true, "rpm": true, "swift": true, "vscode-extension": true,
	}
	namespaceProhibited = map[string]bool{
		"bazel": true, "bitnami": true, "cargo": true, "chrome-extension": true,
		"cocoapods": true, "conda": true, "cran": true, "gem": true, "hackage": true,
		"julia": true, "mlflow": true, "nuget": true, "oci": true, "opam": true,
		"otp": true, "pub": true, "pypi": true, "vcpkg": true,
	}
)

// ParsePurl parses s as a Package URL and normalizes it. s must be ASCII
// without spaces or control characters (other characters must be
// percent-encoded, as the purl spec says), at most [MaxPurlLen] bytes, and
// must follow the purl spec's rules for its type, including whether a
// namespace is required or prohibited. A version is not required here; see
// [Purl.HasVersion].
func ParsePurl(s string) (Purl, error) {
	p, err := parsePurl(s)
	if err != nil {
		return Purl{}, fieldErr("purl", "%s is not a valid purl: %v", quote(s), err)
	}
	return p, nil
}

// purlCache remembers recent successful parses. A submission's purl is
// parsed when its statement is checked, when its entry is made, and again
// when the entry is indexed; packageurl-go takes microseconds each time.
// parsePurl is a function of its input alone, so a remembered answer is the
// answer. The cache is bounded and simply starts over when full; failed
// parses are not kept, so hostile input cannot crowd it.
var purlCache = struct {
	sync.Mutex
	m map[string]Purl
}{m: make(map[string]Purl)}

const purlCacheSize = 4096

// parsePurl is ParsePurl with an error that is only the reason.
func parsePurl(s string) (Purl, error) {
	purlCache.Lock()
	p, ok := purlCache.m[s]
	purlCache.Unlock()
	if ok {
		return p, nil
	}
	p, err := parsePurlUncached(s)
	if err != nil {
		return Purl{}, err
	}
	purlCache.Lock()
	if len(purlCache.m) >= purlCacheSize {
		clear(purlCache.m)
	}
	purlCache.m[s] = p
	purlCache.Unlock()
	return p, nil
}

func parsePurlUncached(s string) (Purl, error) {
	if len(s) > MaxPurlLen {
		return Purl{}, fmt.Errorf("is %d bytes, longer than %d", len(s), MaxPurlLen)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			return Purl{}, fmt.Errorf("has byte %#02x at offset %d; percent-encode spaces and non-ASCII characters", c, i)
		}
	}
	p, err := packageurl.FromString(s)
	if err != nil {
		return Purl{}, err
	}
	if namespaceRequired[p.Type] && p.Namespace == "" {
		return Purl{}, fmt.Errorf("pkg:%s purls need a namespace (pkg:%s/<namespace>/<name>@<version>)", p.Type, p.Type)
	}
	if namespaceProhibited[p.Type] && p.Namespace != "" {
		return Purl{}, fmt.Errorf("pkg:%s purls have no namespace (pkg:%s/<name>@<version>)", p.Type, p.Type)
	}
	canon := p.ToString()
	if len(canon) > MaxPurlLen {
		return Purl{}, fmt.Errorf("is %d bytes in canonical form, longer than %d", len(canon), MaxPurlLen)
	}
	// The canonical form must be a fixed point, or the same purl could be
	// indexed under two keys. Keep the components parsed from it, so that
	// namespace matching sees what the canonical string says (parsing can
	// leave empty namespace segments, from "%2F", that the string drops).
	q, err := packageurl.FromString(canon)
	if err != nil || q.ToString() != canon {
		return Purl{}, fmt.Errorf("has no stable canonical form (%s)", quote(canon))
	}
	pkg := (&packageurl.PackageURL{Type: q.Type, Namespace: q.Namespace, Name: q.Name}).ToString()
	var rel string
	if q.Version != "" {
		rel = (&packageurl.PackageURL{Type: q.Type, Namespace: q.Namespace, Name: q.Name, Version: q.Version}).ToString()
	}
	return Purl{p: q, canon: canon, pkg: pkg, rel: rel}, nil
}

// String returns the canonical form of p, for example
// "pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1?type=jar".
func (p Purl) String() string { return p.canon }

// Type returns p's purl type, for example "maven".
func (p Purl) Type() string { return p.p.Type }

// HasVersion reports whether p names a version.
func (p Purl) HasVersion() bool { return p.p.Version != "" }

// Package returns the canonical form of p without version, qualifiers and
// subpath, for example "pkg:maven/org.apache.logging.log4j/log4j-core". It
// names the package across its releases.
func (p Purl) Package() string { return p.pkg }

// Release returns the canonical form of p without qualifiers and subpath, for
// example "pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1". It names
// one release; qualifiers such as ?type=jar or ?arch=x86_64 distinguish
// artifacts of that release. Release is "" if p has no version.
func (p Purl) Release() string { return p.rel }

// PackageURL returns a copy of p's components.
func (p Purl) PackageURL() packageurl.PackageURL {
	c := p.p
	c.Qualifiers = append(packageurl.Qualifiers(nil), p.p.Qualifiers...)
	return c
}
