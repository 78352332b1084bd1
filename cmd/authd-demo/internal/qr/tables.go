package qr

// blocks is how the codewords of one version at one level are cut for
// error correction: so many blocks, each with so many error correction
// codewords. The data codewords are shared out as evenly as the blocks
// allow, the longer blocks last (§7.5 and §7.6).
type blocks struct {
	ecPerBlock, count int
}

// version is what ISO/IEC 18004:2015 gives for one version of the symbol.
type version struct {
	// codewords is the number of codewords the symbol holds, data and
	// error correction together, and remainder the bits left over at the
	// end of the placement (Table 1).
	codewords, remainder int
	// align are the row and column coordinates of the centres of the
	// alignment patterns (Table E.1); a pattern goes at each pair, except
	// where a finder pattern is.
	align []int
	// ec is the cutting into blocks at each level (Table 9), indexed by
	// Level.
	ec [4]blocks
}

// versions holds versions 1 to 40, the symbol of version v being 4v+17
// modules wide. Each line is Table 1's codewords and remainder
// bits, Table E.1's alignment pattern centres, and Table 9's error
// correction codewords per block and number of blocks at levels L, M, Q
// and H. Where Table 9 gives blocks of two lengths, they share the count
// of error correction codewords, so the number of blocks tells it all.
var versions = [41]version{
	1:  {26, 0, nil, [4]blocks{{7, 1}, {10, 1}, {13, 1}, {17, 1}}},
	2:  {44, 7, []int{6, 18}, [4]blocks{{10, 1}, {16, 1}, {22, 1}, {28, 1}}},
	3:  {70, 7, []int{6, 22}, [4]blocks{{15, 1}, {26, 1}, {18, 2}, {22, 2}}},
	4:  {100, 7, []int{6, 26}, [4]blocks{{20, 1}, {18, 2}, {26, 2}, {16, 4}}},
	5:  {134, 7, []int{6, 30}, [4]blocks{{26, 1}, {24, 2}, {18, 4}, {22, 4}}},
	6:  {172, 7, []int{6, 34}, [4]blocks{{18, 2}, {16, 4}, {24, 4}, {28, 4}}},
	7:  {196, 0, []int{6, 22, 38}, [4]blocks{{20, 2}, {18, 4}, {18, 6}, {26, 5}}},
	8:  {242, 0, []int{6, 24, 42}, [4]blocks{{24, 2}, {22, 4}, {22, 6}, {26, 6}}},
	9:  {292, 0, []int{6, 26, 46}, [4]blocks{{30, 2}, {22, 5}, {20, 8}, {24, 8}}},
	10: {346, 0, []int{6, 28, 50}, [4]blocks{{18, 4}, {26, 5}, {24, 8}, {28, 8}}},
	11: {404, 0, []int{6, 30, 54}, [4]blocks{{20, 4}, {30, 5}, {28, 8}, {24, 11}}},
	12: {466, 0, []int{6, 32, 58}, [4]blocks{{24, 4}, {22, 8}, {26, 10}, {28, 11}}},
	13: {532, 0, []int{6, 34, 62}, [4]blocks{{26, 4}, {22, 9}, {24, 12}, {22, 16}}},
	14: {581, 3, []int{6, 26, 46, 66}, [4]blocks{{30, 4}, {24, 9}, {20, 16}, {24, 16}}},
	15: {655, 3, []int{6, 26, 48, 70}, [4]blocks{{22, 6}, {24, 10}, {30, 12}, {24, 18}}},
	16: {733, 3, []int{6, 26, 50, 74}, [4]blocks{{24, 6}, {28, 10}, {24, 17}, {30, 16}}},
	17: {815, 3, []int{6, 30, 54, 78}, [4]blocks{{28, 6}, {28, 11}, {28, 16}, {28, 19}}},
	18: {901, 3, []int{6, 30, 56, 82}, [4]blocks{{30, 6}, {26, 13}, {28, 18}, {28, 21}}},
	19: {991, 3, []int{6, 30, 58, 86}, [4]blocks{{28, 7}, {26, 14}, {26, 21}, {26, 25}}},
	20: {1085, 3, []int{6, 34, 62, 90}, [4]blocks{{28, 8}, {26, 16}, {30, 20}, {28, 25}}},
	21: {1156, 4, []int{6, 28, 50, 72, 94}, [4]blocks{{28, 8}, {26, 17}, {28, 23}, {30, 25}}},
	22: {1258, 4, []int{6, 26, 50, 74, 98}, [4]blocks{{28, 9}, {28, 17}, {30, 23}, {24, 34}}},
	23: {1364, 4, []int{6, 30, 54, 78, 102}, [4]blocks{{30, 9}, {28, 18}, {30, 25}, {30, 30}}},
	24: {1474, 4, []int{6, 28, 54, 80, 106}, [4]blocks{{30, 10}, {28, 20}, {30, 27}, {30, 32}}},
	25: {1588, 4, []int{6, 32, 58, 84, 110}, [4]blocks{{26, 12}, {28, 21}, {30, 29}, {30, 35}}},
	26: {1706, 4, []int{6, 30, 58, 86, 114}, [4]blocks{{28, 12}, {28, 23}, {28, 34}, {30, 37}}},
	27: {1828, 4, []int{6, 34, 62, 90, 118}, [4]blocks{{30, 12}, {28, 25}, {30, 34}, {30, 40}}},
	28: {1921, 3, []int{6, 26, 50, 74, 98, 122}, [4]blocks{{30, 13}, {28, 26}, {30, 35}, {30, 42}}},
	29: {2051, 3, []int{6, 30, 54, 78, 102, 126}, [4]blocks{{30, 14}, {28, 28}, {30, 38}, {30, 45}}},
	30: {2185, 3, []int{6, 26, 52, 78, 104, 130}, [4]blocks{{30, 15}, {28, 29}, {30, 40}, {30, 48}}},
	31: {2323, 3, []int{6, 30, 56, 82, 108, 134}, [4]blocks{{30, 16}, {28, 31}, {30, 43}, {30, 51}}},
	32: {2465, 3, []int{6, 34, 60, 86, 112, 138}, [4]blocks{{30, 17}, {28, 33}, {30, 45}, {30, 54}}},
	33: {2611, 3, []int{6, 30, 58, 86, 114, 142}, [4]blocks{{30, 18}, {28, 35}, {30, 48}, {30, 57}}},
	34: {2761, 3, []int{6, 34, 62, 90, 118, 146}, [4]blocks{{30, 19}, {28, 37}, {30, 51}, {30, 60}}},
	35: {2876, 0, []int{6, 30, 54, 78, 102, 126, 150}, [4]blocks{{30, 19}, {28, 38}, {30, 53}, {30, 63}}},
	36: {3034, 0, []int{6, 24, 50, 76, 102, 128, 154}, [4]blocks{{30, 20}, {28, 40}, {30, 56}, {30, 66}}},
	37: {3196, 0, []int{6, 28, 54, 80, 106, 132, 158}, [4]blocks{{30, 21}, {28, 43}, {30, 59}, {30, 70}}},
	38: {3362, 0, []int{6, 32, 58, 84, 110, 136, 162}, [4]blocks{{30, 22}, {28, 45}, {30, 62}, {30, 74}}},
	39: {3532, 0, []int{6, 26, 54, 82, 110, 138, 166}, [4]blocks{{30, 24}, {28, 47}, {30, 65}, {30, 77}}},
	40: {3706, 0, []int{6, 30, 58, 86, 114, 142, 170}, [4]blocks{{30, 25}, {28, 49}, {30, 68}, {30, 81}}},
}

// formatLevel is the two bits of the format information that name each
// level, indexed by Level (Table 12).
var formatLevel = [4]uint{L: 0b01, M: 0b00, Q: 0b11, H: 0b10}
