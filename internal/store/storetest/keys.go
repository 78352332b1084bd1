package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authd/internal/store"
)

// accessKey returns key number seq, its bytes made of seq.
func accessKey(seq int64, created time.Time) store.AccessKey {
	b := byte(seq)
	return store.AccessKey{
		Seq:         seq,
		ID:          fmt.Sprintf("kid-%d", seq),
		Alg:         "EdDSA",
		PrivateKey:  bytes.Repeat([]byte{b, 0}, 32),
		PublicKey:   bytes.Repeat([]byte{b}, 32),
		CreatedAt:   created,
		ActivatesAt: created.Add(10 * time.Minute),
	}
}

func mustAccessKeys(t *testing.T, s store.Store) []store.AccessKey {
	t.Helper()
	ks, err := s.AccessKeys(t.Context())
	if err != nil {
		t.Fatalf("AccessKeys: %v", err)
	}
	return ks
}

func testAccessKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	if ks := mustAccessKeys(t, s); len(ks) != 0 {
		t.Fatalf("AccessKeys of a new database = %v, want none", ks)
	}
	// Times to the microsecond, in another zone: they come back in UTC.
	at := time.Date(2026, 11, 28, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
	k1, k2, k3 := accessKey(1, at), accessKey(2, at.Add(time.Hour)), accessKey(3, at.Add(2*time.Hour))
	k1.ActivatesAt = k1.CreatedAt
	// Added out of order, listed by number.
	for _, k := range []store.AccessKey{k2, k1, k3} {
		if err := s.AddAccessKey(ctx, k); err != nil {
			t.Fatalf("AddAccessKey(%d): %v", k.Seq, err)
		}
	}
	utc := func(k store.AccessKey) store.AccessKey {
		k.CreatedAt = k.CreatedAt.UTC().Truncate(time.Microsecond)
		k.ActivatesAt = k.ActivatesAt.UTC().Truncate(time.Microsecond)
		return k
	}
	want := []store.AccessKey{utc(k1), utc(k2), utc(k3)}
	if diff := cmp.Diff(want, mustAccessKeys(t, s)); diff != "" {
		t.Errorf("AccessKeys (-want +got):\n%s", diff)
	}

	sameSeq := accessKey(2, at)
	sameSeq.ID = "another-kid"
	sameID := accessKey(4, at)
	sameID.ID = k1.ID
	for name, k := range map[string]store.AccessKey{"number taken": sameSeq, "id taken": sameID} {
		if err := s.AddAccessKey(ctx, k); !errors.Is(err, store.ErrKeyExists) {
			t.Errorf("AddAccessKey, %s: err = %v, want %v", name, err, store.ErrKeyExists)
		}
	}
	if diff := cmp.Diff(want, mustAccessKeys(t, s)); diff != "" {
		t.Errorf("AccessKeys after refused adds (-want +got):\n%s", diff)
	}

	if err := s.DeleteAccessKey(ctx, k1.ID); err != nil {
		t.Fatalf("DeleteAccessKey: %v", err)
	}
	if err := s.DeleteAccessKey(ctx, "no-such-kid"); err != nil {
		t.Errorf("DeleteAccessKey of an unknown id: %v", err)
	}
	if diff := cmp.Diff(want[1:], mustAccessKeys(t, s)); diff != "" {
		t.Errorf("AccessKeys after a delete (-want +got):\n%s", diff)
	}
}

// testAccessKeysConcurrentAdd: processes that add key number n at once,
// as replicas starting together on an empty database do, store one.
func testAccessKeysConcurrentAdd(t *testing.T, s store.Store) {
	const callers = 16
	var (
		wg    sync.WaitGroup
		errs  [callers]error
		start = make(chan struct{})
	)
	now := time.Now()
	for i := range callers {
		wg.Go(func() {
			<-start
			k := accessKey(1, now)
			k.ID = fmt.Sprintf("caller-%d", i)
			errs[i] = s.AddAccessKey(t.Context(), k)
		})
	}
	close(start)
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Errorf("callers %d and %d both added key 1", won, i)
		case err == nil:
			won = i
		case !errors.Is(err, store.ErrKeyExists):
			t.Errorf("caller %d: %v, want nil or %v", i, err, store.ErrKeyExists)
		}
	}
	ks := mustAccessKeys(t, s)
	if won < 0 || len(ks) != 1 || ks[0].ID != fmt.Sprintf("caller-%d", won) {
		t.Errorf("after %d concurrent adds: keys %v, winner %d", callers, ks, won)
	}
}
