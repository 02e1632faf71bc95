package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/evident-dev/evident/cmd/evidentd/internal/configdoc"
	"github.com/evident-dev/evident/server"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.yaml.in/yaml/v3"
)

// TestConfigDocCurrent: configdoc.go is what go generate makes of config.go
// now, so the file evidentd init writes says what Config's doc comments say.
func TestConfigDocCurrent(t *testing.T) {
	src, err := os.ReadFile("config.go")
	if err != nil {
		t.Fatal(err)
	}
	want, err := configdoc.Generate(src)
	if err != nil {
		t.Fatalf("Config's documentation: %v", err)
	}
	got, err := os.ReadFile("configdoc.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("configdoc.go is stale: run go generate ./cmd/evidentd\n%s", cmp.Diff(string(want), string(got)))
	}
}

// yamlKeys returns the keys of t's exported fields, in order.
func yamlKeys(t reflect.Type) []string {
	var keys []string
	for f := range t.Fields() {
		if f.IsExported() {
			key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			keys = append(keys, key)
		}
	}
	return keys
}

// TestConfigFileDocumentsEveryField: the file evidentd init writes has every
// key of Config, in order, each under its field's documentation (and the
// keys of the entries of its lists in that documentation), and parses back
// into the configuration it was made from.
func TestConfigFileDocumentsEveryField(t *testing.T) {
	var docKeys []string
	for _, kd := range configKeyDocs {
		docKeys = append(docKeys, kd.key)
	}
	if diff := cmp.Diff(yamlKeys(reflect.TypeFor[Config]()), docKeys); diff != "" {
		t.Fatalf("configdoc.go's keys differ from Config's fields (-Config +configdoc.go):\n%s", diff)
	}

	dir := t.TempDir()
	cfgPath, err := initDir(dir, "test.example/log", defaultListen, server.DefaultMaxEnvelopeSize)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	file := string(b)
	if !strings.HasPrefix(file, configHeader) {
		t.Errorf("the file doesn't open with Config's doc comment:\n%s", file)
	}
	for i, kd := range configKeyDocs {
		// Each key under its comment, at the start of a line.
		if !strings.Contains(file, "\n"+kd.comment+kd.key+":") {
			t.Errorf("key %s is not in the file under its documentation", kd.key)
		}
		f := reflect.TypeFor[Config]().Field(i)
		if elem := f.Type; elem.Kind() == reflect.Slice && elem.Elem().Kind() == reflect.Struct {
			for _, k := range yamlKeys(elem.Elem()) {
				if !strings.Contains(kd.comment, "\n#   "+k+" ") {
					t.Errorf("key %s of an entry of %s is not documented above %s", k, kd.key, kd.key)
				}
			}
		}
	}

	// The file is the configuration evidentd init meant, and valid.
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		t.Fatalf("the file init writes doesn't load: %v", err)
	}
	want := initConfig("test.example/log", defaultListen, server.DefaultMaxEnvelopeSize, cfg.Submitters[0].Key)
	if diff := cmp.Diff(want, cfg, cmpopts.IgnoreUnexported(Config{})); diff != "" {
		t.Errorf("the file init writes loads as another configuration (-want +got):\n%s", diff)
	}
	if _, err := nodeConfig(cfg, nil); err != nil {
		t.Errorf("the file init writes doesn't make a node's configuration: %v", err)
	}
	// Submitters are last and in block style, so that a key can be added by
	// appending lines to the file, as the README's users and our scripts do.
	if !strings.HasSuffix(file, "\nsubmitters:\n  - name: local development key (submitter.key)\n    key: "+want.Submitters[0].Key+"\n    namespaces: ['*']\n") {
		t.Errorf("the file doesn't end with the development key's entry:\n%s", file)
	}
}

// TestConfigRoundTrip: every field, set, survives marshalConfig and the
// strict decoding of loadConfig.
func TestConfigRoundTrip(t *testing.T) {
	c := &Config{
		Listen: "[::1]:7420", Origin: "evidence.example.org/log", NoteKey: "/etc/evident/node.key", Data: "/var/lib/evident",
		WitnessKey: "witness.key", GossipInterval: "1m30s",
		Peers:           []Peer{{Name: "apache", URL: "https://evidence.apache.example", LogKey: "apache.example/log+1234abcd+AQ", WitnessKey: "apache.example/witness+5678ef01+BA"}},
		MaxEnvelopeSize: 1 << 20, TLSCert: "cert.pem", TLSKey: "key.pem",
		SigstoreTrustedRoot: "trusted_root.json",
		Identities: []Identity{{
			Name: "sampleproject", Issuer: "https://token.actions.githubusercontent.com",
			SANRegexp: "https://github[.]com/pypa/sampleproject/.*", SourceRepository: "https://github.com/pypa/sampleproject",
			Namespaces: []string{"pkg:pypi/sampleproject"},
		}},
		Submitters: []Submitter{
			{Name: "release manager", Key: "ed25519:AAAA", KeyIDs: []string{"", "rm-2026"}, Namespaces: []string{"pkg:maven/org.apache", "pkg:pypi"}, RateLimit: 2.5, Burst: 10},
			{Name: "yes: no", Key: "ed25519:BBBB", Namespaces: []string{"*"}},
		},
	}
	// Every field is set, so that a new one must be added here too.
	for f := range reflect.TypeFor[Config]().Fields() {
		if f.IsExported() && reflect.ValueOf(*c).FieldByIndex(f.Index).IsZero() {
			t.Fatalf("the test leaves Config.%s unset", f.Name)
		}
	}
	b, err := marshalConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	var got Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if diff := cmp.Diff(c, &got, cmpopts.IgnoreUnexported(Config{})); diff != "" {
		t.Errorf("round trip (-want +got):\n%s\n%s", diff, b)
	}
}

// TestConfigDocStatesDefaults: the defaults the documentation states are the
// ones the code applies.
func TestConfigDocStatesDefaults(t *testing.T) {
	doc := make(map[string]string)
	for _, kd := range configKeyDocs {
		doc[kd.key] = strings.Join(strings.Fields(strings.ReplaceAll(kd.comment, "#", "")), " ")
	}
	for _, tc := range []struct{ key, says string }{
		{"listen", "evidentd init writes " + defaultListen},
		{"origin", "evidentd init writes its -origin flag, " + defaultOrigin + " unless given"},
		{"gossip_interval", "Default " + defaultGossipInterval.String() + "."},
		{"max_envelope_size", "Default 0, which means " + strconv.Itoa(server.DefaultMaxEnvelopeSize) + " (32 MiB)"},
		{"max_envelope_size", "1 to " + strconv.Itoa(server.EnvelopeSizeCap) + " (64 MiB, the API's cap)"},
	} {
		if !strings.Contains(doc[tc.key], tc.says) {
			t.Errorf("the doc of %s doesn't say %q:\n%s", tc.key, tc.says, doc[tc.key])
		}
	}
	if server.DefaultMaxEnvelopeSize != 32<<20 || server.EnvelopeSizeCap != 64<<20 {
		t.Error("max_envelope_size's doc names the sizes in MiB too: update it")
	}

	// And the code applies them to a file that leaves them out.
	dir := t.TempDir()
	p := filepath.Join(dir, "evidentd.yaml")
	if err := os.WriteFile(p, []byte("listen: 127.0.0.1:0\nnote_key: node.key\ndata: data\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := loadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := c.gossipInterval(); err != nil || d != defaultGossipInterval {
		t.Errorf("gossip_interval left out: %v, %v; want %v", d, err, defaultGossipInterval)
	}
}
