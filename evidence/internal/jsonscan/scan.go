package jsonscan

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// A single-pass scanner for JSON texts (RFC 8259), the syntax layer under
// DecodeObject, DecodeArray and DecodeString. It validates without building
// values: callers get offsets into the input and take sub-slices of it, so
// a member's raw value costs no copy.
//
// It accepts exactly the grammar of RFC 8259, up to MaxDepth, and refuses
// invalid UTF-8 (section 8.1) anywhere, including inside strings, where
// encoding/json lets it through. A \u escape of a lone surrogate is valid
// syntax (section 8.2 leaves its meaning open); decoding turns it into
// U+FFFD as encoding/json does, and DecodeString then refuses it.

// MaxDepth is how deeply arrays and objects may nest inside one member
// value or array element: 10000, the limit encoding/json applies (and
// json.Valid, which evidence's Statement.Validate runs on the predicate),
// so that replacing the encoding/json-based decoder changed no verdict. The
// scanner keeps one byte per level on its own stack, not the goroutine's,
// so the limit bounds memory (10 KB), not recursion.
const MaxDepth = 10000

// SyntaxError says what is wrong with a JSON text and where.
type SyntaxError struct {
	// Offset is that of the offending byte, or the input's length if it
	// ended early.
	Offset int
	// Msg says what is wrong, for example "invalid character 'x' where a
	// value should start".
	Msg string
}

// Error completes a sentence whose subject is the text, as every error of
// the package does.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("is not valid JSON (%s at byte %d)", e.Msg, e.Offset)
}

func syntaxErr(offset int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Offset: offset, Msg: fmt.Sprintf(format, args...)}
}

// unexpected reports the byte at data[i], or the end of data, found where
// the text needed something else (described by where, for example "after
// an array element; want ',' or ']'").
func unexpected(data []byte, i int, where string) *SyntaxError {
	if i >= len(data) {
		return syntaxErr(len(data), "unexpected end of input")
	}
	c := data[i]
	if bytes.HasPrefix(data[i:], []byte("\uFEFF")) {
		// RFC 8259 section 8.1 lets a parser ignore a leading byte order
		// mark; encoding/json does not, and neither do we.
		return syntaxErr(i, "byte order mark (U+FEFF) %s", where)
	}
	if c > ' ' && c < utf8.RuneSelf {
		return syntaxErr(i, "invalid character %s %s", strconv.QuoteRune(rune(c)), where)
	}
	return syntaxErr(i, "invalid byte 0x%02X %s", c, where)
}

// skipSpace returns the index of the first byte at or after i that is not
// white space. RFC 8259 section 2: ws = *( %x20 / %x09 / %x0A / %x0D ).
func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// plainStringByte reports whether a byte stands for itself inside a string
// and is ASCII: not a quote, backslash or control character (RFC 8259
// section 7: unescaped = %x20-21 / %x23-5B / %x5D-10FFFF).
var plainStringByte = func() (t [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanString scans the string that starts with the quote at data[i]. It
// returns the index just past the closing quote, and whether the string
// holds any escape (if not, its value is the bytes between the quotes).
func scanString(data []byte, i int) (end int, escaped bool, err *SyntaxError) {
	start := i
	i++
	for {
		i = skipPlain(data, i)
		if i >= len(data) {
			return 0, false, syntaxErr(len(data), "unexpected end of input in the string that starts at byte %d", start)
		}
		switch c := data[i]; {
		case c == '"':
			return i + 1, escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(data) {
				return 0, false, syntaxErr(len(data), "unexpected end of input in the string that starts at byte %d", start)
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if _, ok := hex4(data[i+2:]); !ok {
					return 0, false, syntaxErr(i, "invalid \\u escape in string; want \\u and 4 hex digits")
				}
				i += 6
			default:
				return 0, false, syntaxErr(i, "invalid escape %s in string", strconv.Quote(string(data[i:i+2])))
			}
		case c < ' ':
			return 0, false, syntaxErr(i, "control character U+%04X in string; escape it", c)
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				return 0, false, syntaxErr(i, "invalid UTF-8 in string")
			}
			i += size
		}
	}
}

// skipPlain returns the index of the first byte at or after i that is not
// plainStringByte.
func skipPlain(data []byte, i int) int {
	// Eight bytes at a time while none is special. A byte is special if
	// its high bit is set (not ASCII), or if subtracting 0x20 from it
	// (a control character), or 1 from it XOR the quote or the backslash,
	// borrows into its high bit. A borrow only runs from a special byte to
	// the bytes above it, so it can make no special byte look plain.
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(data); i += 8 {
		w := binary.LittleEndian.Uint64(data[i:])
		if (w|(w-0x20*ones)|((w^'"'*ones)-ones)|((w^'\\'*ones)-ones))&highs != 0 {
			break
		}
	}
	for i < len(data) && plainStringByte[data[i]] {
		i++
	}
	return i
}

// hex4 decodes the 4 hex digits at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// appendUnquoted appends the value of a string to b, given the bytes between
// its quotes, which scanString has validated. A \u escape of a surrogate
// that is not the first half of a pair becomes U+FFFD, as in encoding/json:
// unpaired surrogates have no UTF-8 encoding.
func appendUnquoted(b, body []byte) []byte {
	for {
		i := bytes.IndexByte(body, '\\')
		if i < 0 {
			return append(b, body...)
		}
		b = append(b, body[:i]...)
		body = body[i:]
		switch c := body[1]; c {
		case 'u':
			r, _ := hex4(body[2:])
			body = body[6:]
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if len(body) >= 6 && body[0] == '\\' && body[1] == 'u' {
					r2, _ = hex4(body[2:])
				}
				if r = utf16.DecodeRune(r, r2); r != utf8.RuneError {
					body = body[6:]
				}
			}
			b = utf8.AppendRune(b, r)
		case 'b':
			b, body = append(b, '\b'), body[2:]
		case 'f':
			b, body = append(b, '\f'), body[2:]
		case 'n':
			b, body = append(b, '\n'), body[2:]
		case 'r':
			b, body = append(b, '\r'), body[2:]
		case 't':
			b, body = append(b, '\t'), body[2:]
		default: // '"', '\\', '/'
			b, body = append(b, c), body[2:]
		}
	}
}

// scanNumber scans the number that starts at data[i], a '-' or a digit.
// RFC 8259 section 6:
//
//	number = [ minus ] int [ frac ] [ exp ]
//	int = zero / ( digit1-9 *DIGIT )
//	frac = decimal-point 1*DIGIT
//	exp = e [ minus / plus ] 1*DIGIT
func scanNumber(data []byte, i int) (int, *SyntaxError) {
	start := i
	if data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
		if i < len(data) && isDigit(data[i]) {
			return 0, syntaxErr(start, "number with a leading zero")
		}
	case i < len(data) && isDigit(data[i]):
		i = skipDigits(data, i)
	default:
		return 0, unexpected(data, i, "after '-' in a number; want a digit")
	}
	if i < len(data) && data[i] == '.' {
		i++
		if i >= len(data) || !isDigit(data[i]) {
			return 0, unexpected(data, i, "after the decimal point in a number; want a digit")
		}
		i = skipDigits(data, i)
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || !isDigit(data[i]) {
			return 0, unexpected(data, i, "in the exponent of a number; want a digit")
		}
		i = skipDigits(data, i)
	}
	return i, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func skipDigits(data []byte, i int) int {
	for i < len(data) && isDigit(data[i]) {
		i++
	}
	return i
}

// scanLiteral scans lit (true, false or null), which must start at data[i].
func scanLiteral(data []byte, i int, lit string) (int, *SyntaxError) {
	for j := 0; j < len(lit); j++ {
		if i+j >= len(data) || data[i+j] != lit[j] {
			return 0, unexpected(data, i+j, "in literal "+lit)
		}
	}
	return i + len(lit), nil
}

// scanMemberName scans a member name and the colon after it, starting at
// data[i], and returns the index of the member's value (white space
// skipped).
func scanMemberName(data []byte, i int) (int, *SyntaxError) {
	if i >= len(data) || data[i] != '"' {
		return 0, unexpected(data, i, "where a member name should start; want '\"'")
	}
	i, _, err := scanString(data, i)
	if err != nil {
		return 0, err
	}
	i = skipSpace(data, i)
	if i >= len(data) || data[i] != ':' {
		return 0, unexpected(data, i, "after a member name; want ':'")
	}
	return skipSpace(data, i+1), nil
}

// scanValue scans the value that starts at data[i] and returns the index
// just past it. It does not recurse: closers holds the closing bracket of
// each open array and object.
func scanValue(data []byte, i int) (int, *SyntaxError) {
	var stack [64]byte
	closers := stack[:0]
	for {
		// i is where a value should start.
		if i >= len(data) {
			return 0, syntaxErr(i, "unexpected end of input")
		}
		var err *SyntaxError
		switch c := data[i]; c {
		case '{', '[':
			if len(closers) == MaxDepth {
				return 0, syntaxErr(i, "arrays and objects nested more than %d deep", MaxDepth)
			}
			closer := byte(']')
			if c == '{' {
				closer = '}'
			}
			closers = append(closers, closer)
			i = skipSpace(data, i+1)
			if i < len(data) && data[i] == closer {
				closers = closers[:len(closers)-1]
				i++
				break // an empty array or object is a complete value
			}
			if c == '{' {
				if i, err = scanMemberName(data, i); err != nil {
					return 0, err
				}
			}
			continue
		case '"':
			i, _, err = scanString(data, i)
		case 't':
			i, err = scanLiteral(data, i, "true")
		case 'f':
			i, err = scanLiteral(data, i, "false")
		case 'n':
			i, err = scanLiteral(data, i, "null")
		default:
			if c != '-' && !isDigit(c) {
				return 0, unexpected(data, i, "where a value should start")
			}
			i, err = scanNumber(data, i)
		}
		if err != nil {
			return 0, err
		}
		// A value ended. Close the arrays and objects it ends, up to one
		// that continues with a comma.
		for {
			if len(closers) == 0 {
				return i, nil
			}
			closer := closers[len(closers)-1]
			i = skipSpace(data, i)
			if i < len(data) && data[i] == closer {
				closers = closers[:len(closers)-1]
				i++
				continue
			}
			if i >= len(data) || data[i] != ',' {
				if closer == '}' {
					return 0, unexpected(data, i, "after an object member; want ',' or '}'")
				}
				return 0, unexpected(data, i, "after an array element; want ',' or ']'")
			}
			i = skipSpace(data, i+1)
			if closer == '}' {
				if i, err = scanMemberName(data, i); err != nil {
					return 0, err
				}
			}
			break
		}
	}
}
