#!/usr/bin/env bash
# The main job: install, then open the web chat on the default corpus
# (the index is built on first use). Extra arguments go to `rag chat`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
# The evidence scorer EmbeddingGemma-300M (1.15 GB, Gemma Terms of Use, cached under
# ~/.cache/grounded-rag): better evidence at ~45 ms more per answer. RAG_SKIP_SCORER=1 leaves it out
# (answers then use MiniLM, the search model). A failed download is not fatal: the chat says which it uses.
if [ "${RAG_SKIP_SCORER:-0}" != "1" ]; then
  PYTHON=.venv/bin/python bash scripts/fetch_scorer.sh >/dev/null ||
    echo "note: EmbeddingGemma could not be fetched; evidence is scored with MiniLM" >&2
fi
exec .venv/bin/rag chat "$@"
