package qr

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// golden is testdata/golden.json, made by another implementation (the
// npm package qrcode); testdata/README.md says how.
type golden struct {
	Reference string `json:"reference"`
	Tables    []struct {
		Version   int   `json:"version"`
		Codewords int   `json:"codewords"`
		Align     []int `json:"align"`
		L         goldenLevel
		M         goldenLevel
		Q         goldenLevel
		H         goldenLevel
	} `json:"tables"`
	Symbols []goldenSymbol `json:"symbols"`
}

type goldenLevel struct {
	Blocks       int `json:"blocks"`
	ECCodewords  int `json:"ec_codewords"`
	ByteCapacity int `json:"byte_capacity"`
}

type goldenSymbol struct {
	Name      string              `json:"name"`
	Text      string              `json:"text"`
	Hex       string              `json:"hex"`
	Level     string              `json:"level"`
	Version   int                 `json:"version"`
	Mask      int                 `json:"mask"`      // the reference's choice
	Penalties [8][4]int           `json:"penalties"` // the reference's scores of rules 1 to 4, by mask
	Dark      [8]int              `json:"dark"`      // dark modules, by mask
	Masks     map[string][]string `json:"masks"`     // rows, '#' dark, by mask
}

func (s goldenSymbol) data(t *testing.T) []byte {
	t.Helper()
	if s.Hex == "" {
		return []byte(s.Text)
	}
	b, err := hex.DecodeString(s.Hex)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustGolden(t *testing.T) golden {
	t.Helper()
	raw, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatalf("testdata/golden.json: %v", err)
	}
	if len(g.Tables) != MaxVersion || len(g.Symbols) == 0 {
		t.Fatalf("testdata/golden.json has %d versions and %d symbols", len(g.Tables), len(g.Symbols))
	}
	return g
}

func mustLevel(t *testing.T, name string) Level {
	t.Helper()
	for l := L; l <= H; l++ {
		if l.String() == name {
			return l
		}
	}
	t.Fatalf("no level %q", name)
	return 0
}

// TestTablesAgainstReference compares the standard's tables as written
// here with the reference's, version by version and level by level.
func TestTablesAgainstReference(t *testing.T) {
	t.Parallel()
	g := mustGolden(t)
	for _, row := range g.Tables {
		v := versions[row.Version]
		if v.codewords != row.Codewords {
			t.Errorf("version %d: %d codewords, the reference %d", row.Version, v.codewords, row.Codewords)
		}
		if !slices.Equal(v.align, row.Align) && len(v.align)+len(row.Align) > 0 {
			t.Errorf("version %d: alignment patterns at %v, the reference %v", row.Version, v.align, row.Align)
		}
		for l, want := range []goldenLevel{L: row.L, M: row.M, Q: row.Q, H: row.H} {
			ec := v.ec[l]
			got := goldenLevel{Blocks: ec.count, ECCodewords: ec.count * ec.ecPerBlock, ByteCapacity: Capacity(row.Version, Level(l))}
			if got != want {
				t.Errorf("version %d-%v: %+v, the reference %+v", row.Version, Level(l), got, want)
			}
		}
	}
}

// TestGeometry: the modules that the function patterns and the format
// and version information leave free are exactly the codewords' bits and
// the remainder bits of Table 1, for every version.
func TestGeometry(t *testing.T) {
	t.Parallel()
	for v := MinVersion; v <= MaxVersion; v++ {
		s := newSymbol(v, M)
		free := 0
		for _, f := range s.function {
			if !f {
				free++
			}
		}
		if want := versions[v].codewords*8 + versions[v].remainder; free != want {
			t.Errorf("version %d: %d modules free, Table 1 gives %d codewords and %d remainder bits, %d modules",
				v, free, versions[v].codewords, versions[v].remainder, want)
		}
		for l := L; l <= H; l++ {
			if ec := versions[v].ec[l]; dataCodewords(v, l) < ec.count {
				t.Errorf("version %d-%v: fewer data codewords than blocks", v, l)
			}
		}
	}
}

// TestGoldenMasks compares each symbol, mask by mask, with the
// reference's, module by module.
func TestGoldenMasks(t *testing.T) {
	t.Parallel()
	g := mustGolden(t)
	for _, s := range g.Symbols {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			data, level := s.data(t), mustLevel(t, s.Level)
			for m := range 8 {
				c, err := encode(data, level, m)
				if err != nil {
					t.Fatal(err)
				}
				if c.Version() != s.Version || c.Mask() != m {
					t.Fatalf("mask %d: version %d mask %d, the reference version %d", m, c.Version(), c.Mask(), s.Version)
				}
				want, ok := s.Masks[strconv.Itoa(m)]
				if !ok {
					continue
				}
				if diff := diffRows(want, rows(c)); diff != "" {
					t.Errorf("%d bytes at %v, version %d, mask %d: %s", len(data), level, s.Version, m, diff)
				}
			}
		})
	}
}

// TestGoldenPenalty compares the scores of rules 1 to 3 with the
// reference's for every mask of every symbol, and checks that Encode
// picks the mask of the lowest total, with rule 4 scored as the standard
// says (the reference scores it otherwise; testdata/README.md). Where
// the reference picks another mask because of that, the test says so.
func TestGoldenPenalty(t *testing.T) {
	t.Parallel()
	g := mustGolden(t)
	for _, s := range g.Symbols {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			data, level := s.data(t), mustLevel(t, s.Level)
			best, bestTotal := -1, 0
			for m := range 8 {
				c, err := encode(data, level, m)
				if err != nil {
					t.Fatal(err)
				}
				p := c.penalty()
				ref := s.Penalties[m]
				if got := [3]int{p.runs, p.blocks, p.finderLike}; got != [3]int(ref[:3]) {
					t.Errorf("mask %d: rules 1 to 3 score %v, the reference %v", m, got, ref[:3])
				}
				if want := standardBalance(s.Dark[m], c.Size()*c.Size()); p.balance != want {
					t.Errorf("mask %d: rule 4 scores %d for %d dark modules of %d, the standard %d", m, p.balance, s.Dark[m], c.Size()*c.Size(), want)
				}
				if total := ref[0] + ref[1] + ref[2] + standardBalance(s.Dark[m], c.Size()*c.Size()); best < 0 || total < bestTotal {
					best, bestTotal = m, total
				}
			}
			c, err := Encode(data, level)
			if err != nil {
				t.Fatal(err)
			}
			if c.Mask() != best {
				t.Errorf("Encode chose mask %d, want %d, of the lowest penalty", c.Mask(), best)
			}
			if c.Mask() != s.Mask {
				t.Logf("the reference chose mask %d, scoring rule 4 its own way; its scores by mask: %v", s.Mask, s.Penalties)
			}
		})
	}
}

// standardBalance is rule 4 as §7.8.3.1 words it: a proportion of dark
// modules p between 50 ± 5k % and 50 ± 5(k + 1) % scores 10k.
func standardBalance(dark, total int) int {
	p := 100 * float64(dark) / float64(total)
	return 10 * int(math.Floor(math.Abs(p-50)/5))
}

func TestBalance(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		dark, total, want int
	}{
		{50, 100, 0}, {52, 100, 0}, {48, 100, 0}, {55, 100, 10}, {45, 100, 10}, {5499, 10000, 0},
		{5501, 10000, 10}, {56, 100, 10}, {60, 100, 20}, {39, 100, 20}, {0, 100, 100}, {100, 100, 100},
	} {
		side := int(math.Sqrt(float64(tc.total)))
		c := &Code{size: side, dark: make([]bool, tc.total)}
		for i := range tc.dark {
			c.dark[i] = true
		}
		if got := c.penalty().balance; got != tc.want || got != standardBalance(tc.dark, tc.total) {
			t.Errorf("%d dark of %d: rule 4 scores %d, want %d", tc.dark, tc.total, got, tc.want)
		}
	}
}

// rows is the symbol as the golden file writes it.
func rows(c *Code) []string {
	out := make([]string, c.Size())
	for y := range out {
		var b strings.Builder
		for x := range c.Size() {
			if c.Dark(x, y) {
				b.WriteByte('#')
			} else {
				b.WriteByte('.')
			}
		}
		out[y] = b.String()
	}
	return out
}

// diffRows says where two symbols differ, or "" if they do not.
func diffRows(want, got []string) string {
	if len(want) != len(got) {
		return fmt.Sprintf("%d rows, want %d", len(got), len(want))
	}
	var where []string
	for y := range want {
		for x := range min(len(want[y]), len(got[y])) {
			if want[y][x] != got[y][x] {
				where = append(where, fmt.Sprintf("(%d,%d)", x, y))
			}
		}
	}
	if len(where) == 0 {
		return ""
	}
	return fmt.Sprintf("%d modules differ, first at %v\nwant:\n%s\ngot:\n%s",
		len(where), where[:min(8, len(where))], strings.Join(want, "\n"), strings.Join(got, "\n"))
}
