package evidence

import (
	"crypto/ed25519"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNamespaceMatch(t *testing.T) {
	tests := []struct {
		pattern, purl string
		want          bool
	}{
		{"*", "pkg:pypi/requests@2.32.3", true},
		{"*", "pkg:maven/org.apache/x@1", true},
		{"pkg:pypi", "pkg:pypi/requests@2.32.3", true},
		{"PKG:PyPI", "pkg:pypi/requests@2.32.3", true},
		{"pkg:pypi", "pkg:npm/requests@2.32.3", false},
		{"pkg:pypi/requests", "pkg:pypi/requests@2.32.3", true},
		{"pkg:pypi/requests", "pkg:pypi/requests-oauthlib@1.3.1", false},
		{"pkg:pypi/Requests", "pkg:pypi/requests@2.32.3", true},
		{"pkg:pypi/django_rest", "pkg:pypi/django-rest@1.0", true},
		{"pkg:pypi/requests/extra", "pkg:pypi/requests@2.32.3", false},

		{"pkg:maven/org.apache", "pkg:maven/org.apache/foo@1", true},
		{"pkg:maven/org.apache", "pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1", true},
		{"pkg:maven/org.apache", "pkg:maven/org.apachefoo/x@1", false},
		{"pkg:maven/org.apache", "pkg:maven/org/apache@1", false},
		{"pkg:maven/org.apache", "pkg:maven/com.example/org.apache@1", false},
		{"pkg:maven/org.apache.logging.log4j/log4j-core", "pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1", true},
		{"pkg:maven/org.apache.logging.log4j/log4j-core", "pkg:maven/org.apache.logging.log4j/log4j-core-extra@2.24.1", false},
		{"pkg:maven/org.apache.logging.log4j/log4j-core", "pkg:maven/org.apache.logging.log4j.x/log4j-core@2.24.1", false},
		{"pkg:maven/org.apache.logging/log4j", "pkg:maven/org.apache.logging/log4j.core@1", false}, // dots only in namespaces
		{"pkg:maven/Org.Apache", "pkg:maven/org.apache/foo@1", false},                              // maven is case-sensitive

		{"pkg:generic/openssl", "pkg:generic/openssl@3.4.0", true},
		{"pkg:generic/openssl", "pkg:generic/openssl-fips@3.0.9", false},
		{"pkg:generic/openssl", "pkg:generic/openssl/openssl-fips@3.0.9", true},
		{"pkg:golang/github.com", "pkg:golang/github.com/foo/bar@v1.0.0", true},
		{"pkg:golang/github", "pkg:golang/github.com/foo/bar@v1.0.0", false},
		{"pkg:golang/github.com/Foo", "pkg:golang/github.com/foo/bar@v1.0.0", true},
		{"pkg:github/Evident-Dev", "pkg:github/evident-dev/evident@v1", true},

		{"pkg:npm/@angular", "pkg:npm/@angular/core@17.0.0", true},
		{"pkg:npm/%40angular", "pkg:npm/@angular/core@17.0.0", true},
		{"pkg:npm/@angular", "pkg:npm/@angularx/core@17.0.0", false},
		{"pkg:npm/@angular", "pkg:npm/angular@1.8.3", false},
		{"pkg:npm/left-pad", "pkg:npm/left-pad@1.3.0", true},
		{"pkg:generic/a%20b", "pkg:generic/a%20b@1", true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.purl, func(t *testing.T) {
			n, err := ParseNamespace(tt.pattern)
			if err != nil {
				t.Fatal(err)
			}
			p, err := ParsePurl(tt.purl)
			if err != nil {
				t.Fatal(err)
			}
			if got := n.Match(p); got != tt.want {
				t.Errorf("Match = %v; want %v", got, tt.want)
			}
			n2, err := ParseNamespace(n.String())
			if err != nil {
				t.Fatalf("ParseNamespace(%q): %v", n.String(), err)
			}
			if diff := cmp.Diff(n, n2, cmp.AllowUnexported(Namespace{})); diff != "" {
				t.Errorf("ParseNamespace(String()) mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseNamespaceErrors(t *testing.T) {
	tests := []struct {
		in, msg string
	}{
		{"", "printable ASCII"},
		{"maven", `does not start with "pkg:"`},
		{"pkg:", "not a valid purl type"},
		{"pkg:/org.apache", "not a valid purl type"},
		{"pkg:1x/a", "not a valid purl type"},
		{"pkg:maven/", "empty segment"},
		{"pkg:maven//org.apache", "empty segment"},
		{"pkg:maven/org.apache@1", "has a version"},
		{"pkg:maven/org.apache/*", "wildcard"},
		{"pkg:*", "wildcard"},
		{"pkg:maven/x?type=jar", "qualifiers"},
		{"pkg:maven/x#sub", "qualifiers"},
		{"pkg:maven/a%zz", "percent-encoding"},
		{"pkg:maven/a%2Fb", "contains /"},
		{"pkg:ma ven", "printable ASCII"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseNamespace(tt.in)
			wantFieldError(t, err, "namespace", tt.msg)
		})
	}
}

func TestNewTrustedKeys(t *testing.T) {
	k1, k2 := pubOf(testKey(1)), pubOf(testKey(2))
	p, err := NewTrustedKeys([]TrustedKey{
		{PublicKey: k1, Namespaces: []string{"pkg:maven/org.apache", "pkg:generic/openssl"}},
		{PublicKey: k2, Namespaces: []string{"*"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs := []string{KeyID(k1), KeyID(k2)}
	if wantIDs[0] > wantIDs[1] {
		wantIDs[0], wantIDs[1] = wantIDs[1], wantIDs[0]
	}
	if diff := cmp.Diff(wantIDs, p.KeyIDs()); diff != "" {
		t.Errorf("KeyIDs mismatch (-want +got):\n%s", diff)
	}
	if got, ok := p.PublicKey(KeyID(k1)); !ok || !k1.Equal(got) {
		t.Errorf("PublicKey(k1) = %x, %v", got, ok)
	}
	if _, ok := p.PublicKey("ed25519:00"); ok {
		t.Error("PublicKey of an unknown id succeeded")
	}
	apache, _ := ParsePurl("pkg:maven/org.apache.commons/commons-lang3@3.17.0")
	pypi, _ := ParsePurl("pkg:pypi/requests@2.32.3")
	for _, tt := range []struct {
		id   string
		p    Purl
		want bool
	}{
		{KeyID(k1), apache, true},
		{KeyID(k1), pypi, false},
		{KeyID(k2), pypi, true},
		{"unknown", pypi, false},
	} {
		if got := p.Allows(tt.id, tt.p); got != tt.want {
			t.Errorf("Allows(%s, %s) = %v; want %v", tt.id, tt.p, got, tt.want)
		}
	}

	var nilPolicy *TrustedSigners
	if nilPolicy.Allows(KeyID(k1), pypi) || nilPolicy.KeyIDs() != nil {
		t.Error("a nil policy trusts something")
	}
	if _, ok := nilPolicy.PublicKey(KeyID(k1)); ok {
		t.Error("a nil policy has a key")
	}
	empty, err := NewTrustedKeys(nil)
	if err != nil || len(empty.KeyIDs()) != 0 {
		t.Errorf("NewTrustedKeys(nil) = %v, %v", empty, err)
	}

	invalid := []struct {
		name  string
		keys  []TrustedKey
		field string
		msg   string
	}{
		{"short key", []TrustedKey{{PublicKey: k1[:31], Namespaces: []string{"*"}}}, "keys[0]", "31 bytes"},
		{"duplicate", []TrustedKey{{PublicKey: k1, Namespaces: []string{"*"}}, {PublicKey: ed25519.PublicKey(append([]byte(nil), k1...)), Namespaces: []string{"pkg:pypi"}}}, "keys[1]", "listed twice"},
		{"no namespaces", []TrustedKey{{PublicKey: k1}}, "keys[0]", "no namespaces"},
		{"bad namespace", []TrustedKey{{PublicKey: k1, Namespaces: []string{"pkg:pypi", "pypi"}}}, "keys[0].namespaces[1]", "pkg:"},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewTrustedKeys(tt.keys)
			wantFieldError(t, err, tt.field, tt.msg)
		})
	}
}

// TestNamespaceMatchCanonical checks that matching sees the purl as its
// canonical form reads, whatever encoding the submitter used.
func TestNamespaceMatchCanonical(t *testing.T) {
	n, err := ParseNamespace("pkg:generic/a/b")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"pkg:generic/a/b/c@1", "pkg:generic/a%2F%2Fb/c@1", "pkg:generic/a%2Fb/c@1", "pkg:generic//a///b/c@1"} {
		p, err := ParsePurl(s)
		if err != nil {
			t.Fatal(err)
		}
		if p.String() != "pkg:generic/a/b/c@1" || !n.Match(p) {
			t.Errorf("%s: canonical %s, Match = %v", s, p, n.Match(p))
		}
	}
}

func TestTrustedSignersRateLimit(t *testing.T) {
	k1, k2, k3 := pubOf(testKey(1)), pubOf(testKey(2)), pubOf(testKey(3))
	p, err := NewTrustedKeys([]TrustedKey{
		{PublicKey: k1, Namespaces: []string{"*"}, Rate: 2.5},
		{PublicKey: k2, Namespaces: []string{"*"}, Rate: 10, Burst: 500},
		{PublicKey: k3, Namespaces: []string{"*"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		id    string
		rate  float64
		burst int
	}{
		{KeyID(k1), 2.5, 3}, // burst defaults to the rate, rounded up
		{KeyID(k2), 10, 500},
		{KeyID(k3), 0, 0},
		{"unknown", 0, 0},
	} {
		if rate, burst := p.RateLimit(tt.id); rate != tt.rate || burst != tt.burst {
			t.Errorf("RateLimit(%s) = %v, %d; want %v, %d", tt.id, rate, burst, tt.rate, tt.burst)
		}
	}
	for _, bad := range []TrustedKey{
		{PublicKey: k1, Namespaces: []string{"*"}, Rate: -1},
		{PublicKey: k1, Namespaces: []string{"*"}, Rate: math.NaN()},
		{PublicKey: k1, Namespaces: []string{"*"}, Rate: math.Inf(1)},
		{PublicKey: k1, Namespaces: []string{"*"}, Rate: 1, Burst: -1},
	} {
		if _, err := NewTrustedKeys([]TrustedKey{bad}); err == nil || !strings.Contains(err.Error(), "rate") {
			t.Errorf("rate %v, burst %d: got %v, want an error about the rate", bad.Rate, bad.Burst, err)
		}
	}
}
