/**
 * setup.sh's apt step: it runs apt only for the packages dpkg does not list as installed, and a
 * held apt lock ends in a message naming the process that holds it and the fix. Runs the real
 * script with stand-ins for dpkg-query, apt-get and id first on PATH, so nothing is installed and
 * root is not needed; only the --check-apt and --apt-only modes run (never npm ci).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../src/io/package_root.js';

const SETUP = join(packageRoot(), 'setup.sh');
const ALL = ['libdnnl-dev', 'g++', 'make', 'python3', 'redis-server', 'chromium', 'openssl'];

/** Runs setup.sh with stand-in tools: `installed` are the packages dpkg reports; apt-get runs `aptScript`. */
function runSetup(args: string[], installed: readonly string[], aptScript = 'exit 0'): { status: number | null; stdout: string; stderr: string; aptCalls: string } {
  const dir = mkdtempSync(join(tmpdir(), 'diffuse-setup-'));
  try {
    const calls = join(dir, 'apt-calls.log');
    const tool = (name: string, body: string) => {
      writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
      chmodSync(join(dir, name), 0o755);
    };
    tool('dpkg-query', `for a; do p="$a"; done\ncase " ${installed.join(' ')} " in *" $p "*) printf 'install ok installed' ;; *) echo "dpkg-query: no packages found matching $p" >&2; exit 1 ;; esac`);
    tool('apt-get', `echo "$*" >> '${calls}'\n${aptScript}`);
    tool('id', 'echo 0');
    const r = spawnSync('bash', [SETUP, ...args], { encoding: 'utf8', env: { ...process.env, PATH: `${dir}:/usr/bin:/bin` } });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, aptCalls: existsSync(calls) ? readFileSync(calls, 'utf8') : '' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('setup.sh apt step', () => {
  it('--check-apt lists exactly the packages dpkg does not report installed', () => {
    const r = runSetup(['--check-apt'], ['g++', 'make', 'python3', 'openssl']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'setup.sh: missing system packages: libdnnl-dev redis-server chromium');
    assert.equal(r.aptCalls, '', '--check-apt never runs apt');
    const all = runSetup(['--check-apt'], ALL);
    assert.match(all.stdout, /system packages present: libdnnl-dev g\+\+ make python3 redis-server chromium openssl/);
  });

  it('skips apt entirely when every package is present', () => {
    const r = runSetup(['--apt-only'], ALL);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /system packages present .*; apt not run/);
    assert.equal(r.aptCalls, '');
  });

  it('installs only the missing packages, waiting for a held lock', () => {
    const r = runSetup(['--apt-only'], ['g++', 'make', 'python3', 'openssl', 'chromium']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.aptCalls.trim().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0] as string, /^-o DPkg::Lock::Timeout=\d+ update -qq$/);
    assert.match(lines[1] as string, /^-o DPkg::Lock::Timeout=\d+ install -y -qq --no-install-recommends libdnnl-dev redis-server$/);
  });

  it('a held apt lock: names the holding process and says to wait and rerun', () => {
    const lock =
      "echo 'E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (unattended-upgr)' >&2; " +
      "echo 'E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?' >&2; exit 100";
    const r = runSetup(['--apt-only'], ['g++'], lock);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /apt's lock is held \(held by process 4242 \(unattended-upgr\)\): another apt or dpkg run is installing/);
    assert.match(r.stderr, /Wait for it to finish .* and run \.\/setup\.sh again/);
    // Any other apt failure shows apt's own output.
    const other = runSetup(['--apt-only'], ['g++'], "echo 'E: Unable to locate package chromium' >&2; exit 100");
    assert.notEqual(other.status, 0);
    assert.match(other.stderr, /'apt-get .*update -qq' failed:\nE: Unable to locate package chromium/);
  });

  it('refuses an unknown option with exit 2', () => {
    const r = runSetup(['--bogus'], ALL);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown option '--bogus'; expected none, --check-apt or --apt-only/);
  });
});
