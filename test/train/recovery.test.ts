/**
 * Regression tests of issue 14, failures 2a, 7 (disk full, in part) and 9, in process:
 *   2a  a kill while Ctrl-C re-saved the newest checkpoint left latest.json naming a folder that
 *       existed only as `.old-step-...`: latestCheckpoint, sample (resolveModelDir) and --resume
 *       failed; now readers use the `.old-` copy and resume puts it back. And Ctrl-C right after a
 *       periodic checkpoint no longer rewrites it;
 *   9   a kill during pruning left a half-deleted step folder, one during export `.tmp-model-*`,
 *       and `.latest.json.*.tmp` files stayed: incomplete folders are not checkpoints, and the next
 *       save or resume removes every leftover of a dead writer;
 *   7   ENOSPC during a save is a DiskFullError naming the file and the fix, leaves no temporary
 *       file, and the run resumes to the same result as a straight one.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { train } from '../../src/train/trainer.js';
import { listCheckpoints } from '../../src/train/checkpoint.js';
import { latestCheckpoint, resolveModelDir } from '../../src/io/model_folder.js';
import { DiskFullError, setFaultPlan } from '../../src/io/file_ops.js';
import { UNet2DModel } from '../../src/nn/unet_2d.js';
import { TinyFashion, tempDir } from './fixtures.js';

/** A writer PID that cannot run (above Linux's largest pid_max): its leftovers are stale. */
const DEAD = 99999999;
const UNET = { sample_size: 8, in_channels: 1, out_channels: 1, block_out_channels: [4, 4], down_block_types: ['DownBlock2D', 'DownBlock2D'], up_block_types: ['UpBlock2D', 'UpBlock2D'], layers_per_block: 1, norm_num_groups: 2, attention_head_dim: 4, num_class_embeds: null };
const opts = { data: 'tiny-fashion', unet: UNET, batchSize: 2, seed: 5, saveEvery: 2, keep: 2 };

/** Every temporary name under `dir`. */
function leftovers(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (/^\.(tmp|old|trash)-/.test(e.name) || /^\..*\.tmp$/.test(e.name)) out.push(join(d, e.name));
      if (e.isDirectory()) walk(join(d, e.name));
    }
  };
  walk(dir);
  return out;
}

describe('run folder recovery after a kill or a full disk', () => {
  let data: TinyFashion;
  let root = '';
  let straight = '';

  before(async () => {
    data = new TinyFashion(8);
    root = tempDir('recovery');
    straight = join(root, 'straight');
    await train({ ...opts, out: straight, steps: 4, dataset: data });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  const same = (a: string, b: string, file: string): boolean => readFileSync(join(a, file)).equals(readFileSync(join(b, file)));

  it('failure 2a: latest.json naming a step folder that a kill left only as .old-: readers use the copy, --resume puts it back and finishes', async () => {
    const run = join(root, '2a');
    await train({ ...opts, out: run, steps: 2, dataset: data });
    // The state of a kill between the two renames of re-saving step 2: the complete folder moved
    // aside, the new one still under its temporary name (half written).
    const ck = join(run, 'checkpoints');
    renameSync(join(ck, 'step-0000002'), join(ck, `.old-step-0000002-${DEAD}-1`));
    mkdirSync(join(ck, `.tmp-step-0000002-${DEAD}-2`, 'unet'), { recursive: true });
    // An interrupted run has no exported model: sample reads the latest checkpoint.
    rmSync(join(run, 'model'), { recursive: true, force: true });
    const latest = latestCheckpoint(run);
    assert.ok(latest !== null && latest.step === 2 && existsSync(join(latest.dir, 'trainer_state.json')), `latest: ${JSON.stringify(latest)}`);
    // What `diffuse sample --model RUN` loads.
    UNet2DModel.fromPretrained(resolveModelDir(run).unetDir);
    const logs: string[] = [];
    const r = await train({ data: '', out: run, steps: 4, resume: true, dataset: data }, { onLog: (m) => logs.push(m) });
    assert.equal(r.step, 4);
    assert.ok(logs.some((m) => /recovered .*\.old-step-0000002-.* -> .*step-0000002/.test(m)), logs.join('\n'));
    assert.ok(logs.some((m) => /resumed .* at step 2/.test(m)), logs.join('\n'));
    assert.deepEqual(leftovers(run), []);
    for (const f of ['checkpoints/step-0000004/unet/diffusion_pytorch_model.safetensors', 'checkpoints/step-0000004/unet_ema/diffusion_pytorch_model.safetensors', 'checkpoints/step-0000004/optimizer.safetensors']) {
      assert.ok(same(straight, run, f), f);
    }
  });

  it('failure 2a: Ctrl-C right after a periodic checkpoint does not write that checkpoint again', async () => {
    const run = join(root, 'ctrl-c');
    const controller = new AbortController();
    const logs: string[] = [];
    const r = await train({ ...opts, out: run, steps: 4, dataset: data }, { signal: controller.signal, onLog: (m) => logs.push(m), onProgress: (m) => m.step === 2 && controller.abort() });
    assert.equal(r.interrupted, true);
    assert.equal(r.step, 2);
    assert.deepEqual(logs.filter((m) => m.startsWith('checkpoint')).length, 1, logs.join('\n'));
    assert.equal(latestCheckpoint(run)?.step, 2);
  });

  it('failure 9: a half-deleted step folder is no checkpoint; .tmp-model-*, .old-/.trash- folders and .latest.json.*.tmp of dead writers go at the next save', async () => {
    const run = join(root, '9');
    await train({ ...opts, out: run, steps: 2, dataset: data });
    const ck = join(run, 'checkpoints');
    // A pruning killed half way by an earlier version: step-0000001 without its marker.
    mkdirSync(join(ck, 'step-0000001', 'unet'), { recursive: true });
    writeFileSync(join(ck, 'step-0000001', 'model_index.json'), '{}');
    // A kill during export, during pruning, and while writing latest.json.
    mkdirSync(join(run, `.tmp-model-${DEAD}-1`, 'unet'), { recursive: true });
    mkdirSync(join(ck, `.trash-step-0000000-${DEAD}-1`));
    writeFileSync(join(run, `.latest.json.${DEAD}.1.tmp`), '{"step": 2, "che');
    assert.deepEqual(listCheckpoints(run), ['step-0000002']);
    // A kill after step 2's folder was renamed in but before latest.json: the complete folder counts.
    unlinkSync(join(run, 'latest.json'));
    assert.equal(latestCheckpoint(run)?.step, 2);
    const r = await train({ data: '', out: run, steps: 4, resume: true, dataset: data });
    assert.equal(r.step, 4);
    assert.deepEqual(leftovers(run), []);
    assert.deepEqual(readdirSync(ck).sort(), ['step-0000002', 'step-0000004']);
    assert.ok(same(straight, run, 'model/unet/diffusion_pytorch_model.safetensors'));
  });

  it('failure 7: ENOSPC in a checkpoint write is a DiskFullError naming the file and the fix; no temporary is left; the resumed run equals a straight one', async () => {
    for (const n of [3, 9, 12]) {
      const run = join(root, `enospc-${n}`);
      // Writes: train_config.json, metrics 1, 2, then the checkpoint of step 2 (8 files), latest.json, ...
      setFaultPlan(`enospc@write:${n}`);
      let err: unknown = null;
      try {
        await train({ ...opts, out: run, steps: 4, dataset: data });
      } catch (e) {
        err = e;
      } finally {
        setFaultPlan(null);
      }
      assert.ok(err instanceof DiskFullError, `write ${n}: ${String(err)}`);
      assert.match(err.message, new RegExp(`the disk is full: .*${run.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/.*Free space on that disk, then continue with: diffuse train --out .* --resume`), err.message);
      assert.ok(err.path.startsWith(run), err.path);
      assert.deepEqual(leftovers(run), [], `write ${n}`);
      const r = await train({ data: '', out: run, steps: 4, resume: true, dataset: data });
      assert.equal(r.step, 4);
      assert.deepEqual(leftovers(run), []);
      assert.ok(same(straight, run, 'checkpoints/step-0000004/optimizer.safetensors'), `write ${n}`);
      assert.ok(same(straight, run, 'model/unet/diffusion_pytorch_model.safetensors'), `write ${n}`);
    }
  });
});
