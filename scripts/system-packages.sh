#!/usr/bin/env bash
# Debian packages the tests drive for real: Chromium (and its driver) for the HTML report's
# browser tests, Slurm and munge for the sharded-run tests, curl with which the scale-out
# examples wait for their llama-server. Installed once; a package already present is not
# touched. Without root or apt-get the tests that need them skip with the reason.
set -euo pipefail

packages=(chromium chromium-driver slurm-wlm munge curl)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
[ "${#missing[@]}" = 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "note: not installing ${missing[*]} (needs root and apt-get); the tests that drive them skip" >&2
  exit 0
fi
echo "installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
