package password

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestImportedIterationsEqualizeTheWork: while imported Django hashes are
// left, an unknown user, an argon2id user and a Django user each cost an
// argon2id hash and a pbkdf2 (of the typical count, or of the user's own);
// without them, each costs only its own hash, the unknown user an argon2id.
func TestImportedIterationsEqualizeTheWork(t *testing.T) {
	t.Parallel()
	h := newFastHasher(t)
	argon := mustHash(t, h, "correct horse")
	django := djangoHashOf(t, "correct horse", "salt", 300)
	argonWork := work{alg: "argon2id", memory: h.params.Memory, time: h.params.Time, threads: h.params.Threads}
	pbkdf2 := func(n int) work { return work{alg: "pbkdf2_sha256", iterations: n} }
	for _, tc := range []struct {
		imported int
		encoded  string
		want     []work
	}{
		{0, "", []work{argonWork}},
		{0, "not a hash", []work{argonWork}},
		{0, argon, []work{argonWork}},
		{0, django, []work{pbkdf2(300)}},
		{260, "", []work{argonWork, pbkdf2(260)}},
		{260, "not a hash", []work{argonWork, pbkdf2(260)}},
		{260, argon, []work{argonWork, pbkdf2(260)}},
		{260, django, []work{pbkdf2(300), argonWork}},
	} {
		t.Run(fmt.Sprintf("imported=%d/%.20s", tc.imported, tc.encoded), func(t *testing.T) {
			h.SetImportedIterations(tc.imported)
			done := recordWork(h)
			for _, pw := range []string{"correct horse", "wrong"} {
				want := pw == "correct horse" && tc.encoded != "" && tc.encoded != "not a hash"
				if ok, _, _ := h.Verify(t.Context(), pw, tc.encoded); ok != want {
					t.Errorf("Verify(%q) = %v, want %v", pw, ok, want)
				}
			}
			if diff := cmp.Diff(append(tc.want, tc.want...), done(), workCmp); diff != "" {
				t.Errorf("work (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDjangoIterations(t *testing.T) {
	t.Parallel()
	for encoded, want := range map[string]int{
		"pbkdf2_sha256$12000$seasalt$Ybw8zsFxqja97tY/o6G+Fy1ksY4U/Hw3DRrGED6Up4s=": 12000,
		"pbkdf2_sha256$x$seasalt$Ybw8zsFxqja97tY/o6G+Fy1ksY4U/Hw3DRrGED6Up4s=":     0,
		"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA":        0,
		"": 0,
	} {
		n, ok := DjangoIterations(encoded)
		if n != want || ok != (want > 0) {
			t.Errorf("DjangoIterations(%.30q) = %d, %v; want %d", encoded, n, ok, want)
		}
	}
}
