/**
 * The forward process and parameterizations: diffusers' add_noise / get_velocity
 * (test/fixtures/diffusers/add_noise.json, linear and cosine, t = 0..999), closed forms (posterior
 * identities, round trips between epsilon / sample / v), gradients by finite differences, NaN
 * propagation and errors.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../src/tensor/create.js';
import { makeBetas, alphasCumprod } from '../../src/diffusion/schedules.js';
import {
  addNoise,
  alphaBarAt,
  combine,
  getVelocity,
  modelOutputFromEpsilon,
  modelOutputFromX0,
  posteriorStep,
  posteriorTables,
  predictEpsilon,
  predictX0,
  qPosteriorMean,
  type PredictionType,
} from '../../src/diffusion/forward.js';
import type { BetaSchedule } from '../../src/diffusion/schedules.js';
import { assertClose } from '../helpers/closeness.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { randTensor } from '../helpers/data.js';
import { readVectors } from '../helpers/vectors.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

interface Arr {
  shape: number[];
  data: number[];
}
interface AddNoiseVectors {
  x0: Arr;
  noise: Arr;
  timesteps: number[];
  cases: { config: { num_train_timesteps: number; beta_start: number; beta_end: number; beta_schedule: BetaSchedule }; noisy: Arr; velocity: Arr }[];
}

const acpOf = (schedule: BetaSchedule = 'linear', T = 1000): Float64Array => alphasCumprod(makeBetas({ numTrainTimesteps: T, betaStart: 0.0001, betaEnd: 0.02, betaSchedule: schedule }));
const TYPES: PredictionType[] = ['epsilon', 'sample', 'v_prediction'];

describe('addNoise / getVelocity vs diffusers 0.25.1 (add_noise.json)', () => {
  const v = readVectors<AddNoiseVectors>('add_noise.json');
  for (const c of v.cases) {
    it(`${c.config.beta_schedule}: noisy and velocity at t = ${v.timesteps.join(', ')}`, () => {
      // NCHW [6, 1, 4, 4] with C = 1 is the same data as NHWC [6, 4, 4, 1].
      const shape = [6, 4, 4, 1];
      const x0 = tensor(v!.x0.data, shape);
      const noise = tensor(v!.noise.data, shape);
      const acp = acpOf(c.config.beta_schedule, c.config.num_train_timesteps);
      // diffusers computes sqrt(1 - alphas_cumprod) in float32: at t <= 10, abar ~ 0.9999 carries
      // a float32 rounding of ~6e-8, which 1 - abar ~ 1e-4 turns into ~6e-4 relative error in the
      // noise coefficient (0.01): ~4e-6 absolute, nmse up to 4.3e-12 (measured). We use float64
      // coefficients, so we allow nmse 1e-11 and max-abs 1e-5; at t >= 250 the agreement is ~1e-14.
      assertClose(hostBuffer(addNoise(acp, x0, noise, v!.timesteps)), c.noisy.data, { nmseTol: 1e-11, absTol: 1e-5, what: 'noisy' });
      assertClose(hostBuffer(getVelocity(acp, x0, noise, v!.timesteps)), c.velocity.data, { nmseTol: 1e-11, absTol: 1e-5, what: 'velocity' });
      const late = (a: ArrayLike<number>): number[] => Array.from(a).slice(3 * 16); // t = 250, 500, 999
      assertClose(late(hostBuffer(addNoise(acp, x0, noise, v!.timesteps))), late(c.noisy.data), { nmseTol: 1e-13, absTol: 1e-6, what: 'noisy at t >= 250' });
    });
  }
});

describe('forward process: closed forms', () => {
  const acp = acpOf();
  const shape = [3, 2, 5, 3];
  const x0 = randTensor(shape, 1, { dtype: 'float64' });
  const eps = randTensor(shape, 2, { dtype: 'float64' });
  const ts = [0, 321, 999];

  it('x_t = sqrt(abar) x0 + sqrt(1 - abar) eps per batch element; one timestep broadcasts', () => {
    const xt = addNoise(acp, x0, eps, ts);
    const per = x0.size / 3;
    for (let n = 0; n < 3; n++) {
      const a = acp[ts[n]!]!;
      for (let i = n * per; i < (n + 1) * per; i += 7) {
        const want = Math.sqrt(a) * hostBuffer(x0)[i]! + Math.sqrt(1 - a) * hostBuffer(eps)[i]!;
        assert.ok(Math.abs(hostBuffer(xt)[i]! - want) < 1e-15, `x_t[${i}] ${hostBuffer(xt)[i]} vs ${want}`);
      }
    }
    assert.deepEqual(hostBuffer(addNoise(acp, x0, eps, 500)), hostBuffer(addNoise(acp, x0, eps, [500, 500, 500])));
    assert.deepEqual(hostBuffer(addNoise(acp, x0, eps, [500])), hostBuffer(addNoise(acp, x0, eps, 500)));
    // v^2 + x_t^2 = eps^2 + x0^2 elementwise (a rotation by the angle atan(sqrt((1 - abar) / abar))).
    const v = getVelocity(acp, x0, eps, ts);
    for (let i = 0; i < xt.size; i += 5) {
      const gap = hostBuffer(v)[i]! ** 2 + hostBuffer(xt)[i]! ** 2 - hostBuffer(eps)[i]! ** 2 - hostBuffer(x0)[i]! ** 2;
      assert.ok(Math.abs(gap) < 1e-13, `v^2 + x_t^2 - eps^2 - x0^2 = ${gap} at ${i}`);
    }
  });

  for (const type of TYPES) {
    it(`${type}: the true output gives back x0 and eps, and the inverse maps give back the output`, () => {
      const xt = addNoise(acp, x0, eps, ts);
      const ab = alphaBarAt(acp, ts, 3);
      const truth = type === 'epsilon' ? eps : type === 'sample' ? x0 : getVelocity(acp, x0, eps, ts);
      const tol = { nmseTol: 1e-22, absTol: 1e-9 };
      // t = 999 has abar ~4e-5: x0 from eps divides by sqrt(abar) ~ 0.0064, so ~1e-13 absolute.
      assertClose(hostBuffer(predictX0(truth, xt, ab, type)), hostBuffer(x0), { ...tol, what: 'x0' });
      assertClose(hostBuffer(predictEpsilon(truth, xt, ab, type)), hostBuffer(eps), { ...tol, what: 'eps' });
      assertClose(hostBuffer(modelOutputFromX0(x0, xt, ab, type)), hostBuffer(truth), { ...tol, what: 'from x0' });
      assertClose(hostBuffer(modelOutputFromEpsilon(eps, xt, ab, type)), hostBuffer(truth), { ...tol, what: 'from eps' });
    });
  }

  it('the posterior is consistent with the marginals, for one step and for jumps', () => {
    // E: coef1 + coef2 sqrt(abar_t) = sqrt(abar_s);  Var: coef2^2 (1 - abar_t) + var = 1 - abar_s.
    for (const [t, s] of [[1, 0], [500, 499], [999, 998], [980, 960], [40, -1], [0, -1]] as const) {
      const p = posteriorStep(acp, t, s);
      const as = s >= 0 ? acp[s]! : 1;
      assert.ok(Math.abs(p.posteriorMeanCoef1 + p.posteriorMeanCoef2 * Math.sqrt(acp[t]!) - Math.sqrt(as)) < 1e-12, `mean t=${t} s=${s}`);
      assert.ok(Math.abs(p.posteriorMeanCoef2 ** 2 * (1 - acp[t]!) + p.posteriorVariance - (1 - as)) < 1e-12, `var t=${t} s=${s}`);
    }
    // Ho et al.'s beta-tilde for the one-step posterior; improved-diffusion's log clipping at t = 0.
    const betas = makeBetas({ numTrainTimesteps: 1000, betaStart: 0.0001, betaEnd: 0.02, betaSchedule: 'linear' });
    const tab = posteriorTables(acp);
    // (The jump's beta is 1 - abar_t / abar_{t-1}, equal to betas[t] up to double rounding: 1e-10 relative.)
    const rel = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) <= 1e-10 * Math.abs(b), `${what}: ${a} vs ${b}`);
    rel(tab.posteriorVariance[10]!, (betas[10]! * (1 - acp[9]!)) / (1 - acp[10]!), 'posterior variance');
    assert.equal(tab.posteriorVariance[0], 0);
    assert.equal(tab.posteriorLogVarianceClipped[0], Math.log(tab.posteriorVariance[1]!));
    assert.equal(tab.posteriorLogVarianceClipped[7], Math.log(tab.posteriorVariance[7]!));
    rel(tab.posteriorMeanCoef1[10]!, (betas[10]! * Math.sqrt(acp[9]!)) / (1 - acp[10]!), 'coef1');
    rel(tab.posteriorMeanCoef2[10]!, (Math.sqrt(1 - betas[10]!) * (1 - acp[9]!)) / (1 - acp[10]!), 'coef2');
    // qPosteriorMean uses the same coefficients per batch element.
    const xt = addNoise(acp, x0, eps, ts);
    const mean = qPosteriorMean(acp, x0, xt, ts);
    const k = x0.size - 1; // last element, batch 2, t = 999
    const want = tab.posteriorMeanCoef1[999]! * hostBuffer(x0)[k]! + tab.posteriorMeanCoef2[999]! * hostBuffer(xt)[k]!;
    assert.ok(Math.abs(hostBuffer(mean)[k]! - want) < 1e-14, `posterior mean ${hostBuffer(mean)[k]} vs ${want}`);
  });

  it('NaN stays in its element; float32 in, float32 out', () => {
    const a = randTensor([2, 3, 1, 2], 3);
    hostBuffer(a)[4] = NaN;
    const out = addNoise(acp, a, randTensor([2, 3, 1, 2], 4), [10, 20]);
    assert.equal(out.dtype, 'float32');
    assert.deepEqual(Array.from(hostBuffer(out), Number.isNaN), Array.from({ length: 12 }, (_, i) => i === 4));
    // x0 for 'sample' is the model output itself, even where x_t is not finite.
    const xt = tensor([Infinity, 1], [2, 1]);
    assert.deepEqual(Array.from(hostBuffer(predictX0(tensor([0.5, 0.25], [2, 1]), xt, 0.5, 'sample'))), [0.5, 0.25]);
  });
});

describe('forward process: gradients (float64 finite differences)', () => {
  const acp = acpOf('squaredcos_cap_v2');
  it('addNoise and getVelocity, in x0 and noise', () => {
    gradcheck((x0, n) => addNoise(acp, x0, n, [3, 600]), [randTensor([2, 3, 2, 1], 1), randTensor([2, 3, 2, 1], 2)]);
    gradcheck((x0, n) => getVelocity(acp, x0, n, [999, 0]), [randTensor([2, 2, 1, 3], 3), randTensor([2, 2, 1, 3], 4)]);
  });
  for (const type of TYPES) {
    it(`${type}: predictX0, predictEpsilon and the inverse maps, in both inputs`, () => {
      const ab = [0.3, 0.9];
      const ins = [randTensor([2, 3, 1, 2], 5), randTensor([2, 3, 1, 2], 6)];
      gradcheck((o, x) => predictX0(o, x, ab, type), ins);
      gradcheck((o, x) => predictEpsilon(o, x, ab, type), ins);
      gradcheck((o, x) => modelOutputFromX0(o, x, ab, type), ins);
      gradcheck((o, x) => modelOutputFromEpsilon(o, x, ab, type), ins);
    });
  }
  it('qPosteriorMean in x0 and x_t', () => {
    gradcheck((x0, xt) => qPosteriorMean(acp, x0, xt, [1, 500]), [randTensor([2, 2, 2, 1], 7), randTensor([2, 2, 2, 1], 8)]);
  });
});

describe('forward process: errors', () => {
  const acp = acpOf();
  const x = randTensor([2, 3], 1);
  it('names the op, the input, expected and found', () => {
    assert.throws(() => addNoise(acp, x, x, [1000, 0]), /addNoise: timesteps\[0\] = 1000 must be an integer in \[0, num_train_timesteps = 1000\)/);
    assert.throws(() => addNoise(acp, x, x, [1.5, 0]), /timesteps\[0\] = 1.5/);
    assert.throws(() => addNoise(acp, x, x, [1, 2, 3]), /addNoise: 'timesteps' has 3 values, expected 1 or one per batch element \(2\)/);
    assert.throws(() => addNoise(acp, x, randTensor([2, 4], 2), 5), /addNoise: input 'noise' has shape \[2, 4\], expected \[2, 3\]/);
    assert.throws(() => addNoise(acp, x, tensor(new Float64Array(6), [2, 3], { dtype: 'float64' }), 5), /addNoise: input 'noise' is float64 but 'x0' is float32/);
    assert.throws(() => addNoise(acp, tensor([1], []), tensor([1], []), 5), /addNoise: input 'x0' must have a batch axis/);
    assert.throws(() => getVelocity(acp, 'x' as never, x, 5), /getVelocity: input 'x0' must be a Tensor, found string/);
    assert.throws(() => predictX0(x, x, 0.5, 'x0' as PredictionType), /predictX0: prediction type must be one of epsilon, sample, v_prediction, found "x0"/);
    assert.throws(() => predictEpsilon(x, x, [0.5, 1.5], 'epsilon'), /predictEpsilon: alphaBar\[1\] = 1.5 must be in \[0, 1\]/);
    assert.throws(() => posteriorStep(acp, 10, 10), /posteriorStep: prevT = 10 must be an integer below t = 10/);
    assert.throws(() => combine('mix', [1, 2, 3], x, 1, x), /mix: 'coefficients' has 3 values/);
  });
});
