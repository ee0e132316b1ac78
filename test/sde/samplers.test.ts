/**
 * The SDE samplers on Gaussian data with the exact score (test/sde/gaussian.ts): started from the
 * prior, predictor-corrector sampling and the probability-flow ODE must end on the data's
 * distribution N(MU, S^2), whatever the SDE, predictor and corrector.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VpSde } from '../../src/sde/vp.js';
import { SubVpSde } from '../../src/sde/subvp.js';
import { VeSde } from '../../src/sde/ve.js';
import { pcSample } from '../../src/sde/pc_sampler.js';
import { odeSample } from '../../src/sde/ode_sampler.js';
import type { Sde } from '../../src/sde/sde.js';
import type { PredictorName } from '../../src/sde/predictors.js';
import type { CorrectorName } from '../../src/sde/correctors.js';
import { Generator } from '../../src/tensor/random.js';
import { ArgumentError } from '../../src/tensor/errors.js';
import { MU, S, gaussianScore, moments } from './gaussian.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

/** 64 images of 8x8: 4096 draws, so the sample mean is good to ~S/64 and the std to ~1%. */
const SHAPE = [64, 8, 8, 1];
const STEPS = 200;

function assertGaussian(label: string, x: Parameters<typeof moments>[0], tolMean = 0.012, tolStd = 0.05): void {
  const { mean, std } = moments(x);
  assert.ok(Math.abs(mean - MU) < tolMean, `${label}: mean ${mean.toFixed(4)}, data ${MU}`);
  assert.ok(Math.abs(std / S - 1) < tolStd, `${label}: std ${std.toFixed(4)}, data ${S}`);
}

const CASES: [Sde, PredictorName, CorrectorName][] = [
  [new VpSde({ N: STEPS }), 'euler_maruyama', 'none'],
  [new VpSde({ N: STEPS }), 'reverse_diffusion', 'langevin'],
  [new VpSde({ N: STEPS }), 'ancestral', 'none'],
  [new SubVpSde({ N: STEPS }), 'euler_maruyama', 'ald'],
  [new SubVpSde({ N: STEPS }), 'reverse_diffusion', 'none'],
  [new VeSde({ N: STEPS }), 'reverse_diffusion', 'langevin'],
  [new VeSde({ N: STEPS }), 'ancestral', 'ald'],
  [new VeSde({ N: STEPS }), 'none', 'langevin'],
];

for (const [sde, predictor, corrector] of CASES) {
  test(`pcSample ${sde.name} ${predictor} + ${corrector}: samples have the data's mean and std`, () => {
    const gen = new Generator(7);
    const xT = sde.priorSample(SHAPE, gen);
    // Pure annealed Langevin needs more corrector steps to mix at each level.
    const correctorSteps = predictor === 'none' ? 4 : 1;
    const { x, nfe } = pcSample(sde, gaussianScore(sde), xT, { predictor, corrector, snr: 0.16, correctorSteps, generator: gen });
    assert.equal(nfe, STEPS * ((predictor === 'none' ? 0 : 1) + (corrector === 'none' ? 0 : correctorSteps)));
    assertGaussian(`${sde.name} ${predictor}+${corrector}`, x);
  });
}

for (const sde of [new VpSde(), new SubVpSde(), new VeSde()]) {
  test(`odeSample ${sde.name}: the probability-flow ODE maps the prior onto the data (adaptive RK45, NFE reported)`, () => {
    const gen = new Generator(11);
    const { x, nfe } = odeSample(sde, gaussianScore(sde), sde.priorSample(SHAPE, gen), { rtol: 1e-5, atol: 1e-5 });
    assertGaussian(`ode ${sde.name}`, x);
    assert.ok(nfe > 10 && nfe < 2000, `nfe ${nfe}`);
  });
}

test('odeSample is deterministic and its NFE grows as the tolerance tightens', () => {
  const sde = new VpSde();
  const xT = sde.priorSample([2, 4, 4, 1], new Generator(3));
  const a = odeSample(sde, gaussianScore(sde), xT, { rtol: 1e-3, atol: 1e-3 });
  const b = odeSample(sde, gaussianScore(sde), xT, { rtol: 1e-3, atol: 1e-3 });
  const c = odeSample(sde, gaussianScore(sde), xT, { rtol: 1e-6, atol: 1e-6 });
  assert.deepEqual(Array.from(hostBuffer(a.x)), Array.from(hostBuffer(b.x)));
  assert.ok(c.nfe > a.nfe);
});

test('PC sampling rejects bad options before any work', () => {
  const sde = new SubVpSde({ N: 10 });
  const xT = sde.priorSample([1, 2, 2, 1], new Generator(0));
  const score = gaussianScore(sde);
  assert.throws(() => pcSample(sde, score, xT, { predictor: 'ancestral', generator: new Generator(0) }), (e: Error) => e instanceof ArgumentError && /sub-VP/.test(e.message));
  assert.throws(() => pcSample(sde, score, xT, { predictor: 'none', corrector: 'none', generator: new Generator(0) }), /both 'none'/);
  assert.throws(() => pcSample(sde, score, xT, {}), /generator/);
  assert.throws(() => pcSample(sde, score, xT, { snr: -1, generator: new Generator(0) }), /snr/);
  assert.throws(() => pcSample(sde, score, xT, { predictor: 'heun' as PredictorName, generator: new Generator(0) }), /predictor must be one of/);
});

test('pcSample with fewer steps than the SDE\'s N discretises at the sampling steps (VP N = 1000 sampled in 100 steps)', () => {
  for (const predictor of ['reverse_diffusion', 'ancestral'] as const) {
    const sde = new VpSde();
    const gen = new Generator(8);
    const { x } = pcSample(sde, gaussianScore(sde), sde.priorSample(SHAPE, gen), { predictor, corrector: 'none', steps: 100, generator: gen });
    assertGaussian(`vp ${predictor} 100 of 1000 steps`, x);
  }
});

test('VP with N <= beta_max steps: every discrete predictor and corrector is a clear error naming the steps, not a NaN sample (issue 14: --steps 2 gave NaN images)', () => {
  const sde = new VpSde();
  for (const [predictor, corrector] of [['reverse_diffusion', 'none'], ['ancestral', 'none'], ['none', 'langevin']] as [PredictorName, CorrectorName][]) {
    const gen = new Generator(0);
    assert.throws(
      () => pcSample(sde, gaussianScore(sde), sde.priorSample(SHAPE, gen), { predictor, corrector, steps: 2, generator: gen }),
      (e: Error) => e instanceof ArgumentError && /N = 2 steps/.test(e.message) && /more than 20 steps/.test(e.message),
      `${predictor} + ${corrector}`,
    );
  }
  // 21 steps: beta_max / N < 1, a finite sample.
  const gen = new Generator(0);
  const { x } = pcSample(sde, gaussianScore(sde), sde.priorSample(SHAPE, gen), { predictor: 'reverse_diffusion', corrector: 'langevin', steps: 21, generator: gen });
  assert.ok(hostBuffer(x).every(Number.isFinite));
});
