package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// KeySet is the set of public keys published at a JWKS URL, fetched when
// first needed and cached for the max-age the server gives (5 minutes
// by default). A kid it does not know makes it fetch the set again, at
// most once per MinRefresh, so that a key authd has just started to sign
// with is learnt at once, and a stream of made-up kids costs one fetch
// per MinRefresh at most.
type KeySet struct {
	URL        string
	Client     *http.Client // nil: a client with a 10 s timeout
	MinRefresh time.Duration
	Now        func() time.Time // nil: time.Now

	mu      sync.Mutex
	keys    map[string]ed25519.PublicKey
	fetched time.Time
	expires time.Time
}

// ErrUnknownKey: no key of the set has the token's kid, even after a
// fetch.
var ErrUnknownKey = errors.New("no key of the JWKS has this kid")

// Key returns the public key of kid.
func (s *KeySet) Key(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	k, ok := s.keys[kid]
	stale := !now.Before(s.expires)
	if ok && !stale {
		return k, nil
	}
	if !stale && now.Sub(s.fetched) < s.MinRefresh {
		return nil, ErrUnknownKey // fetched a moment ago: the kid is made up
	}
	if err := s.fetch(ctx, now); err != nil {
		if ok {
			return k, nil // a cached key stays good while the JWKS is unreachable
		}
		return nil, err
	}
	if k, ok = s.keys[kid]; ok {
		return k, nil
	}
	return nil, ErrUnknownKey
}

func (s *KeySet) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// jwk is a member of a JWKS, as far as Ed25519 keys go (RFC 8037).
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

// fetch replaces the keys with those at URL. Keys of other kinds are left
// out.
func (s *KeySet) fetch(ctx context.Context, now time.Time) error {
	s.fetched = now
	client := s.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch JWKS: %s", resp.Status)
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return fmt.Errorf("fetch JWKS: %w", err)
	}
	keys := make(map[string]ed25519.PublicKey, len(set.Keys))
	for _, k := range set.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" || (k.Alg != "" && k.Alg != "EdDSA") || (k.Use != "" && k.Use != "sig") {
			continue
		}
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize || k.Kid == "" {
			continue
		}
		keys[k.Kid] = x
	}
	s.keys = keys
	s.expires = now.Add(maxAge(resp.Header.Get("Cache-Control"), 5*time.Minute))
	return nil
}

// maxAge reads max-age from a Cache-Control header, or returns def.
func maxAge(cc string, def time.Duration) time.Duration {
	for _, d := range strings.Split(cc, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(d), "max-age="); ok {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				return time.Duration(n) * time.Second
			}
		}
	}
	return def
}
