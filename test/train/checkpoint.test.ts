/**
 * Tests of the run folder: layout and contents of a checkpoint, atomicity (a crash mid-write,
 * simulated by garbage temp folders and a torn latest.json temp file, leaves the previous
 * checkpoint loadable and resumable), the exported DDPMPipeline folder, and resolveModelDir.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { train } from '../../src/train/trainer.js';
import { readTrainerState, writeDirAtomic, checkpointName } from '../../src/train/checkpoint.js';
import { resolveModelDir, latestCheckpoint, RunFolderError } from '../../src/io/model_folder.js';
import { trainConfigFromJSON } from '../../src/train/config.js';
import { UNet2DModel } from '../../src/nn/unet_2d.js';
import { DDPMScheduler } from '../../src/schedulers/ddpm.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { readSchedulerConfig } from '../../src/io/checkpoint.js';
import { TINY_UNET, TinyFashion, tempDir } from './fixtures.js';

let data: TinyFashion;
let run: string;
const opts = { data: 'tiny-fashion', unet: TINY_UNET, batchSize: 4, lr: 1e-3, warmup: 2, seed: 3, predictionType: 'v_prediction' as const, betaSchedule: 'squaredcos_cap_v2' as const };

describe('run folder and checkpoints', () => {
  before(async () => {
    data = new TinyFashion(12);
    run = tempDir('ckpt');
    await train({ ...opts, out: run, steps: 6, saveEvery: 3, dataset: data });
  });
  after(() => rmSync(run, { recursive: true, force: true }));

  it('writes the documented layout; a checkpoint holds weights, EMA, optimizer, scheduler and state', () => {
    assert.deepEqual(readdirSync(run).sort(), ['checkpoints', 'latest.json', 'metrics.jsonl', 'model', 'train_config.json']);
    assert.deepEqual(JSON.parse(readFileSync(join(run, 'latest.json'), 'utf8')), { step: 6, checkpoint: join('checkpoints', 'step-0000006') });
    const ck = join(run, 'checkpoints', 'step-0000006');
    assert.deepEqual(readdirSync(ck).sort(), ['model_index.json', 'optimizer.safetensors', 'scheduler', 'trainer_state.json', 'unet', 'unet_ema']);
    const s = readTrainerState(ck);
    assert.equal(s.step, 6);
    assert.equal(s.emaNumUpdates, 6);
    assert.equal(s.optimizer.step.length, UNet2DModel.fromPretrained(join(ck, 'unet')).parameters().length);
    assert.ok(s.optimizer.step.every((k) => k === 6));
    assert.deepEqual(s.loader, { epoch: 1, position: 12, epochStart: s.loader!.epochStart });
    // The saved config is complete (U-Net config resolved) and round-trips.
    const cfg = trainConfigFromJSON(s.config);
    assert.equal(cfg.predictionType, 'v_prediction');
    assert.equal((cfg.unet as { num_class_embeds: number }).num_class_embeds, 4);
    assert.deepEqual(trainConfigFromJSON(JSON.parse(readFileSync(join(run, 'train_config.json'), 'utf8'))), cfg);
    // The optimizer file names every parameter's moments.
    const opt = readSafetensors(join(ck, 'optimizer.safetensors'));
    assert.ok(opt.tensors.has('exp_avg.conv_in.weight') && opt.tensors.has('exp_avg_sq.conv_out.bias'));
    // The scheduler config is diffusers' DDPMScheduler's, with the run's schedule.
    const sc = readSchedulerConfig(join(ck, 'scheduler'));
    assert.equal(sc['_class_name'], 'DDPMScheduler');
    assert.equal(sc['prediction_type'], 'v_prediction');
    assert.equal(sc['beta_schedule'], 'squaredcos_cap_v2');
    assert.equal(JSON.parse(readFileSync(join(ck, 'model_index.json'), 'utf8'))._class_name, 'DDPMPipeline');
  });

  it('exports RUN_DIR/model as a DDPMPipeline folder with the EMA weights', () => {
    const m = join(run, 'model');
    // The pipeline folder, plus the class names and the sampling defaults of a class-conditional model.
    assert.deepEqual(readdirSync(m).sort(), ['classes.json', 'model_index.json', 'sampling_config.json', 'scheduler', 'unet']);
    assert.deepEqual(JSON.parse(readFileSync(join(m, 'classes.json'), 'utf8')), { class_names: ['t-shirt', 'trouser', 'pullover'] });
    const idx = JSON.parse(readFileSync(join(m, 'model_index.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(idx['unet'], ['diffusers', 'UNet2DModel']);
    assert.deepEqual(idx['scheduler'], ['diffusers', 'DDPMScheduler']);
    const ema = readFileSync(join(run, 'checkpoints', 'step-0000006', 'unet_ema', 'diffusion_pytorch_model.safetensors'));
    assert.ok(readFileSync(join(m, 'unet', 'diffusion_pytorch_model.safetensors')).equals(ema));
    const raw = readFileSync(join(run, 'checkpoints', 'step-0000006', 'unet', 'diffusion_pytorch_model.safetensors'));
    assert.ok(!raw.equals(ema), 'EMA weights differ from the raw ones');
    UNet2DModel.fromPretrained(join(m, 'unet'));
    assert.equal(new DDPMScheduler(readSchedulerConfig(join(m, 'scheduler'))).config.predictionType, 'v_prediction');
  });

  it('resolveModelDir: run folder, run without model/, checkpoint, pipeline, bare model folder, and a clear error', () => {
    assert.deepEqual(resolveModelDir(run), { unetDir: join(run, 'model', 'unet'), schedulerDir: join(run, 'model', 'scheduler') });
    const ck = join(run, 'checkpoints', 'step-0000006');
    assert.deepEqual(resolveModelDir(ck), { unetDir: join(ck, 'unet_ema'), schedulerDir: join(ck, 'scheduler') });
    assert.deepEqual(resolveModelDir(join(run, 'model')), { unetDir: join(run, 'model', 'unet'), schedulerDir: join(run, 'model', 'scheduler') });
    assert.deepEqual(resolveModelDir(join(run, 'model', 'unet')), { unetDir: join(run, 'model', 'unet'), schedulerDir: join(run, 'model', 'scheduler') });
    const tmp = tempDir('resolve');
    try {
      // An interrupted run (no model/) resolves to its latest checkpoint's EMA weights.
      const r2 = join(tmp, 'run');
      cpSync(run, r2, { recursive: true });
      rmSync(join(r2, 'model'), { recursive: true });
      assert.deepEqual(resolveModelDir(r2), { unetDir: join(r2, 'checkpoints', 'step-0000006', 'unet_ema'), schedulerDir: join(r2, 'checkpoints', 'step-0000006', 'scheduler') });
      // A bare model folder without a scheduler anywhere.
      const bare = join(tmp, 'bare');
      cpSync(join(run, 'model', 'unet'), bare, { recursive: true });
      assert.deepEqual(resolveModelDir(bare), { unetDir: bare, schedulerDir: null });
      const empty = join(tmp, 'empty');
      mkdirSync(empty);
      assert.throws(() => resolveModelDir(empty), (e: unknown) => e instanceof RunFolderError && /found no model. Looked for .*model.*unet.*latest\.json.*unet_ema.*config\.json/.test(e.message));
      assert.throws(() => resolveModelDir(join(tmp, 'nope')), /no such folder/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('a crash mid-write (garbage temp folders, torn temp files) leaves the previous checkpoint loadable; resume cleans up', async () => {
    const tmp = tempDir('crash');
    try {
      const r = join(tmp, 'run');
      cpSync(run, r, { recursive: true });
      // What a crash while writing step 9 leaves: a half-written temp checkpoint folder with garbage,
      // an old-folder leftover, and a torn temp file beside latest.json. Their writer's PID is one
      // that cannot run (above Linux's largest pid_max): leftovers of a running writer are kept.
      const half = join(r, 'checkpoints', `.tmp-${checkpointName(9)}-99999999-1`);
      mkdirSync(join(half, 'unet'), { recursive: true });
      writeFileSync(join(half, 'unet', 'diffusion_pytorch_model.safetensors'), 'garbage');
      writeFileSync(join(half, 'trainer_state.json'), '{"step": 9, "gen');
      mkdirSync(join(r, 'checkpoints', '.old-step-0000003-99999999-1'));
      writeFileSync(join(r, '.latest.json.99999999.456.tmp'), '{"step": 9, "che');
      assert.equal(latestCheckpoint(r)?.step, 6);
      UNet2DModel.fromPretrained(resolveModelDir(join(r, 'checkpoints', 'step-0000006')).unetDir);
      const res = await train({ data: 'x', out: r, steps: 8, resume: true, dataset: data });
      assert.equal(res.step, 8);
      assert.deepEqual(readdirSync(join(r, 'checkpoints')).sort(), ['step-0000003', 'step-0000006', 'step-0000008']);
      // writeDirAtomic: a failing fill leaves neither the target nor a temp folder.
      const target = join(tmp, 'target');
      assert.throws(() => writeDirAtomic(target, (t) => {
        writeFileSync(join(t, 'a'), 'x');
        throw new Error('disk full');
      }), /disk full/);
      assert.equal(existsSync(target), false);
      assert.deepEqual(readdirSync(tmp).sort(), ['run']);
      // Rewriting an existing folder replaces it whole.
      writeDirAtomic(target, (t) => writeFileSync(join(t, 'a'), 'one'));
      writeDirAtomic(target, (t) => writeFileSync(join(t, 'b'), 'two'));
      assert.deepEqual(readdirSync(target), ['b']);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
