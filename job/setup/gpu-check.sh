#!/usr/bin/env bash
# Runs ON the GPU host (no Go, no internet): reassembles the bundle that job/setup/gpu-bundle.sh made and runs
# `jellybean gpucheck`. See job/setup/GPU-CHECK.md.
#
#   gpu-check.sh --stash DIR   move one call's pieces (DIR, a carried .cache/gpu-bundle/call-N) to the stash
#   gpu-check.sh [gpucheck flags]   check the stash is complete, unpack, set LD_LIBRARY_PATH, run gpucheck
#
# The stash ($JELLYBEAN_GPU_STASH, default /var/tmp/jellybean-gpu-bundle) lies outside the working tree, so
# it survives between calls while the machine stays warm. Results go to $OUT (the device tool's folder)
# when set, else to the stash: gpucheck.md (the table), gpucheck.json, gpucheck.log (everything).
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
for f in unzstd jellybean.zst libonnxruntime.so.1.zst libonnxruntime_providers_shared.so data.tar $(cat "$stash/CUDA_PARTS"); do
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

# 4. A random-weight ResNet-50 at 3x448x448 (features, fc removed), exported here with the host's PyTorch,
#    so the table also holds the model the issue's 10x figure refers to (our shipped models are tiny).
extra=()
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

# 5. Host facts, then the check (its own SIGTERM step aborts a running job through its CUDA rank).
say "host $(hostname), $(nproc) CPUs, $(ldd --version | head -1), $(uname -r), $(date -u +%FT%TZ)"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
bin/jellybean devices
status=0
timeout 290 bin/jellybean gpucheck --json "$results/gpucheck.json" --dataset "$dataset" "${extra[@]}" "$@" > "$results/gpucheck.md" || status=$?
cat "$results/gpucheck.md"
[ "$status" -eq 0 ] || say "gpucheck exited with status $status (124 = over the 290 s limit)"

# 6. The optimizer's latency profile of the shipped models on the GPU (latency.csv, execution_profile*.csv):
#    what `jellybean loop` would feed the optimizer for this host.
if timeout 120 bin/jellybean profile --device cuda --data "$dataset" --items 16 --batch 1,8 --repeats 20 \
    -o "$results/profile-cuda" > "$results/profile-cuda.log" 2>&1; then
  say "GPU profile: $results/profile-cuda/latency.csv"
  cat "$results/profile-cuda/latency.csv"
else
  say "jellybean profile --device cuda failed; see $results/profile-cuda.log"
  tail -5 "$results/profile-cuda.log"
fi
exit "$status"
