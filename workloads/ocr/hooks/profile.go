package hooks

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"jellybean/plan/workflow"
	"jellybean/workloads/ocr"
	"jellybean/workloads/ocr/dataset"
	"jellybean/workloads/ocr/metrics"
	"jellybean/workloads/ocr/reference"
	"jellybean/workloads/registry"
)

// Choices are the workflow's OCR variants as the reference pipeline runs them: the detector node's
// variants by input size, the recogniser node's by input width, and the settings its steps fix.
type Choices struct {
	DetNode, RecNode string
	DetSizes         map[string]int     // Detect variant -> detector input side
	RecScales        map[string]float64 // Recognise variant -> recogniser width scale
	DetOrder         []string           // variants in workflow order
	RecOrder         []string
	ModelsDir        string
	Settings         reference.Settings
}

// stepOps name the steps whose parameters the variants and settings come from.
const (
	opDetect = "ocr_detect_preprocess"
	opRec    = "ocr_rec_preprocess"
	opCrop   = "ocr_crop_lines"
	opDB     = "ocr_db_boxes"
)

// number reads a numeric workflow parameter (TOML gives int64 or float64).
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case int:
		return float64(x), true
	}
	return 0, false
}

// ReadChoices finds the OCR nodes of a workflow and each variant's value of the parameters it changes
// (a variant's params, else the step's own value), so that the profile measures exactly what a run of
// the same variant executes.
func ReadChoices(w *workflow.Workflow) (*Choices, error) {
	c := &Choices{DetSizes: map[string]int{}, RecScales: map[string]float64{}, Settings: reference.DefaultSettings}
	// param returns the value of key for a node's step op under a variant (nil variant: the step's own).
	param := func(n *workflow.Node, op, key string, v *workflow.Variant) (float64, bool, error) {
		if v != nil {
			if x, ok := v.Params[key]; ok {
				f, ok := number(x)
				if !ok {
					return 0, false, fmt.Errorf("%s: node %q variant %q: params.%s = %v is not a number", w.Path, n.Name, v.Name, key, x)
				}
				return f, true, nil
			}
		}
		for _, steps := range [][]workflow.Step{n.Steps, n.Post} {
			for _, st := range steps {
				if st.Op != op {
					continue
				}
				if x, ok := st.Params[key]; ok {
					f, ok := number(x)
					if !ok {
						return 0, false, fmt.Errorf("%s: node %q step %s: %s = %v is not a number", w.Path, n.Name, op, key, x)
					}
					return f, true, nil
				}
			}
		}
		return 0, false, nil
	}
	hasOp := func(n *workflow.Node, op string) bool {
		for _, steps := range [][]workflow.Step{n.Steps, n.Post} {
			for _, st := range steps {
				if st.Op == op {
					return true
				}
			}
		}
		return false
	}
	for i := range w.Nodes {
		n := &w.Nodes[i]
		switch {
		case hasOp(n, opDetect):
			if n.Model == nil || len(n.Model.Variants) == 0 {
				return nil, fmt.Errorf("%s: node %q runs %s but has no model variants", w.Path, n.Name, opDetect)
			}
			c.DetNode = n.Name
			for _, v := range n.Model.Variants {
				size, ok, err := param(n, opDetect, "size", &v)
				if err != nil {
					return nil, err
				}
				if !ok {
					return nil, fmt.Errorf("%s: node %q variant %q: no detector size (step %s size, or params.size)", w.Path, n.Name, v.Name, opDetect)
				}
				c.DetSizes[v.Name] = int(size)
				c.DetOrder = append(c.DetOrder, v.Name)
				if filepath.Base(v.File) != ocr.DetectorFile {
					return nil, fmt.Errorf("%s: node %q variant %q: file %s, the profile knows %s only", w.Path, n.Name, v.Name, v.File, ocr.DetectorFile)
				}
				dir := filepath.Dir(w.Resolve(v.File))
				if c.ModelsDir != "" && c.ModelsDir != dir {
					return nil, fmt.Errorf("%s: models in %s and %s (one models folder)", w.Path, c.ModelsDir, dir)
				}
				c.ModelsDir = dir
			}
			for key, dst := range map[string]*float64{"thresh": &c.Settings.DB.Thresh, "box_thresh": &c.Settings.DB.BoxThresh, "unclip": &c.Settings.DB.Unclip, "min_size": &c.Settings.DB.MinSize} {
				if f, ok, err := param(n, opDB, key, nil); err != nil {
					return nil, err
				} else if ok {
					*dst = f
				}
			}
		case hasOp(n, opRec):
			if n.Model == nil || len(n.Model.Variants) == 0 {
				return nil, fmt.Errorf("%s: node %q runs %s but has no model variants", w.Path, n.Name, opRec)
			}
			c.RecNode = n.Name
			for _, v := range n.Model.Variants {
				scale, ok, err := param(n, opRec, "width_scale", &v)
				if err != nil {
					return nil, err
				}
				if !ok {
					scale = 1
				}
				c.RecScales[v.Name] = scale
				c.RecOrder = append(c.RecOrder, v.Name)
				if filepath.Base(v.File) != ocr.RecogniserFile {
					return nil, fmt.Errorf("%s: node %q variant %q: file %s, the profile knows %s only", w.Path, n.Name, v.Name, v.File, ocr.RecogniserFile)
				}
			}
			if f, ok, err := param(n, opRec, "width_step", nil); err != nil {
				return nil, err
			} else if ok {
				c.Settings.WidthStep = int(f)
			}
		case hasOp(n, opCrop):
			for key, dst := range map[string]*int{"piece": &c.Settings.Piece, "word_gap": &c.Settings.WordGap, "max_width": &c.Settings.MaxWidth} {
				if f, ok, err := param(n, opCrop, key, nil); err != nil {
					return nil, err
				} else if ok {
					*dst = int(f)
				}
			}
			if f, ok, err := param(n, opCrop, "pad", nil); err != nil {
				return nil, err
			} else if ok {
				c.Settings.CropPad = f
			}
		}
	}
	if c.DetNode == "" || c.RecNode == "" {
		return nil, fmt.Errorf("%s: no detector node (step %s) or no recogniser node (step %s)", w.Path, opDetect, opRec)
	}
	return c, nil
}

// ComboFigures is one combination's measurement, as ocr-accuracy.json records it.
type ComboFigures struct {
	Variants     map[string]string `json:"variants"`
	CER          float64           `json:"cer"`
	WordAccuracy float64           `json:"word_accuracy"`
	LineRecall   float64           `json:"line_recall"`
	DetMs        float64           `json:"det_ms_per_page"` // time inside the detector's Run, per page
	RecMs        float64           `json:"rec_ms_per_page"`
	ModelMs      float64           `json:"model_ms_per_page"`
}

// Profile is every combination's figures on a manifest.
type Profile struct {
	Pages   int            `json:"pages"`
	Threads int            `json:"threads"`
	Combos  []ComboFigures `json:"combinations"`
}

// Measure runs every (detector, recogniser) variant combination of the workflow's choices on the pages
// of a manifest with the reference pipeline (detection and crops shared by the recogniser variants of a
// detector size) and returns each combination's figures, in workflow variant order.
func Measure(c *Choices, manifest string, threads int, log io.Writer) (*Profile, error) {
	if log == nil {
		log = io.Discard
	}
	pages, err := dataset.LoadManifest(manifest)
	if err != nil {
		return nil, err
	}
	if len(pages) == 0 {
		return nil, fmt.Errorf("%s: no pages", manifest)
	}
	if threads < 1 {
		threads = 1
	}
	p, err := reference.Open(c.ModelsDir, threads, c.Settings)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	type acc struct {
		score    metrics.Score
		det, rec time.Duration
	}
	res := map[[2]string]*acc{}
	for _, d := range c.DetOrder {
		for _, r := range c.RecOrder {
			res[[2]string{d, r}] = &acc{}
		}
	}
	base := filepath.Dir(manifest)
	for k, pg := range pages {
		img, err := ocr.LoadPage(filepath.Join(base, pg.Image))
		if err != nil {
			return nil, fmt.Errorf("%s: page %d: %w", manifest, pg.ID, err)
		}
		for _, d := range c.DetOrder {
			boxes, dd, err := p.Detect(img, c.DetSizes[d])
			if err != nil {
				return nil, fmt.Errorf("page %d, %s: %w", pg.ID, d, err)
			}
			crops, err := p.Crop(img, boxes)
			if err != nil {
				return nil, fmt.Errorf("page %d, %s: %w", pg.ID, d, err)
			}
			for _, r := range c.RecOrder {
				texts, tm, err := p.Recognise(crops, false, c.RecScales[r])
				if err != nil {
					return nil, fmt.Errorf("page %d, %s: %w", pg.ID, r, err)
				}
				var lines []metrics.Line
				for i, b := range boxes {
					if texts[i] != "" {
						lines = append(lines, metrics.Line{Text: texts[i], Box: b.Bounds()})
					}
				}
				a := res[[2]string{d, r}]
				a.score = a.score.Add(metrics.ScorePage(pg.Lines, lines))
				a.det += dd
				a.rec += tm.Rec
			}
		}
		fmt.Fprintf(log, "ocr profile: page %d/%d\n", k+1, len(pages))
	}
	per := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(len(pages)) }
	out := &Profile{Pages: len(pages), Threads: threads}
	for _, d := range c.DetOrder {
		for _, r := range c.RecOrder {
			a := res[[2]string{d, r}]
			out.Combos = append(out.Combos, ComboFigures{
				Variants: map[string]string{c.DetNode: d, c.RecNode: r},
				CER:      a.score.CER(), WordAccuracy: a.score.WordAccuracy(), LineRecall: a.score.Recall(),
				DetMs: per(a.det), RecMs: per(a.rec), ModelMs: per(a.det + a.rec),
			})
		}
	}
	return out, nil
}

// Table renders the profile as a Markdown table (detector variant, recogniser variant, figures).
func (p *Profile) Table(c *Choices, what string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "OCR accuracy profile: %d pages %s, %d intra-op thread(s) per session\n\n", p.Pages, what, p.Threads)
	fmt.Fprintf(&b, "| %s | %s | CER %% | word acc %% | line recall %% | det ms/page | rec ms/page | model ms/page |\n|---|---|---|---|---|---|---|---|\n", c.DetNode, c.RecNode)
	for _, x := range p.Combos {
		fmt.Fprintf(&b, "| %s | %s | %.2f | %.2f | %.2f | %.0f | %.0f | %.0f |\n", x.Variants[c.DetNode], x.Variants[c.RecNode],
			x.CER, x.WordAccuracy, x.LineRecall, x.DetMs, x.RecMs, x.ModelMs)
	}
	return b.String()
}

func profileAccuracy(o registry.AccuracyOptions) (*registry.Accuracy, error) {
	w, err := workflow.Load(o.Workflow)
	if err != nil {
		return nil, err
	}
	c, err := ReadChoices(w)
	if err != nil {
		return nil, err
	}
	p, err := Measure(c, o.Manifest, o.Threads, o.Log)
	if err != nil {
		return nil, err
	}
	if o.Out != "" {
		if err := os.MkdirAll(o.Out, 0o755); err != nil {
			return nil, err
		}
		data, _ := json.MarshalIndent(p, "", "  ")
		if err := os.WriteFile(filepath.Join(o.Out, "ocr-accuracy.json"), append(data, '\n'), 0o644); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(o.Out, "ocr-accuracy.md"), []byte(p.Table(c, o.What)), 0o644); err != nil {
			return nil, err
		}
	}
	acc := &registry.Accuracy{Workload: Name, Metric: AccuracyMetric, Items: p.Pages}
	for _, x := range p.Combos {
		acc.Combos = append(acc.Combos, registry.Combo{Variants: x.Variants, Accuracy: x.WordAccuracy})
	}
	return acc, nil
}
