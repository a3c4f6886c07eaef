package loop

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"jellybean/job/profile/capacity"
	"jellybean/plan/workflow"
	"jellybean/workloads/registry"
)

// ReadLatencies reads a `jellybean profile` latency.csv and gives, per host, stage and variant, the
// milliseconds one item costs a worker at the plan's micro-batch size (capacity.Model: the op's CPU time
// plus the runner's own work, per item): a saturated worker, the only kind whose capacity matters,
// forms full micro-batches, so that is the figure its capacity (1000 / ms) must come from. A profile
// without the plan's batch size is interpolated between the sizes it has (see package capacity); one
// whose smallest batch is above the plan's is refused.
func ReadLatencies(path string, batch int) (Latencies, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseLatencies(path, f, batch)
}

func parseLatencies(name string, r io.Reader, batch int) (Latencies, error) {
	m, err := capacity.Parse(name, r)
	if err != nil {
		return nil, err
	}
	lat := Latencies{}
	for k, pts := range m.Points {
		if pts[0].Batch > batch {
			continue
		}
		op, runner := capacity.Interpolate(pts, float64(batch))
		if !(op+runner > 0) {
			return nil, fmt.Errorf("%s: %s %s on %s costs 0 ms per item at batch %d: profile with more items or repeats", name, k.Stage, k.Variant, k.Host, batch)
		}
		if lat[k.Host] == nil {
			lat[k.Host] = map[string]map[string]float64{}
		}
		if lat[k.Host][k.Stage] == nil {
			lat[k.Host][k.Stage] = map[string]float64{}
		}
		lat[k.Host][k.Stage][k.Variant] = op + runner
	}
	if len(lat) == 0 {
		return nil, fmt.Errorf("%s: no row with a batch size up to %d", name, batch)
	}
	return lat, nil
}

// ReadMessages reads a `jellybean profile` message_sizes.csv (or message_sizes_zstd.csv): rows
// from,to,from_variant,to_variant,KB.
func ReadMessages(path string) ([]Message, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = 5
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []Message
	for i, r := range rows {
		kb, err := strconv.ParseFloat(r[4], 64)
		if err != nil || kb < 0 {
			return nil, fmt.Errorf("%s:%d: KB %q: want a number ≥ 0", path, i+1, r[4])
		}
		out = append(out, Message{From: r[0], To: r[1], FromVariant: r[2], KB: kb})
	}
	return out, nil
}

// ReadAccuracy reads an accuracy profile's combinations (the loop's combinations.json).
func ReadAccuracy(path string) (*registry.Accuracy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p registry.Accuracy
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(p.Combos) == 0 {
		return nil, fmt.Errorf("%s: no combinations", path)
	}
	return &p, nil
}

// CacheKey identifies an accuracy profile: the workflow and its models (ModelsFingerprint), the items
// measured (the manifest's bytes and the limit), and the program that measured it (a hash of the binary:
// the workload's pre- and post-processing is code, and a new build may read differently).
func CacheKey(models, manifest []byte, limit int, program []byte) string {
	h := sha256.New()
	for _, part := range [][]byte{models, manifest, []byte(strconv.Itoa(limit)), program} {
		fmt.Fprintf(h, "%d:", len(part))
		h.Write(part)
	}
	return hex.EncodeToString(h.Sum(nil))[:20]
}

// ModelsFingerprint is the workflow file's bytes and the name, size and content hash of every model file
// its variants name: what an accuracy profile depends on besides the items.
func ModelsFingerprint(w *workflow.Workflow) ([]byte, error) {
	data, err := os.ReadFile(w.Path)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Write(data)
	for _, i := range w.ModelNodes() {
		for _, v := range w.Nodes[i].Model.Variants {
			f, err := os.Open(w.Resolve(v.File))
			if err != nil {
				return nil, err
			}
			h := sha256.New()
			n, err := io.Copy(h, f)
			f.Close()
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(&b, "\n%s %s %d %x", w.Nodes[i].Name, v.File, n, h.Sum(nil))
		}
	}
	return b.Bytes(), nil
}

// LimitManifest writes the first n items of the manifest at src into dstDir/manifest.jsonl, so that the
// accuracy profile measures exactly the items a job with `limit = n` processes. The lines are kept
// verbatim, so relative file names must keep resolving: dstDir gets a symbolic link to every top-level
// entry of the source folder (e.g. images/, audio/) but the manifest. It returns the new manifest's path.
func LimitManifest(src string, n int, dstDir string) (string, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	srcDir, err := filepath.Abs(filepath.Dir(src))
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	line, kept := 0, 0
	for sc.Scan() && kept < n {
		line++
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var item map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &item); err != nil {
			return "", fmt.Errorf("%s:%d: %w", src, line, err)
		}
		out.Write(sc.Bytes())
		out.WriteByte('\n')
		kept++
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("%s: %w", src, err)
	}
	if kept < n {
		return "", fmt.Errorf("%s: --limit %d but the manifest has only %d items", src, n, kept)
	}
	if err := os.MkdirAll(dstDir, 0o755); err != nil {
		return "", err
	}
	entries, err := os.ReadDir(srcDir)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if e.Name() == filepath.Base(src) || e.Name() == "manifest.jsonl" {
			continue
		}
		link := filepath.Join(dstDir, e.Name())
		if err := os.Remove(link); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		if err := os.Symlink(filepath.Join(srcDir, e.Name()), link); err != nil {
			return "", err
		}
	}
	path := filepath.Join(dstDir, "manifest.jsonl")
	return path, os.WriteFile(path, out.Bytes(), 0o644)
}

// ProgramFingerprint is the SHA-256 of the running executable (empty if it cannot be read: the cache is
// then keyed on the inputs alone).
func ProgramFingerprint() []byte {
	exe, err := os.Executable()
	if err != nil {
		return nil
	}
	f, err := os.Open(exe)
	if err != nil {
		return nil
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil
	}
	return h.Sum(nil)
}

// MergeMessageSizes puts the rows of chosen (a message_sizes.csv or message_sizes_zstd.csv of `profile
// --variants`: from,to,from_variant,to_variant,KB, no header) in place of the rows of all (the first
// profile's) for the same edge and variants, appending those all lacks, and returns the merged file and
// how many rows it replaced.
//
// Why: the file keys a message by the sender's and receiver's own variants only, but its size also
// depends on the variants further upstream — OCR's Crop sends 10.6 KB per page with the 480-pixel
// detector before it and 13.1 KB with the 1,280-pixel one — and the first profile sized every message
// with the first variant upstream. The chosen variants' trace sizes it as the plan will run.
func MergeMessageSizes(all, chosen []byte) ([]byte, int, error) {
	a, c, err := readMergeInputs(all, chosen, 5, false)
	if err != nil {
		return nil, 0, err
	}
	merged, replaced := mergeRows(a, c, func(r []string) string { return strings.Join(r[:4], "\x00") })
	return merged, replaced, nil
}

// readMergeInputs parses the first profile's file (all) and the chosen variants' (chosen) as CSV, each row
// of fields fields (0: as many as the first row has), an error naming the file at fault; with header, an
// empty file is refused too.
func readMergeInputs(all, chosen []byte, fields int, header bool) (a, c [][]string, err error) {
	read := func(name string, data []byte) ([][]string, error) {
		r := csv.NewReader(bytes.NewReader(data))
		r.FieldsPerRecord = fields
		rows, err := r.ReadAll()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if header && len(rows) == 0 {
			return nil, fmt.Errorf("%s: empty", name)
		}
		return rows, nil
	}
	if a, err = read("the first profile", all); err != nil {
		return nil, nil, err
	}
	if c, err = read("the chosen variants' profile", chosen); err != nil {
		return nil, nil, err
	}
	return a, c, nil
}

// mergeRows replaces each row of a whose key a row of c has by that row, appends c's other rows, and
// writes the result as CSV.
func mergeRows(a, c [][]string, key func([]string) string) ([]byte, int) {
	at := map[string]int{}
	for i, r := range a {
		at[key(r)] = i
	}
	replaced := 0
	for _, r := range c {
		if i, ok := at[key(r)]; ok {
			a[i] = r
			replaced++
			continue
		}
		a = append(a, r)
	}
	var out bytes.Buffer
	w := csv.NewWriter(&out)
	w.WriteAll(a) // writes to memory: only a row with a bad field could fail, and rows come from csv
	return out.Bytes(), replaced
}

// MergeLatencies puts the rows of chosen (a latency.csv of `profile --variants`) in place of the rows of
// all (the first profile's latency.csv) for the same stage, worker, variant and batch, appending those
// all lacks, and returns the merged file and how many rows it replaced. Both files must have the same
// header.
func MergeLatencies(all, chosen []byte) ([]byte, int, error) {
	a, c, err := readMergeInputs(all, chosen, 0, true)
	if err != nil {
		return nil, 0, err
	}
	if strings.Join(a[0], ",") != strings.Join(c[0], ",") {
		return nil, 0, fmt.Errorf("headers differ: %q and %q", strings.Join(a[0], ","), strings.Join(c[0], ","))
	}
	col := map[string]int{}
	for i, h := range a[0] {
		col[h] = i
	}
	for _, h := range []string{"stage", "worker", "variant", "batch"} {
		if _, ok := col[h]; !ok {
			return nil, 0, fmt.Errorf("no %q column", h)
		}
	}
	key := func(r []string) string {
		return r[col["stage"]] + "\x00" + r[col["worker"]] + "\x00" + r[col["variant"]] + "\x00" + r[col["batch"]]
	}
	merged, replaced := mergeRows(a[1:], c[1:], key)
	var head bytes.Buffer
	w := csv.NewWriter(&head)
	w.Write(a[0])
	w.Flush()
	return append(head.Bytes(), merged...), replaced, nil
}
