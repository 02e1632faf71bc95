package jsonscan

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// jsonCase is one input to DecodeObject, DecodeArray or DecodeString. The
// new decoders must give the verdict wantErr says, and, unless oldDiffers,
// the same verdict as the encoding/json-based ones they replaced.
type jsonCase struct {
	name    string
	decoder string // "object", "array" or "string"
	in      string
	wantErr string // a substring of the error, or "" to accept
	// oldDiffers marks inputs the old decoders accepted and the new refuse;
	// see the comment on sameVerdict.
	oldDiffers bool
}

// Arguments the table tests and the fuzz test pass to the decoders.
var (
	testKnown      = []string{"payloadType", "payload", "signatures", "keyid", "sig", "_type", "subject", "predicateType", "predicate", "name", "digest", "a"}
	testMaxMembers = 8
	testMaxElems   = 4
)

func nested(depth int, open, close, inner string) string {
	return strings.Repeat(open, depth) + inner + strings.Repeat(close, depth)
}

var jsonCases = []jsonCase{
	// Structure and white space.
	{"empty object", "object", `{}`, "", false},
	{"members", "object", `{"a":1,"b":"x","c":[true,false,null],"d":{"e":{}}}`, "", false},
	{"JSON white space", "object", " \t\r\n{ \t\r\n\"a\" \t\r\n: \t\r\n1 \t\r\n} \t\r\n", "", false},
	{"empty input", "object", ``, "unexpected end of input", false},
	{"only white space", "object", " \n", "unexpected end of input", false},
	{"form feed is not white space", "object", "{\f}", "invalid byte 0x0C", false},
	{"vertical tab is not white space", "object", "{\"a\":\v1}", "invalid byte 0x0B", false},
	{"no-break space is not white space", "object", "{\u00a0}", "invalid byte 0xC2", false},
	{"byte order mark", "object", "\uFEFF{}", "byte order mark", false},
	{"NUL after the object", "object", "{}\x00", "has data after the JSON object", false},
	{"NUL inside", "object", "{\x00}", "invalid byte 0x00", false},
	{"second object", "object", `{} {}`, "has data after the JSON object", false},
	{"extra closing brace", "object", `{}}`, "has data after the JSON object", false},
	{"unclosed object", "object", `{"a":1`, "unexpected end of input", false},
	{"unclosed nested object", "object", `{"a":{"b":1}`, "unexpected end of input", false},
	{"trailing comma", "object", `{"a":1,}`, "where a member name should start", false},
	{"leading comma", "object", `{,"a":1}`, "where a member name should start", false},
	{"trailing comma in nested object", "object", `{"a":{"b":1,}}`, "where a member name should start", false},
	{"trailing comma in nested array", "object", `{"a":[1,2,]}`, "where a value should start", false},
	{"missing colon", "object", `{"a" 1}`, "want ':'", false},
	{"missing comma", "object", `{"a":1 "b":2}`, "want ',' or '}'", false},
	{"missing comma in nested object", "object", `{"a":{"b":1 "c":2}}`, "want ',' or '}'", false},
	{"unquoted name", "object", `{a:1}`, "invalid character 'a'", false},
	{"single-quoted name", "object", `{'a':1}`, "invalid character '\\''", false},
	{"number as name", "object", `{1:1}`, "where a member name should start", false},
	{"mismatched bracket", "object", `{"a":1]`, "want ',' or '}'", false},
	{"mismatched nested bracket", "object", `{"a":[1}}`, "want ',' or ']'", false},
	{"missing value", "object", `{"a":}`, "where a value should start", false},
	{"array, not object", "object", `[]`, "must be a JSON object", false},
	{"string, not object", "object", `"x"`, "must be a JSON object", false},
	{"number, not object", "object", `-1.5e3`, "must be a JSON object", false},
	{"literal, not object", "object", `null`, "must be a JSON object", false},
	{"bad string, not object", "object", `"x`, "must be a JSON object", false},
	{"bad literal, not object", "object", `nul`, "must be a JSON object", false},
	{"bad number, not object", "object", `00`, "must be a JSON object", false},
	{"garbage, not object", "object", `x`, "invalid character 'x'", false},

	// Numbers (RFC 8259 section 6).
	{"numbers", "object", `{"a":[0,-0,1,-1,10,0.5,-0.0e-0,1E+2,1e-2,12.34E56]}`, "", false},
	{"big numbers", "object", `{"a":1e999999,"b":123456789012345678901234567890123456789,"c":-0.000000000000000000000000000001e-400}`, "", false},
	{"big number, not object", "object", `1e999`, "must be a JSON object", false},
	{"leading zero", "object", `{"a":01}`, "leading zero", false},
	{"negative leading zero", "object", `{"a":-01}`, "leading zero", false},
	{"double zero", "object", `{"a":00}`, "leading zero", false},
	{"bare minus", "object", `{"a":-}`, "after '-' in a number", false},
	{"minus at end", "object", `{"a":-`, "unexpected end of input", false},
	{"exponent without digits", "object", `{"a":1e}`, "in the exponent", false},
	{"signed exponent without digits", "object", `{"a":1E+}`, "in the exponent", false},
	{"point without digits", "object", `{"a":1.}`, "after the decimal point", false},
	{"point first", "object", `{"a":.5}`, "where a value should start", false},
	{"plus sign", "object", `{"a":+1}`, "where a value should start", false},
	{"hex", "object", `{"a":0x1}`, "invalid character 'x'", false},
	{"infinity", "object", `{"a":Infinity}`, "where a value should start", false},
	{"NaN", "object", `{"a":NaN}`, "where a value should start", false},

	// Literals.
	{"literals", "object", `{"a":true,"b":false,"c":null}`, "", false},
	{"short literal", "object", `{"a":tru}`, "in literal true", false},
	{"capitalised literal", "object", `{"a":True}`, "where a value should start", false},
	{"literal at end", "object", `{"a":fals`, "unexpected end of input", false},

	// Strings in values.
	{"escapes", "object", `{"a":"\"\\\/\b\f\n\r\t\u0000\u00e9\uD83D\uDE00"}`, "", false},
	{"lone surrogate in a raw value", "object", `{"a":"\ud800"}`, "", false},
	{"raw tab in string", "object", "{\"a\":\"x\ty\"}", "control character U+0009", false},
	{"raw newline in string", "object", "{\"a\":\"x\ny\"}", "control character U+000A", false},
	{"raw NUL in string", "object", "{\"a\":\"x\x00y\"}", "control character U+0000", false},
	{"raw DEL in string", "object", "{\"a\":\"x\x7fy\"}", "", false},
	{"U+2028 in string", "object", "{\"a\":\"x\u2028y\"}", "", false},
	{"unknown escape", "object", `{"a":"\x"}`, `invalid escape "\\x"`, false},
	{"single-quote escape", "object", `{"a":"\'"}`, "invalid escape", false},
	{"capital U escape", "object", `{"a":"\U0041"}`, "invalid escape", false},
	{"short \\u escape", "object", `{"a":"\u12"}`, "invalid \\u escape", false},
	{"non-hex \\u escape", "object", `{"a":"\u12g4"}`, "invalid \\u escape", false},
	{"escape at end", "object", `{"a":"\`, "unexpected end of input", false},
	{"unterminated string", "object", `{"a":"abc`, "unexpected end of input in the string that starts at byte 5", false},
	{"invalid UTF-8 in value", "object", "{\"a\":\"\xff\"}", "invalid UTF-8", true},
	{"truncated UTF-8 in value", "object", "{\"a\":\"\xe2\x82\"}", "invalid UTF-8", true},
	{"UTF-8-encoded surrogate", "object", "{\"a\":\"\xed\xa0\x80\"}", "invalid UTF-8", true},
	{"overlong UTF-8", "object", "{\"a\":\"\xc0\xaf\"}", "invalid UTF-8", true},
	{"invalid UTF-8 in name", "object", "{\"\xff\":1}", "invalid UTF-8", true},
	{"invalid UTF-8 outside strings", "object", "{\xff}", "invalid byte 0xFF", false},

	// Member names.
	{"duplicate", "object", `{"a":1,"b":2,"a":3}`, `member "a" more than once`, false},
	{"duplicate unknown", "object", `{"x":1,"x":2}`, `member "x" more than once`, false},
	{"duplicate by escape", "object", `{"a":1,"\u0061":2}`, `member "a" more than once`, false},
	{"duplicate by escaped slash", "object", `{"a/b":1,"a\/b":2}`, `member "a/b" more than once`, false},
	{"lone surrogates are both U+FFFD", "object", `{"\ud800":1,"\udc00":2}`, "member \"\uFFFD\" more than once", false},
	{"lone surrogate name", "object", `{"\ud800":1}`, "", false},
	{"same name in nested objects", "object", `{"a":{"a":1},"b":{"a":1}}`, "", false},
	{"duplicate inside a raw value", "object", `{"x":{"a":1,"a":2}}`, "", false},
	{"case variant", "object", `{"Subject":[]}`, `spell it "subject"`, false},
	{"case variant by escape", "object", `{"\u0053ubject":[]}`, `spell it "subject"`, false},
	{"Kelvin sign", "object", `{"\u212Aeyid":"k"}`, `spell it "keyid"`, false},
	{"long s", "object", "{\"\u017Fig\":\"AAAA\"}", `spell it "sig"`, false},
	{"case variant of unknown member", "object", `{"x":1,"X":2}`, "", false},
	{"most members", "object", `{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8}`, "", false},
	{"too many members", "object", `{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9}`, "more than 8 members", false},
	{"too many members, bad value", "object", `{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":`, "more than 8 members", false},

	// Nesting.
	{"deepest array", "object", `{"a":` + nested(MaxDepth, "[", "]", "") + `}`, "", false},
	{"too deep array", "object", `{"a":` + nested(MaxDepth+1, "[", "]", "") + `}`, "nested more than 10000 deep", false},
	{"deepest object", "object", `{"a":` + nested(MaxDepth, `{"b":`, "}", "1") + `}`, "", false},
	{"too deep object", "object", `{"a":` + nested(MaxDepth+1, `{"b":`, "}", "1") + `}`, "nested more than 10000 deep", false},
	{"too deep, unclosed", "object", `{"a":` + strings.Repeat("[", MaxDepth+1), "nested more than 10000 deep", false},
	{"deep mixed", "array", "[" + nested(MaxDepth/2, `[{"b":`, "}]", `"x"`) + "]", "", false},

	// Arrays.
	{"empty array", "array", `[]`, "", false},
	{"elements", "array", ` [1, "a", {"b":[]}, null] `, "", false},
	{"most elements", "array", `[1,2,3,4]`, "", false},
	{"too many elements", "array", `[1,2,3,4,5]`, "more than 4 elements", false},
	{"too many elements, truncated", "array", `[1,2,3,4,`, "more than 4 elements", false},
	{"too many elements, garbage", "array", `[1,2,3,4 x`, "more than 4 elements", false},
	{"array trailing comma", "array", `[1,]`, "where a value should start", false},
	{"array leading comma", "array", `[,1]`, "where a value should start", false},
	{"array missing comma", "array", `[1 2]`, "want ',' or ']'", false},
	{"array closed by brace", "array", `[1}`, "want ',' or ']'", false},
	{"full array closed by brace", "array", `[1,2,3,4}`, "want ',' or ']'", false},
	{"unclosed array", "array", `[1`, "unexpected end of input", false},
	{"object, not array", "array", `{}`, "must be a JSON array", false},
	{"string, not array", "array", `"[]"`, "must be a JSON array", false},
	{"data after array", "array", `[1]x`, "has data after the JSON array", false},

	// String values (decodeString).
	{"plain string", "string", `"pkg:pypi/requests@2.32.3"`, "", false},
	{"string with trailing white space", "string", "\"x\" \n", "", false},
	{"string with leading white space", "string", ` "x"`, "must be a JSON string", false},
	{"string then data", "string", `"x"x`, "invalid character 'x' after the string", false},
	{"two strings", "string", `"x" "y"`, "after the string", false},
	{"not a string", "string", `123`, "must be a JSON string", false},
	{"null, not a string", "string", `null`, "must be a JSON string", false},
	{"empty raw string", "string", ``, "must be a JSON string", false},
	{"unterminated raw string", "string", `"abc`, "unexpected end of input", false},
	{"escaped string", "string", `"a\"b\\c\/d\b\f\n\r\t\u0000\u00e9"`, "", false},
	{"surrogate pair", "string", `"\ud83d\ude00"`, "", false},
	{"surrogate pair, capital hex", "string", `"\uD83D\uDE00"`, "", false},
	{"lone high surrogate", "string", `"\ud800"`, "U+FFFD or an invalid \\u escape", false},
	{"lone low surrogate", "string", `"\udc00"`, "U+FFFD", false},
	{"high surrogate then letter", "string", `"\ud800\u0041"`, "U+FFFD", false},
	{"high surrogate then text", "string", `"\ud800abcdef"`, "U+FFFD", false},
	{"reversed pair", "string", `"\ude00\ud83d"`, "U+FFFD", false},
	{"lone surrogate then pair", "string", `"\ud800\ud83d\ude00"`, "U+FFFD", false},
	{"escaped U+FFFD", "string", `"\ufffd"`, "U+FFFD", false},
	{"literal U+FFFD", "string", "\"\uFFFD\"", "U+FFFD", false},
	{"raw control character", "string", "\"a\x01b\"", "control character U+0001", false},
	{"invalid UTF-8 string", "string", "\"\xff\"", "invalid UTF-8", false},
}

// TestJSONDecoders runs the table through the new decoders and the old ones.
func TestJSONDecoders(t *testing.T) {
	for _, tt := range jsonCases {
		t.Run(tt.decoder+"/"+tt.name, func(t *testing.T) {
			data := []byte(tt.in)
			var err, oldErr error
			switch tt.decoder {
			case "object":
				_, err = DecodeObject(data, testKnown, testMaxMembers)
				_, oldErr = oldDecodeObject(data, testKnown, testMaxMembers)
			case "array":
				_, err = DecodeArray(data, testMaxElems, "split it")
				_, oldErr = oldDecodeArray(data, testMaxElems, "split it")
			case "string":
				_, err = DecodeString(data)
				_, oldErr = oldDecodeString(data)
			default:
				t.Fatalf("unknown decoder %q", tt.decoder)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
			} else {
				wantError(t, err, tt.wantErr)
			}
			if !tt.oldDiffers {
				checkJSONDifferential(t, data, 0)
			} else if oldErr != nil {
				t.Errorf("old decoder refused too (%v); clear oldDiffers", oldErr)
			}
		})
	}
}

func TestDecodeStringValues(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`""`, ""},
		{`"pkg:pypi/requests@2.32.3"`, "pkg:pypi/requests@2.32.3"},
		{`"a\"b\\c\/d\b\f\n\r\t"`, "a\"b\\c/d\b\f\n\r\t"},
		{`"\u0000\u0041\u00e9\u20AC"`, "\x00Aé€"},
		{`"\ud83d\ude00 \uD83D\uDE00"`, "😀 😀"},
		{"\"é€😀\"", "é€😀"},
		{"\"x\x7f\u2028\"", "x\x7f\u2028"},
	} {
		got, err := DecodeString([]byte(tt.in))
		if err != nil || string(got) != tt.want {
			t.Errorf("DecodeString(%s) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestDecodeObjectMembers(t *testing.T) {
	data := []byte(` { "b" : [1, 2] , "a":"x" ,"c\u0064":{"e":null}, "f":null } `)
	m, err := DecodeObject(data, testKnown, testMaxMembers)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"b", "a", "cd", "f"}, m.Names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	for _, tt := range []struct {
		name string
		want string // "" for nil
		has  bool
	}{
		{"b", "[1, 2]", true},
		{"a", `"x"`, true},
		{"cd", `{"e":null}`, true},
		{"f", "", true},
		{"e", "", false},
		{"A", "", false},
	} {
		got := m.Get(tt.name)
		if tt.want == "" && got != nil || tt.want != "" && string(got) != tt.want {
			t.Errorf("Get(%q) = %q; want %q", tt.name, got, tt.want)
		}
		if m.Has(tt.name) != tt.has {
			t.Errorf("Has(%q) = %v", tt.name, !tt.has)
		}
	}
	// Values are sub-slices of the input, capped so that appending to one
	// cannot overwrite the input.
	for i, v := range m.Values {
		if !isSubSlice(v, data) {
			t.Errorf("value %q is not a sub-slice of the input", v)
		}
		if cap(v) != len(v) {
			t.Errorf("value %d has spare capacity %d", i, cap(v)-len(v))
		}
	}
	before := string(data)
	_ = append(m.Values[0], 'x')
	if string(data) != before {
		t.Error("appending to a value changed the input")
	}
}

func isSubSlice(v, data []byte) bool {
	for i := range data {
		if &data[i] == &v[0] {
			return len(data[i:]) >= len(v)
		}
	}
	return false
}

// TestDecodeObjectManyMembers checks duplicate detection past the point
// where Object switches to an index.
func TestDecodeObjectManyMembers(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := range 3 * linearMembers {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"m` + strconv.Itoa(i) + `":1`)
	}
	const maxMembers = 1024
	m, err := DecodeObject([]byte(b.String()+"}"), nil, maxMembers)
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range m.Names {
		if v := m.Get(name); &v[0] != &m.Values[i][0] {
			t.Errorf("Get(%q) is not value %d", name, i)
		}
	}
	for _, dup := range []string{"m0", "m" + strconv.Itoa(linearMembers), "m" + strconv.Itoa(3*linearMembers-1)} {
		_, err := DecodeObject([]byte(b.String()+`,"`+dup+`":2}`), nil, maxMembers)
		var de *DuplicateError
		if !errors.As(err, &de) || de.Name != dup {
			t.Errorf("duplicate %q: error %v, want a DuplicateError naming it", dup, err)
		}
	}
}

// wantError checks that err is one of the package's errors and that its
// message contains want.
func wantError(t *testing.T, err error, want string) {
	t.Helper()
	if !isPackageError(err) {
		t.Fatalf("error %v (%T), want one of the package's", err, err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

func isPackageError(err error) bool {
	var se *SyntaxError
	var de *DuplicateError
	var e *Error
	return errors.As(err, &se) || errors.As(err, &de) || errors.As(err, &e)
}

// FuzzJSONScanDifferential checks that the scanner-based decoders agree with
// the encoding/json-based ones they replaced (oracle_test.go).
func FuzzJSONScanDifferential(f *testing.F) {
	for _, tt := range jsonCases {
		if len(tt.in) < 1<<10 { // not the deep nesting: slow to minimize
			f.Add([]byte(tt.in))
		}
	}
	// A typical statement and its envelope (testdata), the real documents
	// of ../../../../shared/testdata/evidence, and the statements inside
	// envelopes, and inside the envelopes of Sigstore bundles and JSON
	// Lines.
	files, _ := filepath.Glob(filepath.Join("..", "..", "..", "..", "shared", "testdata", "evidence", "*", "*"))
	more, _ := filepath.Glob(filepath.Join("testdata", "*"))
	for _, name := range append(files, more...) {
		b, err := os.ReadFile(name)
		if err != nil || len(b) > 64<<10 {
			continue
		}
		f.Add(b)
		for _, line := range bytes.Split(b, []byte("\n")) {
			var bundle struct{ DSSEEnvelope json.RawMessage }
			if json.Unmarshal(line, &bundle) == nil && bundle.DSSEEnvelope != nil {
				line = bundle.DSSEEnvelope
			}
			if payload := envelopePayload(line); payload != nil {
				f.Add(payload)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkJSONDifferential(t, data, 0)
	})
}

// envelopePayload returns the payload of a DSSE envelope, or nil if env is
// not one.
func envelopePayload(env []byte) []byte {
	var e struct{ Payload string }
	if json.Unmarshal(env, &e) != nil || e.Payload == "" {
		return nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		if b, err := enc.DecodeString(e.Payload); err == nil {
			return b
		}
	}
	return nil
}

// checkJSONDifferential runs every decoder, new and old, on data, and again
// on the raw values they return, down to depth 3.
func checkJSONDifferential(t *testing.T, data []byte, depth int) {
	t.Helper()
	var next []json.RawMessage

	m, err := DecodeObject(data, testKnown, testMaxMembers)
	oldM, oldErr := oldDecodeObject(data, testKnown, testMaxMembers)
	if sameVerdict(t, "DecodeObject", data, oldErr, err) {
		if !slices.Equal(m.Names, oldM.names) {
			t.Fatalf("DecodeObject(%q): names %q; old decoder: %q", data, m.Names, oldM.names)
		}
		for i, name := range m.Names {
			if !bytes.Equal(m.Values[i], oldM.values[name]) {
				t.Fatalf("DecodeObject(%q): member %q is %q; old decoder: %q", data, name, m.Values[i], oldM.values[name])
			}
		}
		next = append(next, m.Values...)
	}

	elems, err := DecodeArray(data, testMaxElems, "split it")
	oldElems, oldErr := oldDecodeArray(data, testMaxElems, "split it")
	if sameVerdict(t, "DecodeArray", data, oldErr, err) {
		if !slices.EqualFunc(elems, oldElems, func(a, b json.RawMessage) bool { return bytes.Equal(a, b) }) {
			t.Fatalf("DecodeArray(%q) = %q; old decoder: %q", data, elems, oldElems)
		}
		next = append(next, elems...)
	}

	s, err := DecodeString(data)
	oldS, oldErr := oldDecodeString(data)
	if sameVerdict(t, "DecodeString", data, oldErr, err) && string(s) != oldS {
		t.Fatalf("DecodeString(%q) = %q; old decoder: %q", data, s, oldS)
	}

	if depth < 3 {
		for _, raw := range next {
			checkJSONDifferential(t, raw, depth+1)
		}
	}
}

// sameVerdict fails t unless the old and new decoders both accepted data or
// both refused it, and reports whether both accepted. When both refused,
// errors other than syntax errors must be the same error.
//
// Documented differences:
//   - The scanner refuses invalid UTF-8 anywhere (RFC 8259 section 8.1).
//     encoding/json passed it through inside strings: into raw values as it
//     was, and into member names as U+FFFD. evidence's ParseEnvelope and
//     ParseStatement refuse invalid UTF-8 before decoding, and so does
//     detect.Detect, so none changed verdict.
//   - Where an object or array should be, any other kind of value is now
//     "must be a JSON object" (or array). The old decoders said so only if
//     the value was well formed and, if a number, fitted a float64; else
//     they reported a syntax error.
func sameVerdict(t *testing.T, decoder string, data []byte, oldErr, err error) bool {
	t.Helper()
	if err != nil && !isPackageError(err) {
		t.Fatalf("%s(%q): error %v (%T) is not one of the package's", decoder, data, err, err)
	}
	switch {
	case oldErr == nil && err == nil:
		return true
	case !utf8.Valid(data):
		if err == nil {
			t.Fatalf("%s(%q) accepted invalid UTF-8", decoder, data)
		}
		return false
	case oldErr == nil:
		t.Fatalf("%s(%q) refused what the old decoder accepted: %v", decoder, data, err)
	case err == nil:
		t.Fatalf("%s(%q) accepted what the old decoder refused: %v", decoder, data, oldErr)
	}
	oldMsg, msg := oldErr.Error(), err.Error()
	switch {
	case msg == oldMsg:
	case strings.Contains(oldMsg, "is not valid JSON") && strings.Contains(msg, "is not valid JSON"):
	case strings.Contains(oldMsg, "is not valid JSON") && strings.Contains(msg, "must be a JSON"):
	case strings.Contains(msg, "is not valid JSON") && !json.Valid(data):
		// The scanner checks the whole text's syntax first; the old
		// decoder read it lazily and could meet a duplicate member or
		// one element too many before the syntax error further on.
	default:
		t.Fatalf("%s(%q): error %q; old decoder: %q", decoder, data, msg, oldMsg)
	}
	return false
}

// TestSkipPlain checks the eight-bytes-at-a-time loop against plainStringByte
// for every byte value at every position of a word, after plain bytes of
// every value.
func TestSkipPlain(t *testing.T) {
	for plain := ' '; plain < utf8.RuneSelf; plain++ {
		if !plainStringByte[plain] {
			continue
		}
		for c := range 256 {
			for pos := range 17 {
				data := bytes.Repeat([]byte{byte(plain)}, 24)
				data[pos] = byte(c)
				want := pos
				if plainStringByte[c] {
					want = len(data)
				}
				if got := skipPlain(data, 0); got != want {
					t.Fatalf("skipPlain of %q = %d; want %d", data, got, want)
				}
			}
		}
	}
}
