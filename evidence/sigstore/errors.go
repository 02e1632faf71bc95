package sigstore

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers classify refusals with [errors.Is]; every error
// returned also carries a message that says what is wrong and what to do.
var (
	// ErrMalformed means the input is not a well-formed Sigstore bundle or
	// container (bad JSON, a missing or invalid field, over a size limit).
	ErrMalformed = errors.New("sigstore: malformed input")
	// ErrUnsupported means a well-formed bundle Evident does not log: a
	// message-signature bundle, a bundle signed with a public key rather
	// than a Fulcio certificate, a DSSE payload that is not an in-toto
	// statement, or a bundle media type other than v0.1 to v0.3.
	ErrUnsupported = errors.New("sigstore: unsupported bundle")
	// ErrUntrustedRoot means the signing certificate does not chain to a
	// certificate authority of the trusted root: the bundle comes from
	// another Sigstore instance (GitHub's, staging, a private one).
	ErrUntrustedRoot = errors.New("sigstore: certificate not issued under the trusted root")
	// ErrCertificateTime means the bundle was signed at a time outside the
	// signing certificate's validity: the certificate had expired or was not
	// yet valid.
	ErrCertificateTime = errors.New("sigstore: signed outside the certificate's validity")
	// ErrTransparency means transparency evidence the trusted root calls
	// for is missing or does not verify: no entry from a trusted
	// transparency log, a signed entry timestamp or inclusion proof that
	// fails, no verified time of signing, or no SCT from a trusted CT log.
	ErrTransparency = errors.New("sigstore: missing or invalid transparency evidence")
	// ErrTampered means the signature does not verify over the payload
	// with the certificate's key, or the transparency-log entry records a
	// different signature, payload or certificate than the bundle: the
	// bundle was changed after it was signed.
	ErrTampered = errors.New("sigstore: payload or signature changed after signing")
	// ErrIdentity means the bundle verified, but its signing identity
	// matches none of the configured rules.
	ErrIdentity = errors.New("sigstore: identity matches no trust rule")
	// ErrInvalid means sigstore-go refused the bundle for a reason none of
	// the checks above reproduces; the message carries sigstore-go's.
	ErrInvalid = errors.New("sigstore: bundle does not verify")
)

// VerifyError is the refusal of a well-formed bundle that does not verify.
// It wraps one of [ErrUntrustedRoot], [ErrCertificateTime],
// [ErrTransparency], [ErrTampered], [ErrIdentity] or [ErrInvalid], and the
// error sigstore-go returned, if any.
type VerifyError struct {
	// Kind is the sentinel error that classifies the refusal.
	Kind error
	// Reason says what is wrong and, where possible, what to do.
	Reason string
	// Identity is what the signing certificate names. Only when Kind is
	// [ErrIdentity] has the bundle verified, so only then is it the proven
	// signer; otherwise it is a claim, given to help the reader.
	Identity Identity
	// Cause is the error from sigstore-go's verifier, or nil.
	Cause error
}

func (e *VerifyError) Error() string {
	if e.Cause == nil {
		return "sigstore: " + e.Reason
	}
	return "sigstore: " + e.Reason + " (sigstore-go: " + e.Cause.Error() + ")"
}

// Unwrap returns Kind and Cause.
func (e *VerifyError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Cause}
}

// malformed returns an error wrapping ErrMalformed.
func malformed(format string, args ...any) error {
	return &reasonError{kind: ErrMalformed, msg: fmt.Sprintf(format, args...)}
}

// unsupported returns an error wrapping ErrUnsupported.
func unsupported(format string, args ...any) error {
	return &reasonError{kind: ErrUnsupported, msg: fmt.Sprintf(format, args...)}
}

// reasonError is a refusal before verification, with a full message.
type reasonError struct {
	kind error
	msg  string
}

func (e *reasonError) Error() string { return "sigstore: " + e.msg }
func (e *reasonError) Unwrap() error { return e.kind }

// quote formats untrusted input for an error message: quoted, and cut short
// so a hostile input cannot make the message huge.
func quote(s string) string {
	const max = 120
	if len(s) > max {
		// Cut on a byte boundary; %q escapes any broken rune.
		return fmt.Sprintf("%q...", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
