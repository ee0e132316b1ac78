/**
 * The denoiser adapters. Oracles: closed forms (x = x_0 + sigma n with a known eps gives x_0 back
 * exactly for each parameterization), round trips
 * (sigma_to_t / t_to_sigma against the training schedule), the diffusers reference loops in
 * test/fixtures/diffusers/sampling_euler.json (Euler and Euler ancestral over diffusers' own sigmas and
 * noise, with the stand-in model, must reproduce diffusers' final samples), and guidance equal
 * to the formula over separate forwards.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor/tensor.js';
import { tensor } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';
import { noGrad } from '../../src/tensor/autograd.js';
import { UNet2DModel, type UNet2DConfig } from '../../src/nn/unet_2d.js';
import { makeBetas, alphasCumprod } from '../../src/diffusion/schedules.js';
import {
  DiscreteSchedule, denoiserFromModel, euler, eulerAncestral, karrasSigmas,
  type ModelFunction, type Denoiser,
} from '../../src/samplers/index.js';
import type { PredictionType } from '../../src/diffusion/forward.js';
import { assertClose } from '../helpers/closeness.js';
import { withBackend } from '../../src/backend/backend.js';
import { readVectors } from '../helpers/vectors.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

const linear = DiscreteSchedule.fromConfig({ num_train_timesteps: 1000, beta_schedule: 'linear' });

describe('DiscreteSchedule', () => {
  it('sigmas are sqrt((1 - abar) / abar) of the training schedule', () => {
    const acp = alphasCumprod(makeBetas({ numTrainTimesteps: 1000, betaStart: 0.0001, betaEnd: 0.02, betaSchedule: 'linear', trainedBetas: null, rescaleBetasZeroSnr: false }));
    linear.sigmas.forEach((s, t) => assert.ok(Math.abs(s - Math.sqrt((1 - acp[t]!) / acp[t]!)) < 1e-12 * s));
    assert.equal(linear.numTrainTimesteps, 1000);
    assert.equal(linear.predictionType, 'epsilon');
    assert.ok(Math.abs(linear.sigmaMax - 157.4073) < 1e-3, `sigma_max ${linear.sigmaMax}`); // diffusers' init_noise_sigma 157.40726
  });

  it('sigmaToT and tToSigma: exact at training timesteps, inverse of each other between them, clamped outside', () => {
    for (const t of [0, 1, 17, 500, 998, 999]) {
      assert.ok(Math.abs(linear.tToSigma(t) - linear.sigmas[t]!) < 1e-14 * linear.sigmas[t]!);
      assert.ok(Math.abs(linear.sigmaToT(linear.sigmas[t]!) - t) < 1e-9, `t ${t}: ${linear.sigmaToT(linear.sigmas[t]!)}`);
    }
    for (const t of [0.25, 3.5, 123.456, 998.9]) assert.ok(Math.abs(linear.sigmaToT(linear.tToSigma(t)) - t) < 1e-9, `t ${t}`);
    // log sigma is interpolated linearly: the midpoint's sigma is the geometric mean.
    assert.ok(Math.abs(linear.tToSigma(10.5) - Math.sqrt(linear.sigmas[10]! * linear.sigmas[11]!)) < 1e-12);
    assert.equal(linear.sigmaToT(1e-6), 0);
    assert.equal(linear.sigmaToT(1e6), 999);
    const q = DiscreteSchedule.fromConfig({ num_train_timesteps: 1000 }, { quantize: true });
    assert.equal(q.sigmaToT(q.tToSigma(41.4)), 41);
    assert.equal(q.sigmaToT(q.tToSigma(41.6)), 42);
  });

  it('getSigmas(n) spaces the training sigmas over n steps and appends 0', () => {
    const s = linear.getSigmas(10);
    assert.equal(s.length, 11);
    assert.ok(Math.abs(s[0]! - linear.sigmaMax) < 1e-13 * linear.sigmaMax);
    assert.ok(Math.abs(s[9]! - linear.sigmaMin) < 1e-15);
    assert.equal(s[10], 0);
    assert.ok(Math.abs(s[1]! - linear.tToSigma(888)) < 1e-12);
    for (let i = 1; i < 10; i++) assert.ok(s[i]! < s[i - 1]!);
    assert.equal(linear.getSigmas().length, 1001);
  });

  it('zero terminal SNR keeps the last sigma finite; config errors name the key', () => {
    const z = DiscreteSchedule.fromConfig({ num_train_timesteps: 1000, rescale_betas_zero_snr: true });
    assert.ok(Number.isFinite(z.sigmaMax) && z.sigmaMax > 1000, `sigma_max ${z.sigmaMax}`);
    assert.throws(() => DiscreteSchedule.fromConfig({ beta_schedule: 'cubic' }), /config key "beta_schedule" has value "cubic"/);
    assert.throws(() => new DiscreteSchedule([1, 0.5]), /every training sigma must be > 0/);
    assert.throws(() => linear.tToSigma(1000), /t must be a number in \[0, 999\], found 1000/);
    assert.throws(() => linear.sigmaToT(0), /sigma must be a number > 0, found 0/);
  });
});

describe('denoiserFromModel: each parameterization recovers x0 exactly from a model that knows the noise', () => {
  const x0 = tensor([0.5, -0.25, 1, -1, 0.125, 0], [2, 3], { dtype: 'float64' });
  const eps = tensor([1.5, -0.3, 0.7, 2, -1.1, 0.4], [2, 3], { dtype: 'float64' });
  for (const type of ['epsilon', 'v_prediction', 'sample'] as PredictionType[]) {
    it(type, () => {
      let x = x0;
      let seenT = -1;
      // The model sees x_t = sqrt(abar) x at the fractional timestep of sigma, and answers what
      // a perfect model of `type` would (abar from the timestep it was given).
      const model: ModelFunction = (xt, t) => {
        seenT = t;
        const s = linear.tToSigma(t);
        const alpha = 1 / Math.sqrt(1 + s * s);
        hostBuffer(xt).forEach((v, i) => assert.ok(Math.abs(v - alpha * hostBuffer(x)[i]!) < 1e-9 * (1 + Math.abs(v)), 'model input must be c_in x'));
        const out = hostBuffer(x0).map((v, i) => (type === 'epsilon' ? hostBuffer(eps)[i]! : type === 'sample' ? v : alpha * hostBuffer(eps)[i]! - s * alpha * v));
        return new Tensor(out, xt.shape);
      };
      const D = denoiserFromModel(model, { schedule: linear, predictionType: type });
      for (const sigma of [0.05, 1, 14.6, 120]) {
        x = new Tensor(hostBuffer(x0).map((v, i) => v + sigma * hostBuffer(eps)[i]!), x0.shape); // x = x_0 + sigma n
        const d = D(x, sigma);
        assert.ok(Math.abs(seenT - linear.sigmaToT(sigma)) < 1e-12);
        assertClose(hostBuffer(d), hostBuffer(x0), { nmseTol: 1e-18, absTol: 1e-9, what: `${type} at sigma ${sigma}` });
        assert.equal(D.calls(), [0.05, 1, 14.6, 120].indexOf(sigma) + 1);
      }
    });
  }
});

describe('denoiserFromModel: classes and classifier-free guidance', () => {
  // A model whose output depends on the class: F(x, c) = x * (c + 1) / 10 + c.
  const calls: { batch: number; labels: readonly number[] | null }[] = [];
  const model: ModelFunction = (x, _t, labels) => {
    calls.push({ batch: x.shape[0]!, labels });
    const per = x.size / x.shape[0]!;
    return new Tensor(hostBuffer(x).map((v, i) => { const c = labels === null ? 0 : labels[Math.floor(i / per)]!; return (v * (c + 1)) / 10 + c; }), x.shape);
  };
  const x = tensor([0.3, -0.7, 1.2, 0.1], [2, 2], { dtype: 'float64' });

  it('one forward of 2N (conditional first, then the null class) equals the guidance formula', () => {
    calls.length = 0;
    const w = 3;
    // float64 batches are concatenated by ops, which run float64 on the reference backend only.
    const guided = withBackend('reference', () => denoiserFromModel(model, { schedule: linear, classLabels: [1, 2], guidanceScale: w, nullClass: 9 })(x, 2));
    assert.deepEqual(calls, [{ batch: 4, labels: [1, 2, 9, 9] }]);
    const cond = denoiserFromModel(model, { schedule: linear, classLabels: [1, 2] })(x, 2);
    const uncond = denoiserFromModel(model, { schedule: linear, classLabels: [9, 9] })(x, 2);
    // D is affine in the model output, so guiding F guides D by the same weights.
    assertClose(hostBuffer(guided), hostBuffer(uncond).map((u, i) => u + w * (hostBuffer(cond)[i]! - u)), { nmseTol: 1e-20, absTol: 1e-12, what: 'guided D' });
  });

  it('errors: guidance without classes or null class; labels not matching the batch', () => {
    assert.throws(() => denoiserFromModel(model, { schedule: linear, guidanceScale: 2 }), /guidanceScale 2 needs classLabels and a null class/);
    assert.throws(() => denoiserFromModel(model, { schedule: linear, classLabels: [1, 2, 3] })(x, 1), /3 class labels for a batch of 2/);
    assert.throws(() => denoiserFromModel(model, {} as never), /options.schedule must be a DiscreteSchedule/);
  });

  it('a UNet2DModel: D = x - sigma * unet(c_in x, sigma_to_t(sigma), labels); null class = num_class_embeds - 1', () => {
    const cfg: Partial<UNet2DConfig> = {
      sampleSize: 8, inChannels: 1, outChannels: 1, blockOutChannels: [4, 8], layersPerBlock: 1, normNumGroups: 2,
      downBlockTypes: ['DownBlock2D', 'DownBlock2D'], upBlockTypes: ['UpBlock2D', 'UpBlock2D'], numClassEmbeds: 3,
    };
    const unet = new UNet2DModel(cfg).eval();
    const xi = new Generator(0).normal([2, 8, 8, 1]);
    const sigma = 3.7;
    const D = denoiserFromModel(unet, { schedule: linear, classLabels: [0, 1], guidanceScale: 2 });
    const got = D(xi, sigma);
    const cIn = 1 / Math.sqrt(sigma * sigma + 1);
    const t = linear.sigmaToT(sigma);
    const xin = new Tensor(hostBuffer(xi).map((v) => v * cIn), xi.shape);
    const [c, u] = noGrad(() => [unet.forward(xin, t, [0, 1]), unet.forward(xin, t, [2, 2])]);
    const want = hostBuffer(xi).map((v, i) => v - sigma * (hostBuffer(u!)[i]! + 2 * (hostBuffer(c!)[i]! - hostBuffer(u!)[i]!)));
    assertClose(hostBuffer(got), want, { nmseTol: 1e-10, absTol: 1e-4, what: 'UNet denoiser' });
  });
});

interface EulerCase {
  name: string;
  scheduler: string;
  config: Record<string, unknown>;
  timesteps: number[];
  sigmas: number[];
  initial_sample: number[];
  steps: { i: number; t: number; noise?: number[] }[];
  final_sample: number[];
}

describe('samplers vs diffusers (sampling_euler.json)', () => {
  const file = readVectors<{ cases: EulerCase[] }>('sampling_euler.json');
  /** The stand-in model of the vectors' README, in float32. */
  const standIn = (x: Tensor, t: number): Tensor => {
    const a = Math.fround(0.3 * Math.cos((t / 1000) * (Math.PI / 2)));
    return new Tensor(Float32Array.from(hostBuffer(x), (v, k) => Math.fround(Math.fround(v * a) + Math.fround(0.05 * Math.sin(k)))), x.shape);
  };
  for (const c of file.cases) {
    it(`${c.name}: our ${c.scheduler === 'EulerDiscreteScheduler' ? 'euler' : 'euler_ancestral'} over diffusers' sigmas reproduces the final sample`, () => {
      const schedule = DiscreteSchedule.fromConfig(c.config);
      const integerT = c.timesteps.every((t) => Number.isInteger(t));
      // diffusers hands the model its own timestep for each sigma (interpolated linearly in sigma
      // for fractional ones); the adapter maps sigma -> t by log-sigma interpolation (k-diffusion).
      // Equal at integer timesteps; elsewhere the test hands the model diffusers' timestep.
      const tOf = new Map(c.sigmas.slice(0, -1).map((s, i) => [Math.fround(s), c.timesteps[i]!]));
      const model: ModelFunction = (xt, t) => standIn(xt, integerT ? t : tOf.get(Math.fround(schedule.tToSigma(t))) ?? t);
      const base = denoiserFromModel(model, { schedule });
      // Exact sigmas as diffusers stored them (float32).
      const D: Denoiser = integerT ? base : (x, sigma) => {
        const cIn = 1 / Math.sqrt(sigma * sigma + 1);
        const out = standIn(new Tensor(hostBuffer(x).map((v) => v * cIn), x.shape), tOf.get(Math.fround(sigma))!);
        const p = c.config['prediction_type'];
        return new Tensor(hostBuffer(x).map((v, i) => (p === 'v_prediction' ? v / (sigma * sigma + 1) - (sigma / Math.sqrt(sigma * sigma + 1)) * hostBuffer(out)[i]! : v - sigma * hostBuffer(out)[i]!)), x.shape);
      };
      const x = tensor(c.initial_sample, [2, 8, 8, 1]);
      let k = 0;
      const noise = (shape: readonly number[]) => tensor(c.steps[k++]!.noise!, shape);
      const out = c.scheduler === 'EulerDiscreteScheduler' ? euler(D, x, c.sigmas) : eulerAncestral(D, x, c.sigmas, { noise });
      // float32 steps in both: measured nmse 1.3e-14 to 4e-14, max-abs <= 2e-7 of the sample's scale.
      assertClose(hostBuffer(out), c.final_sample, { nmseTol: 1e-10, absTol: 2e-6 * Math.max(1, ...c.final_sample.map(Math.abs)), what: c.name });
    });
  }

  it("karras sigmas equal diffusers' use_karras_sigmas schedule", () => {
    const c = file.cases.find((x) => x.name === 'euler_karras_20');
    assert.ok(c !== undefined);
    const sched = DiscreteSchedule.fromConfig(c.config);
    const ours = karrasSigmas(20, sched.sigmaMin, sched.sigmaMax);
    // diffusers rounds to float32: 1.5e-6 relative at sigma_max (measured nmse 6e-12).
    assertClose(ours, c.sigmas, { nmseTol: 1e-10, absTol: 3e-4, what: 'karras sigmas' });
  });
});
