package configdoc

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const sample = `package p

// Config is a sample configuration.
type Config struct {
	// Addr is where to listen, a host:port. Default :80.
	Addr string ` + "`yaml:\"addr\"`" + `

	// Items are things. Default: none. For example:
	//
	//	items:
	//	  - name: a
	Items []Item ` + "`yaml:\"items,omitempty\"`" + `

	dir string
}

// Item is an entry of Config.Items.
type Item struct {
	// Name names it. Required.
	Name string ` + "`yaml:\"name\"`" + `
}
`

func TestExtract(t *testing.T) {
	d, err := Extract([]byte(sample), "Config")
	if err != nil {
		t.Fatal(err)
	}
	want := &Doc{
		Header: "# This is a sample configuration.\n",
		Keys: []Key{
			{Name: "addr", Comment: "# addr is where to listen, a host:port. Default :80.\n"},
			{Name: "items", Comment: "# items are things. Default: none. For example:\n#\n#   items:\n#     - name: a\n" +
				"#\n# Each entry of items has these keys:\n#\n#   name names it. Required.\n"},
		},
	}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("Extract (-want +got):\n%s", diff)
	}
}

// TestExtractRefuses: a field the file could not document is an error, not
// a key without a comment.
func TestExtractRefuses(t *testing.T) {
	for _, tc := range []struct{ name, from, to, want string }{
		{"no doc", "// Addr is where to listen, a host:port. Default :80.\n", "", "no doc comment"},
		{"doc without the name", "// Addr is where", "// Where", "doesn't start with its name"},
		{"no default", "Default :80.", "", "neither its default"},
		{"no yaml key", "`yaml:\"addr\"`", "", "no yaml key"},
		{"nested field without doc", "// Name names it. Required.\n", "", "Item.Name has no doc comment"},
		{"no type doc", "// Config is a sample configuration.\n", "", "no doc comment"},
		{"two names on a line", "dir string", "a, b string", "a line of its own"},
		{"two levels of nesting", "Name string", "Name Config", "one level"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(sample, tc.from, tc.to, 1)
			if src == sample {
				t.Fatalf("%q is not in the sample", tc.from)
			}
			if _, err := Extract([]byte(src), "Config"); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Extract = %v, want an error saying %q", err, tc.want)
			}
		})
	}
	if _, err := Extract([]byte(sample), "Missing"); err == nil {
		t.Error("Extract of a missing type succeeded")
	}
}
