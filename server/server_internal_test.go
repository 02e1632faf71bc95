package server

import "testing"

// TestWorkerPool: run returns once f has run, and a panic in f is raised in
// the caller, leaving the pool working.
func TestWorkerPool(t *testing.T) {
	p := newWorkerPool(2)
	ran := false
	p.run(func() { ran = true })
	if !ran {
		t.Fatal("run returned before f ran")
	}
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want the panic of f", r)
			}
		}()
		p.run(func() { panic("boom") })
	}()
	for range 4 {
		ran = false
		p.run(func() { ran = true })
		if !ran {
			t.Fatal("the pool stopped working after a panic")
		}
	}
}
