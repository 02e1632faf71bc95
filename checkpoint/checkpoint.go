// Package checkpoint encodes and parses C2SP tlog-checkpoint note bodies
// (c2sp.org/tlog-checkpoint), and reads them out of signed notes
// (c2sp.org/signed-note): [Open] verifies the note's signatures with
// golang.org/x/mod/sumdb/note, [Peek] reads a note without verifying it. It
// is pure: no I/O. Signing a note is x/mod's job.
package checkpoint

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// MaxBodySize bounds the note text Parse accepts. Real checkpoints are about
// a hundred bytes; the bound keeps hostile input cheap.
const MaxBodySize = 16 << 10

// ErrMalformed is wrapped by every Parse and Peek error, and by Open's
// errors about the checkpoint in a note.
var ErrMalformed = errors.New("malformed checkpoint")

// Checkpoint is the body of a checkpoint note.
type Checkpoint struct {
	// Origin identifies the log.
	Origin string
	// Size is the number of leaves in the tree.
	Size uint64
	// Hash is the RFC 6962 root hash of the tree of that size.
	Hash [32]byte
	// Extensions are the optional extension lines, without newlines.
	Extensions []string
}

// Marshal returns the note text of c. It panics if c would not parse, which
// only a programming error can cause.
func (c Checkpoint) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString(c.Origin)
	b.WriteByte('\n')
	b.WriteString(strconv.FormatUint(c.Size, 10))
	b.WriteByte('\n')
	b.WriteString(base64.StdEncoding.EncodeToString(c.Hash[:]))
	b.WriteByte('\n')
	for _, e := range c.Extensions {
		b.WriteString(e)
		b.WriteByte('\n')
	}
	if _, err := Parse(b.Bytes()); err != nil {
		panic("checkpoint: Marshal of an invalid checkpoint: " + err.Error())
	}
	return b.Bytes()
}

// Parse parses the note text of a checkpoint. It is strict: what it accepts
// re-marshals to the same bytes.
func Parse(text []byte) (Checkpoint, error) {
	var c Checkpoint
	fail := func(format string, args ...any) (Checkpoint, error) {
		return Checkpoint{}, fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
	if len(text) > MaxBodySize {
		return fail("note text is %d bytes, more than %d", len(text), MaxBodySize)
	}
	if !utf8.Valid(text) {
		return fail("note text is not UTF-8")
	}
	// c2sp.org/signed-note: the text ends in a newline.
	if len(text) == 0 || text[len(text)-1] != '\n' {
		return fail("note text must end with a newline")
	}
	lines := strings.Split(string(text[:len(text)-1]), "\n")
	// c2sp.org/tlog-checkpoint: at least three non-empty lines.
	if len(lines) < 3 {
		return fail("want at least 3 lines (origin, size, root hash), got %d", len(lines))
	}
	for i, l := range lines {
		if l == "" {
			return fail("line %d is empty", i+1)
		}
		for _, r := range l {
			if unicode.IsControl(r) {
				return fail("line %d contains a control character", i+1)
			}
		}
	}
	c.Origin = lines[0]
	// c2sp.org/tlog-checkpoint: ASCII decimal, no leading zeroes unless 0.
	size := lines[1]
	if (len(size) > 1 && size[0] == '0') || strings.TrimLeft(size, "0123456789") != "" {
		return fail("tree size %q is not a decimal number without leading zeroes", size)
	}
	n, err := strconv.ParseUint(size, 10, 64)
	if err != nil {
		return fail("tree size %q: %v", size, err)
	}
	c.Size = n
	h, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(h) != 32 || base64.StdEncoding.EncodeToString(h) != lines[2] {
		return fail("root hash %q is not the base64 of 32 bytes", lines[2])
	}
	copy(c.Hash[:], h)
	if len(lines) > 3 {
		c.Extensions = lines[3:]
	}
	return c, nil
}

// String returns a short description for logs: origin, size and root hash.
func (c Checkpoint) String() string {
	return fmt.Sprintf("%s@%d:%s", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Hash[:]))
}

// Peek returns the checkpoint in a signed note without verifying any
// signature: nothing it returns is vouched for by anyone. It is for choosing
// the keys to verify a note with (a witness reads the origin first), for
// parsers of files that carry notes to be verified later (misbehaviour and
// omission proofs), and for notes whose signatures were checked when they
// were stored. Use Open to trust a checkpoint.
//
// Peek checks the note's form as note.Open does: UTF-8 text, a blank line,
// then at least one well-formed signature line.
func Peek(signed []byte) (Checkpoint, error) {
	// note.Open with no known keys checks the note's form and returns its
	// text in an UnverifiedNoteError.
	_, err := note.Open(signed, note.VerifierList())
	var unverified *note.UnverifiedNoteError
	if !errors.As(err, &unverified) {
		return Checkpoint{}, fmt.Errorf("%w: not a signed note: %v", ErrMalformed, err)
	}
	return Parse([]byte(unverified.Note.Text))
}

// Open verifies signed with verifiers, as note.Open does, and parses the
// checkpoint in it. c2sp.org/signed-note: signatures by keys verifiers does
// not know are ignored; at least one known key must have signed, and a known
// key's signature that fails to verify fails the note. Its errors are
// note.Open's, unchanged (callers tell *note.UnverifiedNoteError and
// *note.InvalidSignatureError from a malformed note), or Parse's.
//
// Open does not check that the origin is the name of the key that signed
// (c2sp.org/tlog-checkpoint recommends it): a caller that knows which log it
// expects checks the origin.
func Open(signed []byte, verifiers note.Verifiers) (Checkpoint, error) {
	n, err := note.Open(signed, verifiers)
	if err != nil {
		return Checkpoint{}, err
	}
	return Parse([]byte(n.Text))
}
