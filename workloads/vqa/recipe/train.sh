#!/usr/bin/env bash
# Re-trains every shipped model of the spoken-VQA workload; see README.md beside this file.
set -euo pipefail
cd "$(dirname "$0")/../../.."
PY=${PYTHON:-/usr/bin/python3}
OUT=${OUT:-workloads/vqa/models}
go build -o bin/jellybean ./job
bin/jellybean gen-data --split all
mkdir -p "$OUT"
"$PY" workloads/vqa/recipe/train.py --part image --minutes "${IMAGE_MINUTES:-7,9,14}" --out "$OUT" > "$OUT/train_image.log" 2>&1 &
img=$!
"$PY" workloads/vqa/recipe/train.py --part asr --minutes "${ASR_MINUTES:-8,20}" --out "$OUT" > "$OUT/train_asr.log" 2>&1 &
asr=$!
status=0
wait "$img" || { echo "image training failed, see $OUT/train_image.log" >&2; status=1; }
wait "$asr" || { echo "speech training failed, see $OUT/train_asr.log" >&2; status=1; }
[ "$status" = 0 ] || exit 1
"$PY" workloads/vqa/recipe/train.py --part finish --out "$OUT"
bin/jellybean eval --profile --split val
