package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"unicode/utf8"
)

// The encoding/json-based decoders that the scanner replaced (in package
// evidence, where they named the field each error is about), kept as the
// oracle for FuzzJSONScanDifferential and the table tests. They are
// unchanged but for their names, and for errors that no longer name a field.

type oldJSONMembers struct {
	names  []string
	values map[string]json.RawMessage
}

func oldDecodeObject(data []byte, known []string, maxMembers int) (oldJSONMembers, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return oldJSONMembers{}, oldJSONSyntaxErr(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return oldJSONMembers{}, errorf("must be a JSON object")
	}
	m := oldJSONMembers{values: make(map[string]json.RawMessage)}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return oldJSONMembers{}, oldJSONSyntaxErr(err)
		}
		name, ok := tok.(string)
		if !ok {
			return oldJSONMembers{}, errorf("is not valid JSON")
		}
		if _, dup := m.values[name]; dup {
			return oldJSONMembers{}, errorf("has member %s more than once; keep one", quote(name))
		}
		for _, k := range known {
			if name != k && strings.EqualFold(name, k) {
				return oldJSONMembers{}, errorf("has member %s; spell it %q (names are case-sensitive)", quote(name), k)
			}
		}
		if len(m.names) == maxMembers {
			return oldJSONMembers{}, errorf("has more than %d members", maxMembers)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return oldJSONMembers{}, oldJSONSyntaxErr(err)
		}
		m.names = append(m.names, name)
		m.values[name] = raw
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return oldJSONMembers{}, oldJSONSyntaxErr(err)
	}
	if err := oldExpectEOF(dec); err != nil {
		return oldJSONMembers{}, errorf("has data after the JSON object")
	}
	return m, nil
}

func oldDecodeArray(data []byte, max int, tooMany string) ([]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, oldJSONSyntaxErr(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, errorf("must be a JSON array")
	}
	var elems []json.RawMessage
	for dec.More() {
		if len(elems) == max {
			return nil, errorf("has more than %d elements; %s", max, tooMany)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, oldJSONSyntaxErr(err)
		}
		elems = append(elems, raw)
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		return nil, oldJSONSyntaxErr(err)
	}
	if err := oldExpectEOF(dec); err != nil {
		return nil, errorf("has data after the JSON array")
	}
	return elems, nil
}

func oldExpectEOF(dec *json.Decoder) error {
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data")
	}
	return nil
}

func oldDecodeString(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", errorf("must be a JSON string")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", oldJSONSyntaxErr(err)
	}
	if strings.ContainsRune(s, utf8.RuneError) {
		return "", errorf("contains U+FFFD or an invalid \\u escape")
	}
	return s, nil
}

func oldJSONSyntaxErr(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return errorf("is not valid JSON (%v at byte %d)", se, se.Offset)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errorf("is not valid JSON (unexpected end of input)")
	}
	return errorf("is not valid JSON (%v)", err)
}
