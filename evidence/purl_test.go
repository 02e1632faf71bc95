package evidence

import (
	"fmt"
	"strings"
	"testing"

	"github.com/package-url/packageurl-go"
)

func TestParsePurl(t *testing.T) {
	valid := []struct {
		in, canon, pkg, release string
	}{
		{"pkg:pypi/requests@2.32.3", "pkg:pypi/requests@2.32.3", "pkg:pypi/requests", "pkg:pypi/requests@2.32.3"},
		{"pkg:PyPI/Django_Rest@1.0", "pkg:pypi/django-rest@1.0", "pkg:pypi/django-rest", "pkg:pypi/django-rest@1.0"},
		{"PKG:MAVEN/org.apache.logging.log4j/log4j-core@2.24.1", "pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1",
			"pkg:maven/org.apache.logging.log4j/log4j-core", "pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1"},
		{"pkg:maven/org.apache/foo@1?type=jar&classifier=sources", "pkg:maven/org.apache/foo@1?classifier=sources&type=jar",
			"pkg:maven/org.apache/foo", "pkg:maven/org.apache/foo@1"},
		{"pkg:maven/org.apache/foo@1?type=", "pkg:maven/org.apache/foo@1", "pkg:maven/org.apache/foo", "pkg:maven/org.apache/foo@1"},
		{"pkg:npm/@angular/core@17.0.0", "pkg:npm/%40angular/core@17.0.0", "pkg:npm/%40angular/core", "pkg:npm/%40angular/core@17.0.0"},
		{"pkg:generic/openssl@3.4.0", "pkg:generic/openssl@3.4.0", "pkg:generic/openssl", "pkg:generic/openssl@3.4.0"},
		{"pkg:golang/github.com/Foo/Bar@v1.0.0", "pkg:golang/github.com/foo/bar@v1.0.0", "pkg:golang/github.com/foo/bar", "pkg:golang/github.com/foo/bar@v1.0.0"},
		{"pkg:generic/a%20b@1.0+build#sub/path", "pkg:generic/a%20b@1.0%2Bbuild#sub/path", "pkg:generic/a%20b", "pkg:generic/a%20b@1.0%2Bbuild"},
		{"pkg:pypi/requests", "pkg:pypi/requests", "pkg:pypi/requests", ""},
	}
	for _, tt := range valid {
		t.Run(tt.in, func(t *testing.T) {
			p, err := ParsePurl(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if p.String() != tt.canon {
				t.Errorf("String() = %q; want %q", p.String(), tt.canon)
			}
			if p.Package() != tt.pkg {
				t.Errorf("Package() = %q; want %q", p.Package(), tt.pkg)
			}
			if p.Release() != tt.release {
				t.Errorf("Release() = %q; want %q", p.Release(), tt.release)
			}
			if p.HasVersion() != (tt.release != "") {
				t.Errorf("HasVersion() = %v", p.HasVersion())
			}
			// The canonical form is a fixed point.
			q, err := ParsePurl(p.String())
			if err != nil || q.String() != p.String() {
				t.Errorf("ParsePurl(%q) = %q, %v", p.String(), q.String(), err)
			}
		})
	}

	invalid := []struct {
		in, msg string
	}{
		{"", "scheme"},
		{"requests@2.32.3", "scheme"},
		{"pkg:pypi", "missing type or name"},
		{"pkg:pypi/", "missing name"},
		{"pkg:1pypi/requests@1", "invalid type"},
		{"pkg:maven/log4j-core@2.24.1", "need a namespace"},
		{"pkg:github/evident@v1", "need a namespace"},
		{"pkg:pypi/psf/requests@2.32.3", "have no namespace"},
		{"pkg:generic/a b@1", "byte 0x20"},
		{"pkg:generic/caf\u00e9@1", "byte 0xc3"},
		{"pkg:generic/a\tb@1", "byte 0x09"},
		{"pkg:generic/a%zz@1", "invalid URL escape"},
		{"pkg:generic/" + strings.Repeat("a", MaxPurlLen), "longer than 1024"},
		{"pkg:generic/" + strings.Repeat("!", 400) + "@1", "canonical form, longer than 1024"},
		{"pkg:julia/Foo@1", "uuid"},
	}
	for _, tt := range invalid {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParsePurl(tt.in)
			wantFieldError(t, err, "purl", tt.msg)
		})
	}
}

// TestNormalizationMatchesPackageURL checks that the per-type case rules used
// to normalize namespace patterns are those packageurl-go applies to purls.
func TestNormalizationMatchesPackageURL(t *testing.T) {
	types := make(map[string]bool)
	for typ := range packageurl.KnownTypes {
		types[typ] = true
	}
	for typ := range packageurl.CandidateTypes {
		types[typ] = true
	}
	for _, typ := range []string{"brew", "qpkg", "rpm", "mlflow", "huggingface", "made-up"} {
		types[typ] = true
	}
	const ns, name = "Ab_Cd.Ef", "Gh_Ij.Kl"
	for typ := range types {
		if p, err := packageurl.FromString("pkg:" + typ + "/" + ns + "/" + name + "@1"); err == nil {
			if got := normalizeNamespaceSegment(typ, ns); got != p.Namespace {
				t.Errorf("type %s: namespace %q normalizes to %q; packageurl-go gives %q", typ, ns, got, p.Namespace)
			}
			if got := normalizeName(typ, name); got != p.Name {
				t.Errorf("type %s: name %q normalizes to %q; packageurl-go gives %q", typ, name, got, p.Name)
			}
		}
		if p, err := packageurl.FromString("pkg:" + typ + "/" + name + "@1"); err == nil {
			if got := normalizeName(typ, name); got != p.Name {
				t.Errorf("type %s: name %q normalizes to %q; packageurl-go gives %q", typ, name, got, p.Name)
			}
		}
	}
}

// The parse cache answers exactly as a fresh parse does, keeps no failures
// and stays bounded.
func TestPurlCache(t *testing.T) {
	for i := range purlCacheSize + 10 {
		s := fmt.Sprintf("pkg:pypi/Cache_Test@%d", i)
		p1, err := parsePurl(s)
		if err != nil {
			t.Fatal(err)
		}
		p2, err := parsePurl(s) // from the cache
		if err != nil {
			t.Fatal(err)
		}
		fresh, err := parsePurlUncached(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []Purl{p1, p2} {
			if p.String() != fresh.String() || p.Package() != fresh.Package() || p.Release() != fresh.Release() {
				t.Fatalf("%s: cached %v/%v/%v, fresh %v/%v/%v", s, p.String(), p.Package(), p.Release(), fresh.String(), fresh.Package(), fresh.Release())
			}
		}
	}
	if _, err := parsePurl("pkg:maven/no-namespace@1"); err == nil {
		t.Fatal("parsed a maven purl without namespace")
	}
	purlCache.Lock()
	defer purlCache.Unlock()
	if n := len(purlCache.m); n > purlCacheSize {
		t.Errorf("cache holds %d purls, bound %d", n, purlCacheSize)
	}
	if _, ok := purlCache.m["pkg:maven/no-namespace@1"]; ok {
		t.Error("cache kept a failed parse")
	}
}
