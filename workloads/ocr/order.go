package ocr

import (
	"sort"
	"strings"
)

// Rows groups line boxes (axis-aligned [x0, y0, x1, y1]) into rows of text and orders them for reading:
// rows top to bottom, boxes in a row left to right. Two boxes share a row when their vertical extents
// overlap by at least half the shorter one's height, which tolerates the jitter of detection and a slight
// page rotation while keeping consecutive lines apart. Returns indices into boxes.
func Rows(boxes [][4]float64) [][]int {
	idx := make([]int, len(boxes))
	for i := range idx {
		idx[i] = i
	}
	cy := func(i int) float64 { return (boxes[i][1] + boxes[i][3]) / 2 }
	sort.SliceStable(idx, func(a, b int) bool { return cy(idx[a]) < cy(idx[b]) })
	type row struct {
		members []int
		y0, y1  float64 // the extent of the row's first box: later boxes must overlap it
	}
	var rows []*row
	for _, i := range idx {
		b := boxes[i]
		var into *row
		// Only the last few rows can hold a box this low (boxes come by their centre's height).
		for k := len(rows) - 1; k >= 0 && k >= len(rows)-3; k-- {
			r := rows[k]
			overlap := min(r.y1, b[3]) - max(r.y0, b[1])
			if overlap >= 0.5*min(r.y1-r.y0, b[3]-b[1]) {
				into = r
				break
			}
		}
		if into == nil {
			rows = append(rows, &row{y0: b[1], y1: b[3]})
			into = rows[len(rows)-1]
		}
		into.members = append(into.members, i)
	}
	out := make([][]int, len(rows))
	for k, r := range rows {
		sort.SliceStable(r.members, func(a, b int) bool { return boxes[r.members[a]][0] < boxes[r.members[b]][0] })
		out[k] = r.members
	}
	return out
}

// ReadingOrder returns the box indices in reading order (Rows flattened).
func ReadingOrder(boxes [][4]float64) []int {
	var out []int
	for _, r := range Rows(boxes) {
		out = append(out, r...)
	}
	return out
}

// PageText joins line texts in reading order: a space between boxes of one row, a newline between rows.
func PageText(boxes [][4]float64, texts []string) string {
	var sb strings.Builder
	for k, r := range Rows(boxes) {
		if k > 0 {
			sb.WriteByte('\n')
		}
		for j, i := range r {
			if j > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(texts[i])
		}
	}
	return sb.String()
}
