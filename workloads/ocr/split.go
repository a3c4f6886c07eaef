package ocr

import "sort"

// SplitLine cuts a line crop (height LineHeight) into pieces no wider than maxWidth at the gaps between
// words, and returns the pieces' column ranges [x0, x1). The recogniser was trained on short lines and
// reads a long one poorly (it drops spaces, then whole words), so long lines are read piece by piece and
// the pieces joined with a space. A gap is a run of columns without ink in the crop's band (see columnInk); the widest gap in the last two thirds of the
// allowed width is the cut, or a hard cut at maxWidth when there is none.
func SplitLine(line RGB, maxWidth, wordGap int) [][2]int {
	ink := columnInk(line)
	var out [][2]int
	for _, w := range splitWords(ink, wordGap) {
		for _, p := range splitLong(ink[w[0]:w[1]], maxWidth) {
			out = append(out, [2]int{w[0] + p[0], w[0] + p[1]})
		}
	}
	return out
}

// splitWords cuts at the middle of every inner gap of at least wordGap columns (0: never) and at least
// gapRatio times the line's median inner gap (in a monospaced font, narrow letters leave wide gaps
// inside words). The recogniser, trained mostly on Chinese, often drops the spaces of English text; a gap
// that wide is a space whatever it reads.
func splitWords(ink []bool, wordGap int) [][2]int {
	if wordGap <= 0 {
		return [][2]int{{0, len(ink)}}
	}
	var gaps []int
	run, seen := 0, false
	for _, v := range ink {
		if v {
			if seen && run > 0 {
				gaps = append(gaps, run)
			}
			seen, run = true, 0
		} else {
			run++
		}
	}
	if len(gaps) > 0 {
		sort.Ints(gaps)
		wordGap = max(wordGap, int(gapRatio*float64(gaps[len(gaps)/2])+0.5))
	}
	var out [][2]int
	start, run, seen := 0, 0, false
	for x, v := range ink {
		if v {
			if seen && run >= wordGap {
				cut := x - run/2
				out = append(out, [2]int{start, cut})
				start = cut
			}
			seen, run = true, 0
		} else {
			run++
		}
	}
	return append(out, [2]int{start, len(ink)})
}

// gapRatio: a word gap is this many times wider than the median gap of the line, at least.
const gapRatio = 2.5

func splitLong(ink []bool, maxWidth int) [][2]int {
	W := len(ink)
	if W <= maxWidth || maxWidth < 3 {
		return [][2]int{{0, W}}
	}
	var pieces [][2]int
	start := 0
	for W-start > maxWidth {
		lo, hi := start+maxWidth/3, start+maxWidth // the cut's column lies in [lo, hi)
		cut, best := hi, 0
		run := 0
		for x := lo; x < hi; x++ {
			if !ink[x] {
				run++
				if run >= best { // ">=": of equal gaps, the rightmost, so pieces are as long as allowed
					best, cut = run, x-run/2
				}
			} else {
				run = 0
			}
		}
		if best < 2 { // no real gap: cut at the limit
			cut = hi
		}
		pieces = append(pieces, [2]int{start, cut})
		start = cut
	}
	return append(pieces, [2]int{start, W})
}

// columnInk marks the columns of a crop's band holding a pixel clearly darker than the crop's paper (its
// 80th percentile brightness): darker than the midpoint between paper and the darkest pixel. The band
// leaves out the top and bottom eighth, where a padded crop may show its neighbours' descenders and
// ascenders, but keeps full stops and asterisks (a narrower band takes their columns for gaps).
func columnInk(line RGB) []bool {
	y0, y1 := line.H/8, line.H-line.H/8
	grey := make([]uint8, 0, line.W*(y1-y0))
	var hist [256]int // grey levels are bytes: the percentile comes from counts, not a sort
	for y := y0; y < y1; y++ {
		for x := 0; x < line.W; x++ {
			o := 3 * (y*line.W + x)
			g := uint8((int(line.Pix[o]) + int(line.Pix[o+1]) + int(line.Pix[o+2])) / 3)
			grey = append(grey, g)
			hist[g]++
		}
	}
	paper, dark := percentile(&hist, len(grey)*4/5), percentile(&hist, 0)
	thresh := (paper + dark) / 2
	ink := make([]bool, line.W)
	if paper-dark < 40 { // no contrast: a blank crop
		return ink
	}
	for i, g := range grey {
		if int(g) < thresh {
			ink[i%line.W] = true
		}
	}
	return ink
}

// percentile is the k-th smallest grey level (from 0) of the counts in hist.
func percentile(hist *[256]int, k int) int {
	for g, n := range hist {
		if k < n {
			return g
		}
		k -= n
	}
	return 255
}

// Sub returns columns [x0, x1) of the image.
func (im RGB) Sub(x0, x1 int) RGB {
	out := NewRGB(x1-x0, im.H)
	for y := 0; y < im.H; y++ {
		copy(out.Pix[3*y*out.W:3*(y+1)*out.W], im.Pix[3*(y*im.W+x0):3*(y*im.W+x1)])
	}
	return out
}
