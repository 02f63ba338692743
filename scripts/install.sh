#!/usr/bin/env bash
# Install everything into ./.venv (idempotent). Usage: scripts/install.sh [--test]
#   --test  also the test tools (pytest, hypothesis, ruff, playwright), Debian's chromium, and the
#           PostgreSQL store's client and a local server wheel (the [postgres] and [postgres-server] extras)
# OCR of scanned PDFs and images: the [ocr] extra, and Debian's tesseract-ocr when running as root
# with apt-get (RAG_SKIP_OCR=1 leaves the program out; without it such files are skipped with a reason).
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
pip=(.venv/bin/python -m pip --disable-pip-version-check -q)
"${pip[@]}" install --upgrade pip
# torch first and pinned: on this kind of machine a bare `torch` resolves to a multi-GB CUDA
# build, while 2.13.0 is a CPU build. Elsewhere set TORCH_SPEC (e.g. "torch" with a CPU index).
"${pip[@]}" install "${TORCH_SPEC:-torch==2.13.0}"

if [ "${RAG_SKIP_OCR:-0}" != "1" ] && ! command -v tesseract >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's tesseract-ocr for OCR of scanned PDFs and images..."
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr >/dev/null; } ||
      echo "note: could not install tesseract-ocr; scanned PDFs and images will be skipped" >&2
  else
    echo "note: tesseract is missing, so scanned PDFs and images will be skipped;" \
      "install it with: sudo apt-get install tesseract-ocr" >&2
  fi
fi

if [ "${1:-}" = "--test" ]; then
  "${pip[@]}" install -e ".[test,ocr,postgres,postgres-server]"
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
  "${pip[@]}" install -e ".[ocr]"
fi

# The default embedding backend runs the packaged MiniLM in ONNX Runtime: export it (and its int8
# variant) now, from the installed package, into ~/.cache/grounded-rag/onnx (skipped when cached).
.venv/bin/python -c "from index.onnx_embedder import ensure_onnx_file as e; e('all-MiniLM-L6-v2', quantized=True)"
