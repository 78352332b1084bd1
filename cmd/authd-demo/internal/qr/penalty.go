package qr

// penalty is the score of a masked symbol under the four rules of
// §7.8.3.1, with the weights N1 = 3, N2 = 3, N3 = 40 and N4 = 10; the
// mask of the lowest total is used. The whole symbol is scored, its
// function patterns and its format and version information included.
type penalty struct {
	// runs: each run of five or more modules of one colour in a row or a
	// column scores N1 + (length − 5).
	runs int
	// blocks: each 2×2 block of modules of one colour scores N2, blocks
	// overlapping.
	blocks int
	// finderLike: each dark:light:dark:light:dark run of widths 1:1:3:1:1
	// with four light modules before it, and each one with four after, in
	// a row or a column, scores N3. The light modules must be in the
	// symbol: the quiet zone beyond its edge does not count, as the
	// standard's text does not say it does (common encoders, the
	// reference of the tests among them, read it so too).
	finderLike int
	// balance: a proportion of dark modules between 50 ± 5k % and
	// 50 ± 5(k + 1) % scores N4 × k.
	balance int
}

func (p penalty) total() int { return p.runs + p.blocks + p.finderLike + p.balance }

// The patterns of rule 3, eleven modules each, dark as 1.
const (
	lightThenFinder = 0b00001011101
	finderThenLight = 0b10111010000
)

func (c *Code) penalty() penalty {
	var p penalty
	n := c.size
	darkCount := 0
	// Rules 1 and 3 along a line of n modules from start, step apart: a
	// row (step 1) or a column (step n).
	line := func(start, step int) {
		run, window := 0, 0
		for i := range n {
			d := c.dark[start+i*step]
			if i > 0 && d == c.dark[start+(i-1)*step] {
				run++
			} else {
				if run >= 5 {
					p.runs += 3 + run - 5
				}
				run = 1
			}
			window = window<<1&0x7FF | b2i(d)
			if i >= 10 && (window == lightThenFinder || window == finderThenLight) {
				p.finderLike += 40
			}
		}
		if run >= 5 {
			p.runs += 3 + run - 5
		}
	}
	for i := range n {
		line(i*n, 1)
		line(i, n)
	}
	for y := range n {
		for x := range n {
			d := c.dark[y*n+x]
			if d {
				darkCount++
			}
			if x+1 < n && y+1 < n && d == c.dark[y*n+x+1] && d == c.dark[(y+1)*n+x] && d == c.dark[(y+1)*n+x+1] {
				p.blocks += 3
			}
		}
	}
	// k = ⌊|100·dark/total − 50| / 5⌋, in integers.
	total := n * n
	p.balance = 10 * (abs(20*darkCount-10*total) / total)
	return p
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
