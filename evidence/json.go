package evidence

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"unicode/utf8"
)

// The JSON helpers below decode untrusted JSON more strictly than
// encoding/json does by default. encoding/json keeps the last of duplicate
// object members and matches struct fields case-insensitively; a second
// parser (an auditor's, or another Evident implementation) may do neither, and
// would then read a different statement out of the same signed bytes. So
// duplicate members are refused, and so are members that differ from a field
// we read only by case.

// jsonMembers is a decoded JSON object: member names in input order and their
// raw values.
type jsonMembers struct {
	names  []string
	values map[string]json.RawMessage
}

// get returns the raw value of member name, or nil if it is absent or null.
func (m jsonMembers) get(name string) json.RawMessage {
	v := m.values[name]
	if isNull(v) {
		return nil
	}
	return v
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// decodeObject decodes data, which must be exactly one JSON object with at
// most maxMembers members. known lists the member names the caller reads.
func decodeObject(data []byte, field string, known []string, maxMembers int) (jsonMembers, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return jsonMembers{}, jsonSyntaxErr(field, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return jsonMembers{}, fieldErr(field, "must be a JSON object")
	}
	m := jsonMembers{values: make(map[string]json.RawMessage)}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return jsonMembers{}, jsonSyntaxErr(field, err)
		}
		name, ok := tok.(string)
		if !ok {
			return jsonMembers{}, fieldErr(field, "is not valid JSON")
		}
		if _, dup := m.values[name]; dup {
			return jsonMembers{}, fieldErr(field, "has member %s more than once; keep one", quote(name))
		}
		for _, k := range known {
			if name != k && strings.EqualFold(name, k) {
				return jsonMembers{}, fieldErr(field, "has member %s; spell it %q (names are case-sensitive)", quote(name), k)
			}
		}
		if len(m.names) == maxMembers {
			return jsonMembers{}, fieldErr(field, "has more than %d members", maxMembers)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return jsonMembers{}, jsonSyntaxErr(field, err)
		}
		m.names = append(m.names, name)
		m.values[name] = raw
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return jsonMembers{}, jsonSyntaxErr(field, err)
	}
	if err := expectEOF(dec); err != nil {
		return jsonMembers{}, fieldErr(field, "has data after the JSON object")
	}
	return m, nil
}

// decodeArray decodes data, which must be exactly one JSON array with at most
// max elements.
func decodeArray(data []byte, field string, max int, tooMany string) ([]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonSyntaxErr(field, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, fieldErr(field, "must be a JSON array")
	}
	var elems []json.RawMessage
	for dec.More() {
		if len(elems) == max {
			return nil, fieldErr(field, "has more than %d elements; %s", max, tooMany)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, jsonSyntaxErr(field, err)
		}
		elems = append(elems, raw)
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		return nil, jsonSyntaxErr(field, err)
	}
	if err := expectEOF(dec); err != nil {
		return nil, fieldErr(field, "has data after the JSON array")
	}
	return elems, nil
}

func expectEOF(dec *json.Decoder) error {
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data")
	}
	return nil
}

// decodeString decodes a JSON string value. It refuses strings holding U+FFFD,
// because encoding/json silently turns invalid escapes (lone surrogates) into
// U+FFFD, which another parser would read differently.
func decodeString(raw json.RawMessage, field string) (string, error) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", fieldErr(field, "must be a JSON string")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", jsonSyntaxErr(field, err)
	}
	if strings.ContainsRune(s, utf8.RuneError) {
		return "", fieldErr(field, "contains U+FFFD or an invalid \\u escape")
	}
	return s, nil
}

func jsonSyntaxErr(field string, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fieldErr(field, "is not valid JSON (%v at byte %d)", se, se.Offset)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fieldErr(field, "is not valid JSON (unexpected end of input)")
	}
	return fieldErr(field, "is not valid JSON (%v)", err)
}
