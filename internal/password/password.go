// Package password hashes and checks user passwords.
//
// New hashes are argon2id in PHC string form. Django's pbkdf2_sha256 hashes
// are accepted for imported users and reported as due for replacement, as
// are argon2id hashes made with weaker parameters than the current ones.
// Every hash computation takes a slot of a bounded pool, so that a flood of
// logins queues instead of allocating memory without limit.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// MinLen and MaxLen bound the length of an acceptable password, in bytes.
const MinLen, MaxLen = 8, 1024

// ErrUnknownFormat is wrapped by the error Verify returns for a stored hash
// it cannot read: an unknown scheme, a malformed string, or parameters
// outside the bounds it is willing to compute.
var ErrUnknownFormat = errors.New("password: unknown hash format")

// Params are the argon2id cost parameters of new hashes.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over the memory
	Threads uint8  // lanes
	KeyLen  uint32 // bytes of hash
	SaltLen uint32 // bytes of random salt
}

// DefaultParams are the OWASP minimum for argon2id: 19 MiB, two passes,
// one lane.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1, KeyLen: 32, SaltLen: 16}

// Options configure a Hasher.
type Options struct {
	// Params are the parameters of new hashes. Zero fields take their
	// value from DefaultParams.
	Params Params
	// Concurrency is how many hashes are computed at once; others wait.
	// Zero or less means runtime.GOMAXPROCS(0).
	Concurrency int
	// OnHash, when set, is told how long each hash computation took,
	// once it had its slot (metrics record it).
	OnHash func(time.Duration)
	// Reclaim, when set, is called after each argon2id hash, in a
	// goroutine of its own that holds the hash's slot until it returns:
	// the caller goes on, and the next caller gets the slot after it.
	// golang.org/x/crypto/argon2 allocates a hash's memory anew on every
	// call, and takes no buffer to reuse (go.dev/issue/36634): authd
	// collects garbage there, so that the next hash reuses the memory of
	// the last one instead of taking more. InFlight counts the slot as
	// held meanwhile.
	Reclaim func()
	// OnIdle, when set, is called once the pool has been idle for
	// IdleAfter: no hash computing and none waiting for a slot since the
	// last one ended. It is called at most once each time the pool falls
	// idle, in a goroutine of its own, so that no caller waits on it
	// (authd returns the hashes' memory to the operating system there).
	OnIdle    func()
	IdleAfter time.Duration
}

// Hasher hashes and verifies passwords. It is safe for concurrent use;
// create one with NewHasher.
type Hasher struct {
	params Params
	limits limits
	slots  chan struct{}
	// dummy is an argon2id hash with the Hasher's params and a random
	// salt, that no password matches: verifying against it costs what a
	// real verification costs.
	dummy string

	// imported is the typical iteration count of the Django hashes left
	// among the users, or 0: see SetImportedIterations.
	imported atomic.Int64

	// waiting counts callers waiting for a slot.
	waiting atomic.Int64
	// onHash is Options.OnHash, reclaim Options.Reclaim.
	onHash  func(time.Duration)
	reclaim func()
	// idle calls Options.OnIdle; nil without it.
	idle *idleWatch
	// onWork, when set, is called in a slot just before each hash
	// computation, with what is about to be computed. Tests use it to see
	// the work done and to hold a slot.
	onWork func(work)
}

// work describes one hash computation.
type work struct {
	alg        string // "argon2id" or "pbkdf2_sha256"
	memory     uint32
	time       uint32
	threads    uint8
	iterations int
}

// params are the parameters of new hashes: o.Params with the zero fields
// taken from DefaultParams, raised to the minimums.
func (o Options) params() Params {
	p := o.Params
	d := DefaultParams
	if p.Memory == 0 {
		p.Memory = d.Memory
	}
	if p.Time == 0 {
		p.Time = d.Time
	}
	if p.Threads == 0 {
		p.Threads = d.Threads
	}
	if p.KeyLen == 0 {
		p.KeyLen = d.KeyLen
	}
	if p.SaltLen == 0 {
		p.SaltLen = d.SaltLen
	}
	p.Memory = max(p.Memory, 8*uint32(p.Threads))
	p.KeyLen = max(p.KeyLen, minKeyLen)
	p.SaltLen = max(p.SaltLen, minSaltLen)
	return p
}

// concurrency is the size of the pool.
func (o Options) concurrency() int {
	if o.Concurrency <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return o.Concurrency
}

// PoolMemory is the memory, in bytes, that the hashes of a Hasher of o
// take at once when every slot of its pool computes an argon2id hash of
// its parameters. Verifying a stored hash of more memory takes more.
func (o Options) PoolMemory() int64 { return int64(o.concurrency()) * int64(o.params().Memory) * 1024 }

// NewHasher returns a Hasher for opts. Parameters below the minimums Verify
// accepts (a salt of 8 bytes, a hash of 16 bytes, 8 KiB of memory per lane)
// are raised to them.
func NewHasher(opts Options) *Hasher {
	p, n := opts.params(), opts.concurrency()
	h := &Hasher{
		params:  p,
		limits:  defaultLimits.atLeast(p),
		slots:   make(chan struct{}, n),
		onHash:  opts.OnHash,
		reclaim: opts.Reclaim,
	}
	if opts.OnIdle != nil {
		h.idle = &idleWatch{onIdle: opts.OnIdle, after: opts.IdleAfter,
			afterFunc: func(d time.Duration, f func()) { time.AfterFunc(d, f) }}
	}
	h.dummy = encodeArgon2id(argon2idHash{
		memory:  p.Memory,
		time:    p.Time,
		threads: p.Threads,
		salt:    randomBytes(p.SaltLen),
		key:     make([]byte, p.KeyLen),
	})
	h.limits.encodedLen = max(h.limits.encodedLen, len(h.dummy))
	return h
}

// Hash returns an argon2id hash of password in PHC string form:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>, salt and hash in unpadded
// standard base64. It fails only when ctx ends while waiting for a slot.
// Callers check the password with Valid first.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	a := argon2idHash{
		memory:  h.params.Memory,
		time:    h.params.Time,
		threads: h.params.Threads,
		salt:    randomBytes(h.params.SaltLen),
	}
	err := h.compute(ctx, a.work(), func() {
		a.key = a.derive(password, h.params.KeyLen)
	})
	if err != nil {
		return "", err
	}
	return encodeArgon2id(a), nil
}

// Verify reports whether password matches the stored hash encoded, and
// whether that hash should be replaced with a new one from Hash: rehash is
// true, when ok is, for a Django pbkdf2_sha256 hash and for an argon2id hash
// with less memory, fewer passes, a shorter salt or a shorter hash than the
// Hasher's.
//
// An empty encoded (an unknown user, or one without a password) costs the
// same as a real verification and gives ok=false, so that such logins take
// as long as wrong passwords. So does an encoded that cannot be read, for
// which the error wraps ErrUnknownFormat. Other errors are ctx's, when it
// ends while waiting for a slot, and, in FIPS 140 mode only, a Django hash
// whose salt or length that mode refuses.
//
// Accepted formats are $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>
// (unpadded standard base64) and Django's
// pbkdf2_sha256$<iterations>$<salt>$<hash> (padded standard base64).
//
// While SetImportedIterations has given a count, every verification also
// costs a Django hash of that many iterations, and a Django hash also
// costs an argon2id one: see SetImportedIterations.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (ok, rehash bool, err error) {
	if encoded != "" {
		ok, rehash, err = h.verify(ctx, password, encoded)
		if err != nil && !errors.Is(err, ErrUnknownFormat) {
			return false, false, err
		}
	}
	readable := encoded != "" && err == nil
	django := readable && strings.HasPrefix(encoded, djangoPrefix)
	n := int(h.imported.Load())
	if !readable || (django && n > 0) {
		if _, _, err := h.verify(ctx, password, h.dummy); err != nil {
			return false, false, err
		}
	}
	if n > 0 && !django {
		if _, _, err := h.verify(ctx, password, dummyDjango(n)); err != nil {
			return false, false, err
		}
	}
	return ok, rehash, err
}

// SetImportedIterations tells the Hasher that the users it verifies
// include some with Django pbkdf2_sha256 hashes, typically of n
// iterations; 0 says there are none left. An imported hash costs a
// pbkdf2 of its iterations (84 to 282 ms here for Django's defaults),
// an argon2id one about 55 ms: a login's time would tell which users
// were imported, and an unknown user from either. While n > 0, every
// verification therefore costs both: an argon2id hash and a pbkdf2 of n
// iterations (that of the hash itself when it is a Django one), so that
// only an imported hash of an unusual iteration count stands apart, by
// the difference of the counts. The price is a pbkdf2 on every login
// until the last imported user has logged in and been re-hashed.
func (h *Hasher) SetImportedIterations(n int) {
	h.imported.Store(int64(max(0, min(n, h.limits.iterations))))
}

// DjangoIterations returns the iteration count of a Django pbkdf2_sha256
// hash, and whether encoded is one.
func DjangoIterations(encoded string) (int, bool) {
	d, err := parseDjango(encoded, defaultLimits)
	if !strings.HasPrefix(encoded, djangoPrefix) || err != nil {
		return 0, false
	}
	return d.iterations, true
}

// dummyDjango is a Django hash of n iterations that no password matches.
func dummyDjango(n int) string {
	return djangoPrefix + strconv.Itoa(n) + "$authd-no-user$" + base64.StdEncoding.EncodeToString(make([]byte, 32))
}

// verify is Verify for a non-empty encoded, without the dummy work.
func (h *Hasher) verify(ctx context.Context, password, encoded string) (ok, rehash bool, err error) {
	st, err := h.parse(encoded)
	if err != nil {
		return false, false, err
	}
	var (
		got       []byte
		deriveErr error
	)
	if err := h.compute(ctx, st.work, func() { got, deriveErr = st.derive(password) }); err != nil {
		return false, false, err
	}
	if deriveErr != nil {
		return false, false, fmt.Errorf("password: %s: %w", st.work.alg, deriveErr)
	}
	if subtle.ConstantTimeCompare(got, st.key) != 1 {
		return false, false, nil
	}
	return true, st.weaker, nil
}

// storedHash is a stored hash, parsed.
type storedHash struct {
	work   work
	key    []byte
	derive func(password string) ([]byte, error) // a key to compare with key
	weaker bool                                  // due for replacement
}

// parse reads a stored hash. Its errors wrap ErrUnknownFormat.
func (h *Hasher) parse(encoded string) (storedHash, error) {
	switch {
	case len(encoded) > h.limits.encodedLen:
		return storedHash{}, fmt.Errorf("%w: longer than %d bytes", ErrUnknownFormat, h.limits.encodedLen)
	case !printableASCII(encoded):
		return storedHash{}, fmt.Errorf("%w: not printable ASCII", ErrUnknownFormat)
	case strings.HasPrefix(encoded, argon2idPrefix):
		a, err := parseArgon2id(encoded, h.limits)
		if err != nil {
			return storedHash{}, err
		}
		return storedHash{
			work:   a.work(),
			key:    a.key,
			derive: func(password string) ([]byte, error) { return a.derive(password, uint32(len(a.key))), nil },
			weaker: a.memory < h.params.Memory || a.time < h.params.Time ||
				uint32(len(a.salt)) < h.params.SaltLen || uint32(len(a.key)) < h.params.KeyLen,
		}, nil
	case strings.HasPrefix(encoded, djangoPrefix):
		d, err := parseDjango(encoded, h.limits)
		if err != nil {
			return storedHash{}, err
		}
		return storedHash{work: d.work(), key: d.key, derive: d.derive, weaker: true}, nil
	default:
		return storedHash{}, fmt.Errorf("%w: unrecognised scheme", ErrUnknownFormat)
	}
}

// compute runs f, the computation described by w, in a slot of the pool.
// It returns ctx.Err() if ctx ends before a slot is free. Callers get
// their slots in the order they asked: a caller that finds the pool full
// queues on the channel of slots, whose blocked senders are served first
// in, first out, and a slot freed while any of them waits goes to the
// first of them, never to a caller arriving then.
func (h *Hasher) compute(ctx context.Context, w work, f func()) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if h.idle != nil {
		h.idle.enter()
		defer h.idle.leave()
	}
	select {
	case h.slots <- struct{}{}:
	default:
		h.waiting.Add(1)
		select {
		case h.slots <- struct{}{}:
			h.waiting.Add(-1)
		case <-ctx.Done():
			h.waiting.Add(-1)
			return ctx.Err()
		}
	}
	release := true
	defer func() {
		if release {
			<-h.slots
		}
	}()
	if h.onWork != nil {
		h.onWork(w)
	}
	start := time.Now()
	f()
	if h.onHash != nil {
		h.onHash(time.Since(start))
	}
	if h.reclaim != nil && w.alg == "argon2id" {
		// The caller goes on with its answer; the slot goes to the next
		// one once the memory is reclaimed.
		release = false
		go func() {
			defer func() { <-h.slots }()
			h.reclaim()
		}()
	}
	return nil
}

// InFlight returns how many hash computations hold a slot of the pool
// now.
func (h *Hasher) InFlight() int { return len(h.slots) }

// idleWatch calls onIdle once the pool has had no caller, computing or
// waiting, for after since the last one left.
type idleWatch struct {
	onIdle    func()
	after     time.Duration
	afterFunc func(time.Duration, func()) // time.AfterFunc; tests replace it

	mu     sync.Mutex
	active int    // callers in compute, waiting for a slot or holding one
	period uint64 // counts the pool's changes between busy and idle
}

// enter counts a caller in; the first ends the idle period.
func (w *idleWatch) enter() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.active == 0 {
		w.period++
	}
	w.active++
}

// leave counts a caller out; the last starts an idle period, and the
// timer that ends it with onIdle unless a caller comes first.
func (w *idleWatch) leave() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.active--
	if w.active > 0 {
		return
	}
	w.period++
	p := w.period
	w.afterFunc(w.after, func() { w.fire(p) })
}

// fire calls onIdle if the idle period p is still going on.
func (w *idleWatch) fire(p uint64) {
	w.mu.Lock()
	idle := w.active == 0 && w.period == p
	w.mu.Unlock()
	if idle {
		w.onIdle()
	}
}

// Valid reports whether password is acceptable: MinLen to MaxLen bytes of
// valid UTF-8.
func Valid(password string) bool {
	return len(password) >= MinLen && len(password) <= MaxLen && utf8.ValidString(password)
}

// limits bound the parameters Verify accepts from a stored hash, so that no
// stored string can make it allocate or compute without bound.
type limits struct {
	encodedLen int    // bytes of the whole string
	memory     uint32 // KiB
	time       uint32
	threads    uint8
	keyLen     int
	iterations int
}

// defaultLimits cover the argon2id parameters of common libraries and
// Django's pbkdf2 iteration counts, with room for growth. At most 128 MiB and
// ten passes, one verification takes a second or two at worst.
var defaultLimits = limits{
	encodedLen: 512, // ours are under 150 bytes
	memory:     128 * 1024,
	time:       10,
	threads:    16,
	keyLen:     128,
	iterations: 5_000_000,
}

// atLeast returns l raised to admit hashes made with p. The string length
// is raised by NewHasher, which knows how long its hashes are.
func (l limits) atLeast(p Params) limits {
	l.memory = max(l.memory, p.Memory)
	l.time = max(l.time, p.Time)
	l.threads = max(l.threads, p.Threads)
	l.keyLen = max(l.keyLen, int(p.KeyLen))
	return l
}

const (
	minSaltLen = 8  // argon2's minimum
	minKeyLen  = 16 // shorter hashes are refused as too weak to trust
)

// randomBytes returns n bytes from crypto/rand, which cannot fail.
func randomBytes(n uint32) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
