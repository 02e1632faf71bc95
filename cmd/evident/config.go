package main

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
	"golang.org/x/mod/sumdb/note"

	"github.com/evident-dev/evident/client"
	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/internal/durable"
	"github.com/evident-dev/evident/policy"
)

// config is the CLI's configuration file (see rootLong).
type config struct {
	Nodes   []nodeConfig   `yaml:"nodes"`
	Key     string         `yaml:"key,omitempty"`
	Policy  string         `yaml:"policy,omitempty"`
	Signers []signerConfig `yaml:"signers,omitempty"`
	// SigstoreTrustedRoot is the Sigstore trusted_root.json that evidence
	// logged as Sigstore bundles is verified against, offline.
	SigstoreTrustedRoot string `yaml:"sigstore_trusted_root,omitempty"`

	path   string // where it was read from, or will be written
	exists bool
}

type nodeConfig struct {
	Name   string `yaml:"name"`
	URL    string `yaml:"url"`
	LogKey string `yaml:"log_key"`
}

type signerConfig struct {
	Name string `yaml:"name"`
	Key  string `yaml:"key"`
}

// configPath returns the configuration file to use.
func (a *app) configPath() (string, error) {
	if a.configFlag != "" {
		return a.configFlag, nil
	}
	if p := getenv("EVIDENT_CONFIG"); p != "" {
		return p, nil
	}
	dir, err := configDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "config.yaml"), nil
}

// configDir is $XDG_CONFIG_HOME/evident, else ~/.config/evident.
func configDir() (string, error) {
	if d := getenv("XDG_CONFIG_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "evident"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("couldn't find the configuration directory: %w; set EVIDENT_CONFIG", err)
	}
	return filepath.Join(home, ".config", "evident"), nil
}

// config loads the configuration once. A missing file is an empty
// configuration.
func (a *app) config() (*config, error) {
	if a.cfg != nil {
		return a.cfg, nil
	}
	path, err := a.configPath()
	if err != nil {
		return nil, err
	}
	c, err := loadConfig(path)
	if err != nil {
		return nil, err
	}
	a.cfg = c
	return c, nil
}

func loadConfig(path string) (*config, error) {
	c := &config{path: path}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read the configuration: %w", err)
	}
	c.exists = true
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	// An empty file is an empty configuration (io.EOF).
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("configuration %s: %w", path, err)
	}
	seen := make(map[string]bool)
	for i, n := range c.Nodes {
		if err := checkNode(n); err != nil {
			return nil, fmt.Errorf("configuration %s: nodes[%d]: %w", path, i, err)
		}
		if seen[n.Name] {
			return nil, fmt.Errorf("configuration %s: node name %q appears twice", path, n.Name)
		}
		seen[n.Name] = true
	}
	for i, s := range c.Signers {
		if _, err := evidence.ParseSignerKey(s.Key); err != nil {
			return nil, fmt.Errorf("configuration %s: signers[%d] (%s): %w", path, i, s.Name, err)
		}
	}
	return c, nil
}

func checkNode(n nodeConfig) error {
	if n.Name == "" || strings.ContainsAny(n.Name, " \t\n/") {
		return fmt.Errorf("node name %q must be non-empty, without spaces or slashes", n.Name)
	}
	u, err := url.Parse(n.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("node %s: url %q must be http://host:port or https://host", n.Name, n.URL)
	}
	if _, err := note.NewVerifier(n.LogKey); err != nil {
		return fmt.Errorf("node %s: log_key %q is not a log public key (origin+hash+base64, as evidentd prints it): %v", n.Name, n.LogKey, err)
	}
	return nil
}

// save writes the configuration file, creating its directory.
func (c *config) save() error {
	b, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return fmt.Errorf("couldn't create the configuration directory: %w", err)
	}
	if err := durable.WriteFile(c.path, b, 0o600); err != nil {
		return fmt.Errorf("couldn't write the configuration: %w", err)
	}
	c.exists = true
	return nil
}

// resolve makes a path from the configuration file relative to its
// directory.
func (c *config) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	if strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[2:])
		}
	}
	return filepath.Join(filepath.Dir(c.path), p)
}

// selectedNodes returns the node named by --node or EVIDENT_NODE, or, if
// neither is set, every configured node (all true) or the first (all
// false).
func (a *app) selectedNodes(all bool) ([]nodeConfig, error) {
	c, err := a.config()
	if err != nil {
		return nil, err
	}
	want := a.nodeFlag
	if want == "" {
		want = getenv("EVIDENT_NODE")
	}
	if want == "" {
		if len(c.Nodes) == 0 {
			return nil, fmt.Errorf("no nodes configured in %s: add one with evident config add-node NAME URL LOG_KEY", c.path)
		}
		if all {
			return c.Nodes, nil
		}
		return c.Nodes[:1], nil
	}
	for _, n := range c.Nodes {
		if n.Name == want || strings.TrimSuffix(n.URL, "/") == strings.TrimSuffix(want, "/") {
			return []nodeConfig{n}, nil
		}
	}
	if strings.Contains(want, "://") {
		return nil, fmt.Errorf("node %s is not in %s; evident needs its log public key to check what it says: add it with evident config add-node NAME %s LOG_KEY", want, c.path, want)
	}
	return nil, fmt.Errorf("no node named %q in %s", want, c.path)
}

// policy returns the configured witness policy, or nil.
func (a *app) policy(override string) (*policy.WitnessPolicy, error) {
	c, err := a.config()
	if err != nil {
		return nil, err
	}
	path := override
	if path == "" {
		path = c.resolve(c.Policy)
	}
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("couldn't read the witness policy: %w", err)
	}
	p, err := policy.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("witness policy %s: %w", path, err)
	}
	return p, nil
}

// sigstoreRoot returns the Sigstore trusted root: the file override names,
// else the configuration's, else nil.
func (a *app) sigstoreRoot(override string) ([]byte, error) {
	path := override
	if path == "" {
		c, err := a.config()
		if err != nil {
			return nil, err
		}
		path = c.resolve(c.SigstoreTrustedRoot)
	}
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("couldn't read the Sigstore trusted root: %w", err)
	}
	return b, nil
}

// firstClient returns the node a command that talks to one node uses
// (--node, else the configuration's first) and a client for it.
func (a *app) firstClient() (nodeConfig, *client.Client, error) {
	nodes, err := a.selectedNodes(false)
	if err != nil {
		return nodeConfig{}, nil, err
	}
	cl, err := a.newClient(nodes[0])
	if err != nil {
		return nodeConfig{}, nil, err
	}
	return nodes[0], cl, nil
}

// newClient returns a client for n, with the configured witness policy.
func (a *app) newClient(n nodeConfig) (*client.Client, error) {
	pol, err := a.policy("")
	if err != nil {
		return nil, err
	}
	return client.New(n.URL, client.Options{Name: n.Name, LogKey: n.LogKey, Policy: pol})
}

// keyPath returns the signing key file: --key, EVIDENT_KEY, the
// configuration's key, or signing.key in the configuration directory.
func (a *app) keyPath() (string, error) {
	if a.keyFlag != "" {
		return a.keyFlag, nil
	}
	if k := getenv("EVIDENT_KEY"); k != "" {
		return k, nil
	}
	c, err := a.config()
	if err != nil {
		return "", err
	}
	if c.Key != "" {
		return c.resolve(c.Key), nil
	}
	dir, err := configDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "signing.key"), nil
}

// readKey reads the signing key.
func (a *app) readKey() (ed25519.PrivateKey, error) {
	path, err := a.keyPath()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no signing key at %s: make one with evident keygen, or give --key", path)
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read the signing key: %w", err)
	}
	k, err := evidence.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	return k, nil
}

// knownSigners returns the configured signers' keys by key id, with their
// names, plus the public half of the signing key if there is one.
func (a *app) knownSigners() (map[string]signer, error) {
	c, err := a.config()
	if err != nil {
		return nil, err
	}
	out := make(map[string]signer)
	if k, err := a.readKey(); err == nil {
		pub := k.Public().(ed25519.PublicKey)
		out[evidence.KeyID(pub)] = signer{name: "your key", pub: pub}
	}
	for _, s := range c.Signers {
		pub, err := evidence.ParseSignerKey(s.Key)
		if err != nil {
			return nil, err // checked when loading
		}
		id, err := evidence.SignerKeyID(pub)
		if err != nil {
			return nil, err
		}
		out[id] = signer{name: s.Name, pub: pub}
	}
	return out, nil
}

type signer struct {
	name string
	pub  crypto.PublicKey
}

// parseKeyArg reads a public key given on the command line: its text form
// (ed25519:<base64>, ecdsa-p256:<base64>, ...), or a file holding it, a PEM
// public key (cosign.pub), or an Ed25519 private key (whose public half is
// meant).
func parseKeyArg(s string) (crypto.PublicKey, error) {
	if pub, err := evidence.ParseSignerKey(s); err == nil {
		return pub, nil
	}
	b, err := os.ReadFile(s)
	if err != nil {
		return nil, fmt.Errorf("%q is neither a public key (ed25519:<base64>, ecdsa-p256:<base64>, ...) nor a readable key file: %w", s, err)
	}
	if pub, err := evidence.ParseSignerKey(string(b)); err == nil {
		return pub, nil
	}
	k, err := evidence.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("key file %s holds no public key (ed25519:<base64> or PEM) and no private key: %w", s, err)
	}
	return k.Public().(ed25519.PublicKey), nil
}
