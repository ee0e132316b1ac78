#!/usr/bin/env bash
# Syntax-checks the addon against oneDNN 3.x headers (Debian 13's libdnnl-dev), without installing
# them system-wide: the .deb files are fetched into /tmp/trixie and unpacked there. This verifies the
# `#if DNNL_VERSION_MAJOR >= 3` branches of native/dnnl_compat.h compile (it does not link or run them).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
T="${DNNL3_DIR:-/tmp/trixie}"
APT=(-o "Dir::Etc::sourcelist=$T/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$T/lists" -o "Dir::Cache=$T/cache")

if [ ! -f "$T/root/usr/include/oneapi/dnnl/dnnl.hpp" ]; then
  mkdir -p "$T/lists/partial" "$T/cache/archives/partial" "$T/root"
  echo 'deb http://deb.debian.org/debian trixie main' > "$T/sources.list"
  apt-get "${APT[@]}" update >/dev/null
  ver="$(apt-cache "${APT[@]}" show libdnnl-dev | awk '/^Version:/ {print $2}' | sort -V | tail -1)"
  lib="$(apt-cache "${APT[@]}" show "libdnnl-dev=$ver" | awk -F'[ ,(]+' '/^Depends:/ {print $2}')"
  (cd "$T" && apt-get "${APT[@]}" download "libdnnl-dev=$ver" "$lib=$ver")
  for f in "$T"/*.deb; do dpkg -x "$f" "$T/root"; done
fi
grep -E '#define DNNL_VERSION_(MAJOR|MINOR)' "$T/root/usr/include/oneapi/dnnl/dnnl_version.h"

NODE_INC="$(dirname "$(find /usr/include/node /root/.cache/node-gyp -name node_api.h 2>/dev/null | head -1)")"
NAPI_INC="$(cd "$ROOT" && node -p "require('node-addon-api').include_dir")"
cd "$ROOT"
g++ -std=c++17 -fsyntax-only -fopenmp -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -Wall -Wno-unused-parameter \
  -I"$T/root/usr/include" -Inative -I"$NAPI_INC" -I"$NODE_INC" native/kernels/*.cc native/addon.cc
echo "oneDNN 3.x syntax check: ok"
