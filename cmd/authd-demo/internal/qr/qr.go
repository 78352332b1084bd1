// Package qr encodes text as a QR code, the two-dimensional symbol of
// ISO/IEC 18004:2015 that authenticator apps scan, so that the demo page
// can show the otpauth:// URL of a two-factor set-up as a picture. It
// writes the bytes in the byte mode, at one of the four error correction
// levels, in the smallest of the 40 versions that holds them, with the
// data mask the standard's penalty rules prefer, and draws the symbol as
// SVG or PNG with its quiet zone.
//
// Only the demo program uses it: authd itself answers the otpauth URL and
// never draws a QR code. Section, table and annex numbers in comments are
// those of ISO/IEC 18004:2015.
package qr

import (
	"errors"
	"fmt"
)

// Level is an error correction level: the share of the symbol's
// codewords that can be lost or misread and still be recovered.
type Level int

const (
	L Level = iota // about 7%
	M              // about 15%
	Q              // about 25%
	H              // about 30%
)

func (l Level) String() string {
	switch l {
	case L:
		return "L"
	case M:
		return "M"
	case Q:
		return "Q"
	case H:
		return "H"
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

func (l Level) valid() bool { return l >= L && l <= H }

// MinVersion and MaxVersion bound the versions of a QR code; version v is
// 4v+17 modules wide.
const (
	MinVersion = 1
	MaxVersion = 40
)

// QuietZone is the width, in modules, of the light margin the standard
// requires around the symbol; the images include it.
const QuietZone = 4

// ErrTooLong is returned, wrapped, for data that no version holds at the
// level asked for.
var ErrTooLong = errors.New("qr: too long for a QR code")

// Code is a QR code symbol: a square of dark and light modules.
type Code struct {
	version int
	level   Level
	mask    int
	size    int
	dark    []bool // row by row
}

// Version is the symbol's version, 1 to 40.
func (c *Code) Version() int { return c.version }

// Level is the symbol's error correction level.
func (c *Code) Level() Level { return c.level }

// Mask is the number, 0 to 7, of the data mask applied (Table 10).
func (c *Code) Mask() int { return c.mask }

// Size is the width of the symbol in modules, the quiet zone left out.
func (c *Code) Size() int { return c.size }

// Dark reports whether the module at column x and row y, counted from
// the top left corner of the symbol, is dark. Modules outside the symbol
// are light, as the quiet zone is.
func (c *Code) Dark(x, y int) bool {
	if x < 0 || y < 0 || x >= c.size || y >= c.size {
		return false
	}
	return c.dark[y*c.size+x]
}

// Capacity is the number of bytes a symbol of the version holds at the
// level in the byte mode, or 0 for a version or level that does not
// exist.
func Capacity(version int, level Level) int {
	if version < MinVersion || version > MaxVersion || !level.valid() {
		return 0
	}
	return (dataCodewords(version, level)*8 - 4 - countBits(version)) / 8
}

// Encode returns the QR code of data in the byte mode at the level, in
// the smallest version that holds it, with the data mask of the lowest
// penalty. Data longer than Capacity(MaxVersion, level) is an error
// wrapping ErrTooLong. Readers take the bytes as UTF-8 text in practice,
// though the standard's default for the byte mode is ISO/IEC 8859-1: some
// may show text outside ASCII otherwise. An otpauth URL is ASCII.
func Encode(data []byte, level Level) (*Code, error) {
	return encode(data, level, -1)
}

// encode is Encode with the mask chosen by the caller when mask is 0 to
// 7, as the tests need to compare each mask with a reference.
func encode(data []byte, level Level, mask int) (*Code, error) {
	if !level.valid() {
		return nil, fmt.Errorf("qr: no error correction level %v", level)
	}
	if mask < -1 || mask > 7 {
		return nil, fmt.Errorf("qr: no data mask %d", mask)
	}
	version := 0
	for v := MinVersion; v <= MaxVersion; v++ {
		if len(data) <= Capacity(v, level) {
			version = v
			break
		}
	}
	if version == 0 {
		return nil, fmt.Errorf("%w: %d bytes, at most %d at level %v", ErrTooLong, len(data), Capacity(MaxVersion, level), level)
	}
	codewords := interleave(version, level, dataBits(data, version, level))
	c := newSymbol(version, level)
	c.place(codewords)
	if mask >= 0 {
		c.applyMask(mask)
		return c.Code, nil
	}
	best, bestPenalty := 0, -1
	for m := range 8 {
		c.applyMask(m)
		if p := c.penalty().total(); bestPenalty < 0 || p < bestPenalty {
			best, bestPenalty = m, p
		}
		c.applyMask(m) // masking twice undoes it
	}
	c.applyMask(best)
	return c.Code, nil
}

// countBits is the length of the character count indicator of the byte
// mode in a version (Table 3).
func countBits(version int) int {
	if version <= 9 {
		return 8
	}
	return 16
}

// dataCodewords is the number of data codewords of a version at a level:
// its codewords less those of error correction (Table 7 and Table 9).
func dataCodewords(version int, level Level) int {
	v := versions[version]
	return v.codewords - v.ec[level].ecPerBlock*v.ec[level].count
}

// dataBits returns the data codewords of the symbol (§7.4): the byte
// mode indicator 0100 (Table 2), the character count, the bytes, the
// terminator of up to four 0 bits (§7.4.9), 0 bits to the end of the
// codeword, and the pad codewords 11101100 and 00010001 in turn up to the
// symbol's capacity (§7.4.10).
func dataBits(data []byte, version int, level Level) []byte {
	n := dataCodewords(version, level)
	w := bitWriter{buf: make([]byte, 0, n)}
	w.write(0b0100, 4)
	w.write(uint(len(data)), countBits(version))
	for _, b := range data {
		w.write(uint(b), 8)
	}
	w.write(0, min(4, n*8-w.bits))
	w.write(0, (8-w.bits%8)%8)
	for pad := byte(0xEC); len(w.buf) < n; pad ^= 0xEC ^ 0x11 {
		w.buf = append(w.buf, pad)
	}
	return w.buf
}

// bitWriter appends bits, most significant first.
type bitWriter struct {
	buf  []byte
	bits int
}

func (w *bitWriter) write(v uint, n int) {
	for i := n - 1; i >= 0; i-- {
		if w.bits%8 == 0 {
			w.buf = append(w.buf, 0)
		}
		if v>>i&1 != 0 {
			w.buf[len(w.buf)-1] |= 0x80 >> (w.bits % 8)
		}
		w.bits++
	}
}

// interleave cuts the data codewords into the version's blocks, adds
// each block's error correction codewords, and returns the final
// sequence (§7.6): the first data codeword of each block, then the
// second, and so on, the longer blocks giving one more at the end; then
// the error correction codewords likewise.
func interleave(version int, level Level, data []byte) []byte {
	ec := versions[version].ec[level]
	short := len(data) / ec.count
	longs := len(data) % ec.count // the last blocks have one codeword more
	gen := generator(ec.ecPerBlock)
	dataBlocks := make([][]byte, ec.count)
	ecBlocks := make([][]byte, ec.count)
	for i, off := 0, 0; i < ec.count; i++ {
		n := short
		if i >= ec.count-longs {
			n++
		}
		dataBlocks[i] = data[off : off+n]
		ecBlocks[i] = remainder(dataBlocks[i], gen)
		off += n
	}
	out := make([]byte, 0, versions[version].codewords)
	for i := range short + 1 {
		for _, b := range dataBlocks {
			if i < len(b) {
				out = append(out, b[i])
			}
		}
	}
	for i := range ec.ecPerBlock {
		for _, b := range ecBlocks {
			out = append(out, b[i])
		}
	}
	return out
}
