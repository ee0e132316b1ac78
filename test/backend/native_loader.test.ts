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
});
