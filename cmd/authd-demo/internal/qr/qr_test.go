package qr

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"image/png"
	"math/rand/v2"
	"strings"
	"testing"

	"authd/internal/account"
	"authd/internal/totp"
)

// TestGenerator: the generator polynomial of 7 error correction
// codewords is Annex A's x⁷ + α⁸⁷x⁶ + α²²⁹x⁵ + α¹⁴⁶x⁴ + α¹⁴⁹x³ + α²³⁸x² +
// α¹⁰²x + α²¹.
func TestGenerator(t *testing.T) {
	t.Parallel()
	exp := alphaPowers()
	var want []byte
	for _, e := range []int{87, 229, 146, 149, 238, 102, 21} {
		want = append(want, exp[e])
	}
	if got := generator(7); !bytes.Equal(got, want) {
		t.Errorf("generator(7) = %v, want %v", got, want)
	}
}

// alphaPowers returns αⁱ for i from 0 to 254, by doubling and reducing
// with 0x11D, written apart from gfMul.
func alphaPowers() [255]byte {
	var exp [255]byte
	x := 1
	for i := range exp {
		exp[i] = byte(x)
		x <<= 1
		if x >= 256 {
			x ^= 0x11D
		}
	}
	return exp
}

// TestGFMul: αᵃ·αᵇ = αᵃ⁺ᵇ for every a and b, and 0 absorbs.
func TestGFMul(t *testing.T) {
	t.Parallel()
	exp := alphaPowers()
	for a := range 255 {
		if gfMul(exp[a], 0) != 0 || gfMul(0, exp[a]) != 0 {
			t.Fatalf("α^%d · 0 ≠ 0", a)
		}
		for b := range 255 {
			if got, want := gfMul(exp[a], exp[b]), exp[(a+b)%255]; got != want {
				t.Fatalf("α^%d · α^%d = %#x, want %#x", a, b, got, want)
			}
		}
	}
}

// TestRemainder: the example of Annex I, "01234567" at 1-M: its data
// codewords give these error correction codewords; and for random data,
// a block and its error correction codewords make a polynomial whose
// roots include α⁰ … αⁿ⁻¹, as a Reed–Solomon codeword's do.
func TestRemainder(t *testing.T) {
	t.Parallel()
	data := []byte{0x10, 0x20, 0x0C, 0x56, 0x61, 0x80, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11}
	want := []byte{0xA5, 0x24, 0xD4, 0xC1, 0xED, 0x36, 0xC7, 0x87, 0x2C, 0x55}
	if got := remainder(data, generator(10)); !bytes.Equal(got, want) {
		t.Errorf("the error correction codewords of Annex I's example: %x, want %x", got, want)
	}

	exp := alphaPowers()
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		n := 7 + rng.IntN(24)
		block := make([]byte, 1+rng.IntN(150))
		for i := range block {
			block[i] = byte(rng.Uint32())
		}
		word := append(block, remainder(block, generator(n))...)
		for i := range n {
			var y byte // Horner's rule at αⁱ
			for _, c := range word {
				y = gfMul(y, exp[i]) ^ c
			}
			if y != 0 {
				t.Fatalf("%d data and %d error correction codewords: the codeword at α^%d is %#x, want 0", len(block), n, i, y)
			}
		}
	}
}

// TestCapacityBounds: at every level, the capacity of each version
// encodes in that version, one byte more in the next, and one byte more
// than version 40 holds is ErrTooLong, as is a megabyte. (The masks are
// given, to spare the penalty's time: FuzzEncode and the golden tests
// let Encode choose.)
func TestCapacityBounds(t *testing.T) {
	t.Parallel()
	for l := L; l <= H; l++ {
		t.Run(l.String(), func(t *testing.T) {
			t.Parallel()
			for v := MinVersion; v <= MaxVersion; v++ {
				n := Capacity(v, l)
				if n <= Capacity(v-1, l) {
					t.Fatalf("version %d-%v holds %d bytes, no more than version %d", v, l, n, v-1)
				}
				c, err := encode(bytes.Repeat([]byte{'a' + byte(v%26)}, n), l, v%8)
				if err != nil || c.Version() != v {
					t.Fatalf("%d bytes at %v: %v, want version %d", n, l, err, v)
				}
				checkSymbol(t, c)
				c, err = encode(make([]byte, n+1), l, v%8)
				switch {
				case v == MaxVersion && !errors.Is(err, ErrTooLong):
					t.Errorf("%d bytes at %v: %v, want ErrTooLong", n+1, l, err)
				case v < MaxVersion && (err != nil || c.Version() != v+1):
					t.Errorf("%d bytes at %v: %v, want version %d", n+1, l, err, v+1)
				}
			}
			if _, err := Encode(make([]byte, 1<<20), l); !errors.Is(err, ErrTooLong) {
				t.Errorf("a megabyte at %v: %v, want ErrTooLong", l, err)
			}
		})
	}
	if Capacity(0, M) != 0 || Capacity(41, M) != 0 || Capacity(1, Level(4)) != 0 {
		t.Error("Capacity of a version or level that does not exist is not 0")
	}
	if _, err := Encode(nil, Level(-1)); err == nil || errors.Is(err, ErrTooLong) {
		t.Errorf("Encode at level -1: %v, want an error of its own", err)
	}
}

// FuzzEncode: any data up to the capacity of version 40 encodes in the
// smallest version that holds it, a well-formed symbol; longer data is
// ErrTooLong; nothing panics. The second argument picks the level and the
// mask: one input in nine lets Encode choose it, the others give it, as
// scoring the eight masks is most of the time of an exec.
func FuzzEncode(f *testing.F) {
	f.Add([]byte(""), uint8(M))
	f.Add([]byte("otpauth://totp/authd:alice?secret=JBSWY3DPEHPK3PXP&issuer=authd&algorithm=SHA1&digits=6&period=30"), uint8(M))
	f.Add(bytes.Repeat([]byte{0xFF}, 2332), uint8(M))
	f.Add(bytes.Repeat([]byte{0}, 2953), uint8(L|5<<2))
	f.Fuzz(func(t *testing.T, data []byte, levelMask uint8) {
		l, mask := Level(levelMask%4), int(levelMask/4%9)-1
		c, err := encode(data, l, mask)
		if len(data) > Capacity(MaxVersion, l) {
			if !errors.Is(err, ErrTooLong) {
				t.Fatalf("%d bytes at %v: %v, want ErrTooLong", len(data), l, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("%d bytes at %v: %v", len(data), l, err)
		}
		if mask >= 0 && c.Mask() != mask {
			t.Fatalf("mask %d given, %d applied", mask, c.Mask())
		}
		if v := c.Version(); len(data) > Capacity(v, l) || v > MinVersion && len(data) <= Capacity(v-1, l) {
			t.Fatalf("%d bytes at %v in version %d, not the smallest that holds them", len(data), l, c.Version())
		}
		checkSymbol(t, c)
	})
}

// checkSymbol checks what every symbol has: its size, the three finder
// patterns, the timing patterns, and both copies of the format
// information naming its level and mask, a codeword of the (15, 5) BCH
// code.
func checkSymbol(t *testing.T, c *Code) {
	t.Helper()
	n := c.Size()
	if n != 4*c.Version()+17 || c.Level() < L || c.Level() > H || c.Mask() < 0 || c.Mask() > 7 {
		t.Fatalf("size %d, version %d, level %v, mask %d", n, c.Version(), c.Level(), c.Mask())
	}
	if c.Dark(-1, 0) || c.Dark(0, -1) || c.Dark(n, 0) || c.Dark(0, n) {
		t.Fatal("a module outside the symbol is dark")
	}
	for _, corner := range [][2]int{{0, 0}, {n - 7, 0}, {0, n - 7}} {
		for dy := range 7 {
			for dx := range 7 {
				ring := max(abs(dx-3), abs(dy-3))
				if want := ring != 2; c.Dark(corner[0]+dx, corner[1]+dy) != want {
					t.Fatalf("the finder pattern at %v is broken at (%d,%d)", corner, dx, dy)
				}
			}
		}
	}
	for i := 8; i < n-8; i++ {
		if c.Dark(i, 6) != (i%2 == 0) || c.Dark(6, i) != (i%2 == 0) {
			t.Fatalf("the timing pattern is broken at %d", i)
		}
	}
	var first, second uint
	for i := range 15 {
		// Bit i of each copy, as drawFormat places them.
		var a, b [2]int
		switch {
		case i < 6:
			a = [2]int{8, i}
		case i < 8:
			a = [2]int{8, i + 1}
		case i == 8:
			a = [2]int{7, 8}
		default:
			a = [2]int{14 - i, 8}
		}
		if i < 8 {
			b = [2]int{n - 1 - i, 8}
		} else {
			b = [2]int{8, n - 15 + i}
		}
		first |= uint(b2i(c.Dark(a[0], a[1]))) << i
		second |= uint(b2i(c.Dark(b[0], b[1]))) << i
	}
	if first != second {
		t.Fatalf("the two copies of the format information differ: %015b, %015b", first, second)
	}
	word := first ^ 0x5412
	for i := 14; i >= 10; i-- {
		if word>>i&1 != 0 {
			word ^= 0x537 << (i - 10)
		}
	}
	if word != 0 {
		t.Fatalf("the format information %015b is not a BCH codeword", first)
	}
	if data := (first ^ 0x5412) >> 10; data != formatLevel[c.Level()]<<3|uint(c.Mask()) {
		t.Fatalf("the format information names %05b, want level %v and mask %d", data, c.Level(), c.Mask())
	}
	if !c.Dark(8, n-8) {
		t.Fatal("the dark module is light")
	}
}

// TestSVG: the SVG draws each dark module of the symbol once, nothing
// else, inside a quiet zone of four modules, scale pixels a module.
func TestSVG(t *testing.T) {
	t.Parallel()
	c, err := Encode([]byte("otpauth://totp/authd:alice?secret=JBSWY3DPEHPK3PXP&issuer=authd"), M)
	if err != nil {
		t.Fatal(err)
	}
	var svg struct {
		Width   string `xml:"width,attr"`
		Height  string `xml:"height,attr"`
		ViewBox string `xml:"viewBox,attr"`
		Shape   string `xml:"shape-rendering,attr"`
		Rect    struct {
			Width  string `xml:"width,attr"`
			Height string `xml:"height,attr"`
			Fill   string `xml:"fill,attr"`
		} `xml:"rect"`
		Path struct {
			Fill string `xml:"fill,attr"`
			D    string `xml:"d,attr"`
		} `xml:"path"`
	}
	if err := xml.Unmarshal(c.SVG(5), &svg); err != nil {
		t.Fatalf("the SVG does not parse: %v", err)
	}
	side := c.Size() + 8
	if svg.Width != fmt.Sprint(5*side) || svg.Height != svg.Width || svg.ViewBox != fmt.Sprintf("0 0 %d %d", side, side) ||
		svg.Shape != "crispEdges" || svg.Rect.Width != fmt.Sprint(side) || svg.Rect.Height != svg.Rect.Width || svg.Rect.Fill != "#fff" || svg.Path.Fill != "#000" {
		t.Errorf("the SVG is %+v", svg)
	}
	drawn := make(map[[2]int]int)
	for _, cmd := range strings.Split(strings.TrimSuffix(svg.Path.D, "z"), "z") {
		var x, y, w, w2 int
		if _, err := fmt.Sscanf(cmd, "M%d %dh%dv1h-%d", &x, &y, &w, &w2); err != nil || w != w2 || w < 1 {
			t.Fatalf("path command %q: %v", cmd, err)
		}
		for i := range w {
			drawn[[2]int{x + i - QuietZone, y - QuietZone}]++
		}
	}
	for y := -QuietZone; y < c.Size()+QuietZone; y++ {
		for x := -QuietZone; x < c.Size()+QuietZone; x++ {
			if want := b2i(c.Dark(x, y)); drawn[[2]int{x, y}] != want {
				t.Fatalf("module (%d,%d) drawn %d times, want %d", x, y, drawn[[2]int{x, y}], want)
			}
		}
	}
}

// TestPNG: each module is a square of scale pixels, black where it is
// dark, inside a white quiet zone of four modules.
func TestPNG(t *testing.T) {
	t.Parallel()
	c, err := Encode([]byte("a PNG of version 2, more than 14 bytes"), M)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := c.WritePNG(&buf, 3); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	side := (c.Size() + 2*QuietZone) * 3
	if b := img.Bounds(); b.Dx() != side || b.Dy() != side {
		t.Fatalf("the PNG is %v, want %d pixels a side", b, side)
	}
	for py := range side {
		for px := range side {
			r, g, b, _ := img.At(px, py).RGBA()
			dark := c.Dark(px/3-QuietZone, py/3-QuietZone)
			if black := r == 0 && g == 0 && b == 0; black != dark || (!dark && (r != 0xFFFF || g != 0xFFFF || b != 0xFFFF)) {
				t.Fatalf("pixel (%d,%d) is %d %d %d, module dark %v", px, py, r, g, b, dark)
			}
		}
	}
}

// TestLongestOTPAuthURL: the longest otpauth URL authd makes fits at
// level M: an issuer of the most bytes the configuration allows, every
// byte escaped in the label and in the query, and a username of the most
// bytes the account rules allow.
func TestLongestOTPAuthURL(t *testing.T) {
	t.Parallel()
	issuer := strings.Repeat("é", totp.MaxIssuer/2) // two bytes, each escaped to %XX
	user := strings.Repeat("u", account.MaxUsername)
	url := totp.URL(issuer, user, totp.NewSecret())
	if len(url) < 6*totp.MaxIssuer+account.MaxUsername {
		t.Fatalf("the URL %q is shorter than its issuer escaped twice and its username", url)
	}
	c, err := Encode([]byte(url), M)
	if err != nil {
		t.Fatalf("the longest otpauth URL, %d bytes: %v", len(url), err)
	}
	checkSymbol(t, c)
	t.Logf("the longest otpauth URL, %d bytes, is a QR code of version %d at level M, %d modules a side", len(url), c.Version(), c.Size())
}
