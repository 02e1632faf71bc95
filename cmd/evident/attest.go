package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/evidence/detect"
)

func (a *app) attestCmd() *cobra.Command {
	var (
		subject, artifact, predicateType, out string
		digests                               []string
	)
	c := &cobra.Command{
		Use:   "attest FILE --subject PURL (--artifact PATH | --digest sha256:HEX) [-o OUT]",
		Short: "Sign an evidence document as an in-toto attestation",
		Long: `Attest recognises an evidence document (SPDX, CycloneDX, OpenVEX, CSAF, SLSA
provenance, Scorecard, Security Insights, CVE/OSV records, security.txt,
security and CVD policies, ...), says on stderr what it recognised, wraps it
in an in-toto Statement v1 about the release --subject names, signs the
statement as a DSSE envelope with your key, and writes the envelope: to
FILE.intoto.json, or to OUT (- for stdout). FILE - reads standard input.

The subject is the release's Package URL with its version, and the sha256
digest of the release artifact: give the artifact (--artifact) or its digest
(--digest sha256:<hex>; repeat the flag to add other algorithms).

A document attest doesn't recognise is refused, unless --predicate-type
says what it is; it is then embedded as is (a JSON object) or as text.
Signing is deterministic: the same inputs give the same envelope.`,
		Example: `  evident attest sbom.spdx.json --subject pkg:pypi/requests@2.32.3 --artifact dist/requests-2.32.3.tar.gz
  evident attest vex.openvex.json --subject pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1 \
      --digest sha256:0ffa6dda3e7e0ef2d27d84b4e6ab2cc1e5d9cd1a4d18b3d4cbbc65dc36c5a41f -o - | evident submit -
  evident attest notes.txt --predicate-type https://example.com/release-notes/v1 --subject pkg:generic/openssl@3.4.0 --artifact openssl-3.4.0.tar.gz`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if subject == "" {
				return fmt.Errorf("give --subject: the Package URL of the release, e.g. pkg:pypi/requests@2.32.3")
			}
			digestSet, err := subjectDigests(artifact, digests)
			if err != nil {
				return err
			}
			content, err := a.readInput(name)
			if err != nil {
				return err
			}
			predType, predicate, err := a.predicate(name, content, predicateType)
			if err != nil {
				return err
			}
			key, err := a.readKey()
			if err != nil {
				return err
			}
			st := &evidence.Statement{
				Type:          evidence.StatementTypeV1,
				Subject:       []evidence.Subject{{Name: subject, Digest: digestSet}},
				PredicateType: predType,
				Predicate:     predicate,
			}
			payload, err := st.Marshal()
			if err != nil {
				return err
			}
			env, err := evidence.Sign(evidence.PayloadTypeInToto, payload, key, "")
			if err != nil {
				return err
			}
			b, err := env.Marshal()
			if err != nil {
				return err
			}
			b = append(b, '\n')
			dest := out
			if dest == "" {
				dest = name + ".intoto.json"
				if name == "-" {
					dest = "-"
				}
			}
			if dest == "-" {
				_, err := a.stdout.Write(b)
				return err
			}
			if err := os.WriteFile(dest, b, 0o644); err != nil {
				return fmt.Errorf("couldn't write the envelope: %w", err)
			}
			fmt.Fprintf(a.stderr, "wrote %s, signed by %s\n", dest, evidence.KeyID(key.Public().(ed25519.PublicKey)))
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&subject, "subject", "", "Package URL of the release, with its version (required)")
	f.StringVar(&artifact, "artifact", "", "the release artifact, to take its sha256 digest")
	f.StringArrayVar(&digests, "digest", nil, "digest of the release artifact, alg:hex (sha256 required)")
	f.StringVar(&predicateType, "predicate-type", "", "in-toto predicate type URI, for documents attest doesn't recognise (or to override it)")
	f.StringVarP(&out, "output", "o", "", "write the envelope here (- for stdout; default FILE.intoto.json)")
	c.MarkFlagsMutuallyExclusive("artifact", "digest")
	c.AddCommand(a.attestGenerators()...) // attestgen.go
	return c
}

// subjectDigests builds the subject's digest set from --artifact or
// --digest.
func subjectDigests(artifact string, digests []string) (map[string]string, error) {
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
	if set["sha256"] == "" {
		return nil, errors.New("give --artifact, or --digest sha256:<hex>: the subject needs the release artifact's sha256 digest")
	}
	return set, nil
}

// readInput reads a file, or standard input for "-".
func (a *app) readInput(name string) ([]byte, error) {
	var r io.Reader = a.stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("couldn't read the document: %w", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, detect.MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("couldn't read the document: %w", err)
	}
	return b, nil
}

// predicate recognises the document and returns the statement's predicate
// type and predicate, telling the user what it found.
func (a *app) predicate(name string, content []byte, predicateType string) (string, json.RawMessage, error) {
	display := name
	if name == "-" {
		display = "standard input"
	}
	r, err := detect.Detect(name, content)
	switch {
	case err == nil && predicateType == "":
		fmt.Fprintf(a.stderr, "%s: recognised %s (kind %s, predicate type %s)\n", display, r.Format, r.Kind, r.PredicateType)
		return r.PredicateType, r.Predicate, nil
	case err == nil:
		fmt.Fprintf(a.stderr, "%s: recognised %s; using predicate type %s as given (kind %s)\n", display, r.Format, predicateType, evidence.Classify(predicateType))
		return predicateType, r.Predicate, nil
	case errors.Is(err, detect.ErrAttestation):
		return "", nil, failed(err)
	case !errors.Is(err, detect.ErrUnrecognized):
		return "", nil, err
	case predicateType == "":
		return "", nil, failed(err)
	}
	// Unrecognised, with an explicit predicate type: a JSON object is the
	// predicate as is, anything else is embedded.
	trimmed := bytes.TrimSpace(bytes.TrimPrefix(content, []byte("\xef\xbb\xbf")))
	if len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(trimmed) {
		fmt.Fprintf(a.stderr, "%s: not recognised; using it as the predicate of type %s (kind %s)\n", display, predicateType, evidence.Classify(predicateType))
		return predicateType, trimmed, nil
	}
	mt := mediaType(name, content)
	fmt.Fprintf(a.stderr, "%s: not recognised; embedding it as %s in a predicate of type %s (kind %s)\n", display, mt, predicateType, evidence.Classify(predicateType))
	return predicateType, detect.Wrap(name, mt, content), nil
}

// mediaType guesses a document's media type from its name and content.
func mediaType(name string, content []byte) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".md", ".markdown":
		return "text/markdown"
	case ".rst":
		return "text/x-rst"
	case ".txt":
		return "text/plain"
	case ".yaml", ".yml":
		return "application/yaml"
	case ".xml":
		return "application/xml"
	}
	if t := mime.TypeByExtension(filepath.Ext(name)); t != "" {
		return t
	}
	if utf8.Valid(content) {
		return "text/plain"
	}
	return "application/octet-stream"
}
