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

# The sdist carries no git history, so llama.cpp would report "b0-unknown". The vendored commit
# is named in llama-cpp-python's CHANGELOG; its upstream build number (the b<N> release tag)
# is known for the versions below. Unknown versions build as b0-<commit>.
case "$version" in
  0.3.36) build_number=11312; build_commit=0c1e57098 ;;
  *) build_number=0; build_commit="" ;;
esac

if [ -x "$binary" ] && [ -n "$build_commit" ] \
   && "$binary" --version 2>&1 | grep -q "build $build_number, commit $build_commit)"; then
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

if [ -z "$build_commit" ]; then
  build_commit=$(tar -xzOf "$sdist" "llama_cpp_python-$version/CHANGELOG.md" 2>/dev/null \
    | grep -m1 -o 'llama.cpp@[0-9a-f]*' | cut -d@ -f2 || true)
  build_commit="${build_commit:-unknown}"
  if [ -x "$binary" ] && "$binary" --version 2>&1 | grep -q "commit $build_commit)"; then
    echo "$binary"
    exit 0
  fi
fi

echo "building llama-server b$build_number-$build_commit ($jobs jobs; ~10 minutes on 2 cores)" >&2
# shellcheck disable=SC2086
cmake -S "$build_root/llama.cpp" -B "$build_root/build" \
  -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DBUILD_SHARED_LIBS=OFF \
  -DLLAMA_BUILD_NUMBER="$build_number" -DLLAMA_BUILD_COMMIT="$build_commit" \
  $extra >&2
cmake --build "$build_root/build" --config Release --target llama-server llama-bench -j "$jobs" >&2
"$binary" --version >&2
echo "$binary"
