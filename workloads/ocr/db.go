package ocr

import (
	"fmt"
	"math"
	"sort"
)

// Point is a position in page (or map) pixels, x to the right and y down.
type Point struct{ X, Y float64 }

// Box is one detected text line: a rectangle, possibly slightly turned, as its corners in the order
// top-left, top-right, bottom-right, bottom-left (the line's reading direction is top-left → top-right),
// and the detector's mean probability inside it.
type Box struct {
	Quad  [4]Point
	Score float64
}

// Bounds returns the axis-aligned bounding box [x0, y0, x1, y1] of the quad.
func (b Box) Bounds() [4]float64 {
	x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, p := range b.Quad {
		x0, y0, x1, y1 = math.Min(x0, p.X), math.Min(y0, p.Y), math.Max(x1, p.X), math.Max(y1, p.Y)
	}
	return [4]float64{x0, y0, x1, y1}
}

// Width and Height are the lengths of the quad's top and left edges.
func (b Box) Width() float64  { return dist(b.Quad[0], b.Quad[1]) }
func (b Box) Height() float64 { return dist(b.Quad[0], b.Quad[3]) }

// Grow moves every side of the box outwards by d pixels.
func (b Box) Grow(d float64) Box {
	ux, uy := (b.Quad[1].X-b.Quad[0].X)/b.Width(), (b.Quad[1].Y-b.Quad[0].Y)/b.Width()
	vx, vy := (b.Quad[3].X-b.Quad[0].X)/b.Height(), (b.Quad[3].Y-b.Quad[0].Y)/b.Height()
	sign := [4][2]float64{{-1, -1}, {1, -1}, {1, 1}, {-1, 1}}
	for i, s := range sign {
		b.Quad[i].X += d * (s[0]*ux + s[1]*vx)
		b.Quad[i].Y += d * (s[0]*uy + s[1]*vy)
	}
	return b
}

func dist(a, b Point) float64 { return math.Hypot(a.X-b.X, a.Y-b.Y) }

// DBParams are the DB (differentiable binarisation) post-processing settings.
type DBParams struct {
	Thresh    float64 // a map pixel is text when its probability exceeds this
	BoxThresh float64 // a region is kept when the mean probability inside its rectangle reaches this
	Unclip    float64 // expansion ratio: the map marks a line's core, this grows it back to the text
	MinSize   float64 // regions whose short side (map pixels) is below this are noise
	MaxBoxes  int     // at most this many regions per page, largest first (a bound on fan-out)
}

// DefaultDB are the settings the published PP-OCR inference uses, which suit the generated pages too.
var DefaultDB = DBParams{Thresh: 0.3, BoxThresh: 0.6, Unclip: 1.5, MinSize: 3, MaxBoxes: 1000}

// Validate reports a setting out of range, naming it.
func (p DBParams) Validate() error {
	switch {
	case !(p.Thresh > 0 && p.Thresh < 1):
		return fmt.Errorf("thresh %v: want 0 < thresh < 1", p.Thresh)
	case !(p.BoxThresh >= 0 && p.BoxThresh < 1):
		return fmt.Errorf("box_thresh %v: want 0 <= box_thresh < 1", p.BoxThresh)
	case !(p.Unclip >= 0 && p.Unclip <= 10):
		return fmt.Errorf("unclip %v: want 0..10", p.Unclip)
	case !(p.MinSize >= 0):
		return fmt.Errorf("min_size %v: want >= 0", p.MinSize)
	case p.MaxBoxes < 1:
		return fmt.Errorf("max_boxes %d: want >= 1", p.MaxBoxes)
	}
	return nil
}

// DBBoxes turns the detector's probability map (h×w, row-major) into line boxes in page coordinates:
// threshold, 8-connected regions, each region's minimum-area rectangle, score filter, unclip expansion,
// and division by scale (page → map pixels, as returned by DetectorInput), clipped to the pageW×pageH page.
// Boxes come in no particular order (see ReadingOrder).
func DBBoxes(prob []float32, h, w int, scale float64, pageW, pageH int, p DBParams) ([]Box, error) {
	if len(prob) != h*w || h <= 0 || w <= 0 {
		return nil, fmt.Errorf("probability map has %d values, want %d×%d", len(prob), h, w)
	}
	if !(scale > 0) {
		return nil, fmt.Errorf("scale %v: want > 0", scale)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	regions := components(prob, h, w, float32(p.Thresh))
	sort.SliceStable(regions, func(i, j int) bool { return regions[i].pixels > regions[j].pixels })
	if len(regions) > p.MaxBoxes {
		regions = regions[:p.MaxBoxes]
	}
	var boxes []Box
	for _, rg := range regions {
		r := minAreaRect(convexHull(rg.corners()))
		if math.Min(r.w, r.h) < p.MinSize {
			continue
		}
		score := r.meanInside(prob, h, w)
		if score < p.BoxThresh {
			continue
		}
		d := r.w * r.h * p.Unclip / (2 * (r.w + r.h))
		r.w += 2 * d
		r.h += 2 * d
		if math.Min(r.w, r.h) < p.MinSize+2 {
			continue
		}
		q := r.quad()
		for i := range q {
			q[i] = Point{clamp(q[i].X/scale, 0, float64(pageW)), clamp(q[i].Y/scale, 0, float64(pageH))}
		}
		boxes = append(boxes, Box{Quad: q, Score: score})
	}
	return boxes, nil
}

func clamp(v, lo, hi float64) float64 { return math.Min(math.Max(v, lo), hi) }

// region is one connected set of text pixels, kept as its extent on each row it spans.
type region struct {
	y0     int
	rows   [][2]int // per row from y0: min and max x (max < min for a row without pixels)
	pixels int
}

// corners lists the pixel corners on the region's outline (left and right ends of every row): their
// convex hull is the region's.
func (rg region) corners() []Point {
	pts := make([]Point, 0, 4*len(rg.rows))
	for i, r := range rg.rows {
		if r[1] < r[0] {
			continue
		}
		y := float64(rg.y0 + i)
		x0, x1 := float64(r[0]), float64(r[1]+1)
		pts = append(pts, Point{x0, y}, Point{x1, y}, Point{x0, y + 1}, Point{x1, y + 1})
	}
	return pts
}

// components labels the 8-connected regions of pixels above thresh.
func components(prob []float32, h, w int, thresh float32) []region {
	label := make([]int32, h*w) // 0 = unvisited or background
	var regions []region
	stack := make([]int, 0, 256)
	for start, v := range prob {
		if v <= thresh || label[start] != 0 {
			continue
		}
		id := int32(len(regions) + 1)
		label[start] = id
		stack = append(stack[:0], start)
		sy := start / w
		rg := region{y0: sy}
		for len(stack) > 0 {
			i := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			x, y := i%w, i/w
			if y < rg.y0 { // cannot happen (scan order), kept for safety of the row index
				continue
			}
			for len(rg.rows) <= y-rg.y0 {
				rg.rows = append(rg.rows, [2]int{w, -1})
			}
			row := &rg.rows[y-rg.y0]
			row[0], row[1] = min(row[0], x), max(row[1], x)
			rg.pixels++
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					nx, ny := x+dx, y+dy
					if nx < 0 || ny < 0 || nx >= w || ny >= h {
						continue
					}
					j := ny*w + nx
					if label[j] == 0 && prob[j] > thresh {
						label[j] = id
						stack = append(stack, j)
					}
				}
			}
		}
		regions = append(regions, rg)
	}
	return regions
}

// convexHull returns the hull of pts counter-clockwise (Andrew's monotone chain); pts is reordered.
func convexHull(pts []Point) []Point {
	sort.Slice(pts, func(i, j int) bool {
		if pts[i].X != pts[j].X {
			return pts[i].X < pts[j].X
		}
		return pts[i].Y < pts[j].Y
	})
	if len(pts) < 3 {
		return pts
	}
	cross := func(o, a, b Point) float64 { return (a.X-o.X)*(b.Y-o.Y) - (a.Y-o.Y)*(b.X-o.X) }
	hull := make([]Point, 0, 2*len(pts))
	for _, p := range pts {
		for len(hull) >= 2 && cross(hull[len(hull)-2], hull[len(hull)-1], p) <= 0 {
			hull = hull[:len(hull)-1]
		}
		hull = append(hull, p)
	}
	lower := len(hull) + 1
	for i := len(pts) - 2; i >= 0; i-- {
		p := pts[i]
		for len(hull) >= lower && cross(hull[len(hull)-2], hull[len(hull)-1], p) <= 0 {
			hull = hull[:len(hull)-1]
		}
		hull = append(hull, p)
	}
	return hull[:len(hull)-1]
}

// rect is a rectangle by its centre, the unit vector u along its width (pointing right), its width and
// its height (along v, u turned a quarter clockwise on screen, pointing down).
type rect struct {
	c    Point
	ux   float64 // u = (ux, uy)
	uy   float64
	w, h float64
}

func (r rect) quad() [4]Point {
	vx, vy := -r.uy, r.ux
	hw, hh := r.w/2, r.h/2
	at := func(a, b float64) Point { return Point{r.c.X + a*r.ux + b*vx, r.c.Y + a*r.uy + b*vy} }
	return [4]Point{at(-hw, -hh), at(hw, -hh), at(hw, hh), at(-hw, hh)}
}

// minAreaRect finds the smallest rectangle holding the convex polygon (one side lies on a hull edge),
// oriented so that its width runs along the direction nearest to horizontal.
func minAreaRect(hull []Point) rect {
	if len(hull) == 0 {
		return rect{}
	}
	best := rect{w: math.Inf(1), h: 1}
	try := func(ux, uy float64) {
		lo, hi, lo2, hi2 := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
		for _, p := range hull {
			a, b := p.X*ux+p.Y*uy, -p.X*uy+p.Y*ux
			lo, hi, lo2, hi2 = math.Min(lo, a), math.Max(hi, a), math.Min(lo2, b), math.Max(hi2, b)
		}
		w, h := hi-lo, hi2-lo2
		if w*h < best.w*best.h-1e-9 {
			ca, cb := (lo+hi)/2, (lo2+hi2)/2
			best = rect{c: Point{ca*ux - cb*uy, ca*uy + cb*ux}, ux: ux, uy: uy, w: w, h: h}
		}
	}
	try(1, 0)
	for i := range hull {
		a, b := hull[i], hull[(i+1)%len(hull)]
		l := dist(a, b)
		if l > 1e-9 {
			try((b.X-a.X)/l, (b.Y-a.Y)/l)
		}
	}
	// Turn u to the direction nearest horizontal, pointing right; v follows as u turned clockwise.
	r := best
	if math.Abs(r.uy) > math.Abs(r.ux) {
		r.ux, r.uy, r.w, r.h = r.uy, -r.ux, r.h, r.w
	}
	if r.ux < 0 {
		r.ux, r.uy = -r.ux, -r.uy
	}
	return r
}

// meanInside is the mean probability of the map pixels whose centres lie inside the rectangle.
func (r rect) meanInside(prob []float32, h, w int) float64 {
	q := r.quad()
	x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, p := range q {
		x0, y0, x1, y1 = math.Min(x0, p.X), math.Min(y0, p.Y), math.Max(x1, p.X), math.Max(y1, p.Y)
	}
	sum, n := 0.0, 0
	for y := max(0, int(y0)); y < min(h, int(math.Ceil(y1))); y++ {
		for x := max(0, int(x0)); x < min(w, int(math.Ceil(x1))); x++ {
			dx, dy := float64(x)+0.5-r.c.X, float64(y)+0.5-r.c.Y
			if a, b := dx*r.ux+dy*r.uy, -dx*r.uy+dy*r.ux; math.Abs(a) <= r.w/2 && math.Abs(b) <= r.h/2 {
				sum += float64(prob[y*w+x])
				n++
			}
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}
