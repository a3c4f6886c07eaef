package capacity

import (
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Ratio is one row of the profile's ratios.csv: in one trace, with the model variants Variants, node To
// received Ratio items per item node From received (a fan-in node counts the parents it regroups).
type Ratio struct {
	From, To string
	Variants map[string]string
	Ratio    float64
}

// ReadRatios reads ratios.csv (header from,to,variants,ratio). A missing file is no error: profiles
// older than the file had no fan-out to measure, and every ratio is then 1.
func ReadRatios(path string) ([]Ratio, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rows, err := csv.NewReader(strings.NewReader(string(data))).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rows) == 0 || strings.Join(rows[0], ",") != "from,to,variants,ratio" {
		return nil, fmt.Errorf("%s:1: want the header from,to,variants,ratio", path)
	}
	var out []Ratio
	for i, row := range rows[1:] {
		if len(row) != 4 {
			return nil, fmt.Errorf("%s:%d: want 4 fields, got %d", path, i+2, len(row))
		}
		v, err := ParseVariantsKey(row[2])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, i+2, err)
		}
		r, err := strconv.ParseFloat(row[3], 64)
		if err != nil || !(r > 0) || math.IsInf(r, 0) {
			return nil, fmt.Errorf("%s:%d: ratio %q: want a number > 0", path, i+2, row[3])
		}
		out = append(out, Ratio{From: row[0], To: row[1], Variants: v, Ratio: r})
	}
	return out, nil
}

// A fan-out's ratio depends on the variants upstream of it (a larger detector input finds more lines),
// and the ratios along a path only compose within one trace: pieces per page from one trace and pages
// per piece from another would not make one page per page. So a caller picks one trace and takes every
// ratio from it.

// Traces groups the rows by trace (their variants), in the order the traces first appear.
func Traces(rows []Ratio) [][]Ratio {
	var out [][]Ratio
	index := map[string]int{}
	for _, r := range rows {
		k := VariantsKey(r.Variants)
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], r)
	}
	return out
}

// TraceRatio is the ratio of the edge in one trace's rows, 1 when the trace has no row for it.
func TraceRatio(trace []Ratio, from, to string) float64 {
	for _, r := range trace {
		if r.From == from && r.To == to {
			return r.Ratio
		}
	}
	return 1
}

// ChooseTrace is the trace whose variants agree with chosen on the most nodes (ties: the first); nil
// without rows.
func ChooseTrace(rows []Ratio, chosen map[string]string) []Ratio {
	var best []Ratio
	score := -1
	for _, tr := range Traces(rows) {
		s := 0
		for n, v := range chosen {
			if tr[0].Variants[n] == v {
				s++
			}
		}
		if s > score {
			best, score = tr, s
		}
	}
	return best
}

// HeaviestTrace is the trace in which the nodes of the graph handle the most items per source item in
// all (e.g. the detector variant that finds the most lines): the load a plan must be able to carry
// before the variants are chosen. nil without rows.
func HeaviestTrace(rows []Ratio, inputs map[string][]string) ([]Ratio, error) {
	var best []Ratio
	most := -1.0
	for _, tr := range Traces(rows) {
		u, err := Units(inputs, func(from, to string) float64 { return TraceRatio(tr, from, to) })
		if err != nil {
			return nil, err
		}
		sum := 0.0
		for _, x := range u {
			sum += x
		}
		if sum > most {
			best, most = tr, sum
		}
	}
	return best, nil
}

// Units is the number of items each node handles per item of the sources: 1 for a source (a node
// without inputs), and for any other node the least over its inputs of units(input) × ratio(input, node),
// as the optimizer propagates rates. inputs maps every node to its inputs; a cycle or an unknown input
// is an error.
func Units(inputs map[string][]string, ratio func(from, to string) float64) (map[string]float64, error) {
	out := map[string]float64{}
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(n string) error
	visit = func(n string) error {
		switch state[n] {
		case 1:
			return fmt.Errorf("node %s: the graph has a cycle", n)
		case 2:
			return nil
		}
		ins, known := inputs[n]
		if !known {
			return fmt.Errorf("unknown node %s", n)
		}
		state[n] = 1
		u := math.Inf(1)
		for _, in := range ins {
			if err := visit(in); err != nil {
				return err
			}
			u = math.Min(u, out[in]*ratio(in, n))
		}
		if len(ins) == 0 {
			u = 1
		}
		out[n], state[n] = u, 2
		return nil
	}
	names := make([]string, 0, len(inputs))
	for n := range inputs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := visit(n); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// VariantsKey writes variants as "Node=variant;..." in node name order (ratios.csv's variants column).
func VariantsKey(variants map[string]string) string {
	keys := make([]string, 0, len(variants))
	for k := range variants {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + variants[k]
	}
	return strings.Join(parts, ";")
}

// ParseVariantsKey reads VariantsKey's form back.
func ParseVariantsKey(s string) (map[string]string, error) {
	out := map[string]string{}
	if s == "" {
		return out, nil
	}
	for _, p := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("variants %q: want Node=variant;...", s)
		}
		out[k] = v
	}
	return out, nil
}
