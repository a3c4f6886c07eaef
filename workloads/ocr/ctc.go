package ocr

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// Charset maps the recogniser's classes to text: class 0 is the CTC blank, classes 1..n are the lines of
// the character list file in order, and class n+1 is a space.
type Charset struct {
	keys    []string // index = class; keys[0] (blank) is empty
	allowed []bool   // nil: every class; else the classes Decode may emit (blank always)
}

// ASCIIOnly returns a copy of the charset that decodes to printable ASCII only: at each step the most
// likely class among blank, space and the ASCII characters wins. The recogniser was trained mostly on
// Chinese text and now and then prefers a full-width look-alike ("（" for "("); on English pages such a
// class is never the right answer.
func (c *Charset) ASCIIOnly() *Charset {
	allowed := make([]bool, len(c.keys))
	allowed[0] = true
	for k, s := range c.keys {
		if len(s) == 1 && s[0] >= ' ' && s[0] <= '~' {
			allowed[k] = true
		}
	}
	return &Charset{keys: c.keys, allowed: allowed}
}

// LoadCharset reads a character list (one character per line, UTF-8).
func LoadCharset(path string) (*Charset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	keys := []string{""}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		k := strings.TrimRight(sc.Text(), "\r")
		if k == "" {
			return nil, fmt.Errorf("%s:%d: empty line (every line holds one character)", path, line)
		}
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(keys) == 1 {
		return nil, fmt.Errorf("%s: no characters", path)
	}
	return &Charset{keys: append(keys, " ")}, nil
}

// NewCharset builds a charset from characters in class order (class 1 first); a space class is added.
func NewCharset(chars []string) *Charset {
	return &Charset{keys: append(append([]string{""}, chars...), " ")}
}

// Classes is the number of classes a recogniser using this charset outputs (blank + characters + space).
func (c *Charset) Classes() int { return len(c.keys) }

// Decode reads a recogniser's output for one line, T steps × C classes of probabilities (row-major), by
// greedy CTC: the most likely class per step, repeats collapsed, blanks dropped. It returns the text with
// outer spaces trimmed and the mean probability of the emitted characters (0 for none).
func (c *Charset) Decode(probs []float32, T, C int) (string, float64, error) {
	if C != len(c.keys) {
		return "", 0, fmt.Errorf("recogniser output has %d classes, the charset %d", C, len(c.keys))
	}
	if T < 0 || len(probs) != T*C {
		return "", 0, fmt.Errorf("recogniser output has %d values, want %d×%d", len(probs), T, C)
	}
	var sb strings.Builder
	prev, n, sum := 0, 0, 0.0
	for t := 0; t < T; t++ {
		row := probs[t*C : (t+1)*C]
		best := 0
		for k, p := range row {
			if p > row[best] && (c.allowed == nil || c.allowed[k]) {
				best = k
			}
		}
		if best != 0 && best != prev {
			sb.WriteString(c.keys[best])
			n++
			sum += float64(row[best])
		}
		prev = best
	}
	conf := 0.0
	if n > 0 {
		conf = sum / float64(n)
	}
	return strings.TrimSpace(sb.String()), conf, nil
}
