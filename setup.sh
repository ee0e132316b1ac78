#!/usr/bin/env bash
# One-step set-up on a fresh Debian 12/13 machine, as root: system packages, npm packages,
# the native addon build (node-gyp, from `npm ci`) and the TypeScript build.
set -euo pipefail
cd "$(dirname "$0")"
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  echo "setup.sh: Node.js >= 20 is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  # libdnnl-dev: oneDNN (2.x on Debian 12, 3.x on Debian 13); g++/make/python3: node-gyp;
  # redis-server and chromium: the web app tests (Redis workers, headless browser); openssl: the README's token example.
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends libdnnl-dev g++ make python3 redis-server chromium openssl >/dev/null
fi
npm ci --no-audit --no-fund
# The `diffuse` command, run directly: a link in node_modules/.bin (npm scripts and a PATH that
# names it) and, as root, /usr/local/bin/diffuse. Not `npx diffuse`: inside the checkout npm
# installs the checkout itself into its npx cache to run its bin, re-running the install and
# prepare scripts (scripts/build_native.mjs then leaves an up-to-date addon alone, but tsc runs).
ln -sfn ../../bin/diffuse.js node_modules/.bin/diffuse
if [ "$(id -u)" = 0 ] && [ -d /usr/local/bin ] && { [ ! -e /usr/local/bin/diffuse ] || [ -L /usr/local/bin/diffuse ]; }; then
  ln -sfn "$PWD/bin/diffuse.js" /usr/local/bin/diffuse
  echo "setup.sh: the diffuse command is /usr/local/bin/diffuse -> $PWD/bin/diffuse.js"
else
  echo "setup.sh: to run the diffuse command directly: export PATH=\"$PWD/node_modules/.bin:\$PATH\" (or run $PWD/bin/diffuse.js)"
fi
