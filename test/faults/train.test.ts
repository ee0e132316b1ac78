/**
 * Fault injection on `diffuse train` through the real bin: a tiny run (3 steps, a checkpoint after
 * every step, keep 1) is killed (SIGKILL) at every file operation of one checkpoint write with its
 * latest.json and pruning, at every operation of the model export, and at seeded random moments;
 * ENOSPC is injected at every write of that checkpoint and of the export. After each fault every
 * checkpoint on disk loads; then `--resume` finishes the run, which must equal an uninterrupted
 * one bit for bit with no temporary file left. The operations are counted first by a dry run
 * (DIFFUSE_FAULT=log:FILE). Also: a run stopped by --time-limit and resumed equals a straight run.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync, rmSync } from 'node:fs';
import { Generator } from '../../src/tensor/random.js';
import { assertLoadable, assertSameRun, cli, exportWindow, inLanes, leftovers, makeFixtures, readOpLog, runBin, saveWindow, tempDir } from './harness.js';

const STEPS = 3;

describe('fault injection: diffuse train', () => {
  let root = '';
  let args: (out: string) => string[];
  let ref = '';
  let ops: ReturnType<typeof readOpLog> = [];

  before(async () => {
    root = tempDir('train');
    const f = await makeFixtures(root);
    args = (out) => ['train', '--data', f.data, '--out', out, '--config', f.unet, '--steps', String(STEPS), '--batch', '2', '--save-every', '1', '--keep', '1', '--threads', '1'];
    // The uninterrupted run, which is also the dry run that counts the file operations.
    ref = join(root, 'ref');
    const log = join(root, 'ops.log');
    const r = await runBin(args(ref), `log:${log}`);
    assert.equal(r.code, 0, r.stderr);
    ops = readOpLog(log);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  /** Kills or fails a fresh run as `fault` says, checks the disk, resumes in this process, compares. */
  const faultThenResume = async (fault: string | null, tag: string, killAfterMs: number | null = null): Promise<{ killed: boolean; stderr: string }> => {
    const out = join(root, tag);
    const r = await runBin(args(out), fault, killAfterMs);
    const killed = r.signal === 'SIGKILL';
    assertLoadable(out, 'unet', `${tag} (${fault ?? `kill after ${killAfterMs} ms`})`);
    // Killed before the run folder held its config (a random kill at start-up): start it again.
    const resumed = existsSync(join(out, 'train_config.json')) ? await cli(['train', '--out', out, '--resume']) : await cli(args(out));
    assert.equal(resumed.code, 0, `${tag}: resume failed: ${resumed.stderr}`);
    assertSameRun(ref, out, 'unet', tag);
    rmSync(out, { recursive: true, force: true });
    return { killed, stderr: r.stderr };
  };

  it('SIGKILL at every file operation of a checkpoint write (folder, latest.json, pruning) and of the export: resume equals an uninterrupted run', async () => {
    const save = saveWindow(ops, 2);
    const exp = exportWindow(ops);
    // The checkpoint of step 2: its folder's files, the folder's rename, latest.json, and the
    // pruning of step 1 (moved out of sight, then deleted file by file).
    assert.ok(save.some((o) => o.kind === 'rename' && o.path.endsWith('/step-0000002')) && save.some((o) => o.path.includes('.trash-step-0000001')), 'the window holds the save and the pruning');
    const points = [...save, ...exp];
    let kills = 0;
    await inLanes(points, async (o) => {
      const { killed } = await faultThenResume(`kill@any:${o.n}`, `kill-${o.n}`);
      assert.ok(killed, `kill@any:${o.n} (${o.kind} ${o.path}) did not kill the run`);
      kills++;
    });
    assert.equal(kills, points.length);
    process.stderr.write(`# fault cases: train, SIGKILL at file operations: ${kills} (checkpoint + pruning ${save.length}, export ${exp.length})\n`);
  });

  it('ENOSPC at every write of a checkpoint and of the export: a clear error naming the file, no temporary left, resume equals an uninterrupted run', async () => {
    const writes = [...saveWindow(ops, 2), ...exportWindow(ops)].filter((o) => o.kind === 'write');
    // The metrics line of step 2 comes just before its checkpoint: a full disk there too.
    const metrics2 = ops.filter((o) => o.kind === 'write' && o.path.endsWith('metrics.jsonl'))[1]!;
    const cases = [metrics2, ...writes];
    await inLanes(cases, async (o) => {
      const out = join(root, `enospc-${o.k}`);
      const r = await runBin(args(out), `enospc@write:${o.k}`);
      const where = `enospc@write:${o.k} (${o.path})`;
      assert.equal(r.code, 1, `${where}: exit code ${r.code}: ${r.stderr}`);
      assert.match(r.stderr, /the disk is full/, where);
      assert.match(r.stderr, /Free space on that disk/, where);
      assert.ok(r.stderr.includes(out), `${where}: the error names the path: ${r.stderr}`);
      assert.ok(!r.stderr.includes('    at '), `${where}: no stack trace: ${r.stderr}`);
      assert.deepEqual(leftovers(out), [], `${where}: temporary files left`);
      assertLoadable(out, 'unet', where);
      const resumed = await cli(['train', '--out', out, '--resume']);
      assert.equal(resumed.code, 0, `${where}: resume failed: ${resumed.stderr}`);
      assertSameRun(ref, out, 'unet', where);
      rmSync(out, { recursive: true, force: true });
    });
    process.stderr.write(`# fault cases: train, ENOSPC at writes: ${cases.length}\n`);
  });

  it('SIGKILL at seeded random moments: every checkpoint loads, resume equals an uninterrupted run', async () => {
    const gen = new Generator(14);
    const delays = Array.from(gen.uniform([4]).toArray(), (u) => Math.round(700 + u * 1500));
    let killed = 0;
    await inLanes(delays, async (ms, i) => {
      if ((await faultThenResume(null, `random-${i}`, ms)).killed) killed++;
    });
    process.stderr.write(`# fault cases: train, SIGKILL at random moments: ${delays.length} (${killed} landed before the run ended; delays ${delays.join(', ')} ms)\n`);
  });

  it('--time-limit: a run stopped by its time limit, resumed, equals an uninterrupted run', async () => {
    const out = join(root, 'time-limit');
    // 1e-5 min = 0.6 ms: the run stops after its first step, checkpoints and exports.
    const r = await runBin([...args(out), '--time-limit', '0.00001'], null);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /time limit reached: 1 steps/);
    assertLoadable(out, 'unet', 'time limit');
    const resumed = await cli(['train', '--out', out, '--resume', '--time-limit', '1000']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assertSameRun(ref, out, 'unet', 'time limit', ['timeLimit']);
  });
});
