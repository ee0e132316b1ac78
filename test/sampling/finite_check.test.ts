/**
 * The engine's per-step finite checks (sampling/finite_check.ts; issue 14, failure 6): a run whose
 * model output or sample goes NaN/Inf stops with a NonfiniteSampleError naming the step (i of n),
 * the method, which tensor went non-finite and the likely cause, through every family (schedulers,
 * k-diffusion samplers, RePaint, the SDE pc/ode samplers); a finite run is unchanged. Oracles:
 * guidance 1e308 overflows classifier-free guidance (out = u + w (c - u)) at the first step; a
 * model whose conv_out bias is NaN outputs NaN everywhere; a sampler that returns NaN.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from '../../src/pipelines/generate.js';
import { inpaint } from '../../src/pipelines/inpaint.js';
import { img2img } from '../../src/pipelines/img2img.js';
import { sdeSample } from '../../src/sampling/sde_process.js';
import { FiniteGuard, NonfiniteSampleError, isAllFinite } from '../../src/sampling/finite_check.js';
import { DDIMScheduler, type DDIMStepOptions, type SchedulerOutput } from '../../src/schedulers/index.js';
import { UNet2DModel, configToJSON, type UNet2DConfig } from '../../src/nn/unet_2d.js';
import { writeDiffusersFolder } from '../../src/io/checkpoint.js';
import { VpSde } from '../../src/sde/vp.js';
import { Generator } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';

const TINY: Partial<UNet2DConfig> = {
  sampleSize: [8, 6], inChannels: 1, outChannels: 1, blockOutChannels: [4, 8], layersPerBlock: 1, normNumGroups: 2,
  downBlockTypes: ['DownBlock2D', 'AttnDownBlock2D'], upBlockTypes: ['AttnUpBlock2D', 'UpBlock2D'], attentionHeadDim: 4, numClassEmbeds: 3,
};
const SCHED = { num_train_timesteps: 100, beta_schedule: 'linear' };
const model = new UNet2DModel(TINY).eval();

/** A copy of the tiny model saved with conv_out's bias NaN, loaded with allowNonfinite. */
let dir = '';
let broken: UNet2DModel;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'finite-'));
  const state = new Map<string, Tensor | { shape: readonly number[]; data: Float32Array }>(model.stateDict());
  const bias = state.get('conv_out.bias')!;
  state.set('conv_out.bias', { shape: bias.shape, data: new Float32Array(bias.shape[0]!).fill(NaN) });
  writeDiffusersFolder(dir, configToJSON(model.config as UNet2DConfig), state);
  broken = UNet2DModel.fromPretrained(dir, { allowNonfinite: true, onWarning: () => {} });
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Asserts `fn` throws a NonfiniteSampleError whose message holds every pattern. */
function throwsNonfinite(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof NonfiniteSampleError, `expected a NonfiniteSampleError, got ${String(e)}`);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

describe('isAllFinite', () => {
  it('is true for finite values (even when their sum overflows) and false for NaN, +Inf and -Inf', () => {
    assert.equal(isAllFinite(new Tensor(Float32Array.of(1, -2, 3), [3])), true);
    assert.equal(isAllFinite(new Tensor(Float32Array.of(3e38, 3e38, 3e38), [3])), true);
    assert.equal(isAllFinite(new Tensor(Float32Array.of(1, NaN, 3), [3])), false);
    assert.equal(isAllFinite(new Tensor(Float32Array.of(Infinity, 0), [2])), false);
    assert.equal(isAllFinite(new Tensor(Float32Array.of(-Infinity, 0), [2])), false);
  });
});

describe('the engine stops on NaN/Inf with the step, the method and the likely cause', () => {
  it('guidance 1e308 (a scheduler): the model output at step 1, guidance named', () => {
    for (const scheduler of ['ddim', 'DDPMScheduler', 'unipc']) {
      throwsNonfinite(
        () => generate({ model, scheduler, schedulerConfig: SCHED, n: 2, steps: 3, seed: 0, classLabels: 1, guidanceScale: 1e308 }),
        /model output went NaN or Inf at step 1 of 3/, /guidance weight 1e\+308 is too large/, new RegExp(scheduler === 'ddim' ? 'DDIMScheduler' : scheduler === 'unipc' ? 'UniPCMultistepScheduler' : 'DDPMScheduler'),
      );
    }
  });

  it('guidance 1e308 (a k-diffusion sampler): the model output at step 1', () => {
    for (const scheduler of ['euler', 'dpmpp_2m', 'heun', 'dpm_adaptive']) {
      throwsNonfinite(() => generate({ model, scheduler, schedulerConfig: SCHED, n: 1, steps: 3, seed: 0, classLabels: 0, guidanceScale: 1e308 }), /model output went NaN or Inf at step 1 of/, new RegExp(scheduler), /guidance/);
    }
  });

  it('a model with NaN weights (loaded with allowNonfinite): the model output, the weights named as the cause', () => {
    throwsNonfinite(() => generate({ model: broken, scheduler: 'ddim', schedulerConfig: SCHED, n: 1, steps: 4, seed: 0 }), /^generate: the model output went NaN or Inf at step 1 of 4 \(DDIMScheduler\)/, /--allow-nonfinite/);
    throwsNonfinite(() => inpaint({ model: broken, image: new Tensor(new Float32Array(48), [8, 6, 1]), box: { x: 0, y: 0, w: 3, h: 3 }, scheduler: 'ddpm', schedulerConfig: SCHED, steps: 4, seed: 0, method: 'repaint' }), /^inpaint: the model output went NaN or Inf at step 1 of/, /--allow-nonfinite/);
    throwsNonfinite(() => img2img({ model: broken, image: new Tensor(new Float32Array(48), [8, 6, 1]), strength: 0.5, scheduler: 'euler', schedulerConfig: SCHED, steps: 4, seed: 0 }), /^img2img: the model output went NaN or Inf at step/, /euler/);
  });

  it('a sample gone NaN with a finite model output: the sample, at the step that made it, the schedule named', () => {
    /** DDIM whose third step returns NaN (as a schedule that overflows would). */
    class NanAtThird extends DDIMScheduler {
      override step(out: Tensor, t: number, x: Tensor, o?: DDIMStepOptions): SchedulerOutput {
        const r = super.step(out, t, x, o);
        return t === this.timesteps[2] ? { ...r, prevSample: new Tensor(new Float32Array(x.size).fill(NaN), x.shape) } : r;
      }
    }
    throwsNonfinite(() => generate({ model, scheduler: new NanAtThird(SCHED), n: 1, steps: 5, seed: 0 }), /the sample went NaN or Inf at step 3 of 5 \(DDIMScheduler\)/, /scheduler_config\.json/);
  });

  it('the SDE samplers (pc and ode) check the score and the sample', () => {
    const sde = new VpSde({ N: 10 });
    const base = { sde, model: broken, n: 1, size: [8, 6, 1] as const, classLabels: Int32Array.of(0), batchSize: 1 };
    throwsNonfinite(() => sdeSample({ ...base, method: 'pc', generator: new Generator(0), pc: { steps: 21 } }), /model output went NaN or Inf at step 1 of 21/, /predictor-corrector/, /--allow-nonfinite/);
    throwsNonfinite(() => sdeSample({ ...base, method: 'ode', generator: new Generator(0) }), /model output went NaN or Inf at t = 1\.000 of the ODE \(score evaluation 1\)/, /probability-flow ODE/);
  });

  it('a finite run is unchanged and passes', () => {
    const a = generate({ model, scheduler: 'dpmpp_2m', schedulerConfig: SCHED, n: 2, steps: 3, seed: 5, guidanceScale: 2 }).images.toArray();
    assert.ok(a.every((v) => Number.isFinite(v)));
  });

  it('names the starting sample when x_T itself is not finite', () => {
    const g = new FiniteGuard({ op: 'generate', method: 'euler', total: 10 });
    assert.throws(() => g.sample(new Tensor(Float32Array.of(NaN), [1]), -1), /the sample went NaN or Inf in the starting sample, before step 1 \(euler\)/);
  });
});
