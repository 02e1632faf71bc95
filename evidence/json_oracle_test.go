package evidence

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"unicode/utf8"
)

// The encoding/json-based decoders (and decodeBase64, which used them) that
// the scanner in jsonscan.go replaced, kept unchanged but for their names as the oracle for
// FuzzJSONScanDifferential and the table tests.

type oldJSONMembers struct {
	names  []string
	values map[string]json.RawMessage
}

func oldDecodeObject(data []byte, field string, known []string, maxMembers int) (oldJSONMembers, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return oldJSONMembers{}, oldJSONSyntaxErr(field, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return oldJSONMembers{}, fieldErr(field, "must be a JSON object")
	}
	m := oldJSONMembers{values: make(map[string]json.RawMessage)}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return oldJSONMembers{}, oldJSONSyntaxErr(field, err)
		}
		name, ok := tok.(string)
		if !ok {
			return oldJSONMembers{}, fieldErr(field, "is not valid JSON")
		}
		if _, dup := m.values[name]; dup {
			return oldJSONMembers{}, fieldErr(field, "has member %s more than once; keep one", quote(name))
		}
		for _, k := range known {
			if name != k && strings.EqualFold(name, k) {
				return oldJSONMembers{}, fieldErr(field, "has member %s; spell it %q (names are case-sensitive)", quote(name), k)
			}
		}
		if len(m.names) == maxMembers {
			return oldJSONMembers{}, fieldErr(field, "has more than %d members", maxMembers)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return oldJSONMembers{}, oldJSONSyntaxErr(field, err)
		}
		m.names = append(m.names, name)
		m.values[name] = raw
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return oldJSONMembers{}, oldJSONSyntaxErr(field, err)
	}
	if err := oldExpectEOF(dec); err != nil {
		return oldJSONMembers{}, fieldErr(field, "has data after the JSON object")
	}
	return m, nil
}

func oldDecodeArray(data []byte, field string, max int, tooMany string) ([]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, oldJSONSyntaxErr(field, err)
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
			return nil, oldJSONSyntaxErr(field, err)
		}
		elems = append(elems, raw)
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		return nil, oldJSONSyntaxErr(field, err)
	}
	if err := oldExpectEOF(dec); err != nil {
		return nil, fieldErr(field, "has data after the JSON array")
	}
	return elems, nil
}

func oldExpectEOF(dec *json.Decoder) error {
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data")
	}
	return nil
}

func oldDecodeString(raw json.RawMessage, field string) (string, error) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", fieldErr(field, "must be a JSON string")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", oldJSONSyntaxErr(field, err)
	}
	if strings.ContainsRune(s, utf8.RuneError) {
		return "", fieldErr(field, "contains U+FFFD or an invalid \\u escape")
	}
	return s, nil
}

func oldJSONSyntaxErr(field string, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fieldErr(field, "is not valid JSON (%v at byte %d)", se, se.Offset)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fieldErr(field, "is not valid JSON (unexpected end of input)")
	}
	return fieldErr(field, "is not valid JSON (%v)", err)
}

func oldDecodeBase64(raw json.RawMessage, field string, max int) ([]byte, error) {
	s, err := oldDecodeString(raw, field)
	if err != nil {
		return nil, err
	}
	if base64.StdEncoding.DecodedLen(len(s)) > max {
		return nil, fieldErr(field, "decodes to more than %d bytes", max)
	}
	enc := base64.StdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.URLEncoding
	}
	if strings.ContainsAny(s, "\r\n") {
		return nil, fieldErr(field, "must be base64 without line breaks")
	}
	b, err := enc.Strict().DecodeString(s)
	if err != nil {
		return nil, fieldErr(field, "is not padded standard or URL-safe base64 (%v)", err)
	}
	return b, nil
}
