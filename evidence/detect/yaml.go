package detect

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// yamlStart matches the first significant line of a YAML document that is a
// mapping: a directive, a document marker or a "key:".
var yamlStart = regexp.MustCompile(`^(%YAML|---|[A-Za-z_"'][^:\n]*:([ \t]|$))`)

// detectYAML recognises a YAML document by converting it to JSON and
// classifying the result (the JSON is read, never kept). It returns a nil result and error if text is not a
// single-document YAML mapping of a kind Detect knows, so that the caller can
// try it as text: a security.txt file, for one, is also a YAML mapping. Then
// tried, if not nil, says why text was not read as YAML, for the caller's
// error message.
//
// The kinds published as YAML are SPDX 2 (spdxVersion), Security Insights
// (header.schema-version) and OSV (id, and modified or schema_version), so
// other text is not parsed: parsing is the slowest step of detection.
func detectYAML(text string) (r *Result, err, tried error) {
	if !yamlStart.MatchString(firstLine(text)) || !maybeYAMLEvidence(text) {
		return nil, nil, nil
	}
	dec := yaml.NewDecoder(strings.NewReader(text))
	var doc yaml.Node
	if err := safeYAML(func() error { return dec.Decode(&doc) }); err != nil {
		return nil, nil, err
	}
	converted, err := yamlToJSON(&doc, len(text))
	if err != nil {
		return nil, nil, err
	}
	o, err := decodeObject(converted)
	if err != nil {
		return nil, nil, errors.New("not a YAML mapping")
	}
	r, err = classifyObject(o, "YAML")
	if err != nil || r == nil {
		return nil, err, nil
	}
	var next yaml.Node
	switch err := safeYAML(func() error { return dec.Decode(&next) }); err {
	case io.EOF:
	case nil:
		return nil, errors.New("is a YAML stream of several documents; attest each on its own"), nil
	default:
		return nil, fmt.Errorf("is %s followed by invalid YAML (%v)", r.Format, err), nil
	}
	return r, nil, nil
}

// maybeYAMLEvidence reports whether text has the keys a YAML document of a
// kind Detect knows must have.
func maybeYAMLEvidence(text string) bool {
	return strings.Contains(text, "spdxVersion") || strings.Contains(text, "schema-version") ||
		strings.Contains(text, "id:") && (strings.Contains(text, "modified:") || strings.Contains(text, "schema_version:"))
}

// firstLine returns the first line of text that is neither blank nor a
// comment.
func firstLine(text string) string {
	for text != "" {
		var line string
		line, text, _ = strings.Cut(text, "\n")
		line = strings.TrimRight(line, " \t\r")
		if line != "" && !strings.HasPrefix(strings.TrimLeft(line, " \t"), "#") {
			return line
		}
	}
	return ""
}

// safeYAML runs a YAML decoding step. The YAML parser reports some errors by
// panicking internally and recovers them itself; Detect must not panic on
// any input, so a panic that escapes anyway becomes an error.
func safeYAML(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("YAML parser failed: %v", p)
		}
	}()
	return f()
}

// Limits on YAML to JSON conversion.
const (
	maxYAMLDepth = 1000
	// The JSON may be this much larger than the YAML (aliases are
	// expanded), plus a constant; it is also at most MaxSize.
	yamlExpansion = 4
	yamlSlack     = 1 << 20
)

// yamlToJSON converts a YAML document to JSON, keeping mapping keys in order.
// Scalars follow the YAML 1.2 core schema as the parser resolved them:
// integers, floats that JSON can represent, booleans and nulls become JSON
// numbers, booleans and nulls; everything else, timestamps included, is a
// string, as written. Aliases are expanded and merge keys ("<<") applied.
// Duplicate keys, keys that are not scalars, and documents that expand past
// a size limit are refused.
func yamlToJSON(doc *yaml.Node, inputLen int) ([]byte, error) {
	limit := min(yamlExpansion*inputLen+yamlSlack, MaxSize)
	c := &yamlConv{limit: limit}
	err := safeYAML(func() error { return c.node(doc, 0) })
	if err != nil {
		return nil, err
	}
	return c.b.Bytes(), nil
}

type yamlConv struct {
	b     bytes.Buffer
	limit int // on the output, in bytes, and on work, in nodes and pairs visited
	work  int
}

// step counts one unit of work. Merge keys can make the work grow
// exponentially without the output growing, so it is bounded separately.
func (c *yamlConv) step(n int) error {
	c.work += n
	if c.work > c.limit || c.b.Len() > c.limit {
		return errYAMLTooBig
	}
	return nil
}

var errYAMLTooBig = errors.New("YAML expands to too much JSON")

func (c *yamlConv) node(n *yaml.Node, depth int) error {
	if depth > maxYAMLDepth {
		return errors.New("YAML nested too deeply")
	}
	if err := c.step(1); err != nil {
		return err
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return errors.New("empty YAML document")
		}
		return c.node(n.Content[0], depth+1)
	case yaml.AliasNode:
		if n.Alias == nil {
			return errors.New("YAML alias without an anchor")
		}
		return c.node(n.Alias, depth+1)
	case yaml.SequenceNode:
		c.b.WriteByte('[')
		for i, e := range n.Content {
			if i > 0 {
				c.b.WriteByte(',')
			}
			if err := c.node(e, depth+1); err != nil {
				return err
			}
		}
		c.b.WriteByte(']')
		return nil
	case yaml.MappingNode:
		pairs, err := c.pairs(n, depth)
		if err != nil {
			return err
		}
		c.b.WriteByte('{')
		for i, p := range pairs {
			if i > 0 {
				c.b.WriteByte(',')
			}
			writeJSONString(&c.b, p.key)
			c.b.WriteByte(':')
			if err := c.node(p.value, depth+1); err != nil {
				return err
			}
		}
		c.b.WriteByte('}')
		return nil
	case yaml.ScalarNode:
		c.scalar(n)
		return nil
	}
	return fmt.Errorf("unknown YAML node kind %d", n.Kind)
}

type yamlPair struct {
	key   string
	value *yaml.Node
}

// pairs returns the key-value pairs of mapping n, in order, with merge keys
// applied: YAML merge key spec (yaml.org/type/merge.html), keys in the
// mapping itself override merged ones, and earlier merged mappings override
// later ones.
func (c *yamlConv) pairs(n *yaml.Node, depth int) ([]yamlPair, error) {
	if depth > maxYAMLDepth {
		return nil, errors.New("YAML nested too deeply")
	}
	if err := c.step(len(n.Content)); err != nil {
		return nil, err
	}
	own := make(map[string]bool)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if isMergeKey(k) {
			continue
		}
		key, err := yamlKey(k)
		if err != nil {
			return nil, err
		}
		if own[key] {
			return nil, fmt.Errorf("YAML mapping has key %s twice", quote(key))
		}
		own[key] = true
	}
	var out []yamlPair
	seen := make(map[string]bool)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !isMergeKey(k) {
			key, _ := yamlKey(k)
			out = append(out, yamlPair{key, v})
			seen[key] = true
			continue
		}
		srcs := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			srcs = v.Content
		}
		for _, src := range srcs {
			for src.Kind == yaml.AliasNode && src.Alias != nil {
				src = src.Alias
			}
			if src.Kind != yaml.MappingNode {
				return nil, errors.New("YAML merge key whose value is not a mapping")
			}
			merged, err := c.pairs(src, depth+1)
			if err != nil {
				return nil, err
			}
			for _, p := range merged {
				if !own[p.key] && !seen[p.key] {
					out = append(out, p)
					seen[p.key] = true
				}
			}
		}
	}
	return out, nil
}

func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge"
}

func yamlKey(k *yaml.Node) (string, error) {
	for k.Kind == yaml.AliasNode && k.Alias != nil {
		k = k.Alias
	}
	if k.Kind != yaml.ScalarNode {
		return "", errors.New("YAML mapping key that is not a scalar")
	}
	return k.Value, nil
}

// jsonNumber matches a JSON number (RFC 8259, section 6).
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

func (c *yamlConv) scalar(n *yaml.Node) {
	v := n.Value
	switch n.ShortTag() {
	case "!!null":
		c.b.WriteString("null")
		return
	case "!!bool":
		switch strings.ToLower(v) {
		case "true":
			c.b.WriteString("true")
			return
		case "false":
			c.b.WriteString("false")
			return
		}
	case "!!int":
		if jsonNumber.MatchString(v) && !strings.ContainsAny(v, ".eE") {
			c.b.WriteString(v)
			return
		}
		s := strings.ReplaceAll(v, "_", "")
		if i, err := strconv.ParseInt(s, 0, 64); err == nil {
			c.b.WriteString(strconv.FormatInt(i, 10))
			return
		}
		if u, err := strconv.ParseUint(strings.TrimPrefix(s, "+"), 0, 64); err == nil {
			c.b.WriteString(strconv.FormatUint(u, 10))
			return
		}
	case "!!float":
		if jsonNumber.MatchString(v) {
			c.b.WriteString(v)
			return
		}
		if f, err := strconv.ParseFloat(strings.ReplaceAll(v, "_", ""), 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			c.b.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
			return
		}
	}
	writeJSONString(&c.b, v)
}
