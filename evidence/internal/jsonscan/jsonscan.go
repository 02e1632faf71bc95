// Package jsonscan decodes untrusted JSON objects, arrays and strings more
// strictly than encoding/json does, for package evidence (signed in-toto
// statements and DSSE envelopes) and package evidence/detect (the documents
// a producer is about to sign).
//
// The rule for objects is one for both: a member name that appears twice,
// after unescaping, is refused. encoding/json keeps the last of duplicate
// members; a second parser (an auditor's, another Evident implementation,
// the tool that reads the SBOM) may keep the first, and would then read a
// different document out of the same bytes: a known parser-differential
// attack on signed JSON. DecodeObject also refuses, when asked, members that
// differ from a name the caller reads only by case, since encoding/json
// matches struct fields case-insensitively.
//
// Only objects decoded with DecodeObject are checked: the raw values it
// returns are scanned for syntax, not for duplicates, until the caller
// decodes them too. A caller that reads a member of an object decodes that
// object first.
//
// Every error completes a sentence whose subject is the text ("is not valid
// JSON (...)", "has more than 8 members"), so that a caller can name the
// text before it.
package jsonscan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Error is a refusal other than a SyntaxError or a DuplicateError.
type Error struct {
	// Reason completes a sentence whose subject is the text.
	Reason string
}

func (e *Error) Error() string { return e.Reason }

func errorf(format string, args ...any) *Error {
	return &Error{Reason: fmt.Sprintf(format, args...)}
}

// DuplicateError reports an object that has a member more than once.
type DuplicateError struct {
	// Name is the member's name, unescaped.
	Name string
}

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("has member %s more than once; keep one", quote(e.Name))
}

// Object is a decoded JSON object: member names in input order and their
// raw values, which share memory with the decoded input.
type Object struct {
	Names  []string
	Values []json.RawMessage // Values[i] is the value of member Names[i]
	// index maps names to positions once there are more than
	// linearMembers, so that checking for duplicates stays linear in the
	// size of a hostile object.
	index map[string]int
}

const linearMembers = 16

// Lookup returns the raw value of member name, and whether it is present.
func (m Object) Lookup(name string) (json.RawMessage, bool) {
	if m.index != nil {
		i, ok := m.index[name]
		if !ok {
			return nil, false
		}
		return m.Values[i], true
	}
	for i, n := range m.Names {
		if n == name {
			return m.Values[i], true
		}
	}
	return nil, false
}

// Has reports whether member name is present, even if null.
func (m Object) Has(name string) bool {
	_, ok := m.Lookup(name)
	return ok
}

// Get returns the raw value of member name, or nil if it is absent or null.
func (m Object) Get(name string) json.RawMessage {
	v, _ := m.Lookup(name)
	if len(v) == 0 || string(v) == "null" {
		return nil
	}
	return v
}

func (m *Object) add(name string, raw json.RawMessage) {
	m.Names = append(m.Names, name)
	m.Values = append(m.Values, raw)
	if m.index != nil {
		m.index[name] = len(m.Names) - 1
	} else if len(m.Names) > linearMembers {
		m.index = make(map[string]int, 2*len(m.Names))
		for i, n := range m.Names {
			m.index[n] = i
		}
	}
}

// DecodeObject decodes data, which must be exactly one JSON object with at
// most maxMembers members, none of them twice. known lists the member names
// the caller reads: a member that differs from one of them only by case is
// refused. The values returned are sub-slices of data.
func DecodeObject(data []byte, known []string, maxMembers int) (Object, error) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return Object{}, notA(data, i, "must be a JSON object")
	}
	var m Object
	i = skipSpace(data, i+1)
	for {
		if i < len(data) && data[i] == '}' {
			break
		}
		if len(m.Names) > 0 {
			if i >= len(data) || data[i] != ',' {
				return Object{}, unexpected(data, i, "after an object member; want ',' or '}'")
			}
			i = skipSpace(data, i+1)
		}
		if i >= len(data) || data[i] != '"' {
			return Object{}, unexpected(data, i, "where a member name should start; want '\"'")
		}
		end, escaped, serr := scanString(data, i)
		if serr != nil {
			return Object{}, serr
		}
		name := memberName(data[i+1:end-1], escaped, known)
		if m.Has(name) {
			return Object{}, &DuplicateError{Name: name}
		}
		for _, k := range known {
			if name != k && strings.EqualFold(name, k) {
				return Object{}, errorf("has member %s; spell it %q (names are case-sensitive)", quote(name), k)
			}
		}
		if len(m.Names) == maxMembers {
			return Object{}, errorf("has more than %d members", maxMembers)
		}
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return Object{}, unexpected(data, i, "after a member name; want ':'")
		}
		i = skipSpace(data, i+1)
		if end, serr = scanValue(data, i); serr != nil {
			return Object{}, serr
		}
		if m.Names == nil {
			n := min(maxMembers, 4) // enough for DSSE and in-toto objects
			m.Names, m.Values = make([]string, 0, n), make([]json.RawMessage, 0, n)
		}
		m.add(name, data[i:end:end])
		i = skipSpace(data, end)
	}
	if skipSpace(data, i+1) != len(data) {
		return Object{}, errorf("has data after the JSON object")
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

// DecodeArray decodes data, which must be exactly one JSON array with at
// most max elements; beyond them, the error ends with tooMany, which says
// what to do instead. The elements returned are sub-slices of data.
func DecodeArray(data []byte, max int, tooMany string) ([]json.RawMessage, error) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return nil, notA(data, i, "must be a JSON array")
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
			return nil, errorf("has more than %d elements; %s", max, tooMany)
		}
		if len(elems) > 0 {
			if i >= len(data) || data[i] != ',' {
				return nil, unexpected(data, i, "after an array element; want ',' or ']'")
			}
			i = skipSpace(data, i+1)
		}
		end, serr := scanValue(data, i)
		if serr != nil {
			return nil, serr
		}
		if elems == nil {
			elems = make([]json.RawMessage, 0, min(max, 4))
		}
		elems = append(elems, data[i:end:end])
		i = skipSpace(data, end)
	}
	if skipSpace(data, i+1) != len(data) {
		return nil, errorf("has data after the JSON array")
	}
	return elems, nil
}

// notA returns the error for data, which does not start with the bracket
// the caller wants at data[i]: mustBe if data starts with another kind of
// JSON value, else a syntax error.
func notA(data []byte, i int, mustBe string) error {
	if i < len(data) && strings.IndexByte(`{["-0123456789tfn`, data[i]) >= 0 {
		return errorf("%s", mustBe)
	}
	return unexpected(data, i, "where a value should start")
}

// DecodeString decodes a JSON string value: raw, then optional white space.
// The bytes returned are a sub-slice of raw if the string holds no escapes:
// only read them. It refuses strings holding U+FFFD, because a \u escape of
// a lone surrogate decodes to U+FFFD, which another parser would read
// differently.
func DecodeString(raw []byte) ([]byte, error) {
	if len(raw) == 0 || raw[0] != '"' {
		return nil, errorf("must be a JSON string")
	}
	end, escaped, serr := scanString(raw, 0)
	if serr != nil {
		return nil, serr
	}
	if i := skipSpace(raw, end); i < len(raw) {
		return nil, unexpected(raw, i, "after the string")
	}
	v := raw[1 : end-1 : end-1]
	if escaped {
		v = appendUnquoted(make([]byte, 0, len(v)), v)
	}
	if bytes.Contains(v, []byte("\uFFFD")) {
		return nil, errorf("contains U+FFFD or an invalid \\u escape")
	}
	return v, nil
}

// quote formats untrusted input for an error message: quoted, and cut short
// so that a hostile input cannot make the message huge. It cuts as package
// evidence's messages do.
func quote(s string) string {
	const max = 80
	if len(s) > max {
		// Cut on a byte boundary; %q escapes any broken rune.
		return fmt.Sprintf("%q...", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
