package report

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
)

// Write renders the report of the run in runDir into outDir: index.html (self-contained: the charts are
// embedded as data: URLs) and the same charts as PNG files beside it. It returns the page's path.
// profileDir, when not empty, is a `jellybean profile` output whose message sizes are compared with the
// bytes measured per edge.
func Write(runDir, profileDir, outDir string) (string, error) {
	r, err := Load(runDir)
	if err != nil {
		return "", err
	}
	if profileDir != "" {
		if err := r.LoadProfile(profileDir); err != nil {
			return "", err
		}
	}
	a := Analyse(r)
	charts, err := Charts(a)
	if err != nil {
		return "", err
	}
	page, err := HTML(a, charts)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	for _, c := range charts {
		if err := os.WriteFile(filepath.Join(outDir, c.Name+".png"), c.PNG, 0o644); err != nil {
			return "", err
		}
	}
	path := filepath.Join(outDir, "index.html")
	return path, os.WriteFile(path, page, 0o644)
}

type figure struct {
	Name, Title string
	Src         template.URL
}

// HTML renders the page.
func HTML(a *Analysis, charts []Chart) ([]byte, error) {
	var figs []figure
	for _, c := range charts {
		figs = append(figs, figure{c.Name, c.Title, template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(c.PNG))})
	}
	var buf bytes.Buffer
	err := page.Execute(&buf, struct {
		A       *Analysis
		Figures []figure
		Tol     float64
	}{a, figs, ThroughputTolerance * 100})
	return buf.Bytes(), err
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"f1":  func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"f2":  func(v float64) string { return fmt.Sprintf("%.2f", v) },
	"pct": func(v float64) string { return fmt.Sprintf("%.0f%%", v*100) },
	"mb":  func(v int64) string { return fmt.Sprintf("%.2f", float64(v)/1e6) },
	"inc": func(i int) int { return i + 1 },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>JellyBean run report: {{.A.Job}}</title>
<style>
body{font-family:sans-serif;max-width:70em;margin:1em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #bbb;padding:.2em .5em;text-align:right}
th{background:#eee}td:first-child{text-align:left}.off{background:#fde2d0}
.finding{background:#fff6dc;border-left:4px solid #e0a800;padding:.3em .6em;margin:.3em 0}
figure{display:inline-block;margin:.5em}
</style></head><body>
<h1>Run report: {{.A.Job}}</h1>
<p id="overview">{{.A.Completed}} of {{.A.Items}} items completed in {{f2 .A.WallSeconds}} s:
<b id="throughput">{{f1 .A.Throughput}} items/s</b>{{if gt .A.SteadyThroughput 0.0}}, <span id="steady-throughput">{{f1 .A.SteadyThroughput}} items/s</span> from the first result to the last{{end}}{{if gt .A.PredictedThroughput 0.0}} (predicted {{f1 .A.PredictedThroughput}} items/s){{end}}.
Bytes between ranks: {{mb .A.BytesRaw}} MB raw, {{mb .A.BytesWire}} MB on the wire.
{{if gt (index .A.PredictedCost 2) 0.0}}Predicted cost: compute {{f2 (index .A.PredictedCost 0)}}, communication {{f2 (index .A.PredictedCost 1)}}, total {{f2 (index .A.PredictedCost 2)}}.{{end}}</p>

<h2>Differences explained</h2>
<div id="findings">{{range .A.Findings}}<p class="finding">{{.}}</p>{{else}}<p>Every figure is within tolerance ({{f1 .Tol}} % throughput, 1 point accuracy).</p>{{end}}</div>

<h2>Throughput per stage</h2>
<table id="stages"><tr><th>stage</th><th>op</th><th>variant</th><th>workers</th><th>items</th><th>predicted items/s</th><th>measured items/s</th><th>measured/predicted</th><th>predicted capacity items/s</th><th>measured capacity items/s</th><th>model ms/item</th><th>runner ms/item</th></tr>
{{range .A.Stages}}<tr id="stage-{{.Name}}"{{if .Explanation}} class="off"{{end}}><td>{{.Name}}</td><td>{{.Op}}</td><td>{{.Variant}}</td><td>{{.Workers}}</td><td>{{.Items}}</td><td class="predicted{{if .OwnPrediction}} own{{end}}">{{if gt .Predicted 0.0}}{{f1 .Predicted}}{{else}}–{{end}}</td><td class="measured">{{f1 .Measured}}</td><td class="ratio">{{if gt .Ratio 0.0}}{{pct .Ratio}}{{else}}–{{end}}</td><td>{{if gt .PredictedCapacity 0.0}}{{f1 .PredictedCapacity}}{{else}}–{{end}}</td><td>{{f1 .Capacity}}</td><td>{{f2 .ModelMs}}</td><td>{{f2 .OtherMs}}</td></tr>
{{end}}</table>

{{if .A.Capacity}}<h2>Capacity per stage: profile vs run</h2>
<p id="capacity-note">Capacity is the items per second a stage's workers sustain, each on a core of its own: predicted from the profile's CPU time per item (op plus the runner's own work) at the run's mean micro-batch, the micro-batches that found their worker parked ("starved") at the profile's cost from cold, measured as items per CPU second of each worker's process. Items are each stage's own (sub-items after a fan-out, parents after a fan-in); "per source item" says how many a source item makes.{{if gt .A.PredictedMaximum 0.0}} Without pacing the plan carries at most <b id="predicted-maximum">{{f1 .A.PredictedMaximum}} items/s</b>, set by {{.A.Bottleneck}} at the plan's batch size.{{end}}</p>
<table id="capacity"><tr><th>stage</th><th>variant</th><th>workers</th><th>per source item</th><th>mean batch</th><th>predicted at plan batch</th><th>predicted in the run</th><th>measured</th><th>measured/predicted</th><th>basis</th><th>busy</th><th>starved</th></tr>
{{range .A.Capacity}}<tr id="capacity-{{.Stage}}"{{if .Explanation}} class="off"{{end}}><td>{{.Stage}}</td><td>{{.Variant}}</td><td>{{.Workers}}</td><td>{{f2 .Units}}</td><td>{{f2 .MeanBatch}} / {{.PlanBatch}}</td><td>{{f1 .AtPlanBatch}}</td><td class="predicted">{{f1 .Predicted}}</td><td class="measured">{{f1 .Measured}}</td><td class="ratio">{{if gt .Ratio 0.0}}{{pct .Ratio}}{{else}}–{{end}}</td><td>{{.Basis}}</td><td>{{if gt .Busy 0.0}}{{pct .Busy}}{{else}}–{{end}}</td><td>{{pct .Starved}}</td></tr>
{{end}}</table>{{end}}

<h2>Links</h2>
<table id="links"><tr><th>#</th><th>rank → rank</th><th>messages</th><th>raw MB</th><th>wire MB</th><th>compression (raw/wire)</th></tr>
{{range $i, $l := .A.Links}}<tr><td>{{inc $i}}</td><td>{{$l.Label}}</td><td>{{$l.Messages}}</td><td>{{mb $l.BytesRaw}}</td><td>{{mb $l.BytesWire}}</td><td>{{f2 $l.Compression}}</td></tr>
{{end}}</table>

{{if .A.Edges}}<h2>Bytes per item: measured vs profiled</h2>
<table id="edges"><tr><th>edge</th><th>variant</th><th>items</th><th>measured raw KB/item</th><th>profiled raw KB</th><th>measured/profiled</th><th>measured wire KB/item</th><th>profiled zstd KB</th></tr>
{{range .A.Edges}}<tr{{if .Explanation}} class="off"{{end}}><td>{{.From}} → {{.To}}</td><td>{{.Variant}}</td><td>{{.Items}}</td><td>{{f2 .RawKB}}</td><td>{{f2 .ProfileRawKB}}</td><td>{{pct .Ratio}}</td><td>{{f2 .WireKB}}</td><td>{{f2 .ProfileZstdKB}}</td></tr>
{{end}}</table>{{end}}

<h2>Latency</h2>
<table id="latency"><tr>{{range .A.LatencyPercentiles}}<th>p{{index . 0}}</th>{{end}}</tr>
<tr>{{range .A.LatencyPercentiles}}<td>{{f1 (index . 1)}} ms</td>{{end}}</tr></table>

<h2>Accuracy</h2>
<p id="accuracy">{{if ge .A.MeasuredAccuracy 0.0}}Measured accuracy ({{.A.AccuracyMetric}}) {{f2 .A.MeasuredAccuracy}} %{{range .A.OtherMetrics}}, {{.Name}} {{f2 .Value}}{{end}}{{else}}Not measured{{end}}{{if gt .A.PredictedAccuracy 0.0}}; predicted {{f2 .A.PredictedAccuracy}} %{{end}}.</p>

<h2>Charts</h2>
{{range .Figures}}<figure><img class="chart" id="chart-{{.Name}}" alt="{{.Title}}" src="{{.Src}}"><figcaption>{{.Title}}</figcaption></figure>
{{end}}
<p id="image-check">images not checked (scripts disabled)</p>
<script>
// Marks whether every chart decoded, so that a headless browser's DOM dump shows it.
window.addEventListener("load", function () {
  var imgs = document.querySelectorAll("img.chart"), ok = 0;
  imgs.forEach(function (i) { if (i.complete && i.naturalWidth > 0) ok++; });
  document.getElementById("image-check").textContent = "images decoded: " + ok + "/" + imgs.length;
});
</script>
</body></html>
`))
