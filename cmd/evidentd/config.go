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

// config is evidentd's configuration file (YAML). Relative paths in it are
// relative to the file's directory.
type config struct {
	// Listen is the address of the one listener (Connect, gRPC, gRPC-Web,
	// tiles, metrics).
	Listen string `yaml:"listen"`
	// Origin is the log's name: the first line of every checkpoint and the
	// name of the note key.
	Origin string `yaml:"origin"`
	// NoteKey is the file holding the log's note signing key.
	NoteKey string `yaml:"note_key"`
	// Data is the directory of the ledger and the envelope store.
	Data string `yaml:"data"`
	// MaxEnvelopeSize bounds a submitted envelope, in bytes.
	MaxEnvelopeSize int `yaml:"max_envelope_size"`
	// TLSCert and TLSKey, when both are set, serve TLS instead of h2c.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// Submitters are the keys trusted to submit evidence, each for some purl
	// namespaces.
	Submitters []submitter `yaml:"submitters"`
	// WitnessKey is the file holding the node's witness (cosigner) key.
	WitnessKey string `yaml:"witness_key"`
	// GossipInterval is how often each peer is pulled, e.g. "5s".
	GossipInterval string `yaml:"gossip_interval"`
	// Peers are the other foundations' nodes: this node witnesses their
	// logs, and they witness this one.
	Peers []peer `yaml:"peers"`

	dir string // the config file's directory
}

type peer struct {
	Name       string `yaml:"name"`
	URL        string `yaml:"url"`
	LogKey     string `yaml:"log_key"`
	WitnessKey string `yaml:"witness_key"`
}

type submitter struct {
	Name       string   `yaml:"name"`
	Key        string   `yaml:"key"`
	Namespaces []string `yaml:"namespaces"`
	// RateLimit and Burst, when set, limit the key to that many envelopes
	// per second on average and at once.
	RateLimit float64 `yaml:"rate_limit"`
	Burst     int     `yaml:"burst"`
}

func (c *config) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}

// loadConfig reads and checks a configuration file.
func loadConfig(path string) (*config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("couldn't read config: %w", err)
	}
	c := &config{dir: filepath.Dir(path)}
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

func (c *config) gossipInterval() (time.Duration, error) {
	if c.GossipInterval == "" {
		return 5 * time.Second, nil
	}
	d, err := time.ParseDuration(c.GossipInterval)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("gossip_interval %q: want a positive duration such as 5s", c.GossipInterval)
	}
	return d, nil
}

// peers parses the peers' keys.
func (c *config) peers() ([]federation.Peer, error) {
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

func (c *config) cosigner() (*witness.Cosigner, error) {
	if c.WitnessKey == "" {
		return nil, errors.New("witness_key is not set: run evidentd init, or add a key made with witness.GenerateKey")
	}
	b, err := os.ReadFile(c.path(c.WitnessKey))
	if err != nil {
		return nil, fmt.Errorf("couldn't read the witness key: %w", err)
	}
	return witness.ParseCosignerKey(strings.TrimSpace(string(b)), nil)
}

// trust builds the submitters' trust policy.
func (c *config) trust() (*evidence.TrustPolicy, error) {
	var keys []evidence.TrustedKey
	for i, s := range c.Submitters {
		pub, err := evidence.ParsePublicKey(s.Key)
		if err != nil {
			return nil, fmt.Errorf("submitters[%d] (%s): key: %w", i, s.Name, err)
		}
		keys = append(keys, evidence.TrustedKey{PublicKey: pub, Namespaces: s.Namespaces, Rate: s.RateLimit, Burst: s.Burst})
	}
	t, err := evidence.NewTrustPolicy(keys)
	if err != nil {
		return nil, fmt.Errorf("submitters: %w", err)
	}
	return t, nil
}

func (c *config) signer() (note.Signer, error) {
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

const configTemplate = `# evidentd configuration. Relative paths are relative to this file.

# The one listener: Connect, gRPC and gRPC-Web, the C2SP tlog-tiles read API
# (/checkpoint, /tile/...), /metrics. Loopback by default; put a TLS
# certificate below before listening on a public address.
listen: %q

# The log's origin: the first line of every checkpoint, and the name of the
# note key below. Choose a schema-less URL you control, e.g.
# evidence.example.org/log. It cannot change once entries are logged.
origin: %q

# The log's Ed25519 note signing key (C2SP signed-note). Keep it secret and
# backed up: it is the log's identity.
note_key: node.key

# The ledger (bbolt), the envelope store and the witness state.
data: data

# This node's witness key (c2sp.org/tlog-cosignature): it cosigns its peers'
# checkpoints with it.
witness_key: witness.key

# Peers: other foundations' nodes. This node witnesses their logs and pushes
# its checkpoints to them to be cosigned; every gossip_interval it pulls what
# they have seen of every log, to catch a log that shows two histories.
# Each peer prints its log_key and witness_key when it starts.
gossip_interval: 5s
peers: []
#  - name: apache
#    url: http://127.0.0.1:7421
#    log_key: apache.example/log+1234abcd+AQ...
#    witness_key: apache.example/witness+5678ef01+BA...

# Largest envelope accepted, in bytes (SBOMs get large).
max_envelope_size: %d

# TLS: set both to serve HTTPS (HTTP/2) instead of cleartext h2c.
tls_cert: ""
tls_key: ""

# Keys trusted to submit evidence, each for some purl namespaces:
# "pkg:maven/org.apache" (that namespace and below), "pkg:pypi" (a whole
# type), "pkg:generic/openssl" (one package), "*" (anything).
# Print a key with "evident keygen". A key may also have a rate limit:
# rate_limit envelopes per second on average, burst at once (default: the
# rate); beyond it its submissions are refused with RESOURCE_EXHAUSTED and
# when to retry. Absent: no limit. For example:
#  - name: release manager
#    key: ed25519:...
#    namespaces: ["pkg:maven/org.apache"]
#    rate_limit: 50
#    burst: 1000
submitters:
  # A key made by "evidentd init" for trying the node out. It may sign for
  # anything: replace it with your release managers' keys before production.
  - name: local development key (submitter.key)
    key: %q
    namespaces: ["*"]
`

// initDir creates a data directory with a note key, a development
// submitter key and a commented configuration file. It refuses to
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
	cfg := fmt.Sprintf(configTemplate, listen, origin, maxEnvelope, evidence.FormatPublicKey(pub))
	if err := writeNew(cfgPath, []byte(cfg)); err != nil {
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

func (c *config) verifierKey() (string, error) {
	b, err := os.ReadFile(c.path(c.NoteKey))
	if err != nil {
		return "", fmt.Errorf("couldn't read the note key: %w", err)
	}
	return noteVerifierKey(string(b))
}

// witnessName is the name of a node's witness key: distinct from the log's,
// since c2sp.org/tlog-cosignature keys sign a different message.
func witnessName(origin string) string { return origin + "/witness" }
