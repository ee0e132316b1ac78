#!/usr/bin/env bash
# One-step set-up on a fresh Debian 12/13 machine, as root: system packages, npm packages,
# the native addon build (node-gyp, from `npm ci`) and the TypeScript build.
#
#   ./setup.sh                  everything (apt only for the packages that are missing)
#   ./setup.sh --check-apt      list the missing system packages and exit (changes nothing)
#   ./setup.sh --apt-only       install the missing system packages and exit
set -euo pipefail
cd "$(dirname "$0")"
# libdnnl-dev: oneDNN (2.x on Debian 12, 3.x on Debian 13); g++/make/python3: node-gyp;
# redis-server and chromium: the web app tests (Redis workers, headless browser); openssl: the README's token example.
APT_PACKAGES=(libdnnl-dev g++ make python3 redis-server chromium openssl)
# Seconds apt waits for a lock held by another apt/dpkg run (unattended-upgrades on a fresh machine) before giving up.
APT_LOCK_WAIT=120

# The APT_PACKAGES not installed (dpkg's status "install ok installed"), one per line.
missing_apt_packages() {
  local p
  for p in "${APT_PACKAGES[@]}"; do
    if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]; then echo "$p"; fi
  done
}

# Runs apt-get "$@"; on failure, says why in one line, with the fix when the lock is held.
apt_get() {
  local log
  log=$(mktemp)
  if apt-get -o DPkg::Lock::Timeout="$APT_LOCK_WAIT" "$@" >"$log" 2>&1; then rm -f "$log"; return 0; fi
  if grep -q 'Could not get lock\|Unable to acquire the dpkg frontend lock\|Unable to lock' "$log"; then
    local holder
    holder=$(grep -o 'held by process [0-9]* ([^)]*)' "$log" | head -n 1 || true)
    echo "setup.sh: apt's lock is held${holder:+ ($holder)}: another apt or dpkg run is installing (on a fresh machine usually unattended-upgrades)." >&2
    echo "setup.sh: waited ${APT_LOCK_WAIT} s. Wait for it to finish (ps -p PID shows it; 'systemctl status unattended-upgrades') and run ./setup.sh again; do not delete the lock files." >&2
  else
    echo "setup.sh: 'apt-get $*' failed:" >&2
    cat "$log" >&2
  fi
  rm -f "$log"
  return 1
}

install_apt_packages() {
  local missing
  missing=$(missing_apt_packages)
  if [ -z "$missing" ]; then
    echo "setup.sh: system packages present (${APT_PACKAGES[*]}); apt not run"
    return 0
  fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "setup.sh: missing system packages: $(echo $missing); install them as root (apt-get install -y $(echo $missing)) or run ./setup.sh as root" >&2
    return 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  echo "setup.sh: installing system packages: $(echo $missing)"
  apt_get update -qq
  # shellcheck disable=SC2086 # one word per package
  apt_get install -y -qq --no-install-recommends $missing
}

case "${1:-}" in
  --check-apt)
    missing=$(missing_apt_packages)
    if [ -z "$missing" ]; then echo "setup.sh: system packages present: ${APT_PACKAGES[*]}"; else echo "setup.sh: missing system packages: $(echo $missing)"; fi
    exit 0
    ;;
  --apt-only)
    install_apt_packages
    exit 0
    ;;
  '') ;;
  *)
    echo "setup.sh: unknown option '$1'; expected none, --check-apt or --apt-only" >&2
    exit 2
    ;;
esac

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  echo "setup.sh: Node.js >= 20 is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi
install_apt_packages
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
