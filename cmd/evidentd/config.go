package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/server"
	"github.com/evident-dev/evident/server/federation"
	"github.com/evident-dev/evident/witness"
	"go.yaml.in/yaml/v3"
	"golang.org/x/mod/sumdb/note"
)

// Generated from the doc comments of Config and of the types of its lists:
// the comments evidentd init writes into a new configuration file.
//go:generate go run gen.go

// Config is evidentd's configuration file, evidentd.yaml (YAML). Relative
// paths in it are relative to the file's directory. SIGHUP reloads
// submitters and peers; the other keys are read at start only.
type Config struct {
	// Listen is the address, host:port, of the node's one listener: Connect,
	// gRPC and gRPC-Web, the C2SP tlog-tiles read API (/checkpoint,
	// /tile/...) and /metrics. Keep it on loopback until tls_cert and
	// tls_key are set. Required; evidentd init writes 127.0.0.1:7420, and
	// the -listen flag overrides it.
	Listen string `yaml:"listen"`

	// Origin is the log's name: the first line of every checkpoint, and the
	// name of the note key in note_key, which must match it. Choose a
	// schema-less URL you control, such as evidence.example.org/log; it
	// cannot change once entries are logged. Default: empty, which takes the
	// note key's name; evidentd init writes its -origin flag,
	// localhost/evident unless given.
	Origin string `yaml:"origin"`

	// NoteKey is the file holding the log's Ed25519 note signing key
	// (c2sp.org/signed-note), as evidentd init writes it. Keep it secret and
	// backed up: it is the log's identity. Required; evidentd init writes
	// node.key.
	NoteKey string `yaml:"note_key"`

	// Data is the directory of the ledger (bbolt), the envelope store and
	// the witness state; it is created if missing. Required; evidentd init
	// writes data.
	Data string `yaml:"data"`

	// WitnessKey is the file holding this node's witness key
	// (c2sp.org/tlog-cosignature), with which it cosigns its peers'
	// checkpoints. Required; evidentd init writes witness.key.
	WitnessKey string `yaml:"witness_key"`

	// GossipInterval is how often each peer is pulled for what it has seen
	// of every log, to catch a log that shows two histories: a duration such
	// as 5s or 1m (Go's time.ParseDuration), more than zero. Default 5s.
	GossipInterval string `yaml:"gossip_interval"`

	// Peers are other foundations' nodes. This node witnesses their logs and
	// pushes its checkpoints to them to be cosigned; every gossip_interval it
	// pulls what they have seen of every log. Each node prints its log_key
	// and witness_key when it starts. Default: none. For example:
	//
	//	peers:
	//	  - name: apache
	//	    url: http://127.0.0.1:7421
	//	    log_key: apache.example/log+1234abcd+AQ...
	//	    witness_key: apache.example/witness+5678ef01+BA...
	Peers []Peer `yaml:"peers"`

	// MaxEnvelopeSize is the largest envelope accepted, in bytes (SBOMs get
	// large): 1 to 67108864 (64 MiB, the API's cap). Default 0, which means
	// 33554432 (32 MiB).
	MaxEnvelopeSize int `yaml:"max_envelope_size"`

	// TLSCert is the PEM file of the node's TLS certificate chain. With
	// tls_key it serves HTTPS (HTTP/2 and HTTP/1.1) instead of cleartext
	// h2c; set both or neither. Default: empty, cleartext.
	TLSCert string `yaml:"tls_cert"`

	// TLSKey is the PEM file of the private key of tls_cert. Default: empty,
	// cleartext.
	TLSKey string `yaml:"tls_key"`

	// SigstoreTrustedRoot is the file of the Sigstore trusted root
	// (trusted_root.json) that Sigstore bundles are verified against,
	// offline: for the public-good instance, the file sigstore-go and
	// cosign keep up to date with TUF. Required with identities. Default:
	// empty, which trusts no Sigstore bundle.
	SigstoreTrustedRoot string `yaml:"sigstore_trusted_root"`

	// Identities are the Sigstore signing identities trusted to submit
	// evidence (Sigstore bundles: PyPI, npm and GitHub attestations,
	// cosign), each for some purl namespaces. Default: none. For example:
	//
	//	identities:
	//	  - name: sampleproject releases
	//	    issuer: https://token.actions.githubusercontent.com
	//	    san_regexp: https://github[.]com/pypa/sampleproject/[.]github/workflows/release[.]yml@refs/tags/.*
	//	    namespaces: ["pkg:pypi/sampleproject"]
	Identities []Identity `yaml:"identities"`

	// Submitters are the keys trusted to submit evidence, each for some purl
	// namespaces; every other submission is refused. Default: none, which
	// refuses every submission. evidentd init writes a development key that
	// may sign for anything, for trying the node out: replace it with your
	// release managers' keys before production. For example:
	//
	//	submitters:
	//	  - name: release manager
	//	    key: ed25519:...
	//	    namespaces: ["pkg:maven/org.apache"]
	//	    rate_limit: 50
	//	    burst: 1000
	Submitters []Submitter `yaml:"submitters"`

	dir string // the config file's directory
}

// Peer is another foundation's node, an entry of Config.Peers.
type Peer struct {
	// Name labels the peer in logs and metrics. Default: the name of its
	// log_key, which is its log's origin.
	Name string `yaml:"name"`

	// URL is the peer's base URL, such as https://evidence.example.org.
	// Required.
	URL string `yaml:"url"`

	// LogKey is the verifier key of the peer's log (a c2sp.org/signed-note
	// vkey, origin+hash+key), as the peer prints it when it starts.
	// Required.
	LogKey string `yaml:"log_key"`

	// WitnessKey is the verifier key of the peer's witness (a
	// c2sp.org/tlog-cosignature vkey), as the peer prints it when it starts.
	// Required.
	WitnessKey string `yaml:"witness_key"`
}

// Identity is a Sigstore signing identity trusted to submit evidence, an
// entry of Config.Identities.
type Identity struct {
	// Name is for the people who read this file, and names the entry in
	// messages. Default: empty.
	Name string `yaml:"name"`

	// Issuer is the OIDC issuer of the signing certificate, e.g.
	// https://token.actions.githubusercontent.com for GitHub Actions.
	// Required.
	Issuer string `yaml:"issuer"`

	// SAN is the certificate identity (subject alternative name), exactly:
	// for GitHub Actions the workflow that signs, with its ref. Give san or
	// san_regexp. Default: empty.
	SAN string `yaml:"san,omitempty"`

	// SANRegexp matches the whole certificate identity (it is anchored at
	// both ends; Go RE2 syntax). Give san or san_regexp. Default: empty.
	SANRegexp string `yaml:"san_regexp,omitempty"`

	// SourceRepository is the repository the build must have run on
	// (Fulcio's source repository URI): set it when the identity is a
	// reusable workflow that many repositories call. Default: empty, any.
	SourceRepository string `yaml:"source_repository,omitempty"`

	// Namespaces are the purl namespaces the identity may sign for, as for
	// submitters. Required: at least one.
	Namespaces []string `yaml:"namespaces,flow"`
}

// Submitter is a key trusted to submit evidence, an entry of
// Config.Submitters.
type Submitter struct {
	// Name is for the people who read this file, and names the entry in
	// errors about it. Default: empty.
	Name string `yaml:"name"`

	// Key is the public key: "ed25519:" and the base64 of the key, as
	// "evident keygen" prints it; or an ECDSA P-256 or P-384 or RSA key as
	// ecdsa-p256:, ecdsa-p384: or rsa: and the base64 of its PKIX encoding,
	// or as a PEM PUBLIC KEY block (cosign.pub). Required.
	Key string `yaml:"key"`

	// KeyIDs are the DSSE keyid values the key's signatures carry, when the
	// signing tool writes its own rather than the key's Evident key id; ""
	// accepts signatures without one, as cosign writes them. At most 4 keys
	// may share a keyid. Default: none.
	KeyIDs []string `yaml:"keyids,omitempty,flow"`

	// Namespaces are the purl namespaces the key may sign for:
	// "pkg:maven/org.apache" (that namespace and below), "pkg:pypi" (a whole
	// type), "pkg:generic/openssl" (one package), "*" (anything). Required:
	// at least one.
	Namespaces []string `yaml:"namespaces,flow"`

	// RateLimit is how many envelopes per second the key may have logged on
	// average; beyond it, its submissions are refused with
	// RESOURCE_EXHAUSTED and when to retry. Default 0: no limit.
	RateLimit float64 `yaml:"rate_limit,omitempty"`

	// Burst is how many envelopes the key may have logged at once under
	// rate_limit. Default 0, which means rate_limit rounded up, at least 1.
	Burst int `yaml:"burst,omitempty"`

	// Withdraw lets the key withdraw evidence that other signers logged
	// about subjects in its namespaces (evidence/STATUS.md); any key may
	// withdraw what it signed itself. Default false.
	Withdraw bool `yaml:"withdraw,omitempty"`
}

// defaultGossipInterval is Config.GossipInterval's default.
const defaultGossipInterval = 5 * time.Second

func (c *Config) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}

// loadConfig reads and checks a configuration file.
func loadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("couldn't read config: %w", err)
	}
	c := &Config{dir: filepath.Dir(path)}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if c.Listen == "" {
		return nil, fmt.Errorf("config %s: listen is empty: give an address such as 127.0.0.1:7420", path)
	}
	if c.NoteKey == "" || c.Data == "" {
		return nil, fmt.Errorf("config %s: note_key and data are required", path)
	}
	if c.MaxEnvelopeSize < 0 || c.MaxEnvelopeSize > server.EnvelopeSizeCap {
		return nil, fmt.Errorf("config %s: max_envelope_size %d: want 1 to %d bytes (the API's cap), or 0 for the default %d", path, c.MaxEnvelopeSize, server.EnvelopeSizeCap, server.DefaultMaxEnvelopeSize)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return nil, fmt.Errorf("config %s: set both tls_cert and tls_key, or neither", path)
	}
	if _, err := c.trust(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if _, err := c.peers(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if _, err := c.gossipInterval(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

func (c *Config) gossipInterval() (time.Duration, error) {
	if c.GossipInterval == "" {
		return defaultGossipInterval, nil
	}
	d, err := time.ParseDuration(c.GossipInterval)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("gossip_interval %q: want a positive duration such as 5s", c.GossipInterval)
	}
	return d, nil
}

// peers parses the peers' keys.
func (c *Config) peers() ([]federation.Peer, error) {
	var out []federation.Peer
	for i, p := range c.Peers {
		lk, err := note.NewVerifier(p.LogKey)
		if err != nil {
			return nil, fmt.Errorf("peers[%d] (%s): log_key: %w (want origin+hash+key, as evidentd prints it)", i, p.Name, err)
		}
		wk, err := witness.NewCosignatureVerifier(p.WitnessKey)
		if err != nil {
			return nil, fmt.Errorf("peers[%d] (%s): witness_key: %w", i, p.Name, err)
		}
		if p.URL == "" {
			return nil, fmt.Errorf("peers[%d] (%s): url is empty", i, p.Name)
		}
		name := p.Name
		if name == "" {
			name = lk.Name()
		}
		out = append(out, federation.Peer{Name: name, URL: p.URL, Origin: lk.Name(), LogKey: lk, WitnessKey: wk})
	}
	return out, nil
}

func (c *Config) cosigner() (*witness.Cosigner, error) {
	if c.WitnessKey == "" {
		return nil, errors.New("witness_key is not set: run evidentd init, or add a key made with witness.GenerateKey")
	}
	b, err := os.ReadFile(c.path(c.WitnessKey))
	if err != nil {
		return nil, fmt.Errorf("couldn't read the witness key: %w", err)
	}
	return witness.ParseCosignerKey(strings.TrimSpace(string(b)), nil)
}

// trust builds the trust policy: the submitters' keys and the Sigstore
// identities.
func (c *Config) trust() (*evidence.TrustedSigners, error) {
	var cfg evidence.SignerConfig
	for i, s := range c.Submitters {
		pub, err := evidence.ParseSignerKey(s.Key)
		if err != nil {
			return nil, fmt.Errorf("submitters[%d] (%s): key: %w", i, s.Name, err)
		}
		cfg.Keys = append(cfg.Keys, evidence.TrustedKey{PublicKey: pub, KeyIDs: s.KeyIDs, Namespaces: s.Namespaces, Rate: s.RateLimit, Burst: s.Burst, Withdraw: s.Withdraw})
	}
	for _, id := range c.Identities {
		cfg.Identities = append(cfg.Identities, evidence.TrustedIdentity{
			Name: id.Name, Issuer: id.Issuer, SAN: id.SAN, SANRegexp: id.SANRegexp,
			SourceRepositoryURI: id.SourceRepository, Namespaces: id.Namespaces,
		})
	}
	if c.SigstoreTrustedRoot != "" {
		b, err := os.ReadFile(c.path(c.SigstoreTrustedRoot))
		if err != nil {
			return nil, fmt.Errorf("sigstore_trusted_root: %w", err)
		}
		cfg.SigstoreTrustedRoot = b
	}
	if len(cfg.Identities) > 0 && cfg.SigstoreTrustedRoot == nil {
		return nil, errors.New("identities need sigstore_trusted_root: the trusted_root.json Sigstore bundles are verified against")
	}
	t, err := evidence.NewTrustedSigners(cfg)
	if err != nil {
		return nil, fmt.Errorf("submitters and identities: %w", err)
	}
	return t, nil
}

func (c *Config) signer() (note.Signer, error) {
	b, err := os.ReadFile(c.path(c.NoteKey))
	if err != nil {
		return nil, fmt.Errorf("couldn't read the note key: %w", err)
	}
	s, err := note.NewSigner(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("note key %s: %w", c.path(c.NoteKey), err)
	}
	if c.Origin != "" && s.Name() != c.Origin {
		return nil, fmt.Errorf("note key %s is for origin %q but the config says %q: the key name is the log's origin", c.path(c.NoteKey), s.Name(), c.Origin)
	}
	return s, nil
}

// initConfig is the configuration evidentd init writes: the keys it makes,
// named as it names them, and a development submitter key.
func initConfig(origin, listen string, maxEnvelope int, submitterKey string) *Config {
	return &Config{
		Listen:          listen,
		Origin:          origin,
		NoteKey:         "node.key",
		Data:            "data",
		WitnessKey:      "witness.key",
		GossipInterval:  defaultGossipInterval.String(),
		Peers:           []Peer{},
		MaxEnvelopeSize: maxEnvelope,
		Identities:      []Identity{},
		Submitters: []Submitter{{
			Name:       "local development key (submitter.key)",
			Key:        submitterKey,
			Namespaces: []string{"*"},
		}},
	}
}

// marshalConfig encodes c as a commented configuration file: every key of
// Config in the order of its fields, each under its field's documentation.
// The comments come from configdoc.go, generated from Config's doc comments.
func marshalConfig(c *Config) ([]byte, error) {
	var doc yaml.Node
	if err := doc.Encode(c); err != nil {
		return nil, fmt.Errorf("couldn't encode the configuration: %w", err)
	}
	// A mapping node holds its keys and values alternately.
	if doc.Kind != yaml.MappingNode || len(doc.Content) != 2*len(configKeyDocs) {
		return nil, errors.New("configdoc.go doesn't match Config: run go generate ./cmd/evidentd")
	}
	var b bytes.Buffer
	b.WriteString(configHeader)
	for i, kd := range configKeyDocs {
		k, v := doc.Content[2*i], doc.Content[2*i+1]
		if k.Value != kd.key {
			return nil, fmt.Errorf("configdoc.go has key %q where Config has %q: run go generate ./cmd/evidentd", kd.key, k.Value)
		}
		b.WriteString("\n")
		b.WriteString(kd.comment)
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(&yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{k, v}}); err != nil {
			return nil, fmt.Errorf("couldn't encode %s: %w", kd.key, err)
		}
		if err := enc.Close(); err != nil {
			return nil, fmt.Errorf("couldn't encode %s: %w", kd.key, err)
		}
	}
	return b.Bytes(), nil
}

// initDir creates a data directory with a note key, a witness key, a
// development submitter key and a commented configuration file. It refuses to
// overwrite an existing configuration.
func initDir(dir, origin, listen string, maxEnvelope int) (string, error) {
	cfgPath := filepath.Join(dir, "evidentd.yaml")
	if _, err := os.Stat(cfgPath); err == nil {
		return "", fmt.Errorf("%s already exists: not overwriting it", cfgPath)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("couldn't create %s: %w", dir, err)
	}
	skey, _, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return "", fmt.Errorf("couldn't make a note key for origin %q: %w", origin, err)
	}
	if err := writeNew(filepath.Join(dir, "node.key"), []byte(skey+"\n")); err != nil {
		return "", err
	}
	pub, priv, err := evidence.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	pem, err := evidence.MarshalPrivateKey(priv)
	if err != nil {
		return "", err
	}
	if err := writeNew(filepath.Join(dir, "submitter.key"), pem); err != nil {
		return "", err
	}
	wskey, _, err := witness.GenerateKey(rand.Reader, witnessName(origin))
	if err != nil {
		return "", err
	}
	if err := writeNew(filepath.Join(dir, "witness.key"), []byte(wskey+"\n")); err != nil {
		return "", err
	}
	cfg, err := marshalConfig(initConfig(origin, listen, maxEnvelope, evidence.FormatPublicKey(pub)))
	if err != nil {
		return "", err
	}
	if err := writeNew(cfgPath, cfg); err != nil {
		return "", err
	}
	return cfgPath, nil
}

// writeNew writes a file that must not exist yet, readable only by its owner.
func writeNew(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("couldn't create %s: %w", path, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// noteVerifierKey derives the public verifier key ("name+hash+key") from a
// note signing key, which x/mod/sumdb/note does not expose.
func noteVerifierKey(skey string) (string, error) {
	parts := strings.SplitN(strings.TrimSpace(skey), "+", 5)
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return "", errors.New("not a note private key (PRIVATE+KEY+name+hash+key)")
	}
	k, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(k) != 1+ed25519.SeedSize || k[0] != 1 {
		return "", errors.New("not an Ed25519 note private key")
	}
	pub := ed25519.NewKeyFromSeed(k[1:]).Public().(ed25519.PublicKey)
	return note.NewEd25519VerifierKey(parts[2], pub)
}

func (c *Config) verifierKey() (string, error) {
	b, err := os.ReadFile(c.path(c.NoteKey))
	if err != nil {
		return "", fmt.Errorf("couldn't read the note key: %w", err)
	}
	return noteVerifierKey(string(b))
}

// witnessName is the name of a node's witness key: distinct from the log's,
// since c2sp.org/tlog-cosignature keys sign a different message.
func witnessName(origin string) string { return origin + "/witness" }
