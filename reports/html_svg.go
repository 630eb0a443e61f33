package reports

// The SVG primitives the timeline is drawn with, and the number and path
// helpers that write their attributes.

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// htmlNum formats an SVG coordinate to a tenth of a pixel: finer is
// invisible and only makes a large timeline larger.
func htmlNum(v float64) string {
	s := strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
	if s == "-0" {
		return "0"
	}
	return s
}

// htmlNum3 writes a report time as recorded (to the microsecond), for data
// attributes.
func htmlNum3(v float64) string {
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}

// svgRect, svgLine, svgText and svgPath are the SVG elements the template
// draws; a Title becomes the element's tooltip.
type svgRect struct {
	X, Y, W, H   float64
	Class, Title string
}

type svgLine struct {
	X1, Y1, X2, Y2 float64
	Class, Title   string
}

type svgText struct {
	X, Y                       float64
	Anchor, Class, Text, Title string
}

type svgPath struct {
	D, Class, Title string
}

// svgDiamond is the path of a diamond centred on (x, y), r whole pixels
// from its centre to each corner.
func svgDiamond(x, y float64, r int) string {
	return fmt.Sprintf("M%s %sl%[3]d %[3]d-%[3]d %[3]d-%[3]d-%[3]dz", htmlNum(x), htmlNum(y-float64(r)), r)
}

// svgSquare is a square of half-side r centred on (x, y).
func svgSquare(x, y float64, r int) string {
	return fmt.Sprintf("M%s %sh%[3]dv%[3]dh-%[3]dz", htmlNum(x-float64(r)), htmlNum(y-float64(r)), 2*r)
}

// tlCycleStripes stripes the wait ⇄ send band of a group lane as the thread
// lanes stripe a cycle: one short vertical stroke per sampled column,
// across the band's strip (a fill pattern would need url(), which the page
// does not use).
func tlCycleStripes(counts [][]int, cycle, n int, base, h float64) string {
	var sb strings.Builder
	for k := range counts[cycle] {
		if counts[cycle][k] == 0 {
			continue
		}
		below := 0
		for s := range cycle {
			below += counts[s][k]
		}
		y1 := base - float64(below)/float64(n)*h
		y2 := base - float64(below+counts[cycle][k])/float64(n)*h
		sb.WriteString("M" + htmlNum(tlPlotLeft+float64(k)*tlColumn+tlColumn/2) + " " + htmlNum(y1) + "V" + htmlNum(y2))
	}
	return sb.String()
}

// tlAreaPath is the outline of the area under a sampled count: a step
// line that only turns where the count changes, closed along the base.
func tlAreaPath(cum []int, n int, base, h float64) string {
	var sb strings.Builder
	sb.WriteString("M" + htmlNum(tlPlotLeft) + " " + htmlNum(base))
	cur := base
	for k, c := range cum {
		y := math.Round((base-float64(c)/float64(n)*h)*10) / 10
		if y != cur {
			sb.WriteString("H" + htmlNum(tlPlotLeft+float64(k)*tlColumn) + "V" + htmlNum(y))
			cur = y
		}
	}
	sb.WriteString("H" + htmlNum(tlPlotLeft+float64(len(cum))*tlColumn) + "V" + htmlNum(base) + "Z")
	return sb.String()
}
