// Package policy parses and evaluates transparency log trust policies
// (c2sp.org/tlog-policy): which logs to accept checkpoints from, which
// witnesses to count, and how many of their cosignatures a checkpoint needs.
//
// It is pure: no I/O, no clock. Verify checks signatures and the quorum; it
// doesn't judge cosignature times (c2sp.org/tlog-cosignature: verifiers MAY
// reject timestamps in the future), Result.Times lets the caller do so.
package policy

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/evident-dev/evident/checkpoint"
	"github.com/evident-dev/evident/witness"
)

// Limits of Parse. c2sp.org/tlog-policy: an implementation may impose limits
// on policy complexity; it is strongly recommended to support at least 32
// logs, 32 witnesses, and 32 groups.
const (
	MaxLogs      = 256
	MaxWitnesses = 256
	MaxGroups    = 256
	// MaxSize bounds the policy file, in bytes.
	MaxSize = 1 << 20
)

// none is the predefined quorum that needs no cosignature.
// c2sp.org/tlog-policy: the special name "none" is predefined; it can be used
// when defining the quorum, but it is invalid as a group member.
const none = "none"

// WitnessPolicy is a parsed c2sp.org/tlog-policy file: which logs a client
// believes, and the quorum of witness cosignatures their checkpoints need.
// Which keys may sign evidence is another matter, a node's
// evidence.TrustedSigners.
type WitnessPolicy struct {
	// Logs are the logs whose checkpoints the policy accepts.
	Logs []Log
	// Witnesses are the witnesses the policy counts.
	Witnesses []Witness
	// Groups are the witness groups, in file order.
	Groups []Group
	// Quorum names the witness or group that must witness a checkpoint, or
	// is "none".
	Quorum string

	keys    note.Verifiers
	logs    map[keyID]int
	wits    map[keyID]int
	groups  map[string]int // name -> index in Groups
	witness map[string]int // name -> index in Witnesses
}

// Log is a log of a policy.
type Log struct {
	// Verifier checks the log's checkpoint signatures. Its name is the
	// log's origin.
	Verifier note.Verifier
	// URL is the optional URL of the log line; its meaning is up to the
	// application.
	URL string
}

// Witness is a witness of a policy.
type Witness struct {
	// Name is the witness's name in the policy file.
	Name string
	// Verifier checks the witness's cosignatures.
	Verifier *witness.CosignatureVerifier
	// URL is the optional URL of the witness line, normally its
	// c2sp.org/tlog-witness submission prefix.
	URL string
}

// Group is a witness group of a policy.
type Group struct {
	// Name is the group's name in the policy file.
	Name string
	// Threshold is how many members must witness a checkpoint for the group
	// to witness it ("any" is 1, "all" the number of members).
	Threshold int
	// Members are names of witnesses and groups defined before this group.
	Members []string
}

type keyID struct {
	name string
	hash uint32
}

// ParseError is the error of Parse. Line is the 1-based line number it is
// about, or 0 when it is about the whole file.
type ParseError struct {
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line == 0 {
		return "policy: " + e.Msg
	}
	return fmt.Sprintf("policy line %d: %s", e.Line, e.Msg)
}

// Parse parses a policy file. It is strict: anything c2sp.org/tlog-policy
// doesn't allow is an error naming the line.
func Parse(text []byte) (*WitnessPolicy, error) {
	p := &WitnessPolicy{
		logs:    make(map[keyID]int),
		wits:    make(map[keyID]int),
		groups:  make(map[string]int),
		witness: make(map[string]int),
	}
	if len(text) > MaxSize {
		return nil, &ParseError{0, fmt.Sprintf("file is %d bytes, more than %d", len(text), MaxSize)}
	}
	// c2sp.org/tlog-policy: each line is terminated by ASCII newline.
	if len(text) > 0 && text[len(text)-1] != '\n' {
		return nil, &ParseError{bytes.Count(text, []byte("\n")) + 1, "missing newline at the end of the line"}
	}
	var allKeys []note.Verifier
	seenKeys := make(map[keyID]bool)
	logKeys := make(map[string]bool)
	witKeys := make(map[string]bool)
	quorumLine := 0
	lines := bytes.Split(text, []byte("\n"))
	lines = lines[:len(lines)-1] // after the final newline
	for i, line := range lines {
		n := i + 1
		fail := func(format string, args ...any) (*WitnessPolicy, error) {
			return nil, &ParseError{n, fmt.Sprintf(format, args...)}
		}
		// c2sp.org/tlog-policy: the allowed octets are 0x09 (tab), 0x0A
		// (newline), 0x20-0x7E, and 0x80-0xFF.
		for _, c := range line {
			if c != '\t' && (c < 0x20 || c == 0x7f) {
				return fail("control character 0x%02x", c)
			}
		}
		// c2sp.org/tlog-policy: items are separated by sequences of ASCII
		// space and tab characters only; leading and trailing whitespace is
		// allowed; empty lines and lines starting with "#" are ignored.
		f := strings.FieldsFunc(string(line), func(r rune) bool { return r == ' ' || r == '\t' })
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch f[0] {
		case "log":
			// log <vkey> [<url>]
			if len(f) < 2 || len(f) > 3 {
				return fail("want \"log <vkey> [<url>]\"")
			}
			if len(p.Logs) == MaxLogs {
				return fail("more than %d logs", MaxLogs)
			}
			v, pub, err := parseLogKey(f[1])
			if err != nil {
				return fail("log key: %v", err)
			}
			// c2sp.org/tlog-policy: duplicate logs, i.e., multiple log lines
			// with the same public key, are not allowed.
			if logKeys[string(pub)] {
				return fail("duplicate log key")
			}
			logKeys[string(pub)] = true
			id := keyID{v.Name(), v.KeyHash()}
			if seenKeys[id] {
				return fail("key %s+%08x is already defined", id.name, id.hash)
			}
			seenKeys[id] = true
			p.logs[id] = len(p.Logs)
			allKeys = append(allKeys, v)
			p.Logs = append(p.Logs, Log{Verifier: v, URL: at(f, 2)})
		case "witness":
			// witness <name> <vkey> [<url>]
			if len(f) < 3 || len(f) > 4 {
				return fail("want \"witness <name> <vkey> [<url>]\"")
			}
			if len(p.Witnesses) == MaxWitnesses {
				return fail("more than %d witnesses", MaxWitnesses)
			}
			if err := p.checkNewName(f[1]); err != nil {
				return fail("%v", err)
			}
			v, err := witness.NewCosignatureVerifier(f[2])
			if err != nil {
				return fail("witness key: %v", err)
			}
			// c2sp.org/tlog-policy: duplicate witnesses, i.e., multiple
			// witness lines with the same public key, are not allowed.
			if witKeys[string(v.PublicKey())] {
				return fail("duplicate witness key")
			}
			witKeys[string(v.PublicKey())] = true
			id := keyID{v.Name(), v.KeyHash()}
			if seenKeys[id] {
				return fail("key %s+%08x is already defined", id.name, id.hash)
			}
			seenKeys[id] = true
			p.wits[id] = len(p.Witnesses)
			p.witness[f[1]] = len(p.Witnesses)
			allKeys = append(allKeys, v)
			p.Witnesses = append(p.Witnesses, Witness{Name: f[1], Verifier: v, URL: at(f, 3)})
		case "group":
			// group <name> all|any|<k> <name>...
			if len(f) < 4 {
				return fail("want \"group <name> all|any|<k> <name>...\" with at least one member")
			}
			if len(p.Groups) == MaxGroups {
				return fail("more than %d groups", MaxGroups)
			}
			if err := p.checkNewName(f[1]); err != nil {
				return fail("%v", err)
			}
			g := Group{Name: f[1], Members: f[3:]}
			seen := make(map[string]bool)
			for _, m := range g.Members {
				// c2sp.org/tlog-policy: a group definition can only refer
				// to names defined on preceding lines; each defined name can
				// be listed as a group member at most once.
				if m == none {
					return fail("%q can't be a group member", none)
				}
				if !p.defined(m) {
					return fail("member %q is not a witness or group defined above", m)
				}
				if seen[m] {
					return fail("member %q is listed twice", m)
				}
				seen[m] = true
			}
			switch k := f[2]; k {
			case "all":
				g.Threshold = len(g.Members)
			case "any":
				g.Threshold = 1
			default:
				// c2sp.org/tlog-policy: k must be written in decimal, and
				// 1 <= k <= n.
				t, err := strconv.Atoi(k)
				if err != nil || strings.TrimLeft(k, "0123456789") != "" || (len(k) > 1 && k[0] == '0') {
					return fail("threshold %q is not all, any, or a decimal number", k)
				}
				if t < 1 || t > len(g.Members) {
					return fail("threshold %d is not between 1 and the %d members", t, len(g.Members))
				}
				g.Threshold = t
			}
			p.groups[g.Name] = len(p.Groups)
			p.Groups = append(p.Groups, g)
		case "quorum":
			// quorum <name>
			if len(f) != 2 {
				return fail("want \"quorum <name>\"")
			}
			// c2sp.org/tlog-policy: a policy file must include exactly one
			// quorum line, naming a witness or group defined earlier.
			if quorumLine != 0 {
				return fail("second quorum line (the first is line %d)", quorumLine)
			}
			if f[1] != none && !p.defined(f[1]) {
				return fail("quorum %q is not none or a witness or group defined above", f[1])
			}
			quorumLine = n
			p.Quorum = f[1]
		default:
			return fail("unknown keyword %q", f[0])
		}
	}
	if quorumLine == 0 {
		return nil, &ParseError{0, "no quorum line"}
	}
	p.keys = note.VerifierList(allKeys...)
	return p, nil
}

func at(f []string, i int) string {
	if i < len(f) {
		return f[i]
	}
	return ""
}

// checkNewName checks a name for a new witness or group.
// c2sp.org/tlog-policy: witnesses and groups share a single namespace, and
// "none" is predefined.
func (p *WitnessPolicy) checkNewName(name string) error {
	if name == none {
		return fmt.Errorf("%q is predefined", none)
	}
	if p.defined(name) {
		return fmt.Errorf("name %q is already defined", name)
	}
	return nil
}

func (p *WitnessPolicy) defined(name string) bool {
	_, w := p.witness[name]
	_, g := p.groups[name]
	return w || g
}

// parseLogKey parses a log vkey and returns its verifier and public key.
// c2sp.org/tlog-policy: log keys must use a signature type appropriate to
// logs; c2sp.org/signed-note: 0x01 is Ed25519, the type
// golang.org/x/mod/sumdb/note and Evident logs sign with.
func parseLogKey(vkey string) (note.Verifier, []byte, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return nil, nil, errors.New("vkey must be name+hash+key")
	}
	key, err := base64.StdEncoding.Strict().DecodeString(parts[2])
	if err != nil || len(key) == 0 {
		return nil, nil, errors.New("key is not base64")
	}
	if key[0] != 0x01 {
		return nil, nil, fmt.Errorf("signature type 0x%02x is not supported for logs, only Ed25519 (0x01)", key[0])
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, nil, err
	}
	return v, key[1:], nil
}

// ErrUnknownLog is returned by Verify for a checkpoint that no log of the
// policy signed.
var ErrUnknownLog = errors.New("checkpoint not signed by a log of the policy")

// ErrMalformed is wrapped by Verify errors about a note or checkpoint that
// doesn't parse.
var ErrMalformed = errors.New("malformed checkpoint note")

// QuorumError is the error of Verify for a checkpoint signed by a log of the
// policy without enough cosignatures.
type QuorumError struct {
	// Quorum is the policy's quorum.
	Quorum string
	// Cosigned are the witnesses whose cosignatures verified.
	Cosigned []string
}

func (e *QuorumError) Error() string {
	return fmt.Sprintf("checkpoint cosigned by %d witnesses %q, which doesn't satisfy quorum %q", len(e.Cosigned), e.Cosigned, e.Quorum)
}

// Result is what Verify learnt about an accepted checkpoint.
type Result struct {
	// Checkpoint is the checkpoint.
	Checkpoint checkpoint.Checkpoint
	// Cosigned are the names of the witnesses whose cosignatures verified,
	// in policy order; there may be more than the quorum needs.
	Cosigned []string
	// Times are the times of those cosignatures, by witness name.
	Times map[string]time.Time
}

// Verify checks that signed, a checkpoint note, is signed by one of the
// policy's logs and cosigned by witnesses satisfying the quorum.
//
// c2sp.org/tlog-policy: a checkpoint is valid if it is signed by any one of
// the listed logs, and cosigned according to the quorum rule. The log's key
// name must be the checkpoint's origin. Signatures by keys outside the
// policy are ignored; an invalid signature by a key of the policy fails the
// whole note (c2sp.org/signed-note: clients SHOULD reject it).
func (p *WitnessPolicy) Verify(signed []byte) (*Result, error) {
	n, err := note.Open(signed, p.keys)
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		switch {
		case errors.As(err, &unverified):
			return nil, ErrUnknownLog
		case errors.As(err, &invalid):
			return nil, fmt.Errorf("couldn't verify checkpoint: %w", err)
		default:
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
	}
	c, err := checkpoint.Parse([]byte(n.Text))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	r := &Result{Checkpoint: c, Times: make(map[string]time.Time)}
	signedByLog, otherOrigin := false, ""
	cosigned := make([]bool, len(p.Witnesses))
	for _, s := range n.Sigs {
		id := keyID{s.Name, s.Hash}
		if _, ok := p.logs[id]; ok {
			// c2sp.org/tlog-policy: the log's key name MUST correspond to
			// the log's origin line. Without this check, any log of the
			// policy could vouch for another log's checkpoints.
			if s.Name == c.Origin {
				signedByLog = true
			} else {
				otherOrigin = s.Name
			}
		}
		if i, ok := p.wits[id]; ok {
			t, err := p.Witnesses[i].Verifier.Timestamp(s)
			if err != nil {
				return nil, fmt.Errorf("couldn't verify checkpoint: %w", err)
			}
			cosigned[i] = true
			r.Times[p.Witnesses[i].Name] = t
		}
	}
	if !signedByLog && otherOrigin != "" {
		return nil, fmt.Errorf("%w: signed by log %q but its origin is %q", ErrUnknownLog, otherOrigin, c.Origin)
	}
	if !signedByLog {
		return nil, ErrUnknownLog
	}
	for i, ok := range cosigned {
		if ok {
			r.Cosigned = append(r.Cosigned, p.Witnesses[i].Name)
		}
	}
	if !p.satisfied(p.Quorum, cosigned, make(map[string]bool)) {
		return nil, &QuorumError{Quorum: p.Quorum, Cosigned: r.Cosigned}
	}
	return r, nil
}

// satisfied reports whether name (a witness, a group, or none) witnessed the
// checkpoint. c2sp.org/tlog-policy: a group witnesses a checkpoint if and
// only if at least k of its n members have; for a single witness,
// witnessing is cosigning.
func (p *WitnessPolicy) satisfied(name string, cosigned []bool, memo map[string]bool) bool {
	if name == none {
		return true
	}
	if i, ok := p.witness[name]; ok {
		return cosigned[i]
	}
	if v, ok := memo[name]; ok {
		return v
	}
	g := p.Groups[p.groups[name]]
	k := 0
	for _, m := range g.Members {
		if p.satisfied(m, cosigned, memo) {
			k++
		}
	}
	memo[name] = k >= g.Threshold
	return memo[name]
}
