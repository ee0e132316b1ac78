/**
 * The SDEs against their closed forms: the transition kernel's mean and variance against a fine
 * Euler-Maruyama simulation of the forward SDE on Gaussian data, and against the moment ODEs of
 * the Fokker-Planck equation (d mean/dt = a mean, d var/dt = 2 a var + g^2) by finite differences;
 * the discretisations against DDPM's and SMLD's schedules; the prior; the config round trip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VpSde } from '../../src/sde/vp.js';
import { SubVpSde } from '../../src/sde/subvp.js';
import { VeSde } from '../../src/sde/ve.js';
import { sdeFromConfig, makeSde, isSdeConfig } from '../../src/sde/config.js';
import type { Sde } from '../../src/sde/sde.js';
import { makeBetas, alphasCumprod } from '../../src/diffusion/schedules.js';
import { Generator } from '../../src/tensor/random.js';
import { tensor } from '../../src/tensor/create.js';
import { ArgumentError } from '../../src/tensor/errors.js';
import { MU, S } from './gaussian.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

const SDES: Sde[] = [new VpSde(), new SubVpSde(), new VeSde()];

/** A seeded standard normal stream in float64 (Box-Muller over a small LCG-free Philox draw). */
function normals(n: number, seed: number): Float64Array {
  return Float64Array.from(hostBuffer(new Generator(seed).normal([n])));
}

for (const sde of SDES) {
  test(`${sde.name}: Euler-Maruyama simulation of the forward SDE reproduces the marginal mean and variance`, () => {
    const paths = 10000;
    const steps = 500;
    const z0 = normals(paths, 1);
    // x(0) ~ N(MU, S^2); VE's marginal counts the data as already perturbed by sigma_min.
    const x = Float64Array.from(z0, (z) => MU + Math.sqrt(S * S + (sde.name === 've' ? (sde as VeSde).sigmaMin ** 2 : 0)) * z);
    const gen = new Generator(2);
    const checkpoints = new Map([[150, 0.3], [500, 1]]);
    const dt = 1 / steps;
    for (let k = 0; k < steps; k++) {
      const t = k * dt;
      const a = sde.driftCoef(t);
      const g = sde.diffusion(t);
      const z = hostBuffer(gen.normal([paths]));
      for (let i = 0; i < paths; i++) x[i] = x[i]! + a * x[i]! * dt + g * Math.sqrt(dt) * z[i]!;
      const tc = checkpoints.get(k + 1);
      if (tc === undefined) continue;
      let m = 0;
      for (const v of x) m += v;
      m /= paths;
      let v2 = 0;
      for (const v of x) v2 += (v - m) ** 2;
      v2 /= paths - 1;
      const { mean, std } = sde.marginal(tc);
      const trueVar = mean * mean * S * S + std * std;
      const se = Math.sqrt(trueVar / paths);
      // Mean within 4 standard errors (plus the O(dt) bias); variance within 5% (its relative SE is sqrt(2/n) = 1.4%).
      assert.ok(Math.abs(m - mean * MU) < 4 * se + 2e-3, `${sde.name} t=${tc}: mean ${m} vs ${mean * MU}`);
      assert.ok(Math.abs(v2 / trueVar - 1) < 0.05, `${sde.name} t=${tc}: variance ${v2} vs ${trueVar}`);
    }
  });

  test(`${sde.name}: the marginal solves the Fokker-Planck moment ODEs`, () => {
    const h = 1e-6;
    for (const t of [0.01, 0.1, 0.37, 0.8, 0.99]) {
      const at = (u: number) => sde.marginal(u);
      // Mean coefficient m(t): dm/dt = a(t) m.
      const dm = (at(t + h).mean - at(t - h).mean) / (2 * h);
      assert.ok(Math.abs(dm - sde.driftCoef(t) * at(t).mean) <= 1e-6 * Math.max(1, Math.abs(dm)), `${sde.name} t=${t}: dm/dt ${dm}`);
      // Kernel variance v(t) = std^2: dv/dt = 2 a v + g^2.
      const v = (u: number) => at(u).std ** 2;
      const dv = (v(t + h) - v(t - h)) / (2 * h);
      const rhs = 2 * sde.driftCoef(t) * v(t) + sde.diffusion(t) ** 2;
      assert.ok(Math.abs(dv - rhs) <= 1e-5 * Math.max(1, Math.abs(rhs)), `${sde.name} t=${t}: dv/dt ${dv} vs ${rhs}`);
    }
  });

  test(`${sde.name}: prior log-density is N(0, priorStd^2 I), prior draws have that std`, () => {
    const z = tensor([0.5, -1, 2, 0, 1, 1], [2, 3]);
    const lp = sde.priorLogp(z);
    const s2 = sde.priorStd ** 2;
    const ref = (a: number[]) => a.reduce((acc, v) => acc - 0.5 * Math.log(2 * Math.PI * s2) - (v * v) / (2 * s2), 0);
    assert.ok(Math.abs(lp[0]! - ref([0.5, -1, 2])) < 1e-5);
    assert.ok(Math.abs(lp[1]! - ref([0, 1, 1])) < 1e-5);
    const d = hostBuffer(sde.priorSample([4000], new Generator(3)));
    const std = Math.sqrt(Array.from(d).reduce((a, v) => a + v * v, 0) / d.length);
    assert.ok(Math.abs(std / sde.priorStd - 1) < 0.04, `prior std ${std}`);
  });
}

test("vp: DDPM's linear schedule is the VP SDE's discretisation (beta_min 0.1, beta_max 20, N 1000)", () => {
  const sde = new VpSde();
  const ddpm = makeBetas({ numTrainTimesteps: 1000, betaStart: 1e-4, betaEnd: 0.02, betaSchedule: 'linear' });
  for (let i = 0; i < 1000; i++) assert.ok(Math.abs(sde.discreteBetas[i]! - ddpm[i]!) < 1e-15);
  // The discrete step at t = i / (N - 1) is DDPM's x_i = sqrt(1 - beta_i) x_{i-1} + sqrt(beta_i) z.
  const { fCoef, G } = sde.discretize(500 / 999);
  assert.ok(Math.abs(fCoef - (Math.sqrt(1 - ddpm[500]!) - 1)) < 1e-15 && Math.abs(G - Math.sqrt(ddpm[500]!)) < 1e-15);
  // And abar_i approaches the continuous mean coefficient m(t)^2 (a first-order match in 1/N).
  const acp = alphasCumprod(ddpm);
  for (const i of [100, 500, 999]) assert.ok(Math.abs(acp[i]! - sde.marginal(i / 999).mean ** 2) < 2e-3, `abar_${i}`);
});

test("ve: SMLD's discretisation accumulates the variance sigma_i^2", () => {
  const sde = new VeSde({ sigmaMin: 0.01, sigmaMax: 50, N: 100 });
  let variance = 0;
  for (let i = 0; i < 100; i++) {
    variance += sde.discretize(i / 99).G ** 2;
    assert.ok(Math.abs(variance / sde.discreteSigmas[i]! ** 2 - 1) < 1e-12);
  }
  assert.ok(Math.abs(sde.discreteSigmas[99]! - 50) < 1e-12 && Math.abs(sde.marginal(1).std - 50) < 1e-12);
});

test('subvp: Euler-Maruyama discretisation and a variance below VP at every t', () => {
  const sub = new SubVpSde({ N: 100 });
  const vp = new VpSde({ N: 100 });
  const { fCoef, G } = sub.discretize(0.5);
  assert.ok(Math.abs(fCoef - sub.driftCoef(0.5) / 100) < 1e-15 && Math.abs(G - sub.diffusion(0.5) / 10) < 1e-15);
  for (const t of [0.001, 0.1, 0.5, 1]) assert.ok(sub.marginal(t).std <= vp.marginal(t).std);
});

test('reverse drift and probability-flow coefficients follow eq. 6 and 13', () => {
  const sde = new VpSde();
  const g2 = sde.diffusion(0.4) ** 2;
  assert.deepEqual(sde.reverseDriftCoefs(0.4, false), { xCoef: sde.driftCoef(0.4), scoreCoef: -g2 });
  assert.deepEqual(sde.reverseDriftCoefs(0.4, true), { xCoef: sde.driftCoef(0.4), scoreCoef: -0.5 * g2 });
  assert.equal(sde.reverseDiffusion(0.4, true), 0);
});

test('sdeFromConfig: the bundled DDPM config is the VP SDE; SDE configs round-trip; bad configs are named', () => {
  const ddpm = { _class_name: 'DDPMScheduler', num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear', prediction_type: 'epsilon' };
  const vp = sdeFromConfig(ddpm) as VpSde;
  assert.equal(vp.name, 'vp');
  assert.ok(Math.abs(vp.betaMin - 0.1) < 1e-12 && Math.abs(vp.betaMax - 20) < 1e-12 && vp.N === 1000);
  assert.equal(sdeFromConfig(ddpm, 'vp').name, 'vp');
  assert.throws(() => sdeFromConfig(ddpm, 'subvp'), /DDPM model is a VP SDE model/);
  assert.equal(isSdeConfig(ddpm), false);
  for (const sde of [makeSde('vp', { betaMin: 0.2, betaMax: 10, N: 500 }), makeSde('subvp'), makeSde('ve', { sigmaMax: 30 })]) {
    const c = sde.toConfig();
    assert.ok(isSdeConfig(c));
    const back = sdeFromConfig(c);
    assert.deepEqual(back.toConfig(), c);
  }
  assert.throws(() => sdeFromConfig({ ...ddpm, beta_schedule: 'squaredcos_cap_v2' }), (e: Error) => e instanceof ArgumentError && /linear schedule/.test(e.message));
  assert.throws(() => sdeFromConfig({ ...ddpm, prediction_type: 'v_prediction' }), /epsilon/);
  assert.throws(() => sdeFromConfig(new VeSde().toConfig(), 'vp'), /ve SDE/);
  assert.throws(() => new VeSde({ sigmaMin: 1, sigmaMax: 0.5 }), /sigmaMax/);
  assert.throws(() => new VpSde({ betaMin: -1 }), /betaMin/);
  assert.throws(() => new VpSde().marginal(1.5), /t must be a number in \[0, 1\]/);
});
