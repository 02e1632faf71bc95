package node

import (
	"context"
	"testing"
)

// TestGoStopsWithTheNode: a goroutine started by Go sees the node's context
// end at Close, and Close returns only after it has returned, so nothing
// started by Go outlives the node.
func TestGoStopsWithTheNode(t *testing.T) {
	m := newMember(t, "lifetime")
	n, err := Start(Config{Data: m.dir, Signer: m.signer, LogKey: m.logKey, Cosigner: m.cosigner, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	started, returned := make(chan struct{}), make(chan struct{})
	n.Go(func(ctx context.Context) {
		defer close(returned)
		close(started)
		<-ctx.Done()
	})
	<-started
	select {
	case <-returned:
		t.Fatal("the goroutine returned while the node ran")
	default:
	}
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-returned:
	default:
		t.Fatal("Close returned before the goroutine started by Go did")
	}

	// After Close, Go starts nothing.
	ran := false
	n.Go(func(context.Context) { ran = true })
	n.running.Wait()
	if ran {
		t.Error("Go ran a function after Close")
	}
}
