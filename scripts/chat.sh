#!/usr/bin/env bash
# The main job: install, then open the web chat on the default corpus
# (the index is built on first use). Extra arguments go to `rag chat`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/rag chat "$@"
