package dataset

import (
	"fmt"
	"sync"

	"codeberg.org/go-fonts/liberation/liberationmonoregular"
	"codeberg.org/go-fonts/liberation/liberationsansbold"
	"codeberg.org/go-fonts/liberation/liberationsansregular"
	"codeberg.org/go-fonts/liberation/liberationserifregular"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
)

// Fonts are Go modules (the Go fonts and Liberation, metric twins of Arial, Times and Courier), so the
// generator needs no system package and draws the same pixels everywhere.
const (
	sans = iota
	serif
	mono
	sansBold
	goSans
	goMono
	goBold
	nFonts
)

var fontFiles = [nFonts][]byte{
	sans: liberationsansregular.TTF, serif: liberationserifregular.TTF, mono: liberationmonoregular.TTF,
	sansBold: liberationsansbold.TTF, goSans: goregular.TTF, goMono: gomono.TTF, goBold: gobold.TTF,
}

var fontNames = [nFonts]string{"Liberation Sans", "Liberation Serif", "Liberation Mono",
	"Liberation Sans Bold", "Go", "Go Mono", "Go Bold"}

var (
	parseOnce sync.Once
	parsed    [nFonts]*opentype.Font
	parseErr  error
)

func parsedFonts() ([nFonts]*opentype.Font, error) {
	parseOnce.Do(func() {
		for i, b := range fontFiles {
			f, err := opentype.Parse(b)
			if err != nil {
				parseErr = fmt.Errorf("parsing font %s: %w", fontNames[i], err)
				return
			}
			parsed[i] = f
		}
	})
	return parsed, parseErr
}

// faces caches one face per (font, size) for one page; faces are not safe for concurrent use.
type faces map[[2]int]font.Face

func (fc faces) get(fontID int, size float64) (font.Face, error) {
	key := [2]int{fontID, int(size * 4)}
	if f, ok := fc[key]; ok {
		return f, nil
	}
	fs, err := parsedFonts()
	if err != nil {
		return nil, err
	}
	f, err := opentype.NewFace(fs[fontID], &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		return nil, fmt.Errorf("font %s at %.1f px: %w", fontNames[fontID], size, err)
	}
	fc[key] = f
	return f, nil
}

func (fc faces) close() {
	for _, f := range fc {
		f.Close()
	}
}
