/**
 * The install script (scripts/build_native.mjs) and the set-up's `diffuse` command: an up-to-date
 * addon is never rebuilt or deleted (npm re-runs the install script whenever `npx diffuse` installs
 * the checkout into its npx cache); a missing, broken or stale one is built with `node-gyp rebuild`.
 * Runs the script on a copy of the layout in a temporary folder, with a stand-in node-gyp on PATH
 * that only records its calls, so no test ever builds or touches the real build/.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { packageRoot } from '../../src/io/model_folder.js';

const ROOT = packageRoot();
const SCRIPT = join(ROOT, 'scripts', 'build_native.mjs');
const ADDON = join(ROOT, 'build', 'Release', 'diffuse_native.node');

/** A fake checkout: scripts/build_native.mjs, native/, binding.gyp, and optionally an addon file. */
function sandbox(): { root: string; addon: string; calls: string; run(...args: string[]): { status: number | null; stdout: string; stderr: string } } {
  const root = mkdtempSync(join(tmpdir(), 'diffuse-install-'));
  mkdirSync(join(root, 'scripts'));
  copyFileSync(SCRIPT, join(root, 'scripts', 'build_native.mjs'));
  mkdirSync(join(root, 'native', 'kernels'), { recursive: true });
  writeFileSync(join(root, 'native', 'kernels', 'k.cc'), '// kernel\n');
  writeFileSync(join(root, 'binding.gyp'), '{}\n');
  const past = new Date('2020-01-01T00:00:00Z');
  for (const f of [join(root, 'native', 'kernels', 'k.cc'), join(root, 'binding.gyp')]) utimesSync(f, past, past);
  // A node-gyp stand-in that records where and how it was called.
  const bin = join(root, 'fake-bin');
  mkdirSync(bin);
  const calls = join(root, 'node-gyp-calls.log');
  writeFileSync(join(bin, 'node-gyp'), `#!/bin/sh\necho "$PWD $*" >> '${calls}'\n`);
  chmodSync(join(bin, 'node-gyp'), 0o755);
  const run = (...args: string[]) => {
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'build_native.mjs'), ...args], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${bin}:${dirname(process.execPath)}:/usr/bin:/bin` },
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  return { root, addon: join(root, 'build', 'Release', 'diffuse_native.node'), calls, run };
}

const called = (calls: string): string => (existsSync(calls) ? readFileSync(calls, 'utf8') : '');

describe('install script (scripts/build_native.mjs)', () => {
  it('leaves an up-to-date addon that loads alone: no node-gyp call, build/ untouched', () => {
    assert.ok(existsSync(ADDON), `${ADDON} is missing: build the addon first ('npm run build:native')`);
    const s = sandbox();
    try {
      mkdirSync(dirname(s.addon), { recursive: true });
      copyFileSync(ADDON, s.addon);
      const check = s.run('--check');
      assert.equal(check.status, 0, check.stderr);
      assert.match(check.stdout, /^up to date: .*diffuse_native\.node is up to date with native\/ and loads/);
      const r = s.run();
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /native addon not rebuilt: .*'npm run build:native' rebuilds it/);
      assert.equal(called(s.calls), '', 'node-gyp must not run');
      assert.ok(existsSync(s.addon));
    } finally {
      rmSync(s.root, { recursive: true, force: true });
    }
  });

  it('builds with node-gyp rebuild, in the package folder, when the addon is missing, stale or broken', () => {
    const s = sandbox();
    try {
      let check = s.run('--check');
      assert.match(check.stdout, /^build: .*diffuse_native\.node does not exist/);
      assert.equal(called(s.calls), '', '--check never builds');
      let r = s.run();
      assert.equal(r.status, 0, r.stderr);
      assert.equal(called(s.calls), `${s.root} rebuild\n`);

      // Broken: a file that is not a shared object.
      mkdirSync(dirname(s.addon), { recursive: true });
      writeFileSync(s.addon, 'not a shared object');
      check = s.run('--check');
      assert.match(check.stdout, /^build: .*diffuse_native\.node does not load/);

      // Stale: a source newer than the addon.
      copyFileSync(ADDON, s.addon);
      const old = new Date('2021-01-01T00:00:00Z');
      utimesSync(s.addon, old, old);
      utimesSync(join(s.root, 'native', 'kernels', 'k.cc'), new Date(), new Date());
      check = s.run('--check');
      assert.match(check.stdout, /^build: native\/ or binding\.gyp changed after/);
      r = s.run();
      assert.equal(r.status, 0, r.stderr);
      assert.equal(called(s.calls).split('\n').filter(Boolean).length, 2);
    } finally {
      rmSync(s.root, { recursive: true, force: true });
    }
  });

  it('prefers a prebuilt for this platform that loads: copies its folder to build/Release/, no node-gyp; a broken one or DIFFUSE_BUILD_FROM_SOURCE=1 builds', () => {
    assert.ok(existsSync(ADDON), `${ADDON} is missing: build the addon first ('npm run build:native')`);
    const s = sandbox();
    try {
      // The stand-in prebuilt: the real addon (it loads) and a bundled library beside it.
      const pre = join(s.root, 'prebuilds', `${process.platform}-${process.arch}`);
      mkdirSync(pre, { recursive: true });
      copyFileSync(ADDON, join(pre, 'diffuse_native.node'));
      writeFileSync(join(pre, 'libdnnl.so.3'), 'bundled library stand-in');
      const check = s.run('--check');
      assert.equal(check.status, 0, check.stderr);
      assert.match(check.stdout, /^prebuilt: .*diffuse_native\.node does not exist; the prebuilt .*prebuilds\/.*diffuse_native\.node loads/);
      assert.ok(!existsSync(s.addon), '--check copies nothing');
      const r = s.run();
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /using the prebuilt native addon/);
      assert.equal(called(s.calls), '', 'node-gyp must not run');
      assert.deepEqual(readFileSync(s.addon), readFileSync(ADDON));
      assert.equal(readFileSync(join(dirname(s.addon), 'libdnnl.so.3'), 'utf8'), 'bundled library stand-in');
      // Now up to date: left alone.
      assert.match(s.run('--check').stdout, /^up to date: /);

      // Asked to build from source: node-gyp, even with a working prebuilt.
      rmSync(join(s.root, 'build'), { recursive: true });
      const fromSource = spawnSync(process.execPath, [join(s.root, 'scripts', 'build_native.mjs')], {
        encoding: 'utf8',
        env: { ...process.env, DIFFUSE_BUILD_FROM_SOURCE: '1', PATH: `${join(s.root, 'fake-bin')}:${dirname(process.execPath)}:/usr/bin:/bin` },
      });
      assert.equal(fromSource.status, 0, fromSource.stderr);
      assert.equal(called(s.calls), `${s.root} rebuild\n`);

      // A prebuilt that does not load (another libc, a damaged download): build from source, saying why.
      writeFileSync(join(pre, 'diffuse_native.node'), 'not a shared object');
      const broken = s.run('--check');
      assert.match(broken.stdout, /^build: .*does not exist, and the prebuilt .*diffuse_native\.node does not load/);
    } finally {
      rmSync(s.root, { recursive: true, force: true });
    }
  });

  it('a failed build fails the install', () => {
    const s = sandbox();
    try {
      writeFileSync(join(s.root, 'fake-bin', 'node-gyp'), '#!/bin/sh\nexit 7\n');
      const r = s.run();
      assert.equal(r.status, 7);
    } finally {
      rmSync(s.root, { recursive: true, force: true });
    }
  });

  it('package.json runs it as the install script and ships it; setup.sh links the diffuse command', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; files: string[]; bin: Record<string, string> };
    assert.equal(pkg.scripts['install'], 'node scripts/build_native.mjs', 'never a bare `node-gyp rebuild`: it deletes build/ first');
    assert.ok(pkg.files.includes('scripts/build_native.mjs'));
    assert.ok(pkg.files.includes('prebuilds'), 'a prebuilt addon, where one is put in prebuilds/, ships in the package');
    assert.equal(pkg.bin['diffuse'], 'bin/diffuse.js');
    const setup = readFileSync(join(ROOT, 'setup.sh'), 'utf8');
    assert.match(setup, /^ln -sfn \.\.\/\.\.\/bin\/diffuse\.js node_modules\/\.bin\/diffuse$/m);
    assert.ok(setup.indexOf('npm ci') < setup.indexOf('node_modules/.bin/diffuse'), 'the link comes after npm ci (which empties node_modules)');
  });
});
