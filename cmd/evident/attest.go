package main

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/evidence/detect"
	"github.com/evident-dev/evident/internal/durable"
)

func (a *app) attestCmd() *cobra.Command {
	var o attestOptions
	c := &cobra.Command{
		Use:   "attest FILE|DIR... --subject PURL [--artifact PATH | --digest ALG:HEX] [-o OUT]",
		Short: "Sign evidence documents as in-toto attestations, byte for byte",
		Long: `Attest recognises evidence documents (SPDX, CycloneDX, OpenVEX, CSAF, SLSA
provenance, Scorecard, Security Insights, CVE and OSV records in JSON or
YAML, security.txt, security and CVD policies, ...), puts each one, byte for
byte, in a document attestation (an in-toto Statement v1 whose predicate
carries the document; evidence/DOCUMENT.md) about the subject, signs it as a
DSSE envelope with your key, and writes the envelope. Nothing in the
document is re-encoded: "evident get --document" gives back the very file.

The subject is --subject, a Package URL:

  - with a version, a release (pkg:pypi/requests@2.32.3): give the sha256
    digest of the release artifact, as --artifact FILE or --digest
    sha256:<hex> (repeat --digest to add other algorithms);
  - without a version, the whole package (pkg:github/apache/commons-lang):
    evidence for every release of it, such as a security policy. Without
    --artifact or --digest, the subject's digest is each document's own
    sha256; --digest gitCommit:<40 hex> names the source commit instead.

One FILE (or - for standard input) is written to FILE.intoto.json, or to
-o OUT (- for standard output, or an existing directory). Several files, or
directories (searched recursively; .git and the output directory are
skipped), need -o DIR: each document's envelope is written there as
<base name>.intoto.json (<base name>.2.intoto.json, ... when names repeat).
Documents are signed in parallel, one worker per CPU.

Attest says on stderr, for each document, what it recognised, once its
envelope is written; then, for several, a summary. A document it doesn't
recognise is refused, unless --predicate-type says what it is: it is then
attested as is, with its media type guessed from its name. A document that
already is an attestation (a DSSE envelope, a Sigstore bundle, a PEP 740
attestation, an in-toto statement) is not signed again: submit it as it is
with evident submit. Signing is deterministic: the same inputs give the
same envelopes.

Exit codes: 0 every document was signed, or was already an attestation
while others were signed; 1 some documents were not recognised or were
refused (too large, or nothing but attestations given), the others are
written; 2 could not run (bad flags, unreadable key, output directory not
writable, nothing found) or some file could not be read or written; 130
interrupted.`,
		Example: `  evident attest sbom.spdx.json --subject pkg:pypi/requests@2.32.3 --artifact dist/requests-2.32.3.tar.gz
  evident attest vex.openvex.json --subject pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1 \
      --digest sha256:0ffa6dda3e7e0ef2d27d84b4e6ab2cc1e5d9cd1a4d18b3d4cbbc65dc36c5a41f -o - | evident submit -
  evident attest release-2.24.1/ --subject pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1 \
      --artifact log4j-core-2.24.1.jar -o envelopes/ && evident submit envelopes/
  evident attest SECURITY.md .github/security-insights.yml --subject pkg:github/apache/commons-lang -o envelopes/
  evident attest SECURITY.md --subject pkg:github/apache/commons-lang --digest gitCommit:d15939ef46f0bd4144994df8be95cf5a7f91eb52
  evident attest notes.txt --predicate-type https://example.com/release-notes/v1 --subject pkg:generic/openssl@3.4.0 --artifact openssl-3.4.0.tar.gz`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.attest(cmd.Context(), args, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.subject, "subject", "", "Package URL of the release (with its version) or of the package (without) (required)")
	f.StringVar(&o.artifact, "artifact", "", "the release artifact, to take its sha256 digest")
	f.StringArrayVar(&o.digests, "digest", nil, "digest of the release artifact, alg:hex (sha256 required for a release; gitCommit allowed for a package)")
	f.StringVar(&o.predicateType, "predicate-type", "", "in-toto predicate type URI of what the documents are, for documents attest doesn't recognise (or to override it)")
	f.StringVarP(&o.out, "output", "o", "", "write the envelope here: a file, - for stdout, or a directory (required for several documents)")
	c.MarkFlagsMutuallyExclusive("artifact", "digest")
	c.AddCommand(a.attestGenerators()...) // attestgen.go
	return c
}

type attestOptions struct {
	subject, artifact, predicateType, out string
	digests                               []string
}

// attestJob is one document to attest, and what became of it.
type attestJob struct {
	path    string // as given or found; "-" is standard input
	display string // the path, or "standard input"
	out     string // where its envelope goes; "-" is standard output

	status  attestStatus
	message string // what was recognised, or why not
}

type attestStatus int

const (
	attestSigned      attestStatus = iota
	attestAttestation              // already an attestation: not signed again
	attestRefused                  // not recognised, or not attestable
	attestFailed                   // couldn't read or write a file
)

// attester holds what every document's attestation shares.
type attester struct {
	app           *app
	key           ed25519.PrivateKey
	subject       string
	digests       map[string]string // nil: each document's own sha256
	predicateType string
	many          bool // several documents, written into a directory

	mu sync.Mutex // serialises printing
}

func (a *app) attest(ctx context.Context, args []string, o attestOptions) error {
	if o.subject == "" {
		return errors.New("give --subject: the Package URL of the release (pkg:pypi/requests@2.32.3) or of the package (pkg:pypi/requests)")
	}
	p, err := evidence.ParsePurl(o.subject)
	if err != nil {
		return fmt.Errorf("--subject: %w", err)
	}
	digests, err := subjectDigests(o.artifact, o.digests, p.HasVersion())
	if err != nil {
		return err
	}
	jobs, many, err := a.attestJobs(args, o.out)
	if err != nil {
		return err
	}
	key, err := a.readKey()
	if err != nil {
		return err
	}
	at := &attester{app: a, key: key, subject: o.subject, digests: digests, predicateType: o.predicateType, many: many}

	// One worker per CPU: detecting and signing are CPU-bound, and writing
	// each envelope durably waits for the disk while the others work.
	next := make(chan *attestJob)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(jobs)) {
		wg.Go(func() {
			for j := range next {
				at.do(j)
			}
		})
	}
	interrupted := false
	for _, j := range jobs {
		if ctx.Err() != nil {
			interrupted = true
			break
		}
		next <- j
	}
	close(next)
	wg.Wait()

	var signed, attestations, refused, failed, notDone int
	for _, j := range jobs {
		switch {
		case j.message == "":
			notDone++
		case j.status == attestSigned:
			signed++
		case j.status == attestAttestation:
			attestations++
		case j.status == attestRefused:
			refused++
		default:
			failed++
		}
	}
	if many {
		w := a.stderr
		fmt.Fprintf(w, "attested %d of %d documents into %s, signed by %s\n", signed, len(jobs), o.out, evidence.KeyID(key.Public().(ed25519.PublicKey)))
		if attestations > 0 {
			fmt.Fprintf(w, "  already attestations: %d (submit them as they are with evident submit)\n", attestations)
		}
		if refused > 0 {
			fmt.Fprintf(w, "  not recognised or refused: %d (%s)\n", refused, strings.TrimPrefix(detect.ErrUnrecognized.Error(), "unrecognized evidence document; "))
		}
		if failed > 0 {
			fmt.Fprintf(w, "  failed: %d (could not read or write them)\n", failed)
		}
		if notDone > 0 {
			fmt.Fprintf(w, "  not done: %d (interrupted)\n", notDone)
		}
	}
	switch {
	case interrupted:
		return exitWith(exitInterrupted)
	case failed > 0:
		return exitWith(exitError)
	case refused > 0, signed == 0:
		return exitWith(exitFailed)
	}
	return nil
}

// attestJobs expands the arguments into documents and decides where each
// envelope goes. many reports whether the arguments name several documents
// (or a directory), which are written into the directory out.
func (a *app) attestJobs(args []string, out string) (jobs []*attestJob, many bool, err error) {
	outIsDir := false
	if out != "" && out != "-" {
		if fi, err := os.Stat(out); err == nil && fi.IsDir() {
			outIsDir = true
		}
	}
	if len(args) == 1 {
		fi, err := os.Stat(args[0])
		if args[0] == "-" || err == nil && !fi.IsDir() {
			j := &attestJob{path: args[0], display: args[0], out: out}
			if args[0] == "-" {
				j.display = "standard input"
			}
			switch {
			case outIsDir && args[0] == "-":
				return nil, false, errors.New("-o names a directory: give -o FILE or -o - for a document read from standard input")
			case outIsDir:
				j.out = filepath.Join(out, filepath.Base(args[0])+".intoto.json")
			case out == "" && args[0] == "-":
				j.out = "-"
			case out == "":
				j.out = args[0] + ".intoto.json"
			}
			return []*attestJob{j}, false, nil
		}
	}
	if out == "" || out == "-" {
		return nil, true, errors.New("give -o DIR: several documents are written into a directory, one envelope each")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, true, fmt.Errorf("couldn't make the output directory: %w", err)
	}
	if err := checkWritable(out); err != nil {
		return nil, true, err
	}
	outAbs, _ := filepath.Abs(out)
	for _, arg := range args {
		if arg == "-" {
			return nil, true, errors.New("- (standard input) can only be attested alone")
		}
		fi, err := os.Stat(arg)
		if err != nil {
			return nil, true, fmt.Errorf("couldn't read %s: %w", arg, err)
		}
		if !fi.IsDir() {
			jobs = append(jobs, &attestJob{path: arg, display: arg})
			continue
		}
		err = filepath.WalkDir(arg, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if abs, _ := filepath.Abs(path); path != arg && (abs == outAbs || d.Name() == ".git" || d.Name() == ".hg" || d.Name() == ".svn") {
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() {
				jobs = append(jobs, &attestJob{path: path, display: path})
			}
			return nil
		})
		if err != nil {
			return nil, true, fmt.Errorf("couldn't read %s: %w", arg, err)
		}
	}
	if len(jobs) == 0 {
		return nil, true, fmt.Errorf("no documents found in %s", strings.Join(args, " "))
	}
	// Envelopes are named after their documents; a name that repeats (two
	// SECURITY.md files) gets a number. Names are compared ignoring case, as
	// some file systems do.
	used := make(map[string]bool)
	for _, j := range jobs {
		base := filepath.Base(j.path)
		name := base + ".intoto.json"
		for n := 2; used[strings.ToLower(name)]; n++ {
			name = base + "." + strconv.Itoa(n) + ".intoto.json"
		}
		used[strings.ToLower(name)] = true
		j.out = filepath.Join(out, name)
	}
	return jobs, true, nil
}

// checkWritable checks that files can be made in dir, so that an unwritable
// output directory stops attest before it signs anything.
func checkWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".evident-attest-*")
	if err != nil {
		return fmt.Errorf("couldn't write to the output directory: %w", err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// do attests one document, and says what became of it once its envelope is
// written (or it was refused): nothing is said to be recognised before
// everything that could fail has been done.
func (at *attester) do(j *attestJob) {
	j.status, j.message = at.attestOne(j)
	at.mu.Lock()
	defer at.mu.Unlock()
	fmt.Fprintf(at.app.stderr, "%s: %s\n", j.display, j.message)
}

func (at *attester) attestOne(j *attestJob) (attestStatus, string) {
	content, err := at.app.readDocument(j.path)
	var tooLarge *tooLargeError
	switch {
	case errors.As(err, &tooLarge):
		return attestRefused, "refused: " + err.Error()
	case err != nil:
		return attestFailed, "failed: " + err.Error()
	}
	doc, said, err := at.document(j.path, content)
	if errors.Is(err, detect.ErrAttestation) {
		return attestAttestation, "already an attestation (" + attestationWhat(err) + "): submit it with evident submit"
	}
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), prefixOf(j.path))
		if at.many {
			// The summary says what attest recognises, once.
			msg = strings.TrimSuffix(msg, ": "+detect.ErrUnrecognized.Error())
		}
		return attestRefused, "not recognised: " + msg
	}
	env, err := at.sign(doc)
	if err != nil {
		return attestRefused, "refused: " + err.Error()
	}
	if j.out == "-" {
		if _, err := at.app.stdout.Write(env); err != nil {
			return attestFailed, "failed: couldn't write the envelope: " + err.Error()
		}
		return attestSigned, said
	}
	// An envelope is for sharing: readable by all, as the umask allows.
	if err := durable.WriteFile(j.out, env, 0o644); err != nil {
		return attestFailed, "failed: couldn't write the envelope: " + err.Error()
	}
	if !at.many {
		return attestSigned, said + "; wrote " + j.out + ", signed by " + evidence.KeyID(at.key.Public().(ed25519.PublicKey))
	}
	return attestSigned, said + "; wrote " + j.out
}

// prefixOf is how detect's errors start for a document read from path.
func prefixOf(path string) string { return path + " " }

// attestationWhat says which kind of attestation detect found, from its
// error: "a DSSE envelope", "a PEP 740 attestation", ...
func attestationWhat(err error) string {
	msg := strings.TrimSuffix(err.Error(), ": "+detect.ErrAttestation.Error())
	if _, what, ok := strings.Cut(msg, " is "); ok {
		return what
	}
	return msg
}

// document recognises content and returns its document attestation, and
// what to say of it.
func (at *attester) document(path string, content []byte) (*evidence.Document, string, error) {
	name := path
	if path == "-" {
		name = ""
	}
	r, err := detect.Detect(name, content)
	switch {
	case err == nil && at.predicateType == "":
		return r.Document(name, content), fmt.Sprintf("recognised %s (kind %s)", r.Format, r.Kind), nil
	case err == nil:
		d := r.Document(name, content)
		d.DocumentType, d.Kind = at.predicateType, evidence.Classify(at.predicateType)
		return d, fmt.Sprintf("recognised %s; attested as %s (kind %s), as given", r.Format, at.predicateType, d.Kind), nil
	case errors.Is(err, detect.ErrAttestation), !errors.Is(err, detect.ErrUnrecognized), at.predicateType == "":
		return nil, "", err
	}
	// Unrecognised, with an explicit predicate type: attested as it is.
	mt := mediaType(name, content)
	r = &detect.Result{
		Format:        "unrecognised (" + mt + ")",
		PredicateType: at.predicateType,
		Kind:          evidence.Classify(at.predicateType),
		MediaType:     mt,
	}
	return r.Document(name, content), fmt.Sprintf("not recognised; attested as %s of type %s (kind %s), as given", mt, at.predicateType, r.Kind), nil
}

// sign returns the envelope, ending in a newline, of a statement about the
// subject whose predicate is doc.
func (at *attester) sign(doc *evidence.Document) ([]byte, error) {
	predicate, err := doc.Predicate()
	if err != nil {
		return nil, err
	}
	digests := at.digests
	if digests == nil {
		// Package-level evidence names the document itself.
		sum := sha256.Sum256(doc.Content)
		digests = map[string]string{"sha256": hex.EncodeToString(sum[:])}
	}
	st := &evidence.Statement{
		Type:          evidence.StatementTypeV1,
		Subject:       []evidence.Subject{{Name: at.subject, Digest: digests}},
		PredicateType: evidence.PredicateDocument,
		Predicate:     predicate,
	}
	payload, err := st.Marshal()
	if err != nil {
		return nil, err
	}
	env, err := evidence.Sign(evidence.PayloadTypeInToto, payload, at.key, "")
	if err != nil {
		return nil, err
	}
	b, err := env.Marshal()
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// subjectDigests builds the subject's digest set from --artifact or
// --digest. For a package (release false) both may be left out: nil then
// means that each document names itself.
func subjectDigests(artifact string, digests []string, release bool) (map[string]string, error) {
	set := make(map[string]string)
	if artifact != "" {
		f, err := os.Open(artifact)
		if err != nil {
			return nil, fmt.Errorf("couldn't read the artifact: %w", err)
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return nil, fmt.Errorf("couldn't read the artifact: %w", err)
		}
		set["sha256"] = hex.EncodeToString(h.Sum(nil))
		return set, nil
	}
	for _, d := range digests {
		alg, v, ok := strings.Cut(d, ":")
		if !ok || alg == "" || v == "" {
			return nil, fmt.Errorf("--digest %q: want alg:value, e.g. sha256:<64 hex digits>", d)
		}
		set[alg] = strings.ToLower(v)
	}
	switch {
	case release && set["sha256"] == "":
		return nil, errors.New("give --artifact, or --digest sha256:<hex>: the subject needs the release artifact's sha256 digest")
	case !release && len(set) == 0:
		return nil, nil
	case !release && set["sha256"] == "" && set["sha512"] == "" && set["gitCommit"] == "":
		return nil, errors.New("--digest: evidence about a package names an artifact (sha256:<hex>), the source commit (gitCommit:<hex>), or, without --digest, each document itself")
	}
	return set, nil
}

// tooLargeError is a document too large for a document attestation.
type tooLargeError struct{}

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("it is larger than the %d bytes a document attestation carries", evidence.MaxDocumentSize)
}

// readDocument reads a document, or standard input for "-", refusing one
// larger than a document attestation carries.
func (a *app) readDocument(name string) ([]byte, error) {
	var r io.Reader = a.stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("couldn't read the document: %w", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, evidence.MaxDocumentSize+1))
	if err != nil {
		return nil, fmt.Errorf("couldn't read the document: %w", err)
	}
	if len(b) > evidence.MaxDocumentSize {
		return nil, &tooLargeError{}
	}
	return b, nil
}

// mediaType guesses the media type of a document attest doesn't recognise,
// from its name and content.
func mediaType(name string, content []byte) string {
	ext := strings.ToLower(filepath.Ext(name))
	switch ext {
	case ".md", ".markdown":
		return "text/markdown"
	case ".rst":
		return "text/x-rst"
	case ".txt":
		return "text/plain"
	case ".yaml", ".yml":
		return "application/yaml"
	case ".json":
		return "application/json"
	case ".xml":
		return "application/xml"
	}
	if t := mime.TypeByExtension(ext); t != "" {
		t, _, _ = strings.Cut(t, ";") // no parameters: "text/html; charset=utf-8"
		return strings.TrimSpace(t)
	}
	if utf8.Valid(content) {
		return "text/plain"
	}
	return "application/octet-stream"
}
