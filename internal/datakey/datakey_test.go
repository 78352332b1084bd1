package datakey

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func mustNew(t *testing.T, key string) *Box {
	t.Helper()
	b, err := New([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	secret := []byte("12345678901234567890")
	key := strings.Repeat("k", 32)
	sealed := mustNew(t, key)
	plain := mustNew(t, "")

	kept := sealed.Seal(secret, "user:1")
	if !strings.HasPrefix(kept, prefixSealed) || strings.Contains(kept, b64.EncodeToString(secret)) {
		t.Fatalf("Seal with a key = %q, want it encrypted", kept)
	}
	if kept == sealed.Seal(secret, "user:1") {
		t.Error("two seals of one value are alike: the nonce is not random")
	}
	got, err := sealed.Open(kept, "user:1")
	if err != nil || !bytes.Equal(got, secret) {
		t.Errorf("Open = %q, %v; want the secret", got, err)
	}
	for _, tc := range []struct {
		name string
		box  *Box
		kept string
		bind string
		want error
	}{
		{"another row", sealed, kept, "user:2", ErrCorrupt},
		{"another key", mustNew(t, strings.Repeat("x", 32)), kept, "user:1", ErrCorrupt},
		{"no key", plain, kept, "user:1", ErrNoKey},
		{"tampered", sealed, kept[:len(kept)-2] + "AA", "user:1", ErrCorrupt},
		{"truncated", sealed, prefixSealed + "AAAA", "user:1", ErrCorrupt},
		{"unknown form", sealed, "rot13:abc", "user:1", ErrCorrupt},
		{"plain not base64", sealed, prefixPlain + "!!", "user:1", ErrCorrupt},
	} {
		if _, err := tc.box.Open(tc.kept, tc.bind); !errors.Is(err, tc.want) {
			t.Errorf("%s: Open = %v, want %v", tc.name, err, tc.want)
		}
	}

	// Without a key, values are kept plain; a key set later still reads them.
	keptPlain := plain.Seal(secret, "user:1")
	if keptPlain != prefixPlain+b64.EncodeToString(secret) {
		t.Errorf("Seal without a key = %q", keptPlain)
	}
	for _, b := range []*Box{plain, sealed} {
		if got, err := b.Open(keptPlain, "user:1"); err != nil || !bytes.Equal(got, secret) {
			t.Errorf("Open of a plain value = %q, %v", got, err)
		}
	}
	if _, err := New([]byte("short")); err == nil {
		t.Error("New with a 5-byte key succeeded")
	}
}
