#!/usr/bin/env bash
# Runs ON the GPU host (no Go, no internet): reassembles the bundle that job/setup/gpu-bundle.sh made and runs
# `jellybean gpucheck`. See job/setup/GPU-CHECK.md.
#
#   gpu-check.sh --stash DIR   move one call's pieces (DIR, a carried .cache/gpu-bundle/call-N) to the stash
#   gpu-check.sh [gpucheck flags]   check the stash is complete, unpack, set LD_LIBRARY_PATH, run gpucheck
#
# JELLYBEAN_GPU_PARTS (default "vqa ocr sessions") picks the workloads checked, each with its gpucheck and its GPU
# profile: vqa (the shipped models, a random-weight ResNet-50 at 448x448, the mixed VQA job) and ocr (the
# pretrained PP-OCRv4 detector at each input size and recogniser, the mixed OCR job) and shapes (what a new
# input shape costs the OCR models on the GPU; a measurement, not a check) and fill (the mixed OCR job with
# the recogniser on the GPU, partial micro-batches filled up or not) and revisit (what running a shape
# again after other shapes costs the OCR models) and sessions (the mixed OCR job with the recogniser on
# the GPU, which keeps a session per recurring input shape).
#
# The stash ($JELLYBEAN_GPU_STASH, default /var/tmp/jellybean-gpu-bundle) lies outside the working tree, so
# it survives between calls while the machine stays warm. Results go to $OUT (the device tool's folder)
# when set, else to the stash: gpucheck*.md (the tables), gpucheck.log (everything) and results.tar (the JSON
# reports and the GPU profiles).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
stash=${JELLYBEAN_GPU_STASH:-/var/tmp/jellybean-gpu-bundle}
say() { echo "gpu-check: $*" >&2; }
die() { say "$*"; exit 1; }
mkdir -p "$stash"

if [ "${1:-}" = "--stash" ]; then
  [ -d "${2:-}" ] || die "--stash needs the carried folder (got '${2:-}')"
  cp -f "$2"/* "$stash"/
  say "stashed $(ls "$2" | tr '\n' ' ')in $stash ($(du -sh "$stash" | cut -f1) so far)"
  exit 0
fi

results=${OUT:-$stash}
mkdir -p "$results"
exec > >(tee "$results/gpucheck.log") 2>&1

# 1. Every piece present?
[ -f "$stash/SHA256SUMS" ] && [ -f "$stash/CUDA_PARTS" ] || die "$stash lacks SHA256SUMS/CUDA_PARTS: the first call's pieces are missing (the machine went back between calls?); start again from call 1"
missing=()
for f in unzstd jellybean.zst libonnxruntime.so.1.zst libonnxruntime_providers_shared.so data.tar ocr-models.tar $(cat "$stash/CUDA_PARTS"); do
  [ -f "$stash/$f" ] || missing+=("$f")
done
[ ${#missing[@]} -eq 0 ] || die "missing pieces in $stash: ${missing[*]} (the machine went back between calls?); start again from call 1"

# 2. Unpack: the ORT core and both providers in one folder (the core loads the providers from its own folder).
ortdir=$stash/ort
mkdir -p "$ortdir" bin
chmod +x "$stash/unzstd"
sum() { grep " $1\$" "$stash/SHA256SUMS" | cut -d' ' -f1; }
"$stash/unzstd" -o bin/jellybean -sha256 "$(sum jellybean)" "$stash/jellybean.zst"
"$stash/unzstd" -o "$ortdir/libonnxruntime.so.1" -sha256 "$(sum libonnxruntime.so.1)" "$stash/libonnxruntime.so.1.zst"
# shellcheck disable=SC2046
"$stash/unzstd" -o "$ortdir/libonnxruntime_providers_cuda.so" -sha256 "$(sum libonnxruntime_providers_cuda.so)" $(sed "s|^|$stash/|" "$stash/CUDA_PARTS")
cp "$stash/libonnxruntime_providers_shared.so" "$ortdir/"
(cd "$ortdir" && grep -v ' jellybean$' "$stash/SHA256SUMS" | sha256sum -c --quiet) || die "library checksums differ"
tar -C "$stash" -xf "$stash/data.tar"
dataset=$stash/data/test/manifest.jsonl
[ -f "$dataset" ] || die "$dataset missing after unpacking data.tar"

# 3. Libraries: fetch-onnxruntime-cuda.sh finds nothing to download (the providers pass their sha256 check)
#    and prints the CUDA 13 / cuDNN 9 folders (e.g. the PyTorch venv's nvidia/*/lib), or names what is missing.
export JELLYBEAN_ORT_LIB=$ortdir/libonnxruntime.so.1
# Without them gpucheck still runs: a GPU host then shows the CUDA error in every row, a CPU-only host the
# CPU column.
cudalibs=$(JELLYBEAN_ORT_CUDA_DIR=$ortdir job/setup/fetch-onnxruntime-cuda.sh) || say "CUDA libraries not found (above); going on"
export LD_LIBRARY_PATH=$ortdir${cudalibs:+:$cudalibs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
say "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"

# 4. Host facts.
say "host $(hostname), $(nproc) CPUs, $(ldd --version | head -1), $(uname -r), $(date -u +%FT%TZ)"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
bin/jellybean devices
status=0
parts=${JELLYBEAN_GPU_PARTS:-vqa ocr sessions}

# 5. VQA: a random-weight ResNet-50 at 3x448x448 (features, fc removed), exported here with the host's
#    PyTorch, so the table also holds the model the issue's 10x figure refers to (VQA's models are tiny);
#    then the check (its own SIGTERM step aborts a running job through its CUDA rank) and the optimizer's
#    latency profile of the models on the GPU (latency.csv, execution_profile*.csv): what `jellybean loop`
#    would feed the optimizer for this host.
check_vqa() {
  local extra=()
  mkdir -p "$stash/extra"
  if [ -f "$stash/extra/resnet50_448.onnx" ] || python3 - "$stash/extra/resnet50_448.onnx" <<'PY'
import sys, torch, torchvision
torch.manual_seed(0)
m = torchvision.models.resnet50(weights=None)
m.fc = torch.nn.Identity()
m.eval()
x = torch.randn(1, 3, 448, 448)
kw = dict(input_names=["image"], output_names=["features"], opset_version=17,
          dynamic_axes={"image": {0: "n"}, "features": {0: "n"}})
try:
    torch.onnx.export(m, x, sys.argv[1], dynamo=False, **kw)
except TypeError:  # a torch without the dynamo switch
    torch.onnx.export(m, x, sys.argv[1], **kw)
PY
  then
    extra=(--extra "$stash/extra")
  else
    say "could not export ResNet-50 with python3 (torch, torchvision); timing the shipped models only"
  fi
  local st=0
  timeout "${JELLYBEAN_GPU_VQA_SECONDS:-200}" bin/jellybean gpucheck --json "$results/gpucheck.json" --dataset "$dataset" \
    "${extra[@]}" "$@" > "$results/gpucheck.md" || st=$?
  cat "$results/gpucheck.md"
  [ "$st" -eq 0 ] || { say "VQA gpucheck exited with status $st (124 = over its time limit)"; status=$st; }
}
profile_vqa() { profile_cuda "$results/profile-cuda" 90 --data "$dataset" --items 16 --batch 1,8 --repeats 20; }

# 6. OCR: the pretrained PP-OCRv4 models (the detector at 480-1280 pixels, the recogniser on a page's line
#    pieces) and the mixed OCR job with its detector rank on the GPU, on 16 generated pages.
# ocr_models unpacks the PP-OCRv4 models into workloads/ocr/models (checked against their pinned sums).
ocr_models() {
  local cache=$stash/cache
  mkdir -p "$cache/ocr-models/1.4.2"
  tar -C "$cache/ocr-models/1.4.2" -xf "$stash/ocr-models.tar"
  rm -f workloads/ocr/models # a link to the development machine's cache, if the working tree carried one
  JELLYBEAN_CACHE=$cache workloads/ocr/fetch-models.sh >/dev/null || { say "OCR models fail their checks"; status=1; return 1; }
}
check_ocr() {
  ocr_models || return 0 # status is set: the other parts still run
  bin/jellybean gen-data --workload ocr --split test -n 16 >/dev/null
  local st=0
  timeout "${JELLYBEAN_GPU_OCR_SECONDS:-200}" bin/jellybean gpucheck --workload ocr --plan plan/examples/ocr.toml --stage Detect --items 16 \
    --runs 5 --json "$results/gpucheck-ocr.json" "$@" > "$results/gpucheck-ocr.md" || st=$?
  cat "$results/gpucheck-ocr.md"
  [ "$st" -eq 0 ] || { say "OCR gpucheck exited with status $st (124 = over its time limit)"; status=$st; }
}
# On this 2-core machine the same profile on the CPU takes 4 min 40 s (the detector at 1,280 pixels is 5 s a
# batch of 8 there); on the GPU host the models are fast and the CPU steps have 16 cores.
profile_ocr() {
  profile_cuda "$results/profile-cuda-ocr" "${JELLYBEAN_GPU_OCR_PROFILE_SECONDS:-200}" --workload ocr --data workloads/ocr/data/test/manifest.jsonl --items 8 \
    --batch 1,8 --repeats 5
}

# shapes: what a new input shape costs the OCR models on the GPU (`jellybean bench shapes`), under the
# default settings and two alternatives, each in a process of its own. Not a check: nothing here fails.
check_shapes() {
  ocr_models || return 0 # status is set: the other parts still run
  local rec=workloads/ocr/models/ch_PP-OCRv4_rec_infer.onnx det=workloads/ocr/models/ch_PP-OCRv4_det_infer.onnx
  local recs="8x3x48x64" dets="1x3x480x480" w b
  for w in $(seq 96 32 480); do recs+=",8x3x48x$w"; done
  for b in 1 2 3 4 5 6 7; do recs+=",${b}x3x48x320"; done
  for w in 512 544 576 608 640 672; do dets+=",1x3x480x$w"; done
  local setting
  for setting in "" "CUDA_MODULE_LOADING=EAGER" "JELLYBEAN_CUDNN_CONV_ALGO_SEARCH=DEFAULT"; do
    env $setting timeout "${JELLYBEAN_GPU_SHAPES_SECONDS:-45}" bin/jellybean bench shapes --device cuda:0 --model "$rec" \
      --shapes "$recs" --label "recogniser, ${setting:-default settings}" || say "bench shapes (recogniser, ${setting:-default}) failed or ran out of time"
    env $setting timeout "${JELLYBEAN_GPU_SHAPES_SECONDS:-45}" bin/jellybean bench shapes --device cuda:0 --model "$det" \
      --shapes "$dets" --label "detector, ${setting:-default settings}" || say "bench shapes (detector, ${setting:-default}) failed or ran out of time"
  done
}
profile_shapes() { :; }

# revisit: each shape once, then each again after the others (`bench shapes` prints both): does the CUDA
# provider keep what it prepared per shape, or only for the shape it ran last? Not a check.
check_revisit() {
  ocr_models || return 0
  local rec=workloads/ocr/models/ch_PP-OCRv4_rec_infer.onnx det=workloads/ocr/models/ch_PP-OCRv4_det_infer.onnx
  local recs="8x3x48x320" w
  for w in 96 128 160 192 224 256; do recs+=",8x3x48x$w"; done
  timeout "${JELLYBEAN_GPU_SHAPES_SECONDS:-45}" bin/jellybean bench shapes --device cuda:0 --model "$rec" --shapes "$recs" \
    --label "recogniser, revisits" || say "bench shapes (recogniser, revisits) failed or ran out of time"
  timeout "${JELLYBEAN_GPU_SHAPES_SECONDS:-45}" bin/jellybean bench shapes --device cuda:0 --model "$det" \
    --shapes "1x3x480x480,1x3x480x512,1x3x480x544,1x3x480x576,1x3x480x608" --label "detector, revisits" ||
    say "bench shapes (detector, revisits) failed or ran out of time"
}
profile_revisit() { :; }

# sessions: the mixed OCR job with the recogniser's first worker on the GPU, which keeps a session per
# recurring input shape (job/flow/sessions.go): 16 pages took 18 s on an H200 (over 120 s with one
# session). A measurement, run after every check.
check_sessions() { :; }
profile_sessions() {
  ocr_models || return 0
  bin/jellybean gen-data --workload ocr --split test -n 16 >/dev/null
  # JELLYBEAN_GPU_SESSIONS_COMPARE=1 also runs it with one session per model (over 120 s on an H200)
  # The GPU's memory in use is sampled while it runs (each session holds its own memory pool): the most
  # seen is printed after.
  local n sampler=""
  for n in "" ${JELLYBEAN_GPU_SESSIONS_COMPARE:+1}; do
    say "mixed OCR job, Recognise on cuda:0, JELLYBEAN_GPU_SHAPE_SESSIONS=${n:-(default)}:"
    if command -v nvidia-smi >/dev/null; then
      nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 500 > "$results/memory$n.txt" 2>/dev/null &
      sampler=$!
    fi
    JELLYBEAN_GPU_SHAPE_SESSIONS=$n timeout "${JELLYBEAN_GPU_SESSIONS_SECONDS:-150}" bin/jellybean gpucheck --workload ocr \
      --plan plan/examples/ocr.toml --stage Recognise --items 16 --runs 1 --batches 8 --json "" > "$results/sessions$n.md" ||
      say "that gpucheck exited with status $? (124 = over its time limit)"
    if [ -n "$sampler" ]; then
      kill "$sampler" 2>/dev/null || true
      wait "$sampler" 2>/dev/null || true
      say "GPU memory in use during it: at most $(sort -n "$results/memory$n.txt" | tail -1) MiB (sampled every 0.5 s; the gpucheck rows before the job included)"
      rm -f "$results/memory$n.txt"
    fi
    grep -E "^\| mixed job|checks" "$results/sessions$n.md" || true
    rm -f "$results/sessions$n.md"
  done
}

# fill: the mixed OCR job with the recogniser's first worker on the GPU, with partial micro-batches filled
# up (the default) and not (JELLYBEAN_GPU_FULL_BATCHES=0): what the filling saves. Not a check, so it
# runs with the profiles, after every check.
profile_fill() {
  ocr_models || return 0
  bin/jellybean gen-data --workload ocr --split test -n 16 >/dev/null
  local fill
  for fill in 1 0; do
    say "mixed OCR job, Recognise on cuda:0, JELLYBEAN_GPU_FULL_BATCHES=$fill:"
    JELLYBEAN_GPU_FULL_BATCHES=$fill timeout "${JELLYBEAN_GPU_FILL_SECONDS:-150}" bin/jellybean gpucheck --workload ocr \
      --plan plan/examples/ocr.toml --stage Recognise --items 16 --runs 1 --batches 8 --json "" | grep -E "^\| mixed job|checks" || true
  done
}
check_fill() { :; }

# profile_cuda DIR SECONDS FLAGS...: `jellybean profile --device cuda` into DIR, within SECONDS. Over time it
# gets SIGQUIT, on which a Go program prints every goroutine's stack: the log then says where it was.
profile_cuda() {
  local dir=$1 secs=$2
  shift 2
  if timeout -s QUIT -k 10 "$secs" bin/jellybean profile --device cuda "$@" -o "$dir" > "$dir.log" 2>&1; then
    say "GPU profile: $dir/latency.csv"
    cat "$dir/latency.csv"
  else
    say "jellybean profile --device cuda failed or ran over ${secs} s; see $dir.log"
    tail -5 "$dir.log"
  fi
}

# For comparison only (its result does not count): the OCR models with TF32 allowed, the CUDA provider's own
# default, which JellyBean turns off (job/onnx/options.go says why).
tf32_ocr() {
  JELLYBEAN_CUDA_TF32=1 timeout "${JELLYBEAN_GPU_TF32_SECONDS:-100}" bin/jellybean gpucheck --workload ocr --plan plan/examples/ocr.toml \
    --stage Detect --items 16 --runs 5 --json "$results/gpucheck-ocr-tf32.json" "$@" > "$results/gpucheck-ocr-tf32.md" || true
  cat "$results/gpucheck-ocr-tf32.md"
}

# The device tool brings back at most 8 files: the tables and the log stay loose, the rest goes into one tar.
pack_results() {
  local rest=()
  for f in "$results"/gpucheck*.json "$results"/profile-cuda*; do [ -e "$f" ] && rest+=("$(basename "$f")"); done
  [ ${#rest[@]} -gt 0 ] || return 0
  tar -C "$results" -cf "$results/results.tar" "${rest[@]}" || { say "packing failed; the results stay loose"; return 0; }
  (cd "$results" && rm -rf "${rest[@]}")
  say "packed ${rest[*]} into $results/results.tar"
}

# The checks first, then the profiles: if the call runs out of time, the checks are what matter most.
for part in $parts; do
  case $part in
    vqa) check_vqa "$@" ;;
    ocr) check_ocr "$@" ;;
    shapes) check_shapes ;;
    fill) check_fill ;;
    revisit) check_revisit ;;
    sessions) check_sessions ;;
    *) die "JELLYBEAN_GPU_PARTS: unknown part '$part' (vqa, ocr, shapes, fill, revisit, sessions)" ;;
  esac
done
for part in $parts; do
  "profile_$part"
done
case " $parts " in *" ocr "*) tf32_ocr "$@" ;; esac
pack_results
exit "$status"
