// Package witnesstest helps test code that uses package witness: an
// in-memory Store with failure hooks, the conformance test every Store must
// pass, and a small in-memory log that signs checkpoints and makes
// consistency proofs.
package witnesstest

import (
	"bytes"
	"context"
	"sort"
	"sync"

	"github.com/evident-dev/evident/witness"
)

// MemoryStore is a witness.Store in memory. Its zero value is not usable;
// call NewMemoryStore. The hooks may be set before first use.
type MemoryStore struct {
	// BeforeUpdate, if not nil, is called at the start of every Update; an
	// error it returns fails the Update, which then changes nothing.
	BeforeUpdate func(origin string, old, new witness.State) error
	// AfterUpdate, if not nil, is called after every successful Update,
	// while the store is still locked, so calls are in update order.
	AfterUpdate func(origin string, old, new witness.State)
	// BeforeRecord, if not nil, is called at the start of every
	// RecordMisbehaviour; an error it returns fails it.
	BeforeRecord func(m witness.Misbehaviour) error

	mu     sync.Mutex
	states map[string]witness.State
	bad    map[string][]byte // origin + "\x00" + encoding -> encoding
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{states: make(map[string]witness.State), bad: make(map[string][]byte)}
}

func cloneState(s witness.State) witness.State {
	s.Checkpoint = bytes.Clone(s.Checkpoint)
	return s
}

// Get implements witness.Store.
func (s *MemoryStore) Get(ctx context.Context, origin string) (witness.State, error) {
	if err := ctx.Err(); err != nil {
		return witness.State{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneState(s.states[origin]), nil
}

// Update implements witness.Store.
func (s *MemoryStore) Update(ctx context.Context, origin string, old, new witness.State) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.BeforeUpdate != nil {
		if err := s.BeforeUpdate(origin, old, new); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.states[origin].Equal(old) {
		return witness.ErrStateChanged
	}
	s.states[origin] = cloneState(new)
	if s.AfterUpdate != nil {
		s.AfterUpdate(origin, cloneState(old), cloneState(new))
	}
	return nil
}

// List implements witness.Store.
func (s *MemoryStore) List(ctx context.Context) (map[string]witness.State, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]witness.State, len(s.states))
	for o, st := range s.states {
		m[o] = cloneState(st)
	}
	return m, nil
}

// RecordMisbehaviour implements witness.Store.
func (s *MemoryStore) RecordMisbehaviour(ctx context.Context, m witness.Misbehaviour) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.BeforeRecord != nil {
		if err := s.BeforeRecord(m); err != nil {
			return err
		}
	}
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bad[m.Origin+"\x00"+string(b)] = b
	return nil
}

// ListMisbehaviour implements witness.Store.
func (s *MemoryStore) ListMisbehaviour(ctx context.Context, origin string) ([]witness.Misbehaviour, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	var keys []string
	for k := range s.bad {
		if origin == "" || bytes.HasPrefix([]byte(k), []byte(origin+"\x00")) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	encs := make([][]byte, len(keys))
	for i, k := range keys {
		encs[i] = s.bad[k]
	}
	s.mu.Unlock()
	var ms []witness.Misbehaviour
	for _, b := range encs {
		m, err := witness.ParseMisbehaviour(b)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	return ms, nil
}
