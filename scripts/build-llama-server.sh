#!/usr/bin/env bash
# Build llama.cpp's llama-server from the vendor/llama.cpp tree of the llama-cpp-python
# source distribution, cached outside the checkout so reruns skip the build.
#
#   scripts/build-llama-server.sh            # prints the path of the built binary
#
# Environment: LLAMA_CPP_PYTHON_VERSION (default below), RLA_CACHE_DIR (default ~/.cache/rla),
# CMAKE_ARGS (extra flags, e.g. -DGGML_CUDA=ON), JOBS (default: nproc).
set -euo pipefail

version="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
cache="${RLA_CACHE_DIR:-$HOME/.cache/rla}"
jobs="${JOBS:-$(nproc)}"
extra="${CMAKE_ARGS:-}"
key=$(printf '%s|%s' "$version" "$extra" | sha256sum | cut -c1-12)
src_dir="$cache/src"
build_root="$cache/llama-server/$version-$key"
binary="$build_root/build/bin/llama-server"

if [ -x "$binary" ] && "$binary" --version >/dev/null 2>&1; then
  echo "$binary"
  exit 0
fi

mkdir -p "$src_dir" "$build_root"
sdist="$src_dir/llama_cpp_python-$version.tar.gz"
if [ ! -f "$sdist" ]; then
  echo "downloading llama-cpp-python $version source distribution" >&2
  python3 -m pip download --quiet --no-deps --no-binary :all: \
    "llama-cpp-python==$version" -d "$src_dir" >&2
fi

if [ ! -d "$build_root/llama.cpp" ]; then
  tmp=$(mktemp -d "$build_root/extract.XXXXXX")
  tar -xzf "$sdist" -C "$tmp" "llama_cpp_python-$version/vendor/llama.cpp"
  mv "$tmp/llama_cpp_python-$version/vendor/llama.cpp" "$build_root/llama.cpp"
  rm -rf "$tmp"
fi

echo "building llama-server ($jobs jobs; about 10 minutes on 2 cores)" >&2
# shellcheck disable=SC2086
cmake -S "$build_root/llama.cpp" -B "$build_root/build" \
  -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DBUILD_SHARED_LIBS=OFF \
  $extra >&2
cmake --build "$build_root/build" --config Release --target llama-server llama-bench -j "$jobs" >&2
"$binary" --version >&2
echo "$binary"
