/**
 * Fault injection on `diffuse train-classifier` through the real bin: a tiny run (3 steps, a
 * checkpoint after every step, keep 1) killed (SIGKILL) at every file operation of one checkpoint
 * write with its latest.json and pruning, and failed with ENOSPC at each of its writes; every
 * checkpoint on disk loads after the fault, and `--resume` finishes a run equal to an
 * uninterrupted one bit for bit, with no temporary file left.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { assertLoadable, assertSameRun, cli, inLanes, leftovers, makeFixtures, readOpLog, runBin, saveWindow, tempDir } from './harness.js';

describe('fault injection: diffuse train-classifier', () => {
  let root = '';
  let args: (out: string) => string[];
  let ref = '';
  let ops: ReturnType<typeof readOpLog> = [];

  before(async () => {
    root = tempDir('classifier');
    const f = await makeFixtures(root);
    args = (out) => ['train-classifier', '--data', f.data, '--out', out, '--config', f.classifier, '--steps', '3', '--batch', '2', '--save-every', '1', '--keep', '1', '--threads', '1'];
    ref = join(root, 'ref');
    const log = join(root, 'ops.log');
    const r = await runBin(args(ref), `log:${log}`);
    assert.equal(r.code, 0, r.stderr);
    ops = readOpLog(log);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('SIGKILL at every file operation of a checkpoint write: every checkpoint loads, resume equals an uninterrupted run', async () => {
    const save = saveWindow(ops, 2);
    assert.ok(save.some((o) => o.kind === 'rename' && o.path.endsWith('/step-0000002')) && save.some((o) => o.path.includes('.trash-step-0000001')), 'the window holds the save and the pruning');
    await inLanes(save, async (o) => {
      const out = join(root, `kill-${o.n}`);
      const r = await runBin(args(out), `kill@any:${o.n}`);
      assert.equal(r.signal, 'SIGKILL', `kill@any:${o.n} (${o.kind} ${o.path}) did not kill the run: ${r.stderr}`);
      assertLoadable(out, 'classifier', `kill@any:${o.n}`);
      const resumed = await cli(['train-classifier', '--out', out, '--resume']);
      assert.equal(resumed.code, 0, `kill@any:${o.n}: resume failed: ${resumed.stderr}`);
      assertSameRun(ref, out, 'classifier', `kill@any:${o.n} (${o.kind} ${o.path})`);
      rmSync(out, { recursive: true, force: true });
    });
    process.stderr.write(`# fault cases: train-classifier, SIGKILL at file operations: ${save.length}\n`);
  });

  it('ENOSPC at every write of a checkpoint: a clear error, no temporary left, resume equals an uninterrupted run', async () => {
    const writes = saveWindow(ops, 2).filter((o) => o.kind === 'write');
    await inLanes(writes, async (o) => {
      const out = join(root, `enospc-${o.k}`);
      const where = `enospc@write:${o.k} (${o.path})`;
      const r = await runBin(args(out), `enospc@write:${o.k}`);
      assert.equal(r.code, 1, `${where}: ${r.stderr}`);
      assert.match(r.stderr, /the disk is full: writing checkpoint step-0000002 failed at .*The last complete checkpoint, .*step-0000001, is intact.*Free space on that disk, then continue with: diffuse train-classifier --out .* --resume/, where);
      assert.ok(!r.stderr.includes('    at '), `${where}: no stack trace: ${r.stderr}`);
      assert.deepEqual(leftovers(out), [], `${where}: temporary files left`);
      assertLoadable(out, 'classifier', where);
      const resumed = await cli(['train-classifier', '--out', out, '--resume']);
      assert.equal(resumed.code, 0, `${where}: resume failed: ${resumed.stderr}`);
      assertSameRun(ref, out, 'classifier', where);
      rmSync(out, { recursive: true, force: true });
    });
    process.stderr.write(`# fault cases: train-classifier, ENOSPC at writes: ${writes.length}\n`);
  });
});
