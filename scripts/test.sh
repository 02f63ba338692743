#!/usr/bin/env bash
# Install everything, then run every check: lint, format, the test suite (real model,
# real corpus, real browser) and the eval gate on the default corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --test
export PATH="$PWD/.venv/bin:$PATH"

echo "== ruff"
ruff check .
ruff format --check .

echo "== pytest"
pytest -q -p no:cacheprovider

echo "== rag eval (quality gate on the default corpus)"
eval_index=$(mktemp -d)
trap 'rm -rf "$eval_index"' EXIT
rag eval --index-dir "$eval_index" --out "${EVAL_OUT:-eval/reports}"
