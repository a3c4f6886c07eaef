#!/usr/bin/env bash
# JellyBean's entry point.
#
#   ./launch.sh                                  build if needed, fetch ONNX Runtime, generate the default
#                                                data, run the default job on this machine, evaluate it
#                                                and write its HTML report (runs/<id>/report/index.html)
#   ./launch.sh -H HOSTFILE -p PLAN [--resume RUN_ID] [other `jellybean launch` flags]
#   ./launch.sh --resume RUN_ID                  continue a run: only items missing from its results
#   ./launch.sh loop [`jellybean loop` flags]    the same setup, then profile -> optimize -> run -> eval ->
#                                                report in one command (paths relative to the JellyBean root)
#   ./launch.sh ocr [PAGES]                      the OCR workload (PP-OCRv4): fetch its models, generate
#                                                PAGES test pages (default 6), run plan/examples/ocr.toml on
#                                                seven ranks here, print CER and word accuracy
#
# Needs only bash, curl and Go on a fresh Debian machine; everything else is fetched or generated.
# Remote hosts (anything in the hostfile but localhost/127.0.0.1/::1/this host) are reached with
# `ssh -o BatchMode=yes`; see `bin/jellybean launch -h` and JELLYBEAN_SSH_* for ssh settings.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=$root/bin/jellybean

say() { echo "launch.sh: $*" >&2; }

usage() {
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
}

case "${1:-}" in
  -h|--help|help) usage; exit 0 ;;
esac

# 1. Build bin/jellybean when it is missing or older than any source file (Go code, go.mod/go.sum and the
#    files it embeds; outputs, downloads and generated data do not count).
needs_build() {
  [ -x "$bin" ] || return 0
  [ -n "$(find . \( -path ./.cache -o -path ./runs -o -path ./.git -o -path ./bin -o -path ./workloads/vqa/data \
      -o -name __pycache__ \) -prune -o -type f ! -name '*.md' -newer "$bin" -print -quit)" ]
}
if (cd "$root" && needs_build); then
  if ! command -v go >/dev/null 2>&1; then
    say "Go is needed to build $bin: install Go 1.26 or newer (https://go.dev/dl/) and put it on PATH"
    exit 1
  fi
  say "building $bin"
  (cd "$root" && go build -o "$bin" ./job)
fi

# 2. ONNX Runtime: the user's $JELLYBEAN_ORT_LIB first, else the pinned, sha256-checked download.
JELLYBEAN_ORT_LIB=$("$root/job/setup/fetch-onnxruntime.sh")
export JELLYBEAN_ORT_LIB

# has_command NAME: whether this build has the sub-command (others may not have landed in every build).
has_command() { grep -q "^  $1 " <<<"$("$bin" help 2>&1)"; }

# The closed loop: the default data (the accuracy profile and the job read its test split), then
# `jellybean loop` in the JellyBean root, where its run directory is created.
if [ "${1:-}" = loop ]; then
  shift
  cd "$root"
  "$bin" gen-data
  exec "$bin" loop "$@"
fi

# The OCR workload end to end: its pinned models (sha256-checked, cached), a small test split, the
# seven-rank job on this machine, its evaluation (CER, word accuracy, line recall per page in eval.json).
if [ "${1:-}" = ocr ]; then
  pages=${2:-6}
  cd "$root"
  workloads/ocr/fetch-models.sh >/dev/null
  "$bin" gen-data --workload ocr --split test -n "$pages"
  idfile=$(mktemp "${TMPDIR:-/tmp}/jellybean-run-id.XXXXXX")
  trap 'rm -f "$idfile"' EXIT
  "$bin" launch -H hostfiles/localhost-ocr -p plan/examples/ocr.toml --run-id-file "$idfile"
  "$bin" eval --run "runs/$(cat "$idfile")"
  exit 0
fi

# A user's job: relative -H/-p paths are the user's (resolved from the current directory); the ranks run
# in the JellyBean root, where the run directory is created.
if [ $# -gt 0 ]; then
  exec "$bin" launch --root "$root" "$@"
fi

# 3. The default job: its data (gen-data skips work when the data set is complete), then the run.
cd "$root"
if has_command gen-data; then
  "$bin" gen-data
else
  say "warning: this build has no gen-data command; the default job needs workloads/vqa/data"
fi
idfile=$(mktemp "${TMPDIR:-/tmp}/jellybean-run-id.XXXXXX")
trap 'rm -f "$idfile"' EXIT
"$bin" launch -H hostfiles/localhost -p plan/examples/default.toml --run-id-file "$idfile"
run_id=$(cat "$idfile")

# 4. Accuracy of the run, and the page people would rather look at than read.
if has_command eval; then
  "$bin" eval --run "runs/$run_id"
fi
if has_command report; then
  "$bin" report --run "runs/$run_id"
fi
