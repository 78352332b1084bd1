package qr

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"authd/internal/account"
	"authd/internal/totp"
)

// TestZbarReadsBack: zbarimg, the decoder of the ZBar bar code reader
// (Debian's zbar-tools), written apart from this package, reads back the
// PNGs of random otpauth URLs of many lengths at every level, and of
// random text filling version 40 at every level. Each run draws new ones;
// a failure shows the text. Without zbarimg the test skips, except under
// CI, where it fails.
func TestZbarReadsBack(t *testing.T) {
	t.Parallel()
	zbarimg := mustZbarimg(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>32))

	var texts []string
	var levels []Level
	// Issuers of up to 187 bytes, each escaped twice in the URL, keep
	// every URL within what version 40 holds at level H.
	for i := range 40 {
		issuer := randomString(rng, 1+rng.IntN(185), "abcXYZ019 -_.:&?/%=+#éü☃")
		user := randomString(rng, account.MinUsername+rng.IntN(account.MaxUsername-account.MinUsername+1),
			"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")
		texts = append(texts, totp.URL(issuer, user, totp.NewSecret()))
		levels = append(levels, Level(i%4))
	}
	for l := L; l <= H; l++ {
		printable := make([]byte, 0, 95)
		for c := byte(' '); c <= '~'; c++ {
			printable = append(printable, c)
		}
		texts = append(texts, randomString(rng, Capacity(MaxVersion, l), string(printable)))
		levels = append(levels, l)
	}

	dir := t.TempDir()
	versions := map[int]bool{}
	began := time.Now()
	for i, text := range texts {
		c, err := Encode([]byte(text), levels[i])
		if err != nil {
			t.Fatalf("%d bytes at %v: %v", len(text), levels[i], err)
		}
		versions[c.Version()] = true
		file := filepath.Join(dir, "qr.png")
		var img bytes.Buffer
		if err := c.WritePNG(&img, 3); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, img.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(zbarimg, "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", file)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Errorf("zbarimg read nothing from %d bytes at %v, version %d, mask %d: %v\n%s\nthe text: %q",
				len(text), levels[i], c.Version(), c.Mask(), err, stderr.Bytes(), text)
			continue
		}
		if got := strings.TrimSuffix(stdout.String(), "\n"); got != text {
			t.Errorf("zbarimg read %q\nfrom %q (%d bytes at %v, version %d, mask %d)", got, text, len(text), levels[i], c.Version(), c.Mask())
		}
	}
	t.Logf("%d symbols of %d versions read back in %v", len(texts), len(versions), time.Since(began).Round(time.Millisecond))
}

// mustZbarimg finds zbarimg. Without it the test skips, except under CI.
func mustZbarimg(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("zbarimg")
	if err == nil {
		return path
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("no zbarimg (%v): under CI this test must run; install it with apt-get install -y zbar-tools", err)
	}
	t.Skipf("no zbarimg (%v); apt-get install -y zbar-tools. Under CI this fails", err)
	return ""
}

// randomString returns n bytes or a little more of characters drawn from
// alphabet: n is reached with whole characters.
func randomString(rng *rand.Rand, n int, alphabet string) string {
	chars := []rune(alphabet)
	var b strings.Builder
	for b.Len() < n {
		b.WriteRune(chars[rng.IntN(len(chars))])
	}
	return b.String()
}
