package mirror

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/evident-dev/evident/tile"
)

func TestSplitBundle(t *testing.T) {
	for _, tc := range []struct {
		name   string
		bundle []byte
		width  int
		want   []string
		ok     bool
	}{
		{"two", []byte("\x00\x01a\x00\x02bc"), 2, []string{"a", "bc"}, true},
		{"empty entry", []byte("\x00\x00\x00\x01a"), 2, []string{"", "a"}, true},
		{"short", []byte("\x00\x01a"), 2, nil, false},
		{"cut entry", []byte("\x00\x01a\x00\x03bc"), 2, nil, false},
		{"trailing", []byte("\x00\x01a\x00"), 1, nil, false},
		{"odd length byte", []byte("\x00"), 1, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es, err := splitBundle(tc.bundle, tc.width)
			if (err == nil) != tc.ok {
				t.Fatalf("splitBundle = %v, want ok %v", err, tc.ok)
			}
			var got []string
			for _, e := range es {
				got = append(got, string(e))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzSplitBundle: entry bundles come from the network.
func FuzzSplitBundle(f *testing.F) {
	f.Add([]byte("\x00\x01a\x00\x02bc"), 2)
	f.Add([]byte("\x00\x00"), 1)
	f.Add([]byte("\xff\xff"), 1)
	f.Fuzz(func(t *testing.T, b []byte, width int) {
		if width < 1 || width > tile.FullWidth {
			return
		}
		es, err := splitBundle(b, width)
		if err != nil {
			return
		}
		if len(es) != width {
			t.Fatalf("%d entries, want %d", len(es), width)
		}
		var again []byte
		for _, e := range es {
			again = append(again, byte(len(e)>>8), byte(len(e)))
			again = append(again, e...)
		}
		if string(again) != string(b) {
			t.Fatal("the entries don't re-encode to the bundle")
		}
		if p, err := bundlePrefix(b, width); err != nil || len(p) != len(b) {
			t.Fatalf("bundlePrefix of the whole bundle = %d bytes, %v", len(p), err)
		}
	})
}
