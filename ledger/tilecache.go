package ledger

import (
	"container/list"
	"sync"
)

// tileCache keeps the interior hashes of recently used full tiles. A full
// tile never changes, and a proof through it needs subtree hashes of up to
// 128 of its hashes: without the cache every proof rehashes about 250 pairs
// per tile level it crosses. It is bounded (Options.TileCacheSize), so memory
// stays flat as the log grows.
type tileCache struct {
	mu  sync.Mutex
	max int
	m   map[[9]byte]*list.Element
	lru *list.List
}

// interior holds a full tile's subtree hashes: level k (1..8) has 256>>k
// hashes, starting at offset 256 - 512>>k.
type interior [TileWidth - 1][32]byte

type tileCacheEntry struct {
	key [9]byte
	in  *interior
}

func newTileCache(max int) *tileCache {
	return &tileCache{max: max, m: make(map[[9]byte]*list.Element), lru: list.New()}
}

func interiorOffset(k uint) int { return TileWidth - (2*TileWidth)>>k }

// node returns the hash at sub-level k (1..7) and index i within the full
// tile t (stored under key), computing and caching the tile's interior.
func (c *tileCache) node(key [9]byte, t []byte, k uint, i int) []byte {
	c.mu.Lock()
	if e, ok := c.m[key]; ok {
		c.lru.MoveToFront(e)
		h := e.Value.(*tileCacheEntry).in[interiorOffset(k)+i]
		c.mu.Unlock()
		return h[:]
	}
	c.mu.Unlock()

	in := new(interior)
	for j := range TileWidth / 2 {
		in[j] = hashPair(t[2*j*32:(2*j+1)*32], t[(2*j+1)*32:(2*j+2)*32])
	}
	for lvl := uint(2); lvl <= TileHeight; lvl++ {
		prev, cur := interiorOffset(lvl-1), interiorOffset(lvl)
		for j := range TileWidth >> lvl {
			in[cur+j] = hashPair(in[prev+2*j][:], in[prev+2*j+1][:])
		}
	}
	c.mu.Lock()
	if _, ok := c.m[key]; !ok {
		c.m[key] = c.lru.PushFront(&tileCacheEntry{key, in})
		for c.lru.Len() > c.max {
			old := c.lru.Remove(c.lru.Back()).(*tileCacheEntry)
			delete(c.m, old.key)
		}
	}
	c.mu.Unlock()
	h := in[interiorOffset(k)+i]
	return h[:]
}
