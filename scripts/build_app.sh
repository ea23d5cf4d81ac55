#!/usr/bin/env bash
# Build the frozen app (PyInstaller onedir) into dist/tornado-launcher/ and
# print how long it took and how big it is.
#
#   scripts/build_app.sh            # incremental: reuses build/ and PyInstaller's cache
#   scripts/build_app.sh --clean    # from scratch (what CI measures)
#
# PYTHON selects the interpreter whose PyInstaller builds (default .venv/bin/python).
# The bundle does not contain ipykernel: kernels run in the user's Python
# (tornado_launcher/interpreter.py).
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
APP=dist/tornado-launcher/tornado-launcher

clean=()
for arg in "$@"; do
    case "$arg" in
        --clean) clean=(--clean); rm -rf build/launcher dist/tornado-launcher ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "build_app.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done

if ! "$PYTHON" -c "import PyInstaller" 2>/dev/null; then
    echo "build_app.sh: $PYTHON has no PyInstaller: run \`$PYTHON -m pip install -e '.[build]'\`" >&2
    exit 2
fi

# The icon files are generated from the SVGs and committed; say so if stale.
if ! QT_QPA_PLATFORM=offscreen "$PYTHON" scripts/render_icons.py --check >/dev/null 2>&1; then
    echo "build_app.sh: warning: resources/icons is stale; run \`$PYTHON scripts/render_icons.py\`" >&2
fi

start=$(date +%s.%N)
"$PYTHON" -m PyInstaller --noconfirm --log-level WARN "${clean[@]}" launcher.spec
end=$(date +%s.%N)

version=$("$APP" --version)
bytes=$(du -sb dist/tornado-launcher | cut -f1)
files=$(find dist/tornado-launcher -type f | wc -l)
awk -v s="$start" -v e="$end" -v b="$bytes" -v f="$files" -v v="$version" -v n="$(nproc)" 'BEGIN {
    printf "built %s\n", v
    printf "build time: %.1f s (%d cores)\n", e - s, n
    printf "bundle size: %.1f MB (%d files) in dist/tornado-launcher/\n", b / 1e6, f
}'
