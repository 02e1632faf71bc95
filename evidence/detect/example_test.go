package detect_test

import (
	"fmt"

	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/evidence/detect"
)

func ExampleDetect() {
	doc := []byte("Contact: mailto:security@example.com\nExpires: 2027-12-31T23:59:59Z\n")
	r, err := detect.Detect("security.txt", doc)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Format)
	fmt.Println(r.PredicateType)
	fmt.Println(r.Kind)
	fmt.Println(r.MediaType)
	// Output:
	// security.txt (RFC 9116)
	// https://www.rfc-editor.org/rfc/rfc9116
	// cvd-policy
	// text/plain
}

// A recognised document goes into a document attestation byte for byte,
// with what Detect said of it.
func ExampleResult_Document() {
	doc := []byte("# Security Policy\r\n\r\nReport vulnerabilities to <security@example.com> & we will fix them.\r\n")
	r, err := detect.Detect("docs/SECURITY.md", doc)
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := r.Document("docs/SECURITY.md", doc).Predicate()
	if err != nil {
		fmt.Println(err)
		return
	}
	st := &evidence.Statement{
		Type:          evidence.StatementTypeV1,
		Subject:       []evidence.Subject{{Name: "pkg:github/example/example", Digest: map[string]string{"gitCommit": "0123456789abcdef0123456789abcdef01234567"}}},
		PredicateType: evidence.PredicateDocument,
		Predicate:     p,
	}
	payload, err := st.Marshal()
	if err != nil {
		fmt.Println(err)
		return
	}
	back, mediaType, err := evidence.DocumentOf(payload)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Format, "|", r.Kind, "|", r.Title)
	fmt.Println(mediaType, string(back) == string(doc))
	// Output:
	// security policy (Markdown) | security-policy | Security Policy
	// text/markdown true
}
