import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Runs a script against the compiled library in a child process with the given environment.
const distSrc = fileURLToPath(new URL('../../src/', import.meta.url));
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
});
