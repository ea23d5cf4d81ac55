#!/usr/bin/env bash
# Set up tornado-launcher on a fresh Debian/Ubuntu machine (or any machine with
# Python >= 3.10 where the Qt libraries are already present).
#
#   ./setup.sh          system libraries for Qt, .venv, the launcher
#   ./setup.sh --test   the same, plus the test tools (pytest-qt, Xvfb, xdotool, Chromium)
#
# Idempotent: run it again after a pull.
set -euo pipefail
cd "$(dirname "$0")"

extra=""
pkgs=(libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0
      libxcb-xinerama0 libxcb-xkb1 libxcb-shape0 libxcb-randr0 libxkbcommon-x11-0
      libegl1 libfontconfig1 libgl1 libdbus-1-3 libglib2.0-0)
if [[ "${1:-}" == "--test" ]]; then
  extra="[test,build]"
  pkgs+=(xvfb xdotool chromium iproute2)  # iproute2: `ip netns` for the tests that make a second machine
fi

python=${PYTHON:-python3}
# Debian's own python3 cannot make a venv without python3-venv (no ensurepip).
if ! "$python" -c "import ensurepip, venv" >/dev/null 2>&1; then
  pkgs+=(python3-venv)
fi

# 1. Debian packages Qt's xcb platform needs (and Xvfb for the real-window test).
if command -v dpkg-query >/dev/null 2>&1; then
  missing=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    if [[ $(id -u) -eq 0 ]]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
      echo "setup: please install as root: apt-get install ${missing[*]}" >&2; exit 1; fi
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

# 2. A virtualenv with the launcher (editable, so the demo and tests use this checkout).
if [[ ! -x .venv/bin/python ]]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extra}"
# 3. With --test: the real-app corpus's own virtualenv (tests/realapps), cached outside the checkout
#    by the hash of its requirements (about a minute from PyPI the first time, then reused).
if [[ "${1:-}" == "--test" ]]; then
  .venv/bin/python tests/realapps/realapps_venv.py >/dev/null \
    || echo "setup: the real-app corpus venv could not be built now; tests/realapps builds it on demand" >&2
fi
echo "setup: ready. .venv/bin/tornado-launcher --version: $(.venv/bin/tornado-launcher --version)"
