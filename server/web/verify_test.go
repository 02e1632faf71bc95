package web_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// rfc6962 computes Merkle tree hashes and inclusion proofs the way RFC 6962
// section 2.1 defines them (MTH and PATH), recursively: independent of the
// ledger's tile code and of the page's iterative verifier.
type rfc6962 struct{ leaves [][]byte }

func (t rfc6962) leaf(i int) []byte {
	h := sha256.Sum256(append([]byte{0}, t.leaves[i]...))
	return h[:]
}

func hashNode(l, r []byte) []byte {
	h := sha256.Sum256(append(append([]byte{1}, l...), r...))
	return h[:]
}

// split is the largest power of two less than n.
func split(n int) int {
	k := 1
	for k<<1 < n {
		k <<= 1
	}
	return k
}

func (t rfc6962) mth(lo, hi int) []byte {
	if hi-lo == 1 {
		return t.leaf(lo)
	}
	k := split(hi - lo)
	return hashNode(t.mth(lo, lo+k), t.mth(lo+k, hi))
}

func (t rfc6962) path(m, lo, hi int) [][]byte {
	if hi-lo == 1 {
		return nil
	}
	k := split(hi - lo)
	if m < k {
		return append(t.path(m, lo, lo+k), t.mth(lo+k, hi))
	}
	return append(t.path(m-k, lo+k, hi), t.mth(lo, lo+k))
}

// TestVerifyInclusionInBrowser runs the page's RFC 6962 inclusion verifier
// (verify.js, in Chromium) over every index of trees of 1 to 70 leaves and
// some larger ones, against proofs from the RFC's definition, and over
// proofs spoiled in each way one can spoil them, which must fail.
func TestVerifyInclusionInBrowser(t *testing.T) {
	n := startNode(t)
	p := newBrowser(t, 800, 600)
	p.do(chromedp.Navigate(n.URL + "/"))
	p.waitText("Find evidence")
	type tc struct {
		Name   string   `json:"name"`
		Entry  string   `json:"entry"`
		Index  string   `json:"index"`
		Size   string   `json:"size"`
		Path   []string `json:"path"`
		Root   string   `json:"root"`
		WantOK bool     `json:"wantOK"`
	}
	var cases []tc
	b64 := base64.StdEncoding.EncodeToString
	var leaves [][]byte
	sizes := []int{}
	for s := 1; s <= 70; s++ {
		sizes = append(sizes, s)
	}
	sizes = append(sizes, 127, 128, 129, 255, 256, 257, 1000)
	for i := range 1000 {
		leaves = append(leaves, fmt.Appendf(nil, "entry %d", i))
	}
	for _, size := range sizes {
		tr := rfc6962{leaves[:size]}
		root := tr.mth(0, size)
		idxs := []int{}
		if size <= 70 {
			for i := range size {
				idxs = append(idxs, i)
			}
		} else {
			idxs = []int{0, 1, size / 2, size - 2, size - 1}
		}
		for _, i := range idxs {
			path := tr.path(i, 0, size)
			enc := func(ps [][]byte) []string {
				out := []string{}
				for _, h := range ps {
					out = append(out, b64(h))
				}
				return out
			}
			c := tc{Name: fmt.Sprintf("%d of %d", i, size), Entry: b64(leaves[i]), Index: fmt.Sprint(i), Size: fmt.Sprint(size), Path: enc(path), Root: b64(root), WantOK: true}
			cases = append(cases, c)
			bad := func(name string, f func(c *tc)) {
				d := c
				d.Name += ": " + name
				d.Path = append([]string(nil), c.Path...)
				d.WantOK = false
				f(&d)
				cases = append(cases, d)
			}
			bad("another entry", func(c *tc) { c.Entry = b64(append(leaves[i], 'x')) })
			bad("index beyond the tree", func(c *tc) { c.Index = fmt.Sprint(size) })
			if size > 1 {
				bad("another index", func(c *tc) { c.Index = fmt.Sprint((i + 1) % size) })
				bad("a flipped hash", func(c *tc) { h := hashNode(nil, nil); c.Path[len(c.Path)/2] = b64(h) })
				bad("a hash left out", func(c *tc) { c.Path = c.Path[:len(c.Path)-1] })
				// (Another size with the same root can pass: a proof binds
				// index and root, and the checkpoint binds root and size,
				// which the page checks apart.)
				bad("another tree's root", func(c *tc) { c.Root = b64(rfc6962{leaves[:size+1]}.mth(0, size+1)) })
			}
			bad("a hash too many", func(c *tc) { c.Path = append(c.Path, b64(hashNode(nil, nil))) })
		}
	}
	in, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	js := `(async () => {
		const v = await import('/ui/js/verify.js');
		const out = [];
		for (const c of ` + string(in) + `) {
			const r = await v.verifyInclusion(v.b64decode(c.entry), BigInt(c.index), BigInt(c.size), (c.path ?? []).map(v.b64decode), v.b64decode(c.root));
			if (r.ok !== c.wantOK) out.push(c.name + ': ok=' + r.ok + ' ' + (r.reason || ''));
		}
		return out;
	})()`
	wrong, err := chromedp.Run(p.ctx, chromedp.Evaluate[[]string](js, func(e *runtime.EvaluateParams) { await := true; e.AwaitPromise = &await }))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range wrong {
		t.Errorf("verifyInclusion: %s", w)
	}
	t.Logf("%d cases", len(cases))
	p.noErrors()
}
