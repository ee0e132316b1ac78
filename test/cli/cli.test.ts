import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// The bin script imports dist/, so this runs against the compiled CLI (npm test builds it first).
const bin = fileURLToPath(new URL('../../../bin/diffuse.js', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

describe('diffuse CLI', () => {
  it('--help lists the commands', () => {
    const r = run('--help');
    assert.equal(r.status, 0);
    for (const cmd of ['info', 'demo', 'DIFFUSE_THREADS']) assert.ok(r.stdout.includes(cmd), cmd);
  });
  it('info prints the oneDNN version, ISA and threads; --json parses', () => {
    const r = run('info');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /oneDNN\s+[23]\.\d+\.\d+/);
    assert.match(r.stdout, /cpu isa\s+\S+/);
    assert.match(r.stdout, /threads\s+\d+/);
    const j = JSON.parse(run('info', '--json').stdout) as { threads: number };
    assert.ok(j.threads >= 1);
  });
  it('demo trains: the loss falls', () => {
    const r = run('demo', '--steps', '60');
    assert.equal(r.status, 0, r.stderr);
    const m = /fell from ([\d.]+) to ([\d.]+)/.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.ok(Number(m[2]) < 0.8 * Number(m[1]), r.stdout);
  });
  it('bad input: unknown command and bad flags give clear errors and non-zero exits', () => {
    const u = run('frobnicate');
    assert.equal(u.status, 2);
    assert.match(u.stderr, /unknown command 'frobnicate'/);
    const s = run('demo', '--steps', 'zero');
    assert.equal(s.status, 1);
    assert.match(s.stderr, /--steps must be an integer >= 1, found 'zero'/);
    const f = run('info', '--bogus');
    assert.equal(f.status, 1);
    assert.match(f.stderr, /bogus/);
  });
});
