// Package inputs reads optimizer instances from disk: the original JellyBean folder format
// (CSV + JSON + config.yaml) and our native TOML format. Every error names the file, the line and the
// field at fault; the solver itself (package optimizer) never touches files.
package inputs

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"jellybean/plan/optimizer"
)

// Instance is what the readers produce: the problem plus the warnings met while reading it.
type Instance struct {
	Problem  *optimizer.Problem
	Config   optimizer.Config
	Warnings []string
}

// row is one CSV record with its line number.
type row struct {
	line   int
	fields []string
}

// readCSV parses a header-less CSV file with exactly n fields per line. A single stray trailing empty field
// (a line ending in ",") is accepted with a warning, as the original's pandas reader tolerates it.
func readCSV(name string, data []byte, n int, warn *[]string) ([]row, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	var rows []row
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("%s:%d: %v", name, pe.Line, pe.Err)
			}
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		line, _ := r.FieldPos(0)
		if len(rec) == n+1 && strings.TrimSpace(rec[n]) == "" {
			*warn = append(*warn, fmt.Sprintf("%s:%d: ignoring stray trailing comma", name, line))
			rec = rec[:n]
		}
		if len(rec) != n {
			return nil, fmt.Errorf("%s:%d: want %d fields, got %d", name, line, n, len(rec))
		}
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		rows = append(rows, row{line, rec})
	}
	return rows, nil
}

func parseFloat(name string, r row, i int, field string) (float64, error) {
	f, err := strconv.ParseFloat(r.fields[i], 64)
	if err != nil {
		return 0, fmt.Errorf("%s:%d: field %s: %q is not a number", name, r.line, field, r.fields[i])
	}
	return f, nil
}

func parseFinite(name string, r row, i int, field string, allowNegative bool) (float64, error) {
	f, err := parseFloat(name, r, i, field)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || (!allowNegative && f < 0) {
		return 0, fmt.Errorf("%s:%d: field %s: %q must be a finite non-negative number", name, r.line, field, r.fields[i])
	}
	return f, nil
}

// files is the original folder format's file set, as bytes, so that readers are testable and fuzzable
// without a file system.
type files map[string][]byte

func loadDir(dir string) (files, error) {
	fs := files{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading inputs: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		fs[e.Name()] = data
	}
	return fs, nil
}

// ReadDir reads an inputs folder: the native format if it holds jellybean.toml, else the original format.
// configPath may be empty (defaults, or config.yaml from the folder is NOT used implicitly).
func ReadDir(dir, configPath string) (*Instance, error) {
	cfg := optimizer.DefaultConfig()
	var warn []string
	if configPath != "" {
		data, err := os.ReadFile(configPath)
		if err != nil {
			return nil, fmt.Errorf("reading config: %w", err)
		}
		if cfg, err = ParseConfig(configPath, data); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(dir, NativeFile)); err == nil {
		data, err := os.ReadFile(filepath.Join(dir, NativeFile))
		if err != nil {
			return nil, err
		}
		return ParseNative(filepath.Join(dir, NativeFile), data, cfg)
	}
	fs, err := loadDir(dir)
	if err != nil {
		return nil, err
	}
	p, err := parseOriginal(dir, fs, cfg, &warn)
	if err != nil {
		return nil, err
	}
	return &Instance{Problem: p, Config: cfg, Warnings: warn}, nil
}

func need(dir string, fs files, name string) ([]byte, string, error) {
	path := filepath.Join(dir, name)
	d, ok := fs[name]
	if !ok {
		return nil, path, fmt.Errorf("%s: missing required input file", path)
	}
	return d, path, nil
}

// ParseOriginal builds a problem from the original format's files given by name → contents.
func ParseOriginal(dir string, fs map[string][]byte, cfg optimizer.Config) (*Instance, error) {
	var warn []string
	p, err := parseOriginal(dir, fs, cfg, &warn)
	if err != nil {
		return nil, err
	}
	return &Instance{Problem: p, Config: cfg, Warnings: warn}, nil
}

func parseOriginal(dir string, fs files, cfg optimizer.Config, warn *[]string) (*optimizer.Problem, error) {
	p := &optimizer.Problem{}
	get := func(name string) ([]byte, string, error) { return need(dir, fs, name) }

	// Worker types × counts (optional): concrete workers are named type_i, type-major.
	counts := map[string]int{}
	if d, ok := fs["workers_numbers.csv"]; ok {
		path := filepath.Join(dir, "workers_numbers.csv")
		rows, err := readCSV(path, d, 2, warn)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			n, err := strconv.Atoi(r.fields[1])
			if err != nil || n < 0 || n > 1_000_000 {
				return nil, fmt.Errorf("%s:%d: field number: %q is not a count", path, r.line, r.fields[1])
			}
			counts[r.fields[0]] = n
		}
	}
	expand := func(path string, r row, name string) ([]string, error) {
		if counts == nil || len(counts) == 0 {
			return []string{name}, nil
		}
		n, ok := counts[name]
		if !ok {
			return nil, fmt.Errorf("%s:%d: worker type %q has no count in workers_numbers.csv", path, r.line, name)
		}
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%s_%d", name, i)
		}
		return out, nil
	}

	// workers_specs.csv: name, price.
	d, path, err := get("workers_specs.csv")
	if err != nil {
		return nil, err
	}
	rows, err := readCSV(path, d, 2, warn)
	if err != nil {
		return nil, err
	}
	workerIdx := map[string]int{}
	for _, r := range rows {
		price, err := parseFinite(path, r, 1, "price", false)
		if err != nil {
			return nil, err
		}
		names, err := expand(path, r, r.fields[0])
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			if _, dup := workerIdx[n]; dup {
				return nil, fmt.Errorf("%s:%d: field name: worker %q listed twice", path, r.line, n)
			}
			workerIdx[n] = len(p.Workers)
			p.Workers = append(p.Workers, optimizer.Worker{Name: n, Price: price})
		}
	}
	if len(p.Workers) == 0 {
		return nil, fmt.Errorf("%s: no workers", path)
	}
	nw := len(p.Workers)
	lookupWorkers := func(path string, r row, i int) ([]int, error) {
		names, err := expand(path, r, r.fields[i])
		if err != nil {
			return nil, err
		}
		out := make([]int, len(names))
		for k, n := range names {
			w, ok := workerIdx[n]
			if !ok {
				return nil, fmt.Errorf("%s:%d: field worker: unknown worker %q (not in workers_specs.csv)", path, r.line, r.fields[i])
			}
			out[k] = w
		}
		return out, nil
	}

	// logical_graph.csv: u, v.
	d, path, err = get("logical_graph.csv")
	if err != nil {
		return nil, err
	}
	rows, err = readCSV(path, d, 2, warn)
	if err != nil {
		return nil, err
	}
	nodeIdx := map[string]int{}
	node := func(name string) int {
		if i, ok := nodeIdx[name]; ok {
			return i
		}
		nodeIdx[name] = len(p.Nodes)
		p.Nodes = append(p.Nodes, name)
		p.Inputs = append(p.Inputs, nil)
		return nodeIdx[name]
	}
	seenEdge := map[[2]int]bool{}
	for _, r := range rows {
		u, v := node(r.fields[0]), node(r.fields[1])
		if u == v || seenEdge[[2]int{u, v}] {
			return nil, fmt.Errorf("%s:%d: edge %s→%s is a self loop or listed twice", path, r.line, r.fields[0], r.fields[1])
		}
		seenEdge[[2]int{u, v}] = true
		p.Edges = append(p.Edges, optimizer.Edge{From: u, To: v})
		p.Inputs[v] = append(p.Inputs[v], u)
	}
	// edgeOf resolves the first two fields of a row of a later file to an edge of logical_graph.csv.
	edgeOf := func(path string, r row) (u, v int, err error) {
		u, okU := nodeIdx[r.fields[0]]
		v, okV := nodeIdx[r.fields[1]]
		if !okU || !okV || !seenEdge[[2]int{u, v}] {
			return 0, 0, fmt.Errorf("%s:%d: field u,v: %s→%s is not an edge of logical_graph.csv", path, r.line, r.fields[0], r.fields[1])
		}
		return u, v, nil
	}
	if len(p.Nodes) == 0 {
		return nil, fmt.Errorf("%s: empty logical graph", path)
	}
	p.IsSource = make([]bool, len(p.Nodes))
	for v := range p.Nodes {
		p.IsSource[v] = len(p.Inputs[v]) == 0
	}

	// input_injection_rates.csv: source, rate.
	d, path, err = get("input_injection_rates.csv")
	if err != nil {
		return nil, err
	}
	rows, err = readCSV(path, d, 2, warn)
	if err != nil {
		return nil, err
	}
	rates := map[string]float64{}
	for _, r := range rows {
		v, ok := nodeIdx[r.fields[0]]
		if !ok || !p.IsSource[v] {
			return nil, fmt.Errorf("%s:%d: field source: %q is not a source of logical_graph.csv", path, r.line, r.fields[0])
		}
		rate, err := parseFinite(path, r, 1, "rate", false)
		if err != nil {
			return nil, err
		}
		if rate <= 0 {
			return nil, fmt.Errorf("%s:%d: field rate: must be > 0", path, r.line)
		}
		rates[r.fields[0]] = rate
	}

	// throughput_normalization_ratios.csv (optional): u, v, ratio.
	ratios := map[[2]string]float64{}
	if d, ok := fs["throughput_normalization_ratios.csv"]; ok {
		path := filepath.Join(dir, "throughput_normalization_ratios.csv")
		rows, err := readCSV(path, d, 3, warn)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			if _, _, err := edgeOf(path, r); err != nil {
				return nil, err
			}
			x, err := parseFinite(path, r, 2, "ratio", false)
			if err != nil {
				return nil, err
			}
			ratios[[2]string{r.fields[0], r.fields[1]}] = x
		}
	}
	if err := p.Finish(rates, ratios); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "logical_graph.csv"), err)
	}

	// execution_profile.csv: node, worker, variant, latency_ms.
	d, path, err = get("execution_profile.csv")
	if err != nil {
		return nil, err
	}
	rows, err = readCSV(path, d, 4, warn)
	if err != nil {
		return nil, err
	}
	initCapacities(p)
	for _, r := range rows {
		v, ok := nodeIdx[r.fields[0]]
		if !ok || p.IsSource[v] {
			return nil, fmt.Errorf("%s:%d: field node: %q is not a non-source node of logical_graph.csv", path, r.line, r.fields[0])
		}
		ws, err := lookupWorkers(path, r, 1)
		if err != nil {
			return nil, err
		}
		lat, err := parseFloat(path, r, 3, "latency_ms")
		if err != nil {
			return nil, err
		}
		if lat <= 0 && !math.IsNaN(lat) || math.IsInf(lat, 0) {
			return nil, fmt.Errorf("%s:%d: field latency_ms: %q must be > 0 (or NaN for cannot run)", path, r.line, r.fields[3])
		}
		vr := r.fields[2]
		caps, ok := p.Cap[v][vr]
		if !ok {
			caps = make([]float64, nw)
			p.Cap[v][vr] = caps
			p.Variants[v] = append(p.Variants[v], vr)
		}
		if math.IsNaN(lat) {
			continue
		}
		lat *= cfg.LatencyOverestimateRatio
		for _, w := range ws {
			caps[w] = 1000. / lat
		}
	}

	// message_sizes.csv: u, v, u_variant, v_variant, size (KB per request of v).
	d, path, err = get("message_sizes.csv")
	if err != nil {
		return nil, err
	}
	rows, err = readCSV(path, d, 5, warn)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		u, v, err := edgeOf(path, r)
		if err != nil {
			return nil, err
		}
		size, err := parseFinite(path, r, 4, "size", false)
		if err != nil {
			return nil, err
		}
		p.SetMessageSize(u, v, r.fields[2], r.fields[3], size)
	}

	// workers_workers_link.csv (optional): a, b, cost; directed; unlisted = 0.
	p.Link = make([][]float64, nw)
	for i := range p.Link {
		p.Link[i] = make([]float64, nw)
	}
	if d, ok := fs["workers_workers_link.csv"]; ok {
		path := filepath.Join(dir, "workers_workers_link.csv")
		rows, err := readCSV(path, d, 3, warn)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			as, err := lookupWorkers(path, r, 0)
			if err != nil {
				return nil, err
			}
			bs, err := lookupWorkers(path, r, 1)
			if err != nil {
				return nil, err
			}
			c, err := parseFinite(path, r, 2, "cost", false)
			if err != nil {
				return nil, err
			}
			for _, a := range as {
				for _, b := range bs {
					p.Link[a][b] = c * cfg.CommCostScalingFactor
				}
			}
		}
	}

	// sources_workers_link.csv (optional): source, worker, cost.
	p.SrcLink = make([][]float64, len(p.Nodes))
	for v := range p.Nodes {
		if p.IsSource[v] {
			p.SrcLink[v] = make([]float64, nw)
		}
	}
	if d, ok := fs["sources_workers_link.csv"]; ok {
		path := filepath.Join(dir, "sources_workers_link.csv")
		rows, err := readCSV(path, d, 3, warn)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			s, ok := nodeIdx[r.fields[0]]
			if !ok || !p.IsSource[s] {
				return nil, fmt.Errorf("%s:%d: field source: %q is not a source of logical_graph.csv", path, r.line, r.fields[0])
			}
			ws, err := lookupWorkers(path, r, 1)
			if err != nil {
				return nil, err
			}
			c, err := parseFinite(path, r, 2, "cost", false)
			if err != nil {
				return nil, err
			}
			for _, w := range ws {
				p.SrcLink[s][w] = c * cfg.CommCostScalingFactor
			}
		}
	}

	// workers_partition.json (optional): ordered list of tiers; else derived from the link costs.
	if d, ok := fs["workers_partition.json"]; ok {
		path := filepath.Join(dir, "workers_partition.json")
		var tiers [][]string
		if err := strictJSON(d, &tiers); err != nil {
			return nil, fmt.Errorf("%s: %v (want a list of lists of worker names)", path, err)
		}
		seen := make([]bool, nw)
		for t, names := range tiers {
			for _, n := range names {
				r := row{line: 0, fields: []string{n}}
				ws, err := lookupWorkers(path, r, 0)
				if err != nil {
					return nil, fmt.Errorf("%s: tier %d: unknown worker %q", path, t, n)
				}
				for _, w := range ws {
					if seen[w] {
						return nil, fmt.Errorf("%s: tier %d: worker %q is in two tiers", path, t, p.Workers[w].Name)
					}
					seen[w] = true
					p.Workers[w].Tier = t
				}
			}
		}
		for w, ok := range seen {
			if !ok {
				return nil, fmt.Errorf("%s: worker %q is in no tier", path, p.Workers[w].Name)
			}
		}
		p.NumTiers = len(tiers)
	} else {
		p.NumTiers = optimizer.PartitionTiers(p)
	}

	// Accuracy profile and requirement.
	d, path, err = get("nodes_accuracy_profiles.json")
	if err != nil {
		return nil, err
	}
	acc, err := parseAccuracy(path, d)
	if err != nil {
		return nil, err
	}
	p.Accuracy = *acc
	for _, op := range acc.Operators {
		if v, ok := nodeIdx[op]; !ok || p.IsSource[v] {
			return nil, fmt.Errorf("%s: end_to_end_profile: operator %q is not a non-source node of logical_graph.csv", path, op)
		}
	}
	d, path, err = get("accuracy_requirement.json")
	if err != nil {
		return nil, err
	}
	var req struct {
		Sink      *string  `json:"sink"`
		Threshold *float64 `json:"threshold"`
	}
	if err := strictJSON(d, &req); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if req.Sink == nil || req.Threshold == nil {
		return nil, fmt.Errorf("%s: want keys \"sink\" and \"threshold\"", path)
	}
	if _, ok := nodeIdx[*req.Sink]; !ok {
		return nil, fmt.Errorf("%s: field sink: %q is not a node of logical_graph.csv", path, *req.Sink)
	}
	p.Sink, p.Threshold = *req.Sink, *req.Threshold
	return p, p.Check()
}

func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line := 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
			return fmt.Errorf("line %d: %v", line, err)
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			line := 1 + bytes.Count(data[:min(int(te.Offset), len(data))], []byte("\n"))
			return fmt.Errorf("line %d: field %s: %v", line, te.Field, err)
		}
		return err
	}
	return nil
}

type jsonAccuracy struct {
	EndToEnd struct {
		Operators []string `json:"operators"`
		Accuracy  []struct {
			Variants []string `json:"variants"`
			Accuracy float64  `json:"accuracy"`
		} `json:"accuracy"`
	} `json:"end_to_end_profile"`
	PerOp []struct {
		Name    string             `json:"op_name"`
		Inputs  []string           `json:"inputs"`
		Weight  float64            `json:"weight"`
		Cost    map[string]float64 `json:"cost"`
		Samples map[string][]struct {
			InputsAcc []float64 `json:"inputs_acc"`
			OutputAcc float64   `json:"output_acc"`
		} `json:"samples"`
	} `json:"per_operator_profiles"`
}

// parseAccuracy reads nodes_accuracy_profiles.json (the original's pickle converted to JSON).
func parseAccuracy(path string, data []byte) (*optimizer.AccuracyProfile, error) {
	var j jsonAccuracy
	if err := strictJSON(data, &j); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	a := &optimizer.AccuracyProfile{Operators: j.EndToEnd.Operators}
	if len(a.Operators) == 0 {
		return nil, fmt.Errorf("%s: end_to_end_profile.operators is empty", path)
	}
	for i, e := range j.EndToEnd.Accuracy {
		if len(e.Variants) != len(a.Operators) {
			return nil, fmt.Errorf("%s: end_to_end_profile.accuracy[%d]: %d variants for %d operators", path, i, len(e.Variants), len(a.Operators))
		}
		a.EndToEnd = append(a.EndToEnd, optimizer.EndToEndEntry{Variants: e.Variants, Accuracy: e.Accuracy})
	}
	for i, op := range j.PerOp {
		if op.Name == "" {
			return nil, fmt.Errorf("%s: per_operator_profiles[%d]: missing op_name", path, i)
		}
		o := optimizer.OperatorProfile{Name: op.Name, Inputs: op.Inputs, Weight: op.Weight, Cost: op.Cost, Samples: map[string][]optimizer.Sample{}}
		// JSON objects have no order; variants are taken in cost-key order of appearance in the file.
		o.Variants = keysInFileOrder(data, op.Cost)
		for _, vr := range o.Variants {
			for k, s := range op.Samples[vr] {
				if len(s.InputsAcc) != len(op.Inputs) {
					return nil, fmt.Errorf("%s: per_operator_profiles[%d] (%s): samples[%s][%d]: %d input accuracies for %d inputs", path, i, op.Name, vr, k, len(s.InputsAcc), len(op.Inputs))
				}
				o.Samples[vr] = append(o.Samples[vr], optimizer.Sample{InputsAcc: s.InputsAcc, OutputAcc: s.OutputAcc})
			}
		}
		for vr := range op.Samples {
			if _, ok := op.Cost[vr]; !ok {
				return nil, fmt.Errorf("%s: per_operator_profiles[%d] (%s): variant %q has samples but no cost", path, i, op.Name, vr)
			}
		}
		a.PerOp = append(a.PerOp, o)
	}
	return a, nil
}

// keysInFileOrder orders a map's keys by their first quoted occurrence in the file (JSON object order).
func keysInFileOrder(data []byte, m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	pos := func(k string) int {
		q, _ := json.Marshal(k)
		i := bytes.Index(data, q)
		if i < 0 {
			return len(data)
		}
		return i
	}
	sort.SliceStable(keys, func(i, j int) bool {
		pi, pj := pos(keys[i]), pos(keys[j])
		if pi != pj {
			return pi < pj
		}
		return keys[i] < keys[j]
	})
	return keys
}
