package server

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/evident-dev/evident/evidence"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/types/known/durationpb"
)

// submitLimits are the token buckets of the signing keys the trust policy
// gives a rate limit: a key's envelopes beyond its rate and burst are
// refused (ResourceExhausted, with when to retry), so that one key, leaked
// or misused, can't flood the log for everyone.
type submitLimits struct {
	mu      sync.Mutex
	buckets map[string]*bucket // by key id
}

type bucket struct {
	tokens float64
	at     time.Time
}

// take charges one envelope to every key in keys that policy limits, at
// now. If one of them has no token left, it charges none and returns an
// error naming that key and when it will have one.
func (l *submitLimits) take(policy *evidence.TrustedSigners, keys []string, now time.Time) error {
	if !slices.ContainsFunc(keys, func(id string) bool { rate, _ := policy.RateLimit(id); return rate > 0 }) {
		return nil // the common case: no limit, no lock
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buckets == nil {
		l.buckets = map[string]*bucket{}
	}
	var charge []*bucket
	for _, id := range keys {
		rate, burst := policy.RateLimit(id)
		if rate <= 0 {
			continue
		}
		b := l.buckets[id]
		if b == nil {
			b = &bucket{tokens: float64(burst), at: now}
			l.buckets[id] = b
		}
		if elapsed := now.Sub(b.at).Seconds(); elapsed > 0 {
			b.tokens += elapsed * rate
			b.at = now
		}
		b.tokens = min(b.tokens, float64(burst)) // also when the burst was lowered
		if b.tokens < 1 {
			wait := maxRetryHint
			if secs := (1 - b.tokens) / rate; secs < maxRetryHint.Seconds() {
				wait = time.Duration(math.Ceil(secs*1000)) * time.Millisecond
			}
			return rateLimited(id, rate, burst, wait)
		}
		charge = append(charge, b)
	}
	for _, b := range charge {
		b.tokens--
	}
	return nil
}

// refund gives back the token take charged to each limited key in keys,
// for an envelope that was not logged after all.
func (l *submitLimits) refund(policy *evidence.TrustedSigners, keys []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range keys {
		if _, burst := policy.RateLimit(id); burst > 0 {
			if b := l.buckets[id]; b != nil {
				b.tokens = min(b.tokens+1, float64(burst))
			}
		}
	}
}

// maxRetryHint caps the retry hint of a very low rate.
const maxRetryHint = time.Hour

func rateLimited(keyID string, rate float64, burst int, wait time.Duration) error {
	wait = max(wait, time.Millisecond)
	ce := connect.NewError(connect.CodeResourceExhausted, fmt.Errorf(
		"key %s may have %v envelopes per second logged (bursts of %d) and has used them: retry in %v, or ask the node's operator for a higher rate_limit", keyID, rate, burst, wait))
	if d, err := connect.NewErrorDetail(&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)}); err == nil {
		ce.AddDetail(d)
	}
	return ce
}
