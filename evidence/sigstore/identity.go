package sigstore

import (
	"crypto/x509"
	"fmt"
	"regexp"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
)

// Identity is what a Fulcio certificate says about its holder: the OIDC
// issuer that vouched for the holder, the subject alternative name, and the
// build facts Fulcio copies from CI tokens (empty when the issuer gives
// none). See https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md.
type Identity struct {
	// Issuer is the OIDC issuer (OID 1.3.6.1.4.1.57264.1.8, or the older
	// 1.3.6.1.4.1.57264.1.1), e.g. https://token.actions.githubusercontent.com.
	Issuer string
	// SAN is the certificate's subject alternative name, as sigstore-go and
	// cosign read it: the first URI, else the first email address, else
	// Fulcio's OtherName. For GitHub Actions it is the workflow that signed,
	// e.g. https://github.com/OWNER/REPO/.github/workflows/release.yml@refs/tags/v1.
	SAN string
	// SourceRepositoryURI is the repository the build ran on (OID
	// 1.3.6.1.4.1.57264.1.12). It differs from the SAN's repository when a
	// reusable workflow (such as slsa-github-generator's) signs.
	SourceRepositoryURI string
	// SourceRepositoryRef is the git ref built (OID 1.3.6.1.4.1.57264.1.14).
	SourceRepositoryRef string
	// SourceRepositoryDigest is the commit built (OID 1.3.6.1.4.1.57264.1.13).
	SourceRepositoryDigest string
	// BuildSignerURI names the build instructions that signed (OID
	// 1.3.6.1.4.1.57264.1.9).
	BuildSignerURI string
	// BuildConfigURI names the top-level build instructions (OID
	// 1.3.6.1.4.1.57264.1.18).
	BuildConfigURI string
	// BuildTrigger is the event that started the build (OID
	// 1.3.6.1.4.1.57264.1.20).
	BuildTrigger string
	// RunInvocationURI names the build run (OID 1.3.6.1.4.1.57264.1.21).
	RunInvocationURI string
	// RunnerEnvironment says whether the runner was hosted by the CI
	// platform (OID 1.3.6.1.4.1.57264.1.11).
	RunnerEnvironment string
}

// MaxSignerIDLen is the longest signer id [Identity.SignerID] returns; an
// identity whose id would be longer is refused.
const MaxSignerIDLen = 1024

// SignerID returns the identity's stable signer id for log entries:
//
//	"sigstore:" PCT(Issuer) ":" PCT(SAN)
//
// where PCT percent-encodes every byte other than an RFC 3986 unreserved
// character (A-Z a-z 0-9 - . _ ~) as %XX with upper-case hex. The id is
// printable ASCII without spaces, has exactly two colons, and is the same
// for the same issuer and SAN; the Fulcio build facts are not part of it.
// For example, the GitHub Actions workflow release.yml of sigstore/sigstore-js
// on main is
//
//	sigstore:https%3A%2F%2Ftoken.actions.githubusercontent.com:https%3A%2F%2Fgithub.com%2Fsigstore%2Fsigstore-js%2F.github%2Fworkflows%2Frelease.yml%40refs%2Fheads%2Fmain
func (id Identity) SignerID() string {
	var b strings.Builder
	b.WriteString("sigstore:")
	pctEncode(&b, id.Issuer)
	b.WriteByte(':')
	pctEncode(&b, id.SAN)
	return b.String()
}

// pctEncode writes s to b with every byte but RFC 3986 unreserved
// characters percent-encoded.
func pctEncode(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
}

// identityOf reads the identity from a certificate. It fails if the
// certificate has no SAN, no issuer, or malformed Fulcio extensions.
func identityOf(cert *x509.Certificate) (Identity, error) {
	s, err := certificate.SummarizeCertificate(cert)
	if err != nil {
		return Identity{}, malformed("signing certificate: %v", err)
	}
	id := Identity{
		Issuer:                 s.Issuer,
		SAN:                    s.SubjectAlternativeName,
		SourceRepositoryURI:    s.SourceRepositoryURI,
		SourceRepositoryRef:    s.SourceRepositoryRef,
		SourceRepositoryDigest: s.SourceRepositoryDigest,
		BuildSignerURI:         s.BuildSignerURI,
		BuildConfigURI:         s.BuildConfigURI,
		BuildTrigger:           s.BuildTrigger,
		RunInvocationURI:       s.RunInvocationURI,
		RunnerEnvironment:      s.RunnerEnvironment,
	}
	if id.Issuer == "" {
		return Identity{}, malformed("signing certificate has no OIDC issuer extension: not a Fulcio certificate")
	}
	if n := len(id.SignerID()); n > MaxSignerIDLen {
		return Identity{}, malformed("signing identity is too long: its signer id would be %d bytes, over %d", n, MaxSignerIDLen)
	}
	// Messages quote the identity in full, so bound the other fields too.
	for _, f := range []string{id.SourceRepositoryURI, id.SourceRepositoryRef, id.SourceRepositoryDigest,
		id.BuildSignerURI, id.BuildConfigURI, id.BuildTrigger, id.RunInvocationURI, id.RunnerEnvironment} {
		if len(f) > MaxSignerIDLen {
			return Identity{}, malformed("signing certificate has a Fulcio extension of %d bytes, over %d", len(f), MaxSignerIDLen)
		}
	}
	return id, nil
}

// Rule trusts a signing identity: an OIDC issuer, exactly, and a SAN,
// exactly or by a regular expression, and optionally a source repository.
// A rule says nothing about what the identity may sign for; the caller
// maps rules (by index or Name) to purl namespaces.
type Rule struct {
	// Name labels the rule for the caller and in messages; it is not
	// matched. Optional.
	Name string
	// Issuer must equal the certificate's OIDC issuer. Required.
	Issuer string
	// SAN, if set, must equal the certificate's SAN.
	SAN string
	// SANRegexp, if set, must match the whole SAN: it is anchored at both
	// ends, so "https://github[.]com/o/r/.*" cannot match a SAN in another
	// repository that merely contains it. Go RE2 syntax. Exactly one of SAN
	// and SANRegexp is set.
	SANRegexp string
	// SourceRepositoryURI, if set, must equal the certificate's source
	// repository (Fulcio OID 1.3.6.1.4.1.57264.1.12). Set it when the SAN is
	// a reusable workflow that many repositories call, such as
	// slsa-github-generator's builders: the SAN alone would trust every
	// repository that calls it.
	SourceRepositoryURI string
}

// compiledRule is a Rule ready to match.
type compiledRule struct {
	Rule
	re *regexp.Regexp
}

func compileRule(i int, r Rule) (compiledRule, error) {
	name := fmt.Sprintf("rule %d", i)
	if r.Name != "" {
		name = fmt.Sprintf("rule %d (%s)", i, quote(r.Name))
	}
	if r.Issuer == "" {
		return compiledRule{}, fmt.Errorf("%s: no issuer: give the OIDC issuer, e.g. https://token.actions.githubusercontent.com", name)
	}
	switch {
	case r.SAN == "" && r.SANRegexp == "":
		return compiledRule{}, fmt.Errorf("%s: no SAN and no SAN regexp: give one", name)
	case r.SAN != "" && r.SANRegexp != "":
		return compiledRule{}, fmt.Errorf("%s: both a SAN and a SAN regexp: give one", name)
	}
	c := compiledRule{Rule: r}
	if r.SANRegexp != "" {
		re, err := regexp.Compile(`^(?:` + r.SANRegexp + `)$`)
		if err != nil {
			return compiledRule{}, fmt.Errorf("%s: couldn't compile SAN regexp: %w", name, err)
		}
		c.re = re
	}
	return c, nil
}

func (c *compiledRule) matches(id *Identity) bool {
	if id.Issuer != c.Issuer {
		return false
	}
	if c.SourceRepositoryURI != "" && id.SourceRepositoryURI != c.SourceRepositoryURI {
		return false
	}
	if c.re != nil {
		return c.re.MatchString(id.SAN)
	}
	return id.SAN == c.SAN
}
