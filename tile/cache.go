package tile

import (
	"container/list"
	"sync"
)

// Cache keeps the interior hashes of recently used full tiles. A full tile
// never changes, and a proof through it needs subtree hashes of up to 128 of
// its hashes: without the cache every proof rehashes about 250 pairs per tile
// level it crosses. It is bounded, so memory stays flat as a log grows. One
// Cache serves one log; it is safe for concurrent use.
type Cache struct {
	mu  sync.Mutex
	max int
	m   map[cacheKey]*list.Element
	lru *list.List
}

type cacheKey struct {
	level uint8
	n     uint64
}

// interior holds a full tile's subtree hashes: level k (1..8) has 256>>k
// hashes, starting at offset 256 - 512>>k.
type interior [FullWidth - 1][32]byte

type cacheEntry struct {
	key cacheKey
	in  *interior
}

// NewCache returns a cache of the interiors of at most max full tiles
// (8 KiB each).
func NewCache(max int) *Cache {
	return &Cache{max: max, m: make(map[cacheKey]*list.Element), lru: list.New()}
}

func interiorOffset(k uint) int { return FullWidth - (2*FullWidth)>>k }

// node returns the hash at sub-level k (1..7) and index i within the full
// tile t whose hashes are b, computing and caching the tile's interior.
func (c *Cache) node(t Tile, b []byte, k uint, i int) [32]byte {
	key := cacheKey{t.Level, t.N}
	c.mu.Lock()
	if e, ok := c.m[key]; ok {
		c.lru.MoveToFront(e)
		h := e.Value.(*cacheEntry).in[interiorOffset(k)+i]
		c.mu.Unlock()
		return h
	}
	c.mu.Unlock()

	in := new(interior)
	for j := range FullWidth / 2 {
		in[j] = HashChildren(b[2*j*HashSize:(2*j+1)*HashSize], b[(2*j+1)*HashSize:(2*j+2)*HashSize])
	}
	for lvl := uint(2); lvl <= Height; lvl++ {
		prev, cur := interiorOffset(lvl-1), interiorOffset(lvl)
		for j := range FullWidth >> lvl {
			in[cur+j] = HashChildren(in[prev+2*j][:], in[prev+2*j+1][:])
		}
	}
	c.mu.Lock()
	if _, ok := c.m[key]; !ok {
		c.m[key] = c.lru.PushFront(&cacheEntry{key, in})
		for c.lru.Len() > c.max {
			old := c.lru.Remove(c.lru.Back()).(*cacheEntry)
			delete(c.m, old.key)
		}
	}
	c.mu.Unlock()
	return in[interiorOffset(k)+i]
}
