package evidence

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Callers test for them with [errors.Is]; the errors returned
// carry a message that tells the submitter what to fix.
var (
	// ErrMalformed means the input is not well formed (bad syntax, missing or
	// invalid field, over a size limit). It maps to InvalidArgument.
	ErrMalformed = errors.New("evidence: malformed input")
	// ErrBadSignature means a signature whose key id names a trusted key did
	// not verify, and no other signature did.
	ErrBadSignature = errors.New("evidence: signature does not verify")
	// ErrUntrustedKey means no signature was made by a key the node trusts.
	ErrUntrustedKey = errors.New("evidence: not signed by a trusted key")
	// ErrNamespace means the envelope verified under a trusted key, but no
	// verifying key is allowed to sign for some subject's purl namespace.
	ErrNamespace = errors.New("evidence: signer not allowed for subject namespace")
)

// FieldError reports a malformed field. It wraps [ErrMalformed].
type FieldError struct {
	// Field names the offending field as a JSON-path-like string, for example
	// "subject[0].name", "signatures[1].sig" or "envelope" for the whole input.
	Field string
	// Reason says what is wrong and, where possible, how to fix it.
	Reason string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return "evidence: " + e.Reason
	}
	return "evidence: " + e.Field + ": " + e.Reason
}

// Unwrap returns [ErrMalformed].
func (e *FieldError) Unwrap() error { return ErrMalformed }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// NamespaceError reports a subject that no verifying key may sign for. It
// wraps [ErrNamespace].
type NamespaceError struct {
	// Subject is the canonical purl of the subject.
	Subject string
	// KeyIDs are the key ids whose signatures verified, none of which is
	// allowed for Subject.
	KeyIDs []string
}

func (e *NamespaceError) Error() string {
	return fmt.Sprintf("evidence: subject %s is outside the namespaces this node trusts key %s for; "+
		"ask the node operator to allow the key for this purl namespace, or sign with a key that is",
		e.Subject, strings.Join(e.KeyIDs, ", "))
}

// Unwrap returns [ErrNamespace].
func (e *NamespaceError) Unwrap() error { return ErrNamespace }

// signatureError is a signature failure with a full message; it wraps
// ErrBadSignature or ErrUntrustedKey.
type signatureError struct {
	msg  string
	kind error
}

func (e *signatureError) Error() string { return e.msg }
func (e *signatureError) Unwrap() error { return e.kind }

// quote formats untrusted input for an error message: quoted, and cut short so
// a hostile input cannot make the message huge.
func quote(s string) string {
	const max = 80
	if len(s) > max {
		// Cut on a byte boundary; %q escapes any broken rune.
		return fmt.Sprintf("%q...", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
