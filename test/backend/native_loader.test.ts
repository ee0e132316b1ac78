import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Runs a script against the compiled library in a child process with the given environment.
const distSrc = fileURLToPath(new URL('../../src/', import.meta.url));
const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = join(root, 'bin', 'diffuse.js');
const addonFile = join(root, 'build', 'Release', 'diffuse_native.node');

/** `diffuse info` through the bin, as a user runs it, with DIFFUSE_NATIVE pointing at `file`. */
function infoWith(file: string, cwd?: string): { status: number | null; signal: string | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, [bin, 'info'], { env: { ...process.env, DIFFUSE_NATIVE: file }, encoding: 'utf8', ...(cwd === undefined ? {} : { cwd }) });
  return { status: r.status, signal: r.signal, stderr: r.stderr, stdout: r.stdout };
}

/** sharp's prebuilt addon (a dependency): a real .node file that is not ours. */
function sharpAddon(): string {
  const img = join(root, 'node_modules', '@img');
  const found = existsSync(img)
    ? readdirSync(img).filter((d) => d.startsWith('sharp-')).map((d) => join(img, d, 'lib')).filter(existsSync).flatMap((lib) => readdirSync(lib).filter((f) => f.endsWith('.node')).map((f) => join(lib, f)))
    : [];
  if (found[0] === undefined) throw new Error(`no sharp addon under ${img}/sharp-*/lib/*.node: run 'npm ci' (sharp is a dependency)`);
  return found[0];
}
function runChild(code: string, env: Record<string, string>): { status: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

describe('native addon loader', () => {
  const script = `
    const { tensor } = await import(${JSON.stringify(join(distSrc, 'tensor/create.js'))});
    const { silu } = await import(${JSON.stringify(join(distSrc, 'ops/unary.js'))});
    for (let i = 0; i < 2; i++) {
      try { silu(tensor([1], [1])); console.log('loaded'); }
      catch (e) { console.log(e.name + ': ' + e.message); }
    }`;

  it('a missing addon: every call fails naming the file looked for and the fix command', () => {
    const missing = join(tmpdir(), 'diffuse-no-such-addon.node');
    const r = runChild(script, { DIFFUSE_NATIVE: missing });
    assert.equal(r.status, 0, r.stderr);
    // Both calls fail the same way (the failure is remembered, not retried into a crash).
    const failures = r.stdout.match(/^NativeLoadError: diffuse: the native addon could not be loaded/gm) ?? [];
    assert.equal(failures.length, 2, r.stdout);
    assert.ok(!r.stdout.includes('loaded\n'), r.stdout);
    assert.ok(r.stdout.includes(`${missing} (not found)`), r.stdout);
    assert.ok(r.stdout.includes('apt-get install -y libdnnl-dev g++ make python3 && npm run build:native'), r.stdout);
  });

  it('a corrupt addon file: the load error is reported, not a crash', () => {
    const dir = mkdtempSync(join(tmpdir(), 'diffuse-'));
    const bad = join(dir, 'diffuse_native.node');
    writeFileSync(bad, 'not a shared object');
    const r = runChild(script, { DIFFUSE_NATIVE: bad });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /NativeLoadError: .*\n.*diffuse_native\.node \(failed to load: /);
  });

  it('the real addon loads and reports oneDNN and threads; DIFFUSE_THREADS sets the count', () => {
    const info = `const { engineInfo } = await import(${JSON.stringify(join(distSrc, 'engine_info.js'))}); console.log(JSON.stringify(engineInfo()));`;
    const r = runChild(info, { DIFFUSE_THREADS: '1' });
    assert.equal(r.status, 0, r.stderr);
    const parsed = JSON.parse(r.stdout) as { dnnlVersion: string; threads: number; isa: string };
    assert.match(parsed.dnnlVersion, /^[23]\.\d+\.\d+$/);
    assert.equal(parsed.threads, 1);
    assert.ok(parsed.isa.length > 0);
  });

  it('a bad DIFFUSE_THREADS (not an integer, or < 1) stops the load with a NativeLoadError naming the value', () => {
    const info = `
      const { engineInfo } = await import(${JSON.stringify(join(distSrc, 'engine_info.js'))});
      try { console.log(JSON.stringify(engineInfo())); } catch (e) { console.log(e.name + ': ' + e.message); }`;
    for (const bad of ['abc', '0', '-2', '1.5', '4x']) {
      const r = runChild(info, { DIFFUSE_THREADS: bad });
      assert.equal(r.status, 0, r.stderr);
      assert.ok(r.stdout.startsWith(`NativeLoadError: DIFFUSE_THREADS must be an integer >= 1 (the threads for oneDNN and the native kernels), found '${bad}'`), `${bad}: ${r.stdout}`);
      assert.match(r.stdout, /unset it to use all cores/);
    }
    // Empty means unset: all cores.
    const r = runChild(info, { DIFFUSE_THREADS: '' });
    assert.equal(r.status, 0, r.stderr);
    assert.ok((JSON.parse(r.stdout) as { threads: number }).threads >= 1, r.stdout);
  });

  it('threadsFromEnv: the checked value, null when unset or empty', async () => {
    const { threadsFromEnv } = (await import(join(distSrc, 'backend/native/loader.js'))) as typeof import('../../src/backend/native/loader.js');
    assert.equal(threadsFromEnv({ DIFFUSE_THREADS: '3' }), 3);
    assert.equal(threadsFromEnv({ DIFFUSE_THREADS: ' 2 ' }), 2);
    assert.equal(threadsFromEnv({}), null);
    assert.equal(threadsFromEnv({ DIFFUSE_THREADS: '' }), null);
    assert.throws(() => threadsFromEnv({ DIFFUSE_THREADS: '0' }), /found '0'/);
    assert.throws(() => threadsFromEnv({ DIFFUSE_THREADS: '99999999999' }), /found '99999999999'/);
  });

  describe('a broken addon file through the bin: exit 1 with the file, the problem and the fix (issue 14, failure 3)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'diffuse-addon-'));
    const fix = 'apt-get install -y libdnnl-dev g++ make python3 && npm run build:native';
    /** The common shape: exit 1, no signal, no stack, the file named with its problem, the fix. */
    const assertClearError = (r: ReturnType<typeof infoWith>, file: string, problem: RegExp): void => {
      assert.equal(r.signal, null, `killed by ${r.signal}: ${r.stderr}`);
      assert.equal(r.status, 1, r.stderr);
      assert.ok(r.stderr.startsWith('diffuse info: the native addon could not be loaded. Looked for:\n'), r.stderr);
      const line = r.stderr.split('\n').find((l) => l.includes(file));
      assert.ok(line !== undefined, `the file ${file} is not named: ${r.stderr}`);
      assert.match(line, problem);
      assert.ok(r.stderr.includes(fix), r.stderr);
      assert.match(r.stderr, /unset it to use \S+diffuse_native\.node/);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    };

    it('truncated (head -c 50000): was SIGBUS, exit 135', () => {
      const file = join(dir, 'truncated.node');
      writeFileSync(file, readFileSync(addonFile).subarray(0, 50_000));
      assertClearError(infoWith(file), file, /\(failed to load: its section headers end at byte \d+ but the file has 50000 bytes: the file is truncated/);
    });

    it("sharp's addon in its place: was a TypeError stack", () => {
      const file = join(dir, 'sharp.node');
      copyFileSync(sharpAddon(), file);
      const r = infoWith(file);
      assertClearError(r, file, /\(failed to load: it is not diffuse's addon: it exports .+, not nativeInfo\(\) and setNumThreads\(\)/);
      assert.doesNotMatch(r.stderr, /TypeError/);
    });

    it('built for another CPU', () => {
      const file = join(dir, 'other-cpu.node');
      const b = Buffer.from(readFileSync(addonFile));
      b.writeUInt16LE(process.arch === 'arm64' ? 62 : 183, 18);
      writeFileSync(file, b);
      assertClearError(infoWith(file), file, /\(failed to load: it was built for (x86-64|AArch64), but this process runs on/);
    });

    it('a whole copy loads, and DIFFUSE_NATIVE may be relative to the working folder', () => {
      copyFileSync(addonFile, join(dir, 'copy.node'));
      const r = infoWith('./copy.node', dir);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /oneDNN\s+[23]\.\d+\.\d+/);
    });
  });
});
