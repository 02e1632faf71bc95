package evidence

import (
	"bytes"
	"encoding/json"
	"strings"
)

// The JSON helpers below decode untrusted JSON more strictly than
// encoding/json does by default. encoding/json keeps the last of duplicate
// object members and matches struct fields case-insensitively; a second
// parser (an auditor's, or another Evident implementation) may do neither, and
// would then read a different statement out of the same signed bytes. So
// duplicate members are refused, and so are members that differ from a field
// we read only by case. The syntax is checked by the scanner in jsonscan.go.

// jsonMembers is a decoded JSON object: member names in input order and their
// raw values, which share memory with the decoded input.
type jsonMembers struct {
	names  []string
	values []json.RawMessage // values[i] is the value of member names[i]
	// index maps names to positions once there are more than
	// linearMembers, so that checking for duplicates stays linear in the
	// size of a hostile object.
	index map[string]int
}

const linearMembers = 16

// lookup returns the raw value of member name, and whether it is present.
func (m jsonMembers) lookup(name string) (json.RawMessage, bool) {
	if m.index != nil {
		i, ok := m.index[name]
		if !ok {
			return nil, false
		}
		return m.values[i], true
	}
	for i, n := range m.names {
		if n == name {
			return m.values[i], true
		}
	}
	return nil, false
}

// has reports whether member name is present, even if null.
func (m jsonMembers) has(name string) bool {
	_, ok := m.lookup(name)
	return ok
}

// get returns the raw value of member name, or nil if it is absent or null.
func (m jsonMembers) get(name string) json.RawMessage {
	v, _ := m.lookup(name)
	if isNull(v) {
		return nil
	}
	return v
}

func (m *jsonMembers) add(name string, raw json.RawMessage) {
	m.names = append(m.names, name)
	m.values = append(m.values, raw)
	if m.index != nil {
		m.index[name] = len(m.names) - 1
	} else if len(m.names) > linearMembers {
		m.index = make(map[string]int, 2*len(m.names))
		for i, n := range m.names {
			m.index[n] = i
		}
	}
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// decodeObject decodes data, which must be exactly one JSON object with at
// most maxMembers members. known lists the member names the caller reads.
// The values returned are sub-slices of data.
func decodeObject(data []byte, field string, known []string, maxMembers int) (jsonMembers, error) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return jsonMembers{}, notA(data, i, field, "must be a JSON object")
	}
	var m jsonMembers
	i = skipSpace(data, i+1)
	for {
		if i < len(data) && data[i] == '}' {
			break
		}
		if len(m.names) > 0 {
			if i >= len(data) || data[i] != ',' {
				return jsonMembers{}, unexpected(data, i, "after an object member; want ',' or '}'").fieldErr(field)
			}
			i = skipSpace(data, i+1)
		}
		if i >= len(data) || data[i] != '"' {
			return jsonMembers{}, unexpected(data, i, "where a member name should start; want '\"'").fieldErr(field)
		}
		end, escaped, serr := scanString(data, i)
		if serr != nil {
			return jsonMembers{}, serr.fieldErr(field)
		}
		name := memberName(data[i+1:end-1], escaped, known)
		if m.has(name) {
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
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return jsonMembers{}, unexpected(data, i, "after a member name; want ':'").fieldErr(field)
		}
		i = skipSpace(data, i+1)
		if end, serr = scanValue(data, i); serr != nil {
			return jsonMembers{}, serr.fieldErr(field)
		}
		if m.names == nil {
			n := min(maxMembers, 4) // enough for DSSE and in-toto objects
			m.names, m.values = make([]string, 0, n), make([]json.RawMessage, 0, n)
		}
		m.add(name, data[i:end:end])
		i = skipSpace(data, end)
	}
	if skipSpace(data, i+1) != len(data) {
		return jsonMembers{}, fieldErr(field, "has data after the JSON object")
	}
	return m, nil
}

// memberName returns the name whose quoted form holds body. For the names
// in known it returns the string in known, saving an allocation.
func memberName(body []byte, escaped bool, known []string) string {
	if escaped {
		return string(appendUnquoted(make([]byte, 0, len(body)), body))
	}
	for _, k := range known {
		if string(body) == k {
			return k
		}
	}
	return string(body)
}

// decodeArray decodes data, which must be exactly one JSON array with at most
// max elements. The elements returned are sub-slices of data.
func decodeArray(data []byte, field string, max int, tooMany string) ([]json.RawMessage, error) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return nil, notA(data, i, field, "must be a JSON array")
	}
	var elems []json.RawMessage
	i = skipSpace(data, i+1)
	for {
		if i < len(data) && data[i] == ']' {
			break
		}
		// The encoding/json decoder this replaced checked the limit here,
		// before the comma; so does this, to report the same error.
		if len(elems) == max && i < len(data) && data[i] != '}' {
			return nil, fieldErr(field, "has more than %d elements; %s", max, tooMany)
		}
		if len(elems) > 0 {
			if i >= len(data) || data[i] != ',' {
				return nil, unexpected(data, i, "after an array element; want ',' or ']'").fieldErr(field)
			}
			i = skipSpace(data, i+1)
		}
		end, serr := scanValue(data, i)
		if serr != nil {
			return nil, serr.fieldErr(field)
		}
		if elems == nil {
			elems = make([]json.RawMessage, 0, min(max, 4))
		}
		elems = append(elems, data[i:end:end])
		i = skipSpace(data, end)
	}
	if skipSpace(data, i+1) != len(data) {
		return nil, fieldErr(field, "has data after the JSON array")
	}
	return elems, nil
}

// notA returns the error for data, which does not start with the bracket
// the caller wants at data[i]: mustBe if data starts with another kind of
// JSON value, else a syntax error.
func notA(data []byte, i int, field, mustBe string) error {
	if i < len(data) && strings.IndexByte(`{["-0123456789tfn`, data[i]) >= 0 {
		return fieldErr(field, "%s", mustBe)
	}
	return unexpected(data, i, "where a value should start").fieldErr(field)
}

// decodeString decodes a JSON string value. It refuses strings holding U+FFFD,
// because a \u escape of a lone surrogate decodes to U+FFFD, which another
// parser would read differently.
func decodeString(raw json.RawMessage, field string) (string, error) {
	v, err := stringValue(raw, field)
	if err != nil {
		return "", err
	}
	return string(v), nil
}

// stringValue is decodeString returning bytes, which are a sub-slice of raw
// if the string holds no escapes.
func stringValue(raw []byte, field string) ([]byte, error) {
	if len(raw) == 0 || raw[0] != '"' {
		return nil, fieldErr(field, "must be a JSON string")
	}
	end, escaped, serr := scanString(raw, 0)
	if serr != nil {
		return nil, serr.fieldErr(field)
	}
	if i := skipSpace(raw, end); i < len(raw) {
		return nil, unexpected(raw, i, "after the string").fieldErr(field)
	}
	v := raw[1 : end-1 : end-1]
	if escaped {
		v = appendUnquoted(make([]byte, 0, len(v)), v)
	}
	if bytes.Contains(v, []byte("\uFFFD")) {
		return nil, fieldErr(field, "contains U+FFFD or an invalid \\u escape")
	}
	return v, nil
}
