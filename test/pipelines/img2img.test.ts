/**
 * img2img() (SDEdit): strength 0 returns the input without a model evaluation; strength 1 on a
 * zero-terminal-SNR schedule starts from pure noise and equals generate() with the same seed,
 * bitwise; the noised input's moments on constant images match the closed form (VP schedulers:
 * mean sqrt(abar) c, variance 1 - abar; samplers: mean c, std sigma); the truncation runs
 * floor(steps * strength) steps with every scheduler and sampler; bad input fails before any work.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { img2img, img2imgStart } from '../../src/pipelines/img2img.js';
import { generate } from '../../src/pipelines/generate.js';
import { UNet2DModel, type UNet2DConfig } from '../../src/nn/unet_2d.js';
import { DDPMScheduler, SCHEDULER_CLASSES } from '../../src/schedulers/index.js';
import { SAMPLERS, DiscreteSchedule, karrasSigmas } from '../../src/samplers/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { useBackend } from '../../src/backend/backend.js';
import { ArgumentError, ShapeError } from '../../src/tensor/errors.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

const COND: Partial<UNet2DConfig> = {
  sampleSize: 8, inChannels: 1, outChannels: 1, blockOutChannels: [4, 8], layersPerBlock: 1, normNumGroups: 2,
  downBlockTypes: ['DownBlock2D', 'DownBlock2D'], upBlockTypes: ['UpBlock2D', 'UpBlock2D'], numClassEmbeds: 3,
};
// The reference kernels are faster than oneDNN's set-up for models this small.
useBackend('reference');
const cond = new UNet2DModel(COND).eval();
const uncond = new UNet2DModel({ ...COND, numClassEmbeds: null }).eval();
const CONFIG = { num_train_timesteps: 100, beta_schedule: 'linear' };
const image = (): Tensor => new Tensor(Float32Array.from({ length: 64 }, (_, i) => Math.sin(i * 0.37) * 0.9), [8, 8, 1]);

/** Sample mean and variance. */
function moments(d: ArrayLike<number>): { mean: number; variance: number } {
  let s = 0;
  for (let i = 0; i < d.length; i++) s += d[i]!;
  const mean = s / d.length;
  let v = 0;
  for (let i = 0; i < d.length; i++) v += (d[i]! - mean) ** 2;
  return { mean, variance: v / (d.length - 1) };
}

describe('img2img', () => {
  it("diffusers' truncation: floor(steps * strength) steps run", () => {
    assert.deepEqual(img2imgStart(50, 0.3), { skip: 35, run: 15 });
    assert.deepEqual(img2imgStart(10, 0.7), { skip: 3, run: 7 });
    assert.deepEqual(img2imgStart(4, 0.2), { skip: 4, run: 0 });
    assert.deepEqual(img2imgStart(4, 1), { skip: 0, run: 4 });
  });

  it('strength 0 (or below one step) returns the input exactly, without a model evaluation', () => {
    const x = image();
    for (const strength of [0, 0.2]) {
      let calls = 0;
      const r = img2img({ model: cond, schedulerConfig: CONFIG, steps: 4, image: x, strength, classLabels: 1, seed: 0, onProgress: () => calls++ });
      assert.deepEqual(Array.from(hostBuffer(r.images)), Array.from(hostBuffer(x)));
      assert.deepEqual(r.images.shape, [1, 8, 8, 1]);
      assert.equal(r.stepsRun, 0);
      assert.equal(r.noised, null);
      assert.equal(calls, 0);
    }
  });

  it('strength 1 on a zero-terminal-SNR schedule starts from pure noise: generate() with the same seed, bitwise', () => {
    const config = { ...CONFIG, rescale_betas_zero_snr: true, timestep_spacing: 'trailing', prediction_type: 'v_prediction' };
    for (const scheduler of ['ddim', 'ddpm']) {
      const o = { model: cond, scheduler, schedulerConfig: config, steps: 3, classLabels: [1, 0], seed: 4 } as const;
      const a = img2img({ ...o, image: new Tensor(new Float32Array(128).fill(0.7), [2, 8, 8, 1]), strength: 1 });
      assert.equal(a.startTimestep, 99);
      const b = generate({ ...o, n: 2 });
      assert.deepEqual(Array.from(hostBuffer(a.images)), Array.from(hostBuffer(b.images)), scheduler);
    }
  });

  it('the noised input on a constant image has the closed-form moments at strength S', () => {
    const c = 0.6;
    const flat = new Tensor(new Float32Array(64).fill(c), [8, 8, 1]);
    const n = 48; // 3072 values: standard errors ~1.8% of the std
    // DDPM (VP): t = timesteps[skip] of 10 steps; x = sqrt(abar) c + sqrt(1 - abar) z.
    const r = img2img({ model: cond, scheduler: 'ddpm', schedulerConfig: CONFIG, steps: 10, image: flat, n, strength: 0.5, classLabels: 0, seed: 1, batchSize: n });
    const s = new DDPMScheduler(CONFIG);
    s.setTimesteps(10);
    assert.equal(r.startTimestep, s.timesteps[5]);
    const abar = s.alphasCumprod[r.startTimestep!]!;
    const m = moments(hostBuffer(r.noised!));
    const se = Math.sqrt((1 - abar) / m.variance / (n * 64));
    assert.ok(Math.abs(m.mean - Math.sqrt(abar) * c) < 4 * Math.sqrt((1 - abar) / (n * 64)), `VP mean ${m.mean} vs ${Math.sqrt(abar) * c}`);
    assert.ok(Math.abs(m.variance / (1 - abar) - 1) < 4 * Math.SQRT2 / Math.sqrt(n * 64), `VP variance ${m.variance} vs ${1 - abar} (se ${se})`);
    assert.equal(r.stepsRun, 5);
    assert.ok(Math.abs(r.startSigma! - Math.sqrt((1 - abar) / abar)) < 1e-12);
    // Euler (sampler, VE): sigma = karras sigmas[skip]; x = c + sigma z.
    const e = img2img({ model: cond, scheduler: 'euler', schedulerConfig: CONFIG, steps: 10, image: flat, n, strength: 0.3, classLabels: 0, seed: 1, batchSize: n });
    const sched = DiscreteSchedule.fromConfig(CONFIG);
    const sigma = karrasSigmas(10, sched.sigmaMin, sched.sigmaMax)[7]!;
    assert.equal(e.startSigma, sigma);
    const me = moments(hostBuffer(e.noised!));
    assert.ok(Math.abs(me.mean - c) < 4 * sigma / Math.sqrt(n * 64), `VE mean ${me.mean} vs ${c}`);
    assert.ok(Math.abs(me.variance / sigma ** 2 - 1) < 4 * Math.SQRT2 / Math.sqrt(n * 64), `VE variance ${me.variance} vs ${sigma ** 2}`);
  });

  it('every scheduler and sampler runs the truncated schedule: finite images, one tick per model evaluation', () => {
    const x = image();
    for (const scheduler of [...Object.keys(SCHEDULER_CLASSES), ...Object.keys(SAMPLERS)].filter((s) => s !== 'PNDMScheduler')) {
      const seen: number[] = [];
      let total = 0;
      const r = img2img({ model: cond, scheduler, schedulerConfig: CONFIG, steps: 6, image: x, strength: 0.5, classLabels: 1, guidanceScale: 2, seed: 2, onProgress: (e) => (seen.push(e.step), (total = e.total)) });
      assert.equal(r.stepsRun, 3, scheduler);
      assert.ok(hostBuffer(r.images).every((v) => Number.isFinite(v) && v >= -1 && v <= 1), scheduler);
      assert.deepEqual(seen, Array.from({ length: total }, (_, i) => i + 1), scheduler);
      if (scheduler in SAMPLERS) assert.equal(total, 3, scheduler);
      assert.ok(hostBuffer(r.images).some((v, i) => v !== hostBuffer(x)[i]), `${scheduler} changes the image`);
    }
  });

  it('variations of one image differ; each image depends only on its seed and index, not the batch size', () => {
    const o = { model: cond, schedulerConfig: CONFIG, steps: 4, image: image(), strength: 0.75, classLabels: [0, 1, 0], n: 3, seed: 8, scheduler: 'dpmpp_2m_sde' } as const;
    const a = img2img({ ...o, batchSize: 3 }).images;
    const b = img2img({ ...o, batchSize: 2 }).images;
    assert.deepEqual(Array.from(hostBuffer(a)), Array.from(hostBuffer(b)));
    assert.ok(hostBuffer(a).slice(0, 64).some((v, i) => v !== hostBuffer(a)[128 + i]), 'images 0 and 2 (same class) differ');
  });

  it('bad input: clear errors before any work', () => {
    let calls = 0;
    const base = { model: cond, schedulerConfig: CONFIG, steps: 2, image: image(), strength: 0.5, seed: 0, onProgress: () => calls++ };
    const bad = (o: object, re: RegExp, type: Function = ArgumentError) =>
      assert.throws(() => img2img({ ...base, ...o } as Parameters<typeof img2img>[0]), (e: Error) => e instanceof type && re.test(e.message), re.source);
    for (const s of [-0.1, 1.5, NaN, '0.5', undefined]) bad({ strength: s }, /'strength' must be a number in \[0, 1\]/);
    bad({ image: new Tensor(new Float32Array(192), [8, 8, 3]) }, /'image' has 3 channels \(RGB\).*model takes 1/, ShapeError);
    bad({ image: new Tensor(new Float32Array(32), [4, 8, 1]) }, /'image' is 4x8 pixels, but the model takes 8x8/, ShapeError);
    bad({ image: new Tensor(new Float32Array(64), [64]) }, /expected \(H, W, C\) or \(N, H, W, C\)/, ShapeError);
    bad({ image: [1, 2] }, /'image' must be a Tensor/);
    bad({ model: uncond, guidanceScale: 3 }, /guidanceScale 3 needs a class-conditional model/);
    bad({ model: uncond, classLabels: 0 }, /unconditional.*do not pass classLabels/);
    bad({ classLabels: 5 }, /class label is 5, expected an integer in \[0, 2\]/);
    bad({ image: new Tensor(new Float32Array(128), [2, 8, 8, 1]), n: 3 }, /'n' = 3 variations need a single input image/);
    bad({ steps: 101 }, /101/);
    bad({ scheduler: 'pndm', steps: 4 }, /PNDMScheduler cannot start part-way/);
    assert.equal(calls, 0);
  });
});
