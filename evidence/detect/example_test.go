package detect_test

import (
	"errors"
	"fmt"

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
	fmt.Println(string(r.Predicate))
	// Output:
	// security.txt (RFC 9116)
	// https://www.rfc-editor.org/rfc/rfc9116
	// cvd-policy
	// {"mediaType":"text/plain","filename":"security.txt","sha256":"0f0d5e277046e48100c6b1b6e813d55192cb6fd9f2a65aa5d8cd022126e35320","content":"Contact: mailto:security@example.com\nExpires: 2027-12-31T23:59:59Z\n"}
}

// A document Detect does not recognise can still be attested with an
// explicit predicate type, wrapping it with Wrap.
func ExampleWrap() {
	doc := []byte("EU declaration of conformity: see https://example.com/doc.pdf\n")
	_, err := detect.Detect("doc.txt", doc)
	if errors.Is(err, detect.ErrUnrecognized) {
		fmt.Println(string(detect.Wrap("doc.txt", "text/plain", doc)))
	}
	// Output:
	// {"mediaType":"text/plain","filename":"doc.txt","sha256":"77c5b0e812c29420e29f3ca818f3b673d787dfc62efce193a6e053419ff54be5","content":"EU declaration of conformity: see https://example.com/doc.pdf\n"}
}
