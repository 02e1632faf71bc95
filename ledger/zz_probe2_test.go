package ledger

import (
	"context"
	"crypto/rand"
	"testing"
)

func TestZZProbeBatch(t *testing.T) {
	sg, _ := testKey(t, "example.com/probe")
	l := openTest(t, t.TempDir()+"/l.db", Options{Signer: sg})
	ctx := context.Background()
	mk := func(n int) [][]byte {
		var es [][]byte
		for i := 0; i < n; i++ {
			e := make([]byte, 1024)
			rand.Read(e)
			es = append(es, e)
		}
		return es
	}
	for i := 0; i < 1500; i++ {
		l.Append(ctx, mk(32))
	}
	for _, n := range []int{1, 32, 32, 32, 64} {
		before := l.db.Stats().TxStats
		l.Append(ctx, mk(n))
		s := l.db.Stats().TxStats
		d := s.Sub(&before)
		t.Logf("batch %d: page alloc %d bytes (%d pages of 16K), writes %d", n, d.GetPageAlloc(), d.GetPageAlloc()/16384, d.GetWrite())
	}
}
