import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { makeBetas, alphasCumprod, sigmasFromAlphasCumprod, type BetaSchedule } from '../../src/diffusion/schedules.js';
import { assertClose } from '../helpers/closeness.js';
import { readVectors } from '../helpers/vectors.js';

interface ScheduleVector {
  config: { num_train_timesteps: number; beta_start: number; beta_end: number; beta_schedule: BetaSchedule; rescale_betas_zero_snr?: boolean };
  betas: number[];
  alphas_cumprod: number[];
  sigmas_karras_style: (number | string)[];
}

describe('noise schedules (float64) vs diffusers', () => {
  const vectors = readVectors<{ schedules: ScheduleVector[] }>('schedules.json').schedules;
  for (const v of vectors) {
    const c = v.config;
    it(`${c.beta_schedule} ${c.beta_start}..${c.beta_end}${c.rescale_betas_zero_snr ? ' zero-SNR' : ''}`, () => {
      const betas = makeBetas({
        numTrainTimesteps: c.num_train_timesteps,
        betaStart: c.beta_start,
        betaEnd: c.beta_end,
        betaSchedule: c.beta_schedule,
        rescaleBetasZeroSnr: c.rescale_betas_zero_snr ?? false,
      });
      // diffusers computes in float32: agreement to float32 rounding (accumulated over 1000 products).
      // Zero-SNR betas come from float32 ratios of tiny alphas_cumprod near t = T, where float32
      // loses ~1e-6 relative: nmse 1e-10 there (measured ~1e-11).
      assertClose(betas, v.betas, { nmseTol: c.rescale_betas_zero_snr ? 1e-10 : 1e-12, absTol: 1e-5, what: 'betas' });
      const acp = alphasCumprod(betas);
      assertClose(acp, v.alphas_cumprod, { nmseTol: 1e-11, absTol: 1e-6, what: 'alphas_cumprod' });
      const sig = sigmasFromAlphasCumprod(acp);
      const ref = v.sigmas_karras_style.map((s) => (s === 'inf' ? Infinity : Number(s)));
      const finite = ref.map((r, i) => (Number.isFinite(r) ? i : -1)).filter((i) => i >= 0);
      assertClose(finite.map((i) => sig[i]!), finite.map((i) => ref[i]!), { nmseTol: 1e-10, absTol: 1e-4, what: 'sigmas' });
      if (c.rescale_betas_zero_snr) assert.equal(acp[acp.length - 1], 0);
    });
  }
});

describe('noise schedules: closed forms and bad input', () => {
  it('linear betas are evenly spaced from beta_start to beta_end', () => {
    const b = makeBetas({ numTrainTimesteps: 5, betaStart: 0.1, betaEnd: 0.5, betaSchedule: 'linear' });
    assertClose(b, [0.1, 0.2, 0.3, 0.4, 0.5], { nmseTol: 1e-28, absTol: 1e-15 });
  });
  it('the cosine schedule follows abar(t) = cos^2 shape and caps beta at 0.999', () => {
    const b = makeBetas({ numTrainTimesteps: 1000, betaStart: 0, betaEnd: 0, betaSchedule: 'squaredcos_cap_v2' });
    const acp = alphasCumprod(b);
    const f = (t: number): number => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
    assert.ok(Math.abs(acp[499]! - f(0.5) / f(0)) < 1e-12);
    assert.equal(b[999], 0.999);
  });
  it('errors name the field and the value', () => {
    assert.throws(() => makeBetas({ numTrainTimesteps: 0, betaStart: 0.1, betaEnd: 0.2, betaSchedule: 'linear' }), /num_train_timesteps must be a positive integer, found 0/);
    assert.throws(() => makeBetas({ numTrainTimesteps: 3, betaStart: 0.1, betaEnd: 0.2, betaSchedule: 'cubic' as BetaSchedule }), /unknown beta_schedule "cubic"/);
    assert.throws(() => makeBetas({ numTrainTimesteps: 3, betaStart: 0.1, betaEnd: 0.2, betaSchedule: 'linear', trainedBetas: [0.1] }), /trained_betas has 1 values, expected num_train_timesteps = 3/);
    assert.throws(() => makeBetas({ numTrainTimesteps: 2, betaStart: 0.1, betaEnd: 1.5, betaSchedule: 'linear' }), /beta\[1\] = 1.5 is outside \(0, 1\]/);
  });
});
