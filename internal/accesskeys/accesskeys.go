// Package accesskeys keeps the Ed25519 key pairs that sign access tokens
// under AUTHD_ACCESS_ALG=EdDSA. Keys live in the store, shared by every
// replica: the first is generated on first start and signs at once; a
// rotation adds one that is published for the publish delay before it
// signs, so that the services caching the JWKS know it first; a key that
// no longer signs stays published until the last access token it signed
// has expired, and is then retired (deleted).
//
// Which key signs and which are published is a function of the stored
// keys, the time and the access tokens' lifetime (Plan), so every replica
// decides alike. A Manager polls the store every few seconds and hands the
// result to the token.Keyring and to the JWKS it serves: replicas follow a
// rotation without restart.
package accesskeys

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"authd/internal/store"
	"authd/internal/token"
)

// Alg is the algorithm of the keys this package keeps, as stored.
const Alg = "EdDSA"

// PollEvery is how often a Manager reads the keys from the store: a key
// added by one replica (or by `authd keys rotate`) is published by all
// within this time, and the publish delay must be longer.
const PollEvery = 2 * time.Second

// Status is where a key stands at one time.
type Status string

const (
	// Pending: published, it signs once its ActivatesAt is reached.
	Pending Status = "pending"
	// Signing: it signs new access tokens.
	Signing Status = "signing"
	// Retiring: a newer key signs; it stays published until the last
	// token it signed has expired.
	Retiring Status = "retiring"
	// Retired: every token it signed has expired; it is deleted.
	Retired Status = "retired"
)

// State is a key and where it stands. Until is when a pending key starts
// signing, or when a retiring one is retired; zero otherwise.
type State struct {
	Key    store.AccessKey
	Status Status
	Until  time.Time
}

// Published reports whether tokens of the key verify, so that it is in
// the JWKS.
func (s State) Published() bool { return s.Status != Retired }

// Plan returns the state of each key of keys at now, access tokens living
// ttl, in the order of keys. The signing key is the one activated last
// (the greatest ActivatesAt not after now, then the greatest Seq); a key
// activated before it retires once the key after it has signed for
// ttl+token.Leeway, the longest a token of its own can still be valid.
func Plan(keys []store.AccessKey, now time.Time, ttl time.Duration) []State {
	// The keys that have activated, in the order they took over.
	active := make([]int, 0, len(keys))
	for i, k := range keys {
		if !k.ActivatesAt.After(now) {
			active = append(active, i)
		}
	}
	slices.SortStableFunc(active, func(a, b int) int {
		if c := keys[a].ActivatesAt.Compare(keys[b].ActivatesAt); c != 0 {
			return c
		}
		return int(keys[a].Seq - keys[b].Seq)
	})
	out := make([]State, len(keys))
	for i, k := range keys {
		out[i] = State{Key: k, Status: Pending, Until: k.ActivatesAt}
	}
	for n, i := range active {
		if n == len(active)-1 {
			out[i] = State{Key: keys[i], Status: Signing}
			continue
		}
		until := keys[active[n+1]].ActivatesAt.Add(ttl + token.Leeway)
		if now.Before(until) {
			out[i] = State{Key: keys[i], Status: Retiring, Until: until}
		} else {
			out[i] = State{Key: keys[i], Status: Retired}
		}
	}
	return out
}

// Generate returns a new key pair numbered seq, created at now, that
// signs from activates on.
func Generate(seq int64, now, activates time.Time) (store.AccessKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return store.AccessKey{}, fmt.Errorf("generate Ed25519 key: %w", err)
	}
	return store.AccessKey{
		Seq:         seq,
		ID:          token.EdKeyID(pub),
		Alg:         Alg,
		PrivateKey:  priv,
		PublicKey:   pub,
		CreatedAt:   now,
		ActivatesAt: activates,
	}, nil
}

// Ensure adds the first key, signing at once, when the store has none,
// and returns the keys. Replicas starting together add one between them.
func Ensure(ctx context.Context, st store.Store, now time.Time) ([]store.AccessKey, error) {
	keys, err := st.AccessKeys(ctx)
	if err != nil || len(keys) > 0 {
		return keys, err
	}
	k, err := Generate(1, now, now)
	if err != nil {
		return nil, err
	}
	if err := st.AddAccessKey(ctx, k); err != nil && !errors.Is(err, store.ErrKeyExists) {
		return nil, err
	}
	return st.AccessKeys(ctx)
}

// Rotate adds a key that signs delay after now, or at once when it is the
// first. Of rotations at once, each adds a key of its own.
func Rotate(ctx context.Context, st store.Store, now time.Time, delay time.Duration) (store.AccessKey, error) {
	for range 10 {
		keys, err := st.AccessKeys(ctx)
		if err != nil {
			return store.AccessKey{}, err
		}
		seq, activates := int64(1), now
		if len(keys) > 0 {
			seq, activates = keys[len(keys)-1].Seq+1, now.Add(delay)
		}
		k, err := Generate(seq, now, activates)
		if err != nil {
			return store.AccessKey{}, err
		}
		err = st.AddAccessKey(ctx, k)
		if errors.Is(err, store.ErrKeyExists) {
			continue // another rotation took the number
		}
		return k, err
	}
	return store.AccessKey{}, errors.New("rotate: the key number stayed taken after 10 tries")
}

// Options configure a Manager.
type Options struct {
	Store store.Store
	// Keyring receives the keys; it must sign access tokens with EdDSA.
	Keyring *token.Keyring
	// AccessTTL is the lifetime of access tokens.
	AccessTTL time.Duration
	// Logger receives key changes and store failures; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Manager keeps a Keyring and a JWKS in step with the stored keys.
type Manager struct {
	o      Options
	jwks   atomic.Pointer[[]byte]
	mu     sync.Mutex // serialises Refresh
	last   string     // the plan last applied, to log changes
	failed bool       // the last Refresh failed
}

// NewManager returns a Manager with an empty JWKS; Refresh loads the keys.
func NewManager(o Options) *Manager {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{o: o}
	empty := EmptyJWKS()
	m.jwks.Store(&empty)
	return m
}

// JWKS returns the JSON Web Key Set of the published keys (RFC 7517).
func (m *Manager) JWKS() []byte { return *m.jwks.Load() }

// Refresh reads the keys, gives the published ones and the signing one
// to the Keyring, rebuilds the JWKS and deletes retired keys.
func (m *Manager) Refresh(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	keys, err := m.o.Store.AccessKeys(ctx)
	if err != nil {
		return fmt.Errorf("access keys: %w", err)
	}
	now := m.o.Now()
	plan := Plan(keys, now, m.o.AccessTTL)
	var ak token.AccessKeys
	var published []store.AccessKey
	for _, s := range plan {
		if !s.Published() {
			continue
		}
		if s.Key.Alg != Alg || len(s.Key.PublicKey) != ed25519.PublicKeySize || len(s.Key.PrivateKey) != ed25519.PrivateKeySize {
			return fmt.Errorf("access key %s: not an Ed25519 key pair", s.Key.ID)
		}
		published = append(published, s.Key)
		ak.Keys = append(ak.Keys, token.EdKey{Public: s.Key.PublicKey, Private: s.Key.PrivateKey})
		if s.Status == Signing {
			ak.Signing = s.Key.ID
		}
	}
	if err := m.o.Keyring.SetAccessKeys(ak); err != nil {
		return err
	}
	jwks := JWKSOf(published)
	m.jwks.Store(&jwks)

	if summary := summarize(plan); summary != m.last {
		m.o.Logger.Info("access token keys", "signing", ak.Signing, "published", len(published), "keys", summary)
		m.last = summary
	}
	for _, s := range plan {
		if s.Status == Retired {
			if err := m.o.Store.DeleteAccessKey(ctx, s.Key.ID); err != nil {
				return fmt.Errorf("retire access key %s: %w", s.Key.ID, err)
			}
			m.o.Logger.Info("access token key retired: every token it signed has expired", "kid", s.Key.ID)
		}
	}
	return nil
}

// summarize describes a plan in one line.
func summarize(plan []State) string {
	var s string
	for _, st := range plan {
		s += fmt.Sprintf("%d:%s:%s ", st.Key.Seq, st.Key.ID, st.Status)
	}
	return s
}

// Run refreshes every PollEvery until ctx is done. A failure is logged
// once, its end once; meanwhile the keys of the last success stay.
func (m *Manager) Run(ctx context.Context) {
	t := time.NewTicker(PollEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := m.Refresh(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !m.failed:
			m.failed = true
			m.o.Logger.Warn("reading the access token keys failed; the last ones read stay in use", "cause", err.Error())
		case err == nil && m.failed:
			m.failed = false
			m.o.Logger.Info("access token keys read again")
		}
	}
}

// jwk is the public JWK of an Ed25519 key (RFC 8037).
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

// JWKSOf returns the JWKS of the public keys of keys.
func JWKSOf(keys []store.AccessKey) []byte {
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{}}
	for _, k := range keys {
		set.Keys = append(set.Keys, jwk{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(k.PublicKey), Kid: k.ID, Use: "sig", Alg: Alg})
	}
	b, err := json.Marshal(set)
	if err != nil {
		panic("accesskeys: " + err.Error()) // strings only
	}
	return b
}

// EmptyJWKS is the JWKS of no key, served when access tokens are HS256.
func EmptyJWKS() []byte { return []byte(`{"keys":[]}`) }
