#!/usr/bin/env bash
# Build the frozen app (PyInstaller onedir) into dist/tornado-launcher/ and
# print how long it took and how big it is.
#
#   scripts/build_app.sh            # incremental: reuses build/ and PyInstaller's cache
#   scripts/build_app.sh --clean    # from scratch (what CI measures)
#   scripts/build_app.sh --install-user
#                                   # also install for this user (Linux, no root):
#                                   # ~/.local/bin/tornado-launcher -> dist/, the .desktop
#                                   # entry, icons in hicolor, and a text/x-hcl MIME type
#
# PYTHON selects the interpreter whose PyInstaller builds (default .venv/bin/python).
# The bundle does not contain ipykernel: kernels run in the user's Python
# (tornado_launcher/kernels/interpreter.py).
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
APP=dist/tornado-launcher/tornado-launcher

clean=()
install_user=0
for arg in "$@"; do
    case "$arg" in
        --clean) clean=(--clean); rm -rf build/launcher dist/tornado-launcher ;;
        --install-user) install_user=1 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "build_app.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done

if ! "$PYTHON" -c "import PyInstaller" 2>/dev/null; then
    echo "build_app.sh: $PYTHON has no PyInstaller: run \`$PYTHON -m pip install -e '.[build]'\`" >&2
    exit 2
fi

# The icon files are generated from the SVGs and committed; say so if stale.
if ! QT_QPA_PLATFORM=offscreen "$PYTHON" scripts/render_icons.py --check >/dev/null 2>&1; then
    echo "build_app.sh: warning: tornado_launcher/resources/icons is stale; run \`$PYTHON scripts/render_icons.py\`" >&2
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

if ((install_user)); then
    data=${XDG_DATA_HOME:-$HOME/.local/share}
    bin=$HOME/.local/bin
    mkdir -p "$bin" "$data/applications" "$data/mime/packages"
    ln -sfn "$PWD/$APP" "$bin/tornado-launcher"
    install -m644 tornado_launcher/resources/tornado-launcher.desktop "$data/applications/tornado-launcher.desktop"
    for size in 16 24 32 48 64 128 256 512; do
        install -Dm644 "tornado_launcher/resources/icons/tornado-launcher-$size.png" \
            "$data/icons/hicolor/${size}x${size}/apps/tornado-launcher.png"
    done
    install -Dm644 tornado_launcher/resources/icons/tornado-launcher.svg "$data/icons/hicolor/scalable/apps/tornado-launcher.svg"
    cat > "$data/mime/packages/tornado-launcher.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<mime-info xmlns="http://www.freedesktop.org/standards/shared-mime-info">
  <mime-type type="text/x-hcl">
    <sub-class-of type="text/plain"/>
    <comment>HCL configuration (Jaffle / tornado-launcher)</comment>
    <glob pattern="*.hcl"/>
  </mime-type>
</mime-info>
XML
    command -v update-mime-database >/dev/null && update-mime-database "$data/mime" >/dev/null 2>&1 || true
    command -v update-desktop-database >/dev/null && update-desktop-database "$data/applications" >/dev/null 2>&1 || true
    command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -qt "$data/icons/hicolor" >/dev/null 2>&1 || true
    echo "installed for $USER: $bin/tornado-launcher, $data/applications/tornado-launcher.desktop, icons, text/x-hcl"
    case ":$PATH:" in *":$bin:"*) ;; *) echo "note: add $bin to PATH for the menu entry to start" ;; esac
fi
