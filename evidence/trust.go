package evidence

import (
	"crypto"
	"crypto/ed25519"
	"fmt"
	"github.com/evident-dev/evident/evidence/sigstore"
	"math"
	"net/url"
	"slices"
	"strings"
)

// Namespace is a pattern of purls a key may sign for. Its text forms are:
//
//   - "*": every purl.
//   - "pkg:<type>": every purl of that type, e.g. "pkg:pypi".
//   - "pkg:<type>/<seg>/.../<seg>": purls whose namespace-and-name path
//     starts with those segments, e.g. "pkg:maven/org.apache",
//     "pkg:npm/@angular", "pkg:generic/openssl", "pkg:pypi/requests".
//
// The path of a purl is its namespace segments followed by its name
// ("pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1" has the path
// "org.apache.logging.log4j", "log4j-core"). A pattern matches when its
// segments equal the first segments of the path, so matching is on segment
// boundaries: "pkg:generic/openssl" matches pkg:generic/openssl@3.4.0 and
// pkg:generic/openssl/openssl-fips@3.0.9 but not pkg:generic/openssl-fips.
// Maven group ids are dotted hierarchies, so for the maven type a pattern's
// last segment, where it stands for a namespace segment, also matches
// dotted children: "pkg:maven/org.apache" matches groups "org.apache" and
// "org.apache.logging.log4j", never "org.apachefoo".
//
// Comparison is on normalized values: the type is lowercased, segments are
// percent-decoded, and each pattern segment is normalized with the rules
// packageurl-go applies to the purl component it is compared with
// (namespace or name), so "pkg:PyPI/Django_Rest" matches
// pkg:pypi/django-rest@1.0. A pattern has no version, qualifiers or
// subpath.
type Namespace struct {
	any  bool
	typ  string
	segs []string // percent-decoded, as written
}

const maxNamespaceSegments = 32

// ParseNamespace parses a namespace pattern; see [Namespace].
func ParseNamespace(s string) (Namespace, error) {
	n, err := parseNamespace(s)
	if err != nil {
		return Namespace{}, fieldErr("namespace", "%s: %v; write * or pkg:<type>[/<namespace or name>...], e.g. pkg:maven/org.apache or pkg:pypi/requests", quote(s), err)
	}
	return n, nil
}

func parseNamespace(s string) (Namespace, error) {
	if s == "*" {
		return Namespace{any: true}, nil
	}
	if len(s) > MaxPurlLen {
		return Namespace{}, fmt.Errorf("longer than %d bytes", MaxPurlLen)
	}
	if !isToken(s) {
		return Namespace{}, fmt.Errorf("must be printable ASCII without spaces")
	}
	if len(s) < 4 || !strings.EqualFold(s[:4], "pkg:") {
		return Namespace{}, fmt.Errorf(`does not start with "pkg:"`)
	}
	if strings.ContainsAny(s, "?#") {
		return Namespace{}, fmt.Errorf("has qualifiers or a subpath")
	}
	if strings.Contains(s, "*") {
		return Namespace{}, fmt.Errorf("has a wildcard; a pattern already covers everything below it, and * alone means every purl")
	}
	parts := strings.Split(s[4:], "/")
	typ := strings.ToLower(parts[0])
	if !validPurlType(typ) {
		return Namespace{}, fmt.Errorf("type %s is not a valid purl type", quote(parts[0]))
	}
	if len(parts)-1 > maxNamespaceSegments {
		return Namespace{}, fmt.Errorf("has more than %d segments", maxNamespaceSegments)
	}
	n := Namespace{typ: typ}
	for _, raw := range parts[1:] {
		if raw == "" {
			return Namespace{}, fmt.Errorf("has an empty segment")
		}
		// An "@" other than an npm-style scope prefix would be a version.
		if strings.Contains(raw[1:], "@") {
			return Namespace{}, fmt.Errorf("has a version; a pattern names packages, not releases")
		}
		seg, err := url.PathUnescape(raw)
		if err != nil {
			return Namespace{}, fmt.Errorf("bad percent-encoding in %s", quote(raw))
		}
		if seg == "" || strings.Contains(seg, "/") {
			return Namespace{}, fmt.Errorf("segment %s decodes to an empty string or contains /", quote(raw))
		}
		n.segs = append(n.segs, seg)
	}
	return n, nil
}

// String returns the text form of n; ParseNamespace(n.String()) is n.
func (n Namespace) String() string {
	if n.any {
		return "*"
	}
	var b strings.Builder
	b.WriteString("pkg:")
	b.WriteString(n.typ)
	for _, s := range n.segs {
		b.WriteByte('/')
		b.WriteString(escapeSegment(s))
	}
	return b.String()
}

// Match reports whether p is inside n.
func (n Namespace) Match(p Purl) bool {
	if n.any {
		return true
	}
	if p.p.Type != n.typ {
		return false
	}
	var path []string
	if p.p.Namespace != "" {
		path = strings.Split(p.p.Namespace, "/")
	}
	nsLen := len(path)
	path = append(path, p.p.Name)
	if len(n.segs) > len(path) {
		return false
	}
	for i, seg := range n.segs {
		isNS := i < nsLen
		if isNS {
			seg = normalizeNamespaceSegment(n.typ, seg)
		} else {
			seg = normalizeName(n.typ, seg)
		}
		if seg == path[i] {
			continue
		}
		last := i == len(n.segs)-1
		if last && isNS && dottedNamespace[n.typ] && strings.HasPrefix(path[i], seg+".") {
			continue
		}
		return false
	}
	return true
}

// dottedNamespace lists the purl types whose namespace is a dotted hierarchy.
var dottedNamespace = map[string]bool{"maven": true}

// normalizeNamespaceSegment and normalizeName mirror the per-type case rules
// packageurl-go v0.1.7 applies when it parses a purl (typeAdjustNamespace and
// typeAdjustName); TestNormalizationMatchesPackageURL keeps them in step.
func normalizeNamespaceSegment(typ, s string) string {
	switch typ {
	case "alpm", "apk", "bitbucket", "brew", "composer", "deb", "github", "golang", "rpm", "qpkg":
		return strings.ToLower(s)
	}
	return s
}

func normalizeName(typ, s string) string {
	switch typ {
	case "alpm", "apk", "bitbucket", "bitnami", "brew", "chrome-extension", "composer", "deb", "github", "golang":
		return strings.ToLower(s)
	case "pypi":
		return strings.ToLower(strings.ReplaceAll(s, "_", "-"))
	}
	return s
}

// validPurlType checks the purl spec's type rule: ASCII letters, digits, ".",
// "+" and "-", not starting with a digit.
func validPurlType(t string) bool {
	if t == "" || isDigit(t[0]) {
		return false
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; !isLetter(c) && !isDigit(c) && c != '.' && c != '+' && c != '-' {
			return false
		}
	}
	return true
}

// escapeSegment percent-encodes s as the purl spec encodes a path segment:
// everything but ASCII letters, digits and "-._~:". A leading "@" is kept, as
// people write npm scopes that way.
func escapeSegment(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isLetter(c) || isDigit(c) || strings.IndexByte("-._~:", c) >= 0 || (i == 0 && c == '@') {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// TrustedKey is one key a node trusts, with the namespaces it may sign for.
type TrustedKey struct {
	// PublicKey is an Ed25519 key (ed25519.PublicKey), an ECDSA P-256 or
	// P-384 key or an RSA key of 2048 bits or more (*ecdsa.PublicKey,
	// *rsa.PublicKey).
	PublicKey crypto.PublicKey
	// KeyIDs are other DSSE keyid values, besides the key's Evident key id
	// ([SignerKeyID]), that signatures by this key carry: tools name keys
	// their own way. The empty string accepts signatures without a keyid,
	// as cosign writes them. At most 4 keys may share a keyid.
	KeyIDs []string
	// Namespaces are patterns in the text form of [Namespace]. At least one
	// is required.
	Namespaces []string
	// Rate, when positive, is how many envelopes per second the key may
	// have logged on average, and Burst how many at once (default: Rate
	// rounded up, at least 1). Zero: no limit.
	Rate  float64
	Burst int
	// Withdraw lets the key withdraw evidence that others signed, about
	// subjects in its Namespaces (STATUS.md); every key may withdraw what
	// it signed itself.
	Withdraw bool
}

// maxKeysPerKeyID bounds the keys one DSSE keyid may name, so that a
// signature costs at most this many verifications.
const maxKeysPerKeyID = 4

// TrustedIdentity is a Sigstore signing identity a node trusts, with the
// namespaces it may sign for: an OIDC issuer and the certificate's subject
// alternative name, exactly or by a regular expression (anchored at both
// ends), and optionally the source repository a build ran on. See
// [sigstore.Rule].
type TrustedIdentity struct {
	// Name labels the identity in messages; optional.
	Name string
	// Issuer is the OIDC issuer, e.g. https://token.actions.githubusercontent.com.
	Issuer string
	// SAN or SANRegexp (one of them) names the signer, e.g. the workflow
	// https://github.com/pypa/sampleproject/.github/workflows/release.yml@refs/tags/v4.0.0,
	// or ^https://github[.]com/pypa/sampleproject/[.]github/workflows/release[.]yml@refs/tags/.*$.
	SAN, SANRegexp string
	// SourceRepositoryURI, if set, must be the repository the build ran
	// on: set it when the SAN is a reusable workflow many repositories
	// call.
	SourceRepositoryURI string
	// Namespaces are patterns in the text form of [Namespace]. At least one
	// is required.
	Namespaces []string
}

// SignerConfig is everything a node trusts: keys, and Sigstore identities
// with the trusted root their bundles are verified against.
type SignerConfig struct {
	Keys       []TrustedKey
	Identities []TrustedIdentity
	// SigstoreTrustedRoot is a Sigstore trusted_root.json (for the public
	// good instance, what sigstore-go and cosign fetch with TUF). Required
	// with Identities: bundles are verified offline against it.
	SigstoreTrustedRoot []byte
}

// TrustedSigners is the set of keys and Sigstore identities a node accepts
// evidence from, each allowed to sign for some purl namespaces. A nil
// *TrustedSigners trusts no one. It is safe for concurrent use.
type TrustedSigners struct {
	keys   map[string]*trustedKey   // by key id
	byHint map[string][]*trustedKey // by every keyid a signature may carry
	// sigstore verifies bundles; identities[i] holds the namespaces of its
	// rule i. Nil when no identity is trusted.
	sigstore   *sigstore.Verifier
	identities [][]Namespace
}

type trustedKey struct {
	id         string
	pub        crypto.PublicKey
	namespaces []Namespace
	rate       float64
	burst      int
	withdraw   bool
}

// NewTrustedKeys trusts keys only; see [NewTrustedSigners].
func NewTrustedKeys(keys []TrustedKey) (*TrustedSigners, error) {
	return NewTrustedSigners(SignerConfig{Keys: keys})
}

// NewTrustedSigners builds a trust policy. Each key must be a valid public key of an
// accepted algorithm ([KeyAlg]) listed once, with at least one valid
// namespace; each identity must name an issuer, a SAN or SAN regexp, and at
// least one valid namespace, and then a trusted root is required.
func NewTrustedSigners(cfg SignerConfig) (*TrustedSigners, error) {
	p, err := newKeyPolicy(cfg.Keys)
	if err != nil {
		return nil, err
	}
	if len(cfg.Identities) == 0 {
		return p, nil
	}
	if len(cfg.SigstoreTrustedRoot) == 0 {
		return nil, fieldErr("identities", "Sigstore identities need a trusted root (trusted_root.json) to verify bundles against")
	}
	rules := make([]sigstore.Rule, len(cfg.Identities))
	for i, id := range cfg.Identities {
		field := fmt.Sprintf("identities[%d]", i)
		if len(id.Namespaces) == 0 {
			return nil, fieldErr(field, "identity %s has no namespaces, so it could sign for nothing; use \"*\" to allow every purl", quote(id.Issuer+" "+id.SAN+id.SANRegexp))
		}
		var ns []Namespace
		for j, s := range id.Namespaces {
			n, err := parseNamespace(s)
			if err != nil {
				return nil, fieldErr(fmt.Sprintf("%s.namespaces[%d]", field, j), "%s: %v", quote(s), err)
			}
			ns = append(ns, n)
		}
		p.identities = append(p.identities, ns)
		rules[i] = sigstore.Rule{Name: id.Name, Issuer: id.Issuer, SAN: id.SAN, SANRegexp: id.SANRegexp, SourceRepositoryURI: id.SourceRepositoryURI}
	}
	v, err := sigstore.NewVerifier(cfg.SigstoreTrustedRoot, rules)
	if err != nil {
		return nil, fieldErr("identities", "%v", err)
	}
	p.sigstore = v
	return p, nil
}

func newKeyPolicy(keys []TrustedKey) (*TrustedSigners, error) {
	p := &TrustedSigners{keys: make(map[string]*trustedKey, len(keys)), byHint: make(map[string][]*trustedKey, len(keys))}
	for i, k := range keys {
		field := fmt.Sprintf("keys[%d]", i)
		id, err := SignerKeyID(k.PublicKey)
		if err != nil {
			return nil, fieldErr(field, "%s", reason(err))
		}
		if _, dup := p.keys[id]; dup {
			return nil, fieldErr(field, "key %s is listed twice; list it once with all its namespaces", id)
		}
		if len(k.Namespaces) == 0 {
			return nil, fieldErr(field, "key %s has no namespaces, so it could sign for nothing; use \"*\" to allow every purl", id)
		}
		if !(k.Rate >= 0) || math.IsInf(k.Rate, 0) || k.Burst < 0 {
			return nil, fieldErr(field, "key %s has rate %v and burst %d; want a rate of envelopes per second and a burst, both 0 or more (0: no limit)", id, k.Rate, k.Burst)
		}
		pub := k.PublicKey
		if e, ok := pub.(ed25519.PublicKey); ok {
			pub = slices.Clone(e)
		}
		tk := &trustedKey{id: id, pub: pub, rate: k.Rate, burst: k.Burst, withdraw: k.Withdraw}
		if tk.rate > 0 && tk.burst == 0 {
			tk.burst = max(1, int(math.Ceil(tk.rate)))
		}
		for j, s := range k.Namespaces {
			n, err := parseNamespace(s)
			if err != nil {
				return nil, fieldErr(fmt.Sprintf("%s.namespaces[%d]", field, j), "%s: %v", quote(s), err)
			}
			tk.namespaces = append(tk.namespaces, n)
		}
		p.keys[id] = tk
		for _, hint := range append([]string{id}, k.KeyIDs...) {
			if len(hint) > maxKeyIDLen {
				return nil, fieldErr(field, "keyid %s is longer than %d bytes", quote(hint), maxKeyIDLen)
			}
			if slices.Contains(p.byHint[hint], tk) {
				continue
			}
			if len(p.byHint[hint]) == maxKeysPerKeyID {
				return nil, fieldErr(field, "more than %d keys share keyid %s; each signature would cost that many verifications", maxKeysPerKeyID, quote(hint))
			}
			p.byHint[hint] = append(p.byHint[hint], tk)
		}
	}
	return p, nil
}

// KeyIDs returns the ids of the trusted keys, sorted.
func (p *TrustedSigners) KeyIDs() []string {
	if p == nil {
		return nil
	}
	ids := make([]string, 0, len(p.keys))
	for id := range p.keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// PublicKey returns the trusted key with the given id.
func (p *TrustedSigners) PublicKey(keyID string) (crypto.PublicKey, bool) {
	if p == nil {
		return nil, false
	}
	k, ok := p.keys[keyID]
	if !ok {
		return nil, false
	}
	if e, ok := k.pub.(ed25519.PublicKey); ok {
		return slices.Clone(e), true
	}
	return k.pub, true
}

// RateLimit returns the rate (envelopes per second) and burst the key with
// the given id may submit at; a rate of 0 means no limit.
func (p *TrustedSigners) RateLimit(keyID string) (rate float64, burst int) {
	if p == nil {
		return 0, 0
	}
	if k, ok := p.keys[keyID]; ok {
		return k.rate, k.burst
	}
	return 0, 0
}

// MayWithdraw reports whether the key with the given id may withdraw
// evidence about purl that others signed: the operator trusts it for
// withdrawals (TrustedKey.Withdraw) and for purl's namespace.
func (p *TrustedSigners) MayWithdraw(keyID string, purl Purl) bool {
	if p == nil {
		return false
	}
	k, ok := p.keys[keyID]
	return ok && k.withdraw && k.allows(purl)
}

// Allows reports whether the key with the given id is trusted for purl.
func (p *TrustedSigners) Allows(keyID string, purl Purl) bool {
	if p == nil {
		return false
	}
	k, ok := p.keys[keyID]
	return ok && k.allows(purl)
}

func (k *trustedKey) allows(purl Purl) bool {
	for _, n := range k.namespaces {
		if n.Match(purl) {
			return true
		}
	}
	return false
}
