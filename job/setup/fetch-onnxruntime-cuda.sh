#!/usr/bin/env bash
# Makes ONNX Runtime's CUDA execution provider usable on a GPU host, then prints (stdout) the directories
# that must be on LD_LIBRARY_PATH for the ranks, colon-separated. Messages go to stderr.
#
# 1. The provider libraries (ORT 1.29.0 built for CUDA 13 + cuDNN 9) must sit beside the core library, which
#    loads them from its own folder: taken from $JELLYBEAN_ORT_CUDA_DIR if given (a folder holding
#    libonnxruntime_providers_{cuda,shared}.so), else downloaded from the pinned npm package
#    com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9 (~180 MB) and checked by sha256.
# 2. The CUDA 13 / cuDNN 9 user-space libraries are looked up in $JELLYBEAN_CUDA_LIBS (colon-separated dirs),
#    then the dynamic linker cache, /usr/local/cuda*/lib64, and PyTorch virtual environments'
#    site-packages/nvidia/*/lib. A missing library is one error naming it and every place searched.
set -euo pipefail

PKG_URL="https://registry.npmjs.org/com.github.asus4.onnxruntime.linux-x64-gpu/-/com.github.asus4.onnxruntime.linux-x64-gpu-0.4.9.tgz"
PKG_SHA256=2b459e0c17f340c92970c10ed86de4f37a3009f93c14053e6ad4334cbb6be412
declare -A LIB_SHA256=(
  [libonnxruntime_providers_cuda.so]=56cf3254b118ad837ccc4ed8f6d1b23504bbf7ef91b34cbc0b289cb7f10b3037
  [libonnxruntime_providers_shared.so]=c6a12593396095f5670160e284c35d1700b7708cf3037b7042e2a5200ccae772
)
NEEDED=(libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libcurand.so.10 libcudnn.so.9)

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
core=$("$here/fetch-onnxruntime.sh")
dest=$(dirname "$core")

have_providers() {
  local f
  for f in "${!LIB_SHA256[@]}"; do
    echo "${LIB_SHA256[$f]}  $dest/$f" | sha256sum -c --status 2>/dev/null || return 1
  done
}

if [ -n "${JELLYBEAN_ORT_CUDA_DIR:-}" ]; then
  for f in "${!LIB_SHA256[@]}"; do
    [ -f "$JELLYBEAN_ORT_CUDA_DIR/$f" ] || { echo "fetch-onnxruntime-cuda: $JELLYBEAN_ORT_CUDA_DIR/$f missing" >&2; exit 1; }
    [ "$JELLYBEAN_ORT_CUDA_DIR/$f" -ef "$dest/$f" ] || cp "$JELLYBEAN_ORT_CUDA_DIR/$f" "$dest/$f"
  done
elif ! have_providers; then
  tmp=$(mktemp -d "$dest/.download.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  echo "fetch-onnxruntime-cuda: downloading the CUDA provider ($PKG_URL, ~180 MB)" >&2
  curl -fsSL --retry 3 -o "$tmp/gpu.tgz" "$PKG_URL" || { echo "fetch-onnxruntime-cuda: download failed; set JELLYBEAN_ORT_CUDA_DIR" >&2; exit 1; }
  echo "$PKG_SHA256  $tmp/gpu.tgz" | sha256sum -c --status || { echo "fetch-onnxruntime-cuda: sha256 mismatch for $PKG_URL" >&2; exit 1; }
  for f in "${!LIB_SHA256[@]}"; do
    tar -xzf "$tmp/gpu.tgz" -C "$tmp" "package/Plugins/Linux/x64/$f"
    mv "$tmp/package/Plugins/Linux/x64/$f" "$dest/$f"
  done
fi
have_providers || { echo "fetch-onnxruntime-cuda: provider libraries in $dest fail their sha256 check" >&2; exit 1; }

# Candidate folders for the CUDA user-space libraries, most explicit first.
candidates=()
IFS=: read -r -a user_dirs <<< "${JELLYBEAN_CUDA_LIBS:-}"
candidates+=("${user_dirs[@]}")
candidates+=(/usr/local/cuda/lib64 /usr/local/cuda-13*/lib64 /usr/lib/x86_64-linux-gnu)
for venv in /opt/*/.venv /opt/*/venv "$HOME"/.venv "${VIRTUAL_ENV:-/nonexistent}"; do
  for d in "$venv"/lib/python3*/site-packages/nvidia/*/lib; do candidates+=("$d"); done
done

dirs=()
missing=()
for lib in "${NEEDED[@]}"; do
  found=""
  for d in "${candidates[@]}"; do
    [ -n "$d" ] && [ -e "$d/$lib" ] && { found=$d; break; }
  done
  if [ -z "$found" ] && ldconfig -p 2>/dev/null | grep -q " $lib "; then
    found=$(dirname "$(ldconfig -p | grep " $lib " | head -1 | sed 's/.*=> //')")
  fi
  if [ -z "$found" ]; then missing+=("$lib"); continue; fi
  case ":${dirs[*]}:" in *" $found "*|*":$found:"*) ;; *) dirs+=("$found") ;; esac
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "fetch-onnxruntime-cuda: missing ${missing[*]}; searched \$JELLYBEAN_CUDA_LIBS, the linker cache and: ${candidates[*]}" >&2
  exit 1
fi
(IFS=:; echo "${dirs[*]}")
