#!/usr/bin/env bash
# Prepares, on a machine with Go and internet, everything job/setup/gpu-check.sh needs on a GPU host that has
# neither (the device tool's machines), and prints the exact device-tool calls to make.
#
# The device tool sends the working tree plus at most 8 `carry` paths, 64 MiB in all per call, and keeps
# files between calls only while the machine stays warm (about 30 s after a call). The CUDA provider alone
# is 230 MB (~150-170 MB zstd-compressed), so the bundle is cut into pieces packed into several calls:
#   .cache/gpu-bundle/call-1/ ... call-N/   each fits one call beside the working tree
# Pieces: jellybean.zst (the binary), unzstd (static, CGO_ENABLED=0), libonnxruntime.so.1.zst (the core),
# libonnxruntime_providers_shared.so, cuda.zst.NN (the split, zstd-compressed CUDA provider), data.tar
# (a small test split for the mixed job), ocr-models.tar (the OCR workflow's pretrained PP-OCRv4 models, as
# workloads/ocr/fetch-models.sh pins them) and SHA256SUMS (of the decompressed files).
#
# Environment: JELLYBEAN_BUNDLE_CALL_MIB (payload per call; default 62 MiB minus the working tree),
# JELLYBEAN_BUNDLE_PART_MIB (CUDA provider part size, default 10), JELLYBEAN_BUNDLE_ITEMS (test items, 16),
# JELLYBEAN_BUNDLE_LEVEL (zstd level for the provider, default 15; 19 saves a call but takes ~15 min here).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$(pwd)
out=.cache/gpu-bundle
part_mib=${JELLYBEAN_BUNDLE_PART_MIB:-2}
items=${JELLYBEAN_BUNDLE_ITEMS:-16}
say() { echo "gpu-bundle: $*" >&2; }
die() { say "$*"; exit 1; }
for tool in go zstd split sha256sum tar git; do command -v $tool >/dev/null || die "$tool not found"; done
export PATH="$PATH:/usr/local/go/bin"

# 1. ONNX Runtime core and CUDA provider (fetch-onnxruntime-cuda.sh places the provider beside the core and
#    then looks for CUDA libraries, which a CPU-only machine lacks: that last step may fail here).
core=$(job/setup/fetch-onnxruntime.sh)
ortdir=$(dirname "$core")
job/setup/fetch-onnxruntime-cuda.sh >/dev/null 2>/tmp/gpu-bundle-fetch.$$ || true
for f in libonnxruntime_providers_cuda.so libonnxruntime_providers_shared.so; do
  [ -f "$ortdir/$f" ] || { cat /tmp/gpu-bundle-fetch.$$ >&2; rm -f /tmp/gpu-bundle-fetch.$$; die "$ortdir/$f missing after fetch-onnxruntime-cuda.sh"; }
done
rm -f /tmp/gpu-bundle-fetch.$$

# 2. Binaries. jellybean needs cgo (onnxruntime_go dlopens ONNX Runtime), so it links glibc dynamically:
#    it runs on any host whose glibc is at least the newest symbol version it asks for (printed below).
# Built into the bundle folder, not bin/: other work in this checkout may rebuild bin/jellybean meanwhile.
say "building jellybean and the static unzstd"
rm -rf "$out"
mkdir -p "$out/pieces"
p=$out/pieces
# Stripped (-s -w: no symbol table or DWARF; panics still name functions): 40 % less to carry.
go build -trimpath -ldflags="-s -w" -o "$out/jellybean" ./job
CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$p/unzstd" ./job/setup/unzstd
glibc=$(objdump -T "$out/jellybean" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1 || true)
say "jellybean needs ${glibc:-an unknown} glibc (the GPU hosts have Python 3.12.3, i.e. probably Ubuntu 24.04 with glibc 2.39; gpu-check.sh prints theirs); this machine: $(ldd --version | head -1)"
file "$p/unzstd" 2>/dev/null | grep -q 'statically linked' || say "warning: unzstd is not reported as statically linked"

# 3. The pieces.
zstd -q -19 -f -o "$p/jellybean.zst" "$out/jellybean"
zstd -q -19 --long=27 -T2 -f -o "$p/libonnxruntime.so.1.zst" "$core"
cp "$ortdir/libonnxruntime_providers_shared.so" "$p/"
say "compressing the CUDA provider (230 MB; takes a few minutes)"
zstd -q "-${JELLYBEAN_BUNDLE_LEVEL:-15}" --long=30 -T2 -f -o "$out/cuda.zst" "$ortdir/libonnxruntime_providers_cuda.so"
split -b "${part_mib}M" -d "$out/cuda.zst" "$p/cuda.zst."
rm "$out/cuda.zst"
tmpdata=$(mktemp -d)
"$out/jellybean" gen-data --out "$tmpdata/data" --split test --n "$items" >/dev/null
tar -C "$tmpdata" -cf "$p/data.tar" data
rm -rf "$tmpdata"
ocrmodels=$(workloads/ocr/fetch-models.sh)
tar -C "$ocrmodels" -cf "$p/ocr-models.tar" .
(cd "$ortdir" && sha256sum libonnxruntime.so.1 libonnxruntime_providers_cuda.so libonnxruntime_providers_shared.so) > "$p/SHA256SUMS"
(cd "$out" && sha256sum jellybean) >> "$p/SHA256SUMS"
rm "$out/jellybean"
ls "$p" | grep '^cuda\.zst\.' > "$p/CUDA_PARTS"

# 4. Pack the pieces into calls: the essentials and SHA256SUMS first, so every call after the first only
#    carries CUDA parts.
tree_bytes=$( (git ls-files -z; git ls-files -z -o --exclude-standard) | xargs -0 stat -c %s 2>/dev/null | awk '{s+=$1} END {print s+0}')
# The device tool carries 64 MiB per call, working tree included; half a MiB is left as a margin.
if [ -n "${JELLYBEAN_BUNDLE_CALL_MIB:-}" ]; then
  budget=$(( JELLYBEAN_BUNDLE_CALL_MIB * 1048576 ))
else
  budget=$(( 64 * 1048576 - tree_bytes - 524288 ))
fi
[ "$budget" -gt $(( (part_mib + 1) * 1048576 )) ] || die "working tree ($tree_bytes bytes) leaves no room for a ${part_mib} MiB part"
call=1 used=0
mkdir -p "$out/call-1"
for f in SHA256SUMS CUDA_PARTS unzstd jellybean.zst libonnxruntime.so.1.zst libonnxruntime_providers_shared.so data.tar ocr-models.tar $(cat "$p/CUDA_PARTS"); do
  size=$(stat -c %s "$p/$f")
  if [ $(( used + size )) -gt "$budget" ] && [ "$used" -gt 0 ]; then
    call=$(( call + 1 )) used=0
    mkdir -p "$out/call-$call"
  fi
  mv "$p/$f" "$out/call-$call/"
  used=$(( used + size ))
done
rmdir "$p"

say "working tree $(( tree_bytes / 1048576 )) MiB, at most $(( budget / 1048576 )) MiB carried per call, $call calls"
du -sh "$out"/call-* >&2
cat <<MSG

Device-tool calls, in this order and back to back (a machine stays warm only ~30 s after a call; if one
goes back between calls, gpu-check.sh names the missing pieces: start again from call 1):
MSG
for i in $(seq 1 "$call"); do
  if [ "$i" -lt "$call" ]; then
    cmd="bash job/setup/gpu-check.sh --stash $out/call-$i"
  else
    cmd="bash job/setup/gpu-check.sh --stash $out/call-$i && bash job/setup/gpu-check.sh"
  fi
  printf '%d. run(carry=["%s"], timeout_s=%s, command="%s")\n' "$i" "$out/call-$i" "$([ "$i" -lt "$call" ] && echo 120 || echo 600)" "$cmd"
done
echo
echo "The last call prints the gpucheck tables and leaves them in \$OUT (gpucheck*.md, gpucheck.log, and results.tar with the JSON reports and profile-cuda*/)."
