package qr

// symbol is a Code being built: which modules belong to the function
// patterns and the format and version information, where the codewords
// cannot go and the data mask does not apply.
type symbol struct {
	*Code
	function []bool
}

// newSymbol draws the function patterns of a version: the three finder
// patterns with their separators (§6.3.3, §6.3.4), the timing patterns
// (§6.3.5), the alignment patterns (§6.3.6, Annex E), the version
// information (§7.10) and the dark module beside the lower left finder;
// and reserves the places of the format information (§7.9), drawn with
// the mask.
func newSymbol(version int, level Level) *symbol {
	size := 4*version + 17
	s := &symbol{
		Code:     &Code{version: version, level: level, size: size, dark: make([]bool, size*size)},
		function: make([]bool, size*size),
	}
	for i := 8; i < size-8; i++ {
		s.set(6, i, i%2 == 0)
		s.set(i, 6, i%2 == 0)
	}
	s.finder(3, 3)
	s.finder(size-4, 3)
	s.finder(3, size-4)
	align := versions[version].align
	for i, cx := range align {
		for j, cy := range align {
			first, last := 0, len(align)-1
			if i == first && j == first || i == first && j == last || i == last && j == first {
				continue // a finder pattern is there
			}
			s.alignment(cx, cy)
		}
	}
	s.drawFormat(0) // reserves the places; the mask draws it again
	s.drawVersion()
	return s
}

// set draws a function module.
func (s *symbol) set(x, y int, dark bool) {
	s.dark[y*s.size+x] = dark
	s.function[y*s.size+x] = true
}

// finder draws a finder pattern centred on (cx, cy): 7×7 modules, a dark
// ring, a light ring, a dark 3×3 square; and its separator, a light ring
// around it, where it falls inside the symbol.
func (s *symbol) finder(cx, cy int) {
	for dy := -4; dy <= 4; dy++ {
		for dx := -4; dx <= 4; dx++ {
			x, y := cx+dx, cy+dy
			if x < 0 || y < 0 || x >= s.size || y >= s.size {
				continue
			}
			d := max(abs(dx), abs(dy))
			s.set(x, y, d != 2 && d != 4)
		}
	}
}

// alignment draws an alignment pattern centred on (cx, cy): 5×5 modules,
// a dark ring, a light ring, a dark centre.
func (s *symbol) alignment(cx, cy int) {
	for dy := -2; dy <= 2; dy++ {
		for dx := -2; dx <= 2; dx++ {
			s.set(cx+dx, cy+dy, max(abs(dx), abs(dy)) != 1)
		}
	}
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// formatBits is the 15-bit format information of a level and a mask
// (§7.9): the level's two bits (Table 12) and the mask's three,
// ten bits of the (15, 5) BCH code of generator polynomial
// x¹⁰ + x⁸ + x⁵ + x⁴ + x² + x + 1, all XORed with 101010000010010 so that
// no format information is all light.
func formatBits(level Level, mask int) uint {
	data := formatLevel[level]<<3 | uint(mask)
	rem := data
	for range 10 {
		rem = rem<<1 ^ (rem>>9)*0x537
	}
	return (data<<10 | rem) ^ 0x5412
}

// versionBits is the 18-bit version information of versions 7 and up
// (§7.10, Annex D): the version's six bits and twelve bits of the
// (18, 6) Golay code of generator polynomial
// x¹² + x¹¹ + x¹⁰ + x⁹ + x⁸ + x⁵ + x² + 1.
func versionBits(version int) uint {
	rem := uint(version)
	for range 12 {
		rem = rem<<1 ^ (rem>>11)*0x1F25
	}
	return uint(version)<<12 | rem
}

// drawFormat draws the format information of the symbol's level and a
// mask, twice (§7.9): bits 0 to 7 down column 8 beside the upper left
// finder (the timing pattern skipped) and leftwards along row 8 beside the
// upper right one; bits 8 to 14 leftwards along row 8 beside the upper
// left finder and down column 8 beside the lower left one, below the dark
// module, which is drawn here too.
func (s *symbol) drawFormat(mask int) {
	bits := formatBits(s.level, mask)
	bit := func(i int) bool { return bits>>i&1 != 0 }
	for i := range 6 {
		s.set(8, i, bit(i))
	}
	s.set(8, 7, bit(6))
	s.set(8, 8, bit(7))
	s.set(7, 8, bit(8))
	for i := 9; i < 15; i++ {
		s.set(14-i, 8, bit(i))
	}
	for i := range 8 {
		s.set(s.size-1-i, 8, bit(i))
	}
	for i := 8; i < 15; i++ {
		s.set(8, s.size-15+i, bit(i))
	}
	s.set(8, s.size-8, true)
}

// drawVersion draws the version information of versions 7 and up twice
// (Figure 27): in a block of 6×3 modules above the lower left finder, bit
// i at column i/3 and row i%3 of the block, and in the block of 3×6 left
// of the upper right finder, transposed.
func (s *symbol) drawVersion() {
	if s.version < 7 {
		return
	}
	bits := versionBits(s.version)
	for i := range 18 {
		dark := bits>>i&1 != 0
		a, b := s.size-11+i%3, i/3
		s.set(b, a, dark)
		s.set(a, b, dark)
	}
}

// place puts the codewords' bits, most significant first, in the modules
// that are not function modules (§7.7.3): in columns two modules wide from
// the right edge leftwards, upwards and downwards in turn, right module
// before left, stepping over the vertical timing pattern. The modules
// left over are remainder bits, light.
func (s *symbol) place(codewords []byte) {
	i := 0
	for right := s.size - 1; right >= 1; right -= 2 {
		if right == 6 {
			right = 5
		}
		upward := (right+1)&2 == 0
		for vert := range s.size {
			y := vert
			if upward {
				y = s.size - 1 - vert
			}
			for x := right; x >= right-1; x-- {
				if s.function[y*s.size+x] || i >= len(codewords)*8 {
					continue
				}
				s.dark[y*s.size+x] = codewords[i/8]>>(7-i%8)&1 != 0
				i++
			}
		}
	}
}

// masked reports whether data mask m inverts the module at row i and
// column j (Table 10).
func masked(m, i, j int) bool {
	switch m {
	case 0:
		return (i+j)%2 == 0
	case 1:
		return i%2 == 0
	case 2:
		return j%3 == 0
	case 3:
		return (i+j)%3 == 0
	case 4:
		return (i/2+j/3)%2 == 0
	case 5:
		return i*j%2+i*j%3 == 0
	case 6:
		return (i*j%2+i*j%3)%2 == 0
	case 7:
		return ((i+j)%2+i*j%3)%2 == 0
	}
	panic("qr: no data mask") // encode checks the mask first
}

// applyMask inverts the modules of the encoding region that data mask m
// selects (§7.8.2), and draws the format information that names it.
// Applying the same mask again undoes it, the format information aside.
func (s *symbol) applyMask(m int) {
	for y := range s.size {
		for x := range s.size {
			if !s.function[y*s.size+x] && masked(m, y, x) {
				s.dark[y*s.size+x] = !s.dark[y*s.size+x]
			}
		}
	}
	s.drawFormat(m)
	s.mask = m
}
