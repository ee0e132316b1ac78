/**
 * The sigma ramps samplers and schedulers share. Oracles: the closed forms (Karras et al. 2022
 * eq. 5, log-linear, polyexponential, the VP SDE's sigma(t)) and the argument errors.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendZero, karrasRamp, karrasSigmas, exponentialSigmas, polyexponentialSigmas, vpSigmas } from '../../src/diffusion/sigma_ramps.js';

describe('sigma schedules', () => {
  it('karras: endpoints, then 0; evenly spaced in sigma^(1/rho)', () => {
    const s = karrasSigmas(8, 0.002, 80, 7);
    assert.equal(s.length, 9);
    assert.ok(Math.abs(s[0]! - 80) < 1e-12 && Math.abs(s[7]! - 0.002) < 1e-15 && s[8] === 0);
    const r = Array.from(s.slice(0, 8), (v) => v ** (1 / 7));
    for (let i = 2; i < 8; i++) assert.ok(Math.abs(r[i]! - r[i - 1]! - (r[1]! - r[0]!)) < 1e-12);
  });
  it('exponential: evenly spaced in log sigma; polyexponential with rho 1 equals it', () => {
    const e = exponentialSigmas(6, 0.03, 14.6);
    for (let i = 1; i < 6; i++) assert.ok(Math.abs(Math.log(e[i - 1]! / e[i]!) - Math.log(14.6 / 0.03) / 5) < 1e-12);
    assert.equal(e[6], 0);
    const p = polyexponentialSigmas(6, 0.03, 14.6, 1);
    p.forEach((v, i) => assert.ok(Math.abs(v - e[i]!) < 1e-12 * (1 + v)));
    const p2 = polyexponentialSigmas(6, 0.03, 14.6, 2);
    assert.ok(Math.abs(p2[0]! - 14.6) < 1e-12 && Math.abs(p2[5]! - 0.03) < 1e-14 && p2[2]! < e[2]!);
  });
  it('vp: sqrt(exp(beta_d t^2 / 2 + beta_min t) - 1) from t = 1 to eps_s', () => {
    const v = vpSigmas(5);
    assert.ok(Math.abs(v[0]! - Math.sqrt(Math.exp(19.9 / 2 + 0.1) - 1)) < 1e-9);
    assert.ok(Math.abs(v[4]! - Math.sqrt(Math.exp(19.9 * 1e-6 / 2 + 1e-4) - 1)) < 1e-12);
    assert.equal(v[5], 0);
  });
  it('errors name the argument and the value', () => {
    assert.throws(() => karrasSigmas(0, 0.1, 10), /n \(number of steps\) must be an integer >= 1, found 0/);
    assert.throws(() => karrasSigmas(5, 0, 10), /sigmaMin must be a finite number > 0, found 0/);
    assert.throws(() => exponentialSigmas(5, 1, 0.5), /sigmaMax must be a finite number >= sigmaMin \(1\), found 0.5/);
    assert.throws(() => vpSigmas(5, -1), /betaD must be a finite number > 0, found -1/);
  });
  it('karrasRamp is karrasSigmas without the final 0 (the schedulers use the ramp)', () => {
    assert.deepEqual(Array.from(appendZero(karrasRamp(10, 0.03, 14.6))), Array.from(karrasSigmas(10, 0.03, 14.6)));
  });
});
