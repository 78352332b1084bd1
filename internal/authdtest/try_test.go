package authdtest

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestTry runs functions outside any test: a failure becomes Try's error,
// Fatal ends the function, cleanups run last first, and a skip fails.
func TestTry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		f       func(t testing.TB, did *[]string)
		want    string // the error, "" for none
		wantDid []string
	}{
		{
			name: "passes",
			f: func(t testing.TB, did *[]string) {
				t.Logf("a log line, not an error")
				*did = append(*did, "ran")
			},
			wantDid: []string{"ran"},
		},
		{
			name: "Fatal ends it",
			f: func(t testing.TB, did *[]string) {
				t.Log("before")
				t.Fatalf("broke at %d", 1)
				*did = append(*did, "after Fatal")
			},
			want: "before\nbroke at 1",
		},
		{
			name: "Error goes on",
			f: func(t testing.TB, did *[]string) {
				t.Error("one")
				t.Errorf("two")
				*did = append(*did, "after Error")
				if !t.Failed() {
					*did = append(*did, "not failed")
				}
			},
			want:    "one\ntwo",
			wantDid: []string{"after Error"},
		},
		{
			name: "cleanups run last first, after a Fatal too",
			f: func(t testing.TB, did *[]string) {
				t.Cleanup(func() { *did = append(*did, "first added") })
				t.Cleanup(func() {
					t.Cleanup(func() { *did = append(*did, "added by a cleanup") })
					*did = append(*did, "second added")
				})
				t.Fatal("stop")
			},
			want:    "stop",
			wantDid: []string{"second added", "added by a cleanup", "first added"},
		},
		{
			name: "a skip fails",
			f: func(t testing.TB, did *[]string) {
				t.Cleanup(func() {
					if t.Skipped() {
						*did = append(*did, "skipped")
					}
				})
				t.Skip("not here")
			},
			want:    "not here\nskipped outside a test",
			wantDid: []string{"skipped"},
		},
		{
			name: "Setenv fails",
			f:    func(t testing.TB, _ *[]string) { t.Setenv("AUTHD_X", "1") },
			want: `Setenv("AUTHD_X") outside a test`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var did []string
			err := Try(t.Context(), func(tb testing.TB) { tc.f(tb, &did) })
			if got := errString(err); got != tc.want {
				t.Errorf("Try = %q, want %q", got, tc.want)
			}
			if !slices.Equal(did, tc.wantDid) {
				t.Errorf("did %q, want %q", did, tc.wantDid)
			}
		})
	}
}

// TestTryTempDirAndContext: the folder is gone and the context done once
// Try returns.
func TestTryTempDirAndContext(t *testing.T) {
	t.Parallel()
	var dir string
	var ctx context.Context
	err := Try(t.Context(), func(tb testing.TB) {
		dir, ctx = tb.TempDir(), tb.Context()
		if err := os.WriteFile(dir+"/f", []byte("x"), 0o644); err != nil {
			tb.Fatal(err)
		}
		if ctx.Err() != nil {
			tb.Fatal("the context is done while f runs")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("TempDir %s after Try: %v, want it removed", dir, err)
	}
	if ctx.Err() == nil {
		t.Error("the context is not done after Try")
	}
}

// TestTryClient drives a client outside any test: a refused call is Try's
// error.
func TestTryClient(t *testing.T) {
	t.Parallel()
	srv := stand(t)
	err := Try(t.Context(), func(tb testing.TB) {
		c := NewClient(tb, srv.URL)
		c.MustMe(c.MustLogin("ada", "a password").AccessToken)
	})
	if err == nil || !strings.Contains(err.Error(), "me = 401") {
		t.Errorf("Try = %v, want the refused me", err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
