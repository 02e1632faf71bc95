package evidence

import (
	"encoding/json"

	"github.com/evident-dev/evident/evidence/internal/jsonscan"
)

// The decoders below read untrusted JSON with package jsonscan, which says
// why it is stricter than encoding/json: the statement a node logs must
// read the same to every parser. They name the field a refusal is about.

// decodeObject decodes data, which must be exactly one JSON object with at
// most maxMembers members, none twice nor a case variant of a name in known
// (the member names the caller reads). The values returned are sub-slices of
// data.
func decodeObject(data []byte, field string, known []string, maxMembers int) (jsonscan.Object, error) {
	m, err := jsonscan.DecodeObject(data, known, maxMembers)
	if err != nil {
		return jsonscan.Object{}, jsonErr(field, err)
	}
	return m, nil
}

// decodeArray decodes data, which must be exactly one JSON array with at most
// max elements; tooMany says what to do about more. The elements returned
// are sub-slices of data.
func decodeArray(data []byte, field string, max int, tooMany string) ([]json.RawMessage, error) {
	elems, err := jsonscan.DecodeArray(data, max, tooMany)
	if err != nil {
		return nil, jsonErr(field, err)
	}
	return elems, nil
}

// decodeString decodes a JSON string value. It refuses strings holding U+FFFD,
// because a \u escape of a lone surrogate decodes to U+FFFD, which another
// parser would read differently.
func decodeString(raw json.RawMessage, field string) (string, error) {
	v, err := stringValue(raw, field)
	if err != nil {
		return "", err
	}
	return string(v), nil
}

// stringValue is decodeString returning bytes, which are a sub-slice of raw
// if the string holds no escapes.
func stringValue(raw []byte, field string) ([]byte, error) {
	v, err := jsonscan.DecodeString(raw)
	if err != nil {
		return nil, jsonErr(field, err)
	}
	return v, nil
}

// jsonErr names field in a refusal of package jsonscan, whose message
// completes a sentence about the field.
func jsonErr(field string, err error) *FieldError {
	return &FieldError{Field: field, Reason: err.Error()}
}
