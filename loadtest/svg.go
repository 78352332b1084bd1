package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// The charts beside the report are SVG written by hand: no script, no
// stylesheet, no font or image fetched, so that a file opens alone in any
// browser or viewer and shows inline on a repository's page.

// Colours, one meaning each across the charts.
const (
	colorAnswered = "#1a7f37" // answered by the endpoint, sustained
	colorWait     = "#b7e4c4" // waiting for an answer
	colorCeiling  = "#bc4c00" // what the rate allows
	colorRefused  = "#cf222e" // refused with 429
	colorFailed   = "#24292f" // no answer at all
	colorPeak     = "#aceebb" // peak, latency aside
	colorGrid     = "#d0d7de"
	colorText     = "#24292f"
	colorMuted    = "#57606a"
)

// svgDoc is an SVG picture being written.
type svgDoc struct {
	b bytes.Buffer
}

// newSVG starts a picture of w×h pixels on a white background.
func newSVG(w, h float64) *svgDoc {
	d := &svgDoc{}
	d.el(`<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" font-family="sans-serif" font-size="12" fill="%s">`,
		num(w), num(h), num(w), num(h), colorText)
	d.el(`<rect width="100%%" height="100%%" fill="#ffffff"/>`)
	return d
}

// el writes one line of markup; arguments are the caller's to escape.
func (d *svgDoc) el(format string, a ...any) {
	fmt.Fprintf(&d.b, format, a...)
	d.b.WriteByte('\n')
}

// text writes s at x, y; anchor is start, middle or end.
func (d *svgDoc) text(x, y float64, anchor, attrs, s string) {
	if attrs != "" {
		attrs = " " + attrs
	}
	d.el(`<text x="%s" y="%s" text-anchor="%s"%s>%s</text>`, num(x), num(y), anchor, attrs, escape(s))
}

func (d *svgDoc) line(x1, y1, x2, y2 float64, attrs string) {
	d.el(`<line x1="%s" y1="%s" x2="%s" y2="%s" %s/>`, num(x1), num(y1), num(x2), num(y2), attrs)
}

func (d *svgDoc) polyline(pts []point, attrs string) {
	var b strings.Builder
	for i, p := range pts {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(num(p.x) + "," + num(p.y))
	}
	d.el(`<polyline points="%s" fill="none" %s/>`, b.String(), attrs)
}

// WriteTo ends the picture and writes it.
func (d *svgDoc) WriteTo(w io.Writer) (int64, error) {
	d.el(`</svg>`)
	return d.b.WriteTo(w)
}

type point struct{ x, y float64 }

// legendItem is a mark and what it stands for.
type legendItem struct {
	mark  func(d *svgDoc, x, y float64) // draws the mark in a 20×14 box centred on y
	label string
}

// legend writes items in a row from x, centred on y.
func (d *svgDoc) legend(x, y float64, items []legendItem) {
	for _, it := range items {
		it.mark(d, x, y)
		d.text(x+26, y+4, "start", "", it.label)
		// A generous average width of a character at 12px, so that
		// labels do not run into the next mark.
		x += 26 + 6.8*float64(len([]rune(it.label))) + 14
	}
}

// lineMark is a line of colour, dashed when dash is an SVG dash array.
func lineMark(color, dash string) func(*svgDoc, float64, float64) {
	attrs := fmt.Sprintf(`stroke="%s" stroke-width="2"`, color)
	if dash != "" {
		attrs += fmt.Sprintf(` stroke-dasharray="%s"`, dash)
	}
	return func(d *svgDoc, x, y float64) { d.line(x, y, x+20, y, attrs) }
}

// tickMark is a short vertical line of colour.
func tickMark(color string) func(*svgDoc, float64, float64) {
	return func(d *svgDoc, x, y float64) {
		d.line(x+10, y-7, x+10, y+7, fmt.Sprintf(`stroke="%s" stroke-width="2"`, color))
	}
}

// boxMark is a filled square of colour.
func boxMark(color string) func(*svgDoc, float64, float64) {
	return func(d *svgDoc, x, y float64) {
		d.el(`<rect x="%s" y="%s" width="14" height="14" fill="%s"/>`, num(x+3), num(y-7), color)
	}
}

// frame maps data onto a plot area: x from 0 to xMax onto left to
// left+w, y from 0 to yMax onto top+h up to top.
type frame struct {
	left, top, w, h float64
	xMax, yMax      float64
}

func (f frame) x(v float64) float64 { return f.left + v/f.xMax*f.w }
func (f frame) y(v float64) float64 { return f.top + f.h - v/f.yMax*f.h }

func (f frame) bottom() float64 { return f.top + f.h }
func (f frame) right() float64  { return f.left + f.w }

// ticks returns round steps from 0 that cover max in at most about n
// steps: 1, 2 or 5 times a power of ten, and the last tick, max or above.
func ticks(max float64, n int) (step, top float64) {
	if max <= 0 {
		max = 1
	}
	raw := max / float64(n)
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	step = 10 * pow
	for _, m := range []float64{1, 2, 5} {
		if m*pow >= raw {
			step = m * pow
			break
		}
	}
	return step, math.Ceil(max/step-1e-9) * step
}

// num writes a coordinate or a value with at most two decimals.
func num(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

// escape makes s safe as text or an attribute value.
func escape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s)) // a strings.Builder does not fail
	return b.String()
}
