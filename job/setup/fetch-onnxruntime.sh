#!/usr/bin/env bash
# Prints the path of a usable ONNX Runtime core library, fetching the pinned build if needed.
#
# Order: $JELLYBEAN_ORT_LIB (the user's own library) first, then the cached pinned copy, then a download of
# the pinned npm package onnxruntime-node@1.29.0 (the only file we need is inside its tarball), checked by sha256.
# All messages go to stderr; stdout carries only the library path.
set -euo pipefail

ORT_VERSION=1.29.0
TARBALL_URL="https://registry.npmjs.org/onnxruntime-node/-/onnxruntime-node-${ORT_VERSION}.tgz"
TARBALL_SHA256=cfdfb45ec4044b1fdca43e5d2e180fb6817e649ff8ad1e0dfc90e18e51b67037
LIB_MEMBER=package/bin/napi-v6/linux/x64/libonnxruntime.so.1
LIB_SHA256=89688f5cf51c7e31befbb7b9101bc027799009b18d1baa9a5b1146a72e69538d

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache="${JELLYBEAN_CACHE:-$root/.cache}/onnxruntime/$ORT_VERSION"

if [ -n "${JELLYBEAN_ORT_LIB:-}" ]; then
  if [ ! -f "$JELLYBEAN_ORT_LIB" ]; then
    echo "fetch-onnxruntime: JELLYBEAN_ORT_LIB=$JELLYBEAN_ORT_LIB does not exist" >&2
    exit 1
  fi
  echo "$JELLYBEAN_ORT_LIB"
  exit 0
fi

lib="$cache/libonnxruntime.so.1"
if [ -f "$lib" ] && echo "$LIB_SHA256  $lib" | sha256sum -c --status; then
  echo "$lib"
  exit 0
fi

mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.download.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "fetch-onnxruntime: downloading ONNX Runtime $ORT_VERSION ($TARBALL_URL, ~110 MB)" >&2
if ! curl -fsSL --retry 3 -o "$tmp/ort.tgz" "$TARBALL_URL"; then
  echo "fetch-onnxruntime: download failed; set JELLYBEAN_ORT_LIB to an existing libonnxruntime.so" >&2
  exit 1
fi
if ! echo "$TARBALL_SHA256  $tmp/ort.tgz" | sha256sum -c --status; then
  echo "fetch-onnxruntime: sha256 mismatch for $TARBALL_URL (expected $TARBALL_SHA256)" >&2
  exit 1
fi
tar -xzf "$tmp/ort.tgz" -C "$tmp" "$LIB_MEMBER"
if ! echo "$LIB_SHA256  $tmp/$LIB_MEMBER" | sha256sum -c --status; then
  echo "fetch-onnxruntime: sha256 mismatch for $LIB_MEMBER" >&2
  exit 1
fi
mv "$tmp/$LIB_MEMBER" "$lib"
echo "fetch-onnxruntime: installed $lib" >&2
echo "$lib"
