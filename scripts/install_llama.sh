#!/usr/bin/env bash
# Install llama-cpp-python (with its [server] extra) into a venv, built from source.
# Usage: scripts/install_llama.sh [VENV]   (default: .venv)
#
# Why from source with these flags: a native build (GGML_NATIVE=ON, what pip does by default) enables
# AMX kernels on these machines' CPUs, and they crash on every decode. We switch native detection off
# and name the CPU features explicitly instead.
# The build takes about 4 minutes on 2 idle cores (15+ on a busy machine), so the wheel it makes is kept in
# ${RAG_MODEL_CACHE:-$HOME/.cache/grounded-rag}/wheels and a fresh venv (CI's) installs it in seconds.
# Skips all work when `import llama_cpp` already works in that venv.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${1:-.venv}
python="$venv/bin/python"
version=${LLAMA_CPP_VERSION:-0.3.36}
wheels="${RAG_MODEL_CACHE:-$HOME/.cache/grounded-rag}/wheels"
if [ ! -x "$python" ]; then
  echo "no python at $python: create the venv first (scripts/install.sh)" >&2
  exit 1
fi
if "$python" -c "import llama_cpp" 2>/dev/null; then
  echo "llama_cpp already importable in $venv: nothing to do"
  exit 0
fi

pip=("$python" -m pip --disable-pip-version-check -q)
# The wheel is tagged py3-none-linux_x86_64 (the library is loaded with ctypes): any Python 3 can reuse it.
find_wheel() { find "$wheels" -maxdepth 1 -name "llama_cpp_python-$version-*.whl" 2>/dev/null | head -n 1 || true; }
start=$(date +%s)
wheel=$(find_wheel)
if [ -z "$wheel" ]; then
  export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=ON"
  export FORCE_CMAKE=1
  echo "building llama-cpp-python $version from source (CMAKE_ARGS=$CMAKE_ARGS); this takes several minutes..."
  mkdir -p "$wheels"
  # --no-cache-dir: never reuse a wheel that pip built earlier with other flags.
  "${pip[@]}" wheel --no-deps --no-binary llama-cpp-python --no-cache-dir -w "$wheels" "llama-cpp-python==$version"
  wheel=$(find_wheel)
  [ -n "$wheel" ] || { echo "the build left no llama_cpp_python-$version wheel in $wheels" >&2; exit 1; }
  echo "built $wheel in $(($(date +%s) - start)) s"
fi
"${pip[@]}" install "llama-cpp-python[server] @ file://$wheel"
"$python" -c "import llama_cpp; print('llama_cpp', llama_cpp.__version__)"
echo "installed in $(($(date +%s) - start)) s"
