package qr

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
)

// SVG returns the symbol as an SVG image with its quiet zone, scale
// pixels a module (at least 1): a white square and one black path of the
// dark modules, in units of modules, with crisp edges so that a browser
// scaling it does not blur the modules into each other.
func (c *Code) SVG(scale int) []byte {
	scale = max(scale, 1)
	side := c.size + 2*QuietZone
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" shape-rendering="crispEdges">`,
		side*scale, side*scale, side, side)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, side, side)
	// One rectangle a run of dark modules in a row.
	for y := range c.size {
		for x := 0; x < c.size; {
			if !c.Dark(x, y) {
				x++
				continue
			}
			run := 0
			for x+run < c.size && c.Dark(x+run, y) {
				run++
			}
			fmt.Fprintf(&b, "M%d %dh%dv1h-%dz", x+QuietZone, y+QuietZone, run, run)
			x += run
		}
	}
	b.WriteString(`"/></svg>`)
	return b.Bytes()
}

// Image returns the symbol as a two-colour image with its quiet zone,
// scale pixels a module (at least 1).
func (c *Code) Image(scale int) *image.Paletted {
	scale = max(scale, 1)
	side := (c.size + 2*QuietZone) * scale
	img := image.NewPaletted(image.Rect(0, 0, side, side), color.Palette{color.White, color.Black})
	for py := range side {
		y := py/scale - QuietZone
		for px := range side {
			if c.Dark(px/scale-QuietZone, y) {
				img.Pix[py*img.Stride+px] = 1
			}
		}
	}
	return img
}

// WritePNG writes the symbol as a PNG image with its quiet zone, scale
// pixels a module.
func (c *Code) WritePNG(w io.Writer, scale int) error {
	return png.Encode(w, c.Image(scale))
}
