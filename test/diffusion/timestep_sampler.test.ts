/**
 * The importance sampler of Nichol & Dhariwal eq. 17: uniform until every t has 10 losses, then
 * p_t ∝ sqrt(mean of the squared history) mixed with 0.001 uniform; the inverse-CDF draws follow
 * p_t, the weights 1 / (T p_t) make the weighted mean unbiased, and the state round-trips.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ImportanceSampler, HISTORY, UNIFORM_SHARE } from '../../src/diffusion/timestep_sampler.js';

describe('ImportanceSampler', () => {
  it('is uniform until every timestep has a full history', () => {
    const s = new ImportanceSampler(4);
    for (let k = 0; k < HISTORY; k++) s.update([0, 1, 2], [1, 2, 3]);
    assert.equal(s.warmedUp(), false);
    assert.deepEqual(Array.from(s.probabilities()), [0.25, 0.25, 0.25, 0.25]);
    const { timesteps, weights } = s.sample([0, 0.24, 0.25, 0.99]);
    assert.deepEqual(Array.from(timesteps), [0, 0, 1, 3]);
    assert.deepEqual(Array.from(weights), [1, 1, 1, 1]);
  });

  it('p_t ∝ sqrt(E[L_t^2]) over the last 10 losses, with the uniform share', () => {
    const s = new ImportanceSampler(3);
    for (let k = 0; k < 25; k++) s.update([0, 1, 2], [k < 15 ? 100 : 1, 2 * (k % 2 === 0 ? 1 : 3), 4]); // t = 0 keeps only its last 10 (all 1)
    const rms = [1, Math.sqrt((4 + 36) / 2), 4];
    const total = rms.reduce((a, b) => a + b, 0);
    const p = s.probabilities();
    rms.forEach((r, t) => assert.ok(Math.abs(p[t]! - ((r / total) * (1 - UNIFORM_SHARE) + UNIFORM_SHARE / 3)) < 1e-15));
    assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-15);
    // Draws by inverse CDF: u below p_0 gives t = 0, etc.; weight 1 / (T p_t).
    const { timesteps, weights } = s.sample([p[0]! * 0.5, p[0]! + p[1]! * 0.5, 0.999]);
    assert.deepEqual(Array.from(timesteps), [0, 1, 2]);
    weights.forEach((w, i) => assert.ok(Math.abs(w - 1 / (3 * p[timesteps[i]!]!)) < 1e-12));
  });

  it('weighted losses average to the uniform mean (unbiased), drawn frequencies follow p_t', () => {
    const T = 5;
    const s = new ImportanceSampler(T);
    const L = [5, 1, 0.5, 0.2, 0.1];
    for (let k = 0; k < HISTORY; k++) s.update([0, 1, 2, 3, 4], L);
    const n = 100_000;
    const u = Array.from({ length: n }, (_, i) => (i + 0.5) / n); // a stratified grid of uniforms
    const { timesteps, weights } = s.sample(u);
    let est = 0;
    const counts = new Array<number>(T).fill(0);
    timesteps.forEach((t, i) => {
      est += weights[i]! * L[t]!;
      counts[t]!++;
    });
    const mean = L.reduce((a, b) => a + b, 0) / T;
    assert.ok(Math.abs(est / n - mean) < 1e-3 * mean, `${est / n} vs ${mean}`);
    const p = s.probabilities();
    counts.forEach((c, t) => assert.ok(Math.abs(c / n - p[t]!) < 1e-4));
  });

  it('state round-trips exactly and is validated', () => {
    const a = new ImportanceSampler(3);
    for (let k = 0; k < 12; k++) a.update([k % 3], [Math.PI * k]);
    const b = new ImportanceSampler(3);
    b.setState(JSON.parse(JSON.stringify(a.getState())));
    assert.deepEqual(b.getState(), a.getState());
    assert.deepEqual(Array.from(b.probabilities()), Array.from(a.probabilities()));
    assert.throws(() => b.setState({ history: [[1], [2]] }), /expected \{ history: 3 arrays/);
    assert.throws(() => a.update([3], [1]), /timestep 3 is outside \[0, 3\)/);
    assert.throws(() => new ImportanceSampler(0), /integer >= 1, found 0/);
  });
});
