#!/usr/bin/env bash
# Install everything into ./.venv (idempotent). Usage: scripts/install.sh [--test]
#   --test  also the test tools (pytest, hypothesis, ruff, playwright) and Debian's chromium
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
pip=(.venv/bin/python -m pip --disable-pip-version-check -q)
"${pip[@]}" install --upgrade pip
# torch first and pinned: on this kind of machine a bare `torch` resolves to a multi-GB CUDA
# build, while 2.13.0 is a CPU build. Elsewhere set TORCH_SPEC (e.g. "torch" with a CPU index).
"${pip[@]}" install "${TORCH_SPEC:-torch==2.13.0}"

if [ "${1:-}" = "--test" ]; then
  "${pip[@]}" install -e ".[test]"
  if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ]; then
      echo "installing Debian's chromium for the browser tests..."
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
      echo "note: /usr/bin/chromium is missing, so the browser tests will be skipped;" \
        "install it with: sudo apt-get install chromium" >&2
    fi
  fi
else
  "${pip[@]}" install -e .
fi
