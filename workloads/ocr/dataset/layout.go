package dataset

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"golang.org/x/image/font"
)

// segment is one run of text drawn at a baseline: the unit of ground truth ("line"), as a detector sees
// it. A receipt row with an item on the left and its price on the right is two segments.
type segment struct {
	text     string
	font     int
	size     float64 // pixels per em
	x, y     float64 // left end of the baseline
	ink      [3]uint8
	fontName string
}

// layout places a page's segments: kind, size and text, before any pixel is drawn.
type layout struct {
	r      *rand.Rand
	fc     faces
	kind   string
	w, h   int
	segs   []segment
	ink    [3]uint8
	margin float64
	err    error
}

func (l *layout) width(s string, fontID int, size float64) float64 {
	f, err := l.fc.get(fontID, size)
	if err != nil {
		l.err = err
		return 0
	}
	return float64(font.MeasureString(f, s)) / 64
}

func (l *layout) add(s string, fontID int, size, x, y float64) {
	l.segs = append(l.segs, segment{text: s, font: fontID, size: size, x: x, y: y, ink: l.ink, fontName: fontNames[fontID]})
}

// fits reports whether a line whose baseline is y still fits above the bottom margin.
func (l *layout) fits(y, size float64) bool { return y+0.3*size < float64(l.h)-l.margin }

// smallPrint draws footer lines of fine print (the text a small detector input loses first).
func (l *layout) smallPrint(y float64, fontID int, lines int) float64 {
	size := 11 + 2*l.r.Float64()
	for range lines {
		y += size * 1.5
		if !l.fits(y, size) {
			break
		}
		maxW := float64(l.w) - 2*l.margin
		s := l.wrapOne(sentence(l.r, 6+l.r.IntN(10)), fontID, size, maxW)
		l.add(s, fontID, size, l.margin, y)
	}
	return y
}

// wrapOne shortens s word by word until it fits in maxW.
func (l *layout) wrapOne(s string, fontID int, size, maxW float64) string {
	ws := strings.Fields(s)
	for len(ws) > 1 && l.width(strings.Join(ws, " "), fontID, size) > maxW {
		ws = ws[:len(ws)-1]
	}
	return strings.Join(ws, " ")
}

func (l *layout) receipt() {
	r := l.r
	body := pick(r, []int{mono, goMono, sans, goSans})
	size := 12 + 5*r.Float64()
	lh := size * (1.35 + 0.25*r.Float64())
	l.w = 360 + r.IntN(160)
	items := 4 + r.IntN(10)
	l.h = int(size*2.2 + lh*float64(items+12) + 80 + 40*r.Float64())
	l.margin = 18 + 10*r.Float64()
	center := func(s string, f int, sz, y float64) {
		l.add(s, f, sz, (float64(l.w)-l.width(s, f, sz))/2, y)
	}
	y := l.margin + size*2
	title := pick(r, stores)
	tsize := size * (1.4 + 0.4*r.Float64())
	center(title, pick(r, []int{sansBold, goBold}), tsize, y)
	y += lh * 1.4
	center(streetAddress(r)+", "+pick(r, cities), body, size, y)
	y += lh
	center("Tel "+phone(r), body, size, y)
	y += lh * 1.5
	right := func(s string, sz, y float64) {
		l.add(s, body, sz, float64(l.w)-l.margin-l.width(s, body, sz), y)
	}
	l.add(date(r), body, size, l.margin, y)
	right(clock(r), size, y)
	y += lh
	l.add(fmt.Sprintf("Receipt %d", 10000+r.IntN(90000)), body, size, l.margin, y)
	y += lh * 1.5
	total := 0
	for range items {
		cents := 50 + r.IntN(4000)
		name := pick(r, products)
		if r.IntN(3) == 0 {
			name = fmt.Sprintf("%d x %s", 2+r.IntN(4), name)
		}
		l.add(name, body, size, l.margin, y)
		right(fmt.Sprintf("%d.%02d", cents/100, cents%100), size, y)
		total += cents
		y += lh
	}
	y += lh * 0.5
	tax := total * 8 / 100
	for _, row := range [][2]string{
		{"Subtotal", fmt.Sprintf("%d.%02d", total/100, total%100)},
		{"Tax 8%", fmt.Sprintf("%d.%02d", tax/100, tax%100)},
		{"TOTAL", fmt.Sprintf("$%d.%02d", (total+tax)/100, (total+tax)%100)},
	} {
		l.add(row[0], body, size, l.margin, y)
		right(row[1], size, y)
		y += lh
	}
	y += lh * 0.5
	l.add(fmt.Sprintf("Card **** %04d", r.IntN(10000)), body, size, l.margin, y)
	y += lh
	center("Thank you for your visit", body, size, y)
	l.smallPrint(y, body, 2)
}

var formFields = []string{"Name", "Address", "City", "Date of birth", "Phone", "Account number",
	"Amount due", "Invoice", "Due date", "Reference", "Customer ID", "Start date", "Plan", "Signature date"}

func (l *layout) form() {
	r := l.r
	l.w, l.h = 700+r.IntN(200), 900+r.IntN(200)
	l.margin = 40 + 20*r.Float64()
	labelFont := pick(r, []int{sans, goSans, serif})
	valueFont := pick(r, []int{mono, goMono, serif, sans})
	size := 12 + 6*r.Float64()
	lh := size * (2.0 + 0.6*r.Float64())
	y := l.margin + 28
	l.add(pick(r, []string{"Application Form", "Customer Details", "Service Request", "Payment Notice",
		"Registration"}), pick(r, []int{sansBold, goBold}), 22+8*r.Float64(), l.margin, y)
	y += lh * 1.5
	valueX := l.margin + 170 + 60*r.Float64()
	fields := r.Perm(len(formFields))
	for _, fi := range fields {
		if !l.fits(y, size) || y > float64(l.h)*0.75 {
			break
		}
		label := formFields[fi] + ":"
		var v string
		switch formFields[fi] {
		case "Name":
			v = person(r)
		case "Address":
			v = streetAddress(r)
		case "City":
			v = pick(r, cities)
		case "Date of birth", "Due date", "Start date", "Signature date":
			v = date(r)
		case "Phone":
			v = phone(r)
		case "Amount due":
			v = "$" + price(r, 3000)
		case "Account number", "Customer ID":
			v = fmt.Sprint(100000 + r.IntN(900000))
		case "Invoice", "Reference":
			v = fmt.Sprintf("INV-%d", 1000+r.IntN(9000))
		default:
			v = pick(r, []string{"Basic", "Standard", "Premium", "Annual", "Monthly"})
		}
		l.add(label, labelFont, size, l.margin, y)
		l.add(v, valueFont, size, valueX, y)
		y += lh
	}
	y += lh * 0.3
	size = 12 + 6*r.Float64() // the closing paragraph has its own type size
	for range 1 + r.IntN(3) {
		y += size * 1.5
		if !l.fits(y, size) {
			return
		}
		l.add(l.wrapOne(sentence(r, 8+r.IntN(6)), labelFont, size, float64(l.w)-2*l.margin), labelFont, size, l.margin, y)
	}
	l.smallPrint(y+size, labelFont, 2+r.IntN(3))
}

func (l *layout) paragraphs() {
	r := l.r
	l.w, l.h = 700+r.IntN(200), 900+r.IntN(200)
	l.margin = 40 + 25*r.Float64()
	body := pick(r, []int{serif, sans, goSans})
	// The type size is drawn per paragraph, not per page: a page's words then spread over the size range,
	// so a split's figure does not rest on a few page-level draws (most words are on paragraph pages).
	size := 11 + 6*r.Float64()
	spacing := 1.5 + 0.4*r.Float64()
	lh := size * spacing
	y := l.margin + 30
	head := strings.Join([]string{pick(r, []string{"Annual", "Quarterly", "Monthly", "Project", "Service"}),
		pick(r, []string{"Report", "Update", "Summary", "Notice", "Review"})}, " ")
	l.add(head, pick(r, []int{sansBold, goBold, serif}), 20+10*r.Float64(), l.margin, y)
	y += lh * 2
	maxW := float64(l.w) - 2*l.margin
	for p := 0; p < 2+r.IntN(3); p++ {
		if p > 0 {
			size = 11 + 6*r.Float64()
			lh = size * spacing
		}
		words := strings.Fields(sentence(r, 20+r.IntN(40)) + " " + sentence(r, 10+r.IntN(20)))
		for len(words) > 0 {
			if !l.fits(y, size) || y > float64(l.h)-l.margin-4*size {
				l.smallPrint(y, body, 1)
				return
			}
			n := 1
			for n < len(words) && l.width(strings.Join(words[:n+1], " "), body, size) <= maxW {
				n++
			}
			l.add(strings.Join(words[:n], " "), body, size, l.margin, y)
			words = words[n:]
			y += lh
		}
		y += lh * 0.6
	}
	l.smallPrint(y, body, 2)
}

// dense fills a square page with rows of small print from margin to margin and top to bottom: a page that
// fans out into several hundred recogniser pieces. The page is as large as the default detector input
// (960), so the detector sees the print unscaled.
func (l *layout) dense() {
	r := l.r
	l.w, l.h = 960, 960
	l.margin = 24
	body := pick(r, []int{serif, sans, goSans})
	size := 12 + r.Float64()
	lh := size * 1.3
	maxW := float64(l.w) - 2*l.margin
	for y := l.margin + size; l.fits(y, size); y += lh {
		l.add(l.wrapOne(sentence(r, 40), body, size, maxW), body, size, l.margin, y)
	}
}
