/**
 * Tests of the training loop: exact resume (20 steps straight == 10 + resume 10, bit for bit:
 * raw and EMA weights, optimizer state, generators), the loss falls, metrics lines, NaN stop
 * naming the step and the last good checkpoint, abort writing a loadable checkpoint, and errors
 * when data, model and options do not fit.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { train, TrainingError } from '../../src/train/trainer.js';
import { readTrainerState, listCheckpoints } from '../../src/train/checkpoint.js';
import { latestCheckpoint, RunFolderError } from '../../src/io/model_folder.js';
import { UNet2DModel } from '../../src/nn/unet_2d.js';
import { ArgumentError } from '../../src/tensor/errors.js';
import { TINY_UNET, TinyFashion, PoisonAfter, tempDir } from './fixtures.js';

let data: TinyFashion;
const base = { data: 'tiny-fashion', unet: TINY_UNET, batchSize: 4, lr: 2e-3, warmup: 3, flip: true, classDropout: 0.3, minSnrGamma: 5, emaDecay: 0.99, seed: 7 };

const bytes = (p: string): Buffer => readFileSync(p);
const filesOf = (ckpt: string): string[] => ['unet/diffusion_pytorch_model.safetensors', 'unet_ema/diffusion_pytorch_model.safetensors', 'optimizer.safetensors'].map((f) => join(ckpt, f));

describe('train', () => {
  before(() => {
    data = new TinyFashion(24);
  });

  it('resume is exact: 20 steps straight equal 10 + resume 10 (weights, EMA, optimizer, generators, metrics)', async () => {
    const a = tempDir('straight');
    const b = tempDir('resumed');
    try {
      const ra = await train({ ...base, out: a, steps: 20, saveEvery: 100, dataset: data });
      assert.equal(ra.step, 20);
      const rb1 = await train({ ...base, out: b, steps: 10, saveEvery: 100, dataset: data });
      assert.equal(rb1.step, 10);
      // Crossing epochs (24 images, batch 4: resumed mid-epoch 1) with flips, dropout, label dropout.
      const rb2 = await train({ data: 'tiny-fashion', out: b, steps: 20, resume: true, dataset: data });
      assert.equal(rb2.step, 20);
      const ca = join(a, 'checkpoints', 'step-0000020');
      const cb = join(b, 'checkpoints', 'step-0000020');
      for (const [fa, fb] of filesOf(ca).map((f, i) => [f, filesOf(cb)[i]!] as const)) assert.ok(bytes(fa).equals(bytes(fb)), `${fa} differs from ${fb}`);
      const sa = readTrainerState(ca);
      const sb = readTrainerState(cb);
      assert.deepEqual(sb.generator, sa.generator);
      assert.deepEqual(sb.dropoutGenerator, sa.dropoutGenerator);
      assert.deepEqual(sb.loader, sa.loader);
      assert.deepEqual(sb.optimizer, sa.optimizer);
      assert.equal(sb.emaNumUpdates, 20);
      // The exported models (EMA weights) are identical too.
      assert.ok(bytes(join(a, 'model/unet/diffusion_pytorch_model.safetensors')).equals(bytes(join(b, 'model/unet/diffusion_pytorch_model.safetensors'))));
      // Metrics: one line per step, the resumed run's losses equal the straight run's.
      const lines = (d: string) => readFileSync(join(d, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; loss: number; lr: number; grad_norm: number; images_per_s: number; elapsed: number });
      const la = lines(a);
      const lb = lines(b);
      assert.deepEqual(la.map((m) => m.step), Array.from({ length: 20 }, (_, i) => i + 1));
      assert.deepEqual(lb.map((m) => m.loss), la.map((m) => m.loss));
      for (const m of la) for (const k of ['loss', 'lr', 'grad_norm', 'images_per_s', 'elapsed'] as const) assert.ok(Number.isFinite(m[k]), k);
      // Linear warm-up: lr = 2e-3 * (s + 1) / 3 for the first 3 steps, then constant.
      assert.deepEqual(la.slice(0, 4).map((m) => m.lr), [2e-3 / 3, (2e-3 * 2) / 3, 2e-3, 2e-3]);
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
  });

  it('a run that died before its first checkpoint restarts from step 0 with --resume, exactly as a straight run', async () => {
    const a = tempDir('straight-early');
    const b = tempDir('died-early');
    try {
      await train({ ...base, out: a, steps: 6, saveEvery: 100, dataset: data });
      await train({ ...base, out: b, steps: 6, saveEvery: 100, dataset: data });
      // What a kill before the first checkpoint leaves: train_config.json and some metrics lines.
      for (const f of ['checkpoints', 'latest.json', 'model']) rmSync(join(b, f), { recursive: true, force: true });
      assert.ok(existsSync(join(b, 'train_config.json')) && latestCheckpoint(b) === null);
      await assert.rejects(train({ ...base, out: b, steps: 6, dataset: data }), /already holds a run .* pass --resume/);
      const r = await train({ data: 'tiny-fashion', out: b, steps: 6, resume: true, dataset: data });
      assert.equal(r.step, 6);
      const ca = join(a, 'checkpoints', 'step-0000006');
      const cb = join(b, 'checkpoints', 'step-0000006');
      for (const [fa, fb] of filesOf(ca).map((f, i) => [f, filesOf(cb)[i]!] as const)) assert.ok(bytes(fa).equals(bytes(fb)), `${fa} differs from ${fb}`);
      const steps = (d: string) => readFileSync(join(d, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { step: number }).step);
      assert.deepEqual(steps(b), steps(a), 'the lost steps\' metrics lines are not kept twice');
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
  });

  it('resume is exact with a stateful objective: learned_range on L_vlb with importance-sampled timesteps', async () => {
    const a = tempDir('lv-straight');
    const b = tempDir('lv-resumed');
    // T = 2 timesteps: both have their 10 losses well before step 12 (48 draws), so the resumed half draws by importance.
    const lv = { ...base, unet: { ...TINY_UNET, out_channels: 2 }, numTrainTimesteps: 2, minSnrGamma: null, varianceType: 'learned_range' as const, loss: 'vlb' as const, timestepSampler: 'importance' as const };
    try {
      await train({ ...lv, out: a, steps: 20, saveEvery: 100, dataset: data });
      await train({ ...lv, out: b, steps: 12, saveEvery: 100, dataset: data });
      await train({ data: 'tiny-fashion', out: b, steps: 20, resume: true, dataset: data });
      const ca = join(a, 'checkpoints', 'step-0000020');
      const cb = join(b, 'checkpoints', 'step-0000020');
      for (const [fa, fb] of filesOf(ca).map((f, i) => [f, filesOf(cb)[i]!] as const)) assert.ok(bytes(fa).equals(bytes(fb)), `${fa} differs from ${fb}`);
      const sa = readTrainerState(ca);
      assert.deepEqual(readTrainerState(cb).objective, sa.objective);
      const history = (sa.objective as { importance: { history: number[][] } }).importance.history;
      assert.ok(history.every((h) => h.length === 10), 'the importance sampler never warmed up: the test would not exercise it');
      const mid = readTrainerState(join(b, 'checkpoints', 'step-0000012'));
      assert.ok((mid.objective as { importance: { history: number[][] } }).importance.history.every((h) => h.length === 10), 'warm-up must be over at the resume point');
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
  });

  it('learns: the loss of the last steps is below that of the first', async () => {
    const d = tempDir('learn');
    try {
      const losses: number[] = [];
      await train({ ...base, out: d, steps: 60, lr: 3e-3, flip: false, minSnrGamma: null, saveEvery: 1000, dataset: data }, { onProgress: (m) => losses.push(m.loss) });
      const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
      assert.ok(mean(losses.slice(-15)) < 0.8 * mean(losses.slice(0, 5)), `losses ${losses.map((l) => l.toFixed(3)).join(' ')}`);
      // The exported model loads as a diffusers folder.
      const m = UNet2DModel.fromPretrained(join(d, 'model', 'unet'));
      assert.equal(m.config.numClassEmbeds, 4);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('a NaN loss stops the run, naming the step and the last good checkpoint', async () => {
    const d = tempDir('nan');
    try {
      // 5 good batches of 4, then NaN images: the loss is NaN at step 6; checkpoints every 2 steps.
      const poisoned = new PoisonAfter(data, 20);
      await assert.rejects(
        train({ ...base, out: d, steps: 20, saveEvery: 2, dataset: poisoned }),
        (e: unknown) => e instanceof TrainingError && /loss is NaN at step 6/.test(e.message) && e.message.includes(join('checkpoints', 'step-0000004')),
      );
      assert.equal(latestCheckpoint(d)?.step, 4);
      // A NaN before any checkpoint says so.
      const d2 = join(d, 'early');
      await assert.rejects(train({ ...base, out: d2, steps: 5, dataset: new PoisonAfter(data, 0) }), /loss is NaN at step 1; stopping \(no checkpoint was written yet\)/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('abort (Ctrl-C) writes a loadable checkpoint after the current step and returns; resume finishes the run', async () => {
    const d = tempDir('abort');
    try {
      const ac = new AbortController();
      const r = await train({ ...base, out: d, steps: 50, saveEvery: 100, dataset: data }, { signal: ac.signal, onProgress: (m) => { if (m.step === 3) ac.abort(); } });
      assert.equal(r.interrupted, true);
      assert.equal(r.step, 3);
      assert.equal(r.modelDir, null);
      assert.equal(latestCheckpoint(d)?.step, 3);
      UNet2DModel.fromPretrained(join(r.checkpoint, 'unet_ema'));
      const r2 = await train({ data: 'x', out: d, steps: 5, resume: true, dataset: data });
      assert.equal(r2.step, 5);
      assert.ok(existsSync(join(d, 'model', 'unet', 'config.json')));
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('a time limit ends the run early like a normal end: checkpoint and exported model', async () => {
    const d = tempDir('time');
    try {
      // 0.0001 min = 6 ms: the first step always runs, and the budget is spent after it.
      const r = await train({ ...base, out: d, steps: 50, timeLimit: 0.0001, dataset: data });
      assert.equal(r.timeLimited, true);
      assert.equal(r.interrupted, false);
      assert.equal(r.step, 1);
      assert.equal(latestCheckpoint(d)?.step, 1);
      assert.ok(existsSync(join(d, 'model', 'unet', 'config.json')));
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('keeps the last --keep checkpoints', async () => {
    const d = tempDir('keep');
    try {
      await train({ ...base, out: d, steps: 9, saveEvery: 2, keep: 2, dataset: data });
      assert.deepEqual(listCheckpoints(d), ['step-0000008', 'step-0000009']);
      assert.deepEqual(readdirSync(join(d, 'checkpoints')).sort(), ['step-0000008', 'step-0000009']);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('bad combinations fail before any work with clear errors', async () => {
    const d = tempDir('bad');
    try {
      await assert.rejects(train({ ...base, out: d, unet: { ...TINY_UNET, num_class_embeds: 3 }, dataset: data }), /has 3 classes, so the U-Net needs num_class_embeds >= 4 \(the last index is the null class/);
      await assert.rejects(train({ ...base, out: d, unet: { ...TINY_UNET, sample_size: 16 }, dataset: data }), /8x8 images but the U-Net's sample_size is 16/);
      await assert.rejects(train({ ...base, out: d, unet: { ...TINY_UNET, in_channels: 3, out_channels: 3 }, dataset: data }), /1 channel\(s\), so this objective needs a U-Net with in_channels 1 and out_channels 1; found 3 and 3/);
      await assert.rejects(train({ ...base, out: d, batchSize: 25, dataset: data }), /24 images, fewer than one batch of 25/);
      await assert.rejects(train({ ...base, out: d, lr: -1, dataset: data }), (e: unknown) => e instanceof ArgumentError && /'lr' must be a number in \(0, 1\], found -1/.test(e.message));
      await assert.rejects(train({ data: 'x', out: d, resume: true, dataset: data }), (e: unknown) => e instanceof RunFolderError && /not a run folder/.test(e.message));
      // Nothing was written by the failures above.
      assert.deepEqual(readdirSync(d), []);
      await train({ ...base, out: d, steps: 2, dataset: data });
      await assert.rejects(train({ ...base, out: d, steps: 2, dataset: data }), /already holds a run .* pass --resume/);
      await assert.rejects(train({ data: 'x', out: d, steps: 4, lr: 0.5, resume: true, dataset: data }), /these differ: lr \(saved 0.002, given 0.5\)/);
      await assert.rejects(train({ data: 'x', out: d, steps: 1, resume: true, dataset: data }), /--steps 1 is below the checkpoint's step 2/);
      // The same --config file again (without the saved _class_name/_diffusers_version and defaults) is the same run.
      const r = await train({ data: 'x', out: d, steps: 3, unet: TINY_UNET, resume: true, dataset: data });
      assert.equal(r.step, 3);
      // A changed U-Net field is named alone, not as two JSON blobs.
      await assert.rejects(train({ data: 'x', out: d, steps: 4, unet: { ...TINY_UNET, norm_num_groups: 2 }, resume: true, dataset: data }), /these differ: unet\.norm_num_groups \(saved \d+, given 2\)\. Only/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
