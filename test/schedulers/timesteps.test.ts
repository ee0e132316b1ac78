/**
 * Timestep spacing: the DDPM and DDIM rows of test/fixtures/diffusers/timesteps_table.json (leading with
 * and without steps_offset, trailing, linspace, N = 1..1000), NumPy's rounding and arange/linspace
 * arithmetic, and argument errors.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spacedTimesteps, roundHalfEven, numpyArange, numpyLinspace, checkCustomTimesteps, type TimestepSpacing } from '../../src/schedulers/timesteps.js';
import { DDPMScheduler, DDIMScheduler } from '../../src/schedulers/index.js';
import { readVectors } from '../helpers/vectors.js';

interface Row {
  scheduler: string;
  options: { timestep_spacing: TimestepSpacing; steps_offset?: number };
  num_inference_steps: number;
  timesteps: number[];
  init_noise_sigma: number;
}

describe('timestep spacing vs diffusers 0.25.1 (timesteps_table.json)', () => {
  const rows = readVectors<{ rows: Row[] }>('timesteps_table.json').rows;
  const ours = rows.filter((r) => r.scheduler === 'DDPMScheduler' || r.scheduler === 'DDIMScheduler');
  it('the table has the DDPM and DDIM rows we expect', () => {
    assert.equal(ours.length, 91);
  });
  for (const name of ['DDPMScheduler', 'DDIMScheduler']) {
    it(`${name}: every row (exact integers) and init_noise_sigma`, () => {
      for (const r of ours.filter((x) => x.scheduler === name)) {
        const s = name === 'DDPMScheduler' ? new DDPMScheduler(r.options) : new DDIMScheduler(r.options);
        s.setTimesteps(r.num_inference_steps);
        assert.deepEqual(s.timesteps, r.timesteps, `${name} ${JSON.stringify(r.options)} N=${r.num_inference_steps}`);
        assert.equal(s.initNoiseSigma, r.init_noise_sigma);
      }
    });
  }
});

describe('timestep spacing: closed forms', () => {
  it('leading, trailing and linspace for an even split', () => {
    assert.deepEqual(spacedTimesteps('leading', 1000, 4), [750, 500, 250, 0]);
    assert.deepEqual(spacedTimesteps('leading', 1000, 4, 1), [751, 501, 251, 1]);
    assert.deepEqual(spacedTimesteps('trailing', 1000, 4), [999, 749, 499, 249]);
    assert.deepEqual(spacedTimesteps('linspace', 1000, 4), [999, 666, 333, 0]);
    assert.deepEqual(spacedTimesteps('linspace', 10, 1), [0]);
    // N = T visits every timestep whatever the spacing.
    for (const sp of ['leading', 'trailing', 'linspace'] as const) {
      assert.deepEqual(spacedTimesteps(sp, 7, 7), [6, 5, 4, 3, 2, 1, 0]);
    }
  });
  it('NumPy arithmetic: round half to even, arange fill, linspace endpoint', () => {
    assert.deepEqual([0.5, 1.5, 2.5, 499.5, 2.4999, -0.5].map(roundHalfEven), [0, 2, 2, 500, 2, 0]);
    assert.deepEqual(Array.from(numpyArange(10, 0, -2.5)), [10, 7.5, 5, 2.5]);
    assert.equal(numpyArange(0, 1, 2).length, 1);
    assert.equal(numpyArange(1, 0, 1).length, 0);
    const l = numpyLinspace(0, 999, 3);
    assert.deepEqual(Array.from(l), [0, 499.5, 999]);
  });
  it('rejects bad step counts, spacings and custom timesteps, naming the value', () => {
    assert.throws(() => spacedTimesteps('leading', 1000, 0), /num_inference_steps must be an integer in \[1, num_train_timesteps = 1000\], found 0/);
    assert.throws(() => spacedTimesteps('leading', 1000, 1001), /found 1001 \(a model trained on T timesteps can be sampled with at most T steps\)/);
    assert.throws(() => spacedTimesteps('leading', 1000, 2.5), /found 2.5/);
    assert.throws(() => spacedTimesteps('cubic' as TimestepSpacing, 1000, 10), /unknown timestep_spacing "cubic", expected one of leading, trailing, linspace/);
    assert.throws(() => checkCustomTimesteps('op', [], 1000), /non-empty array/);
    assert.throws(() => checkCustomTimesteps('op', [1000, 5], 1000), /timesteps\[0\] = 1000 must be an integer in \[0, num_train_timesteps = 1000\)/);
    assert.throws(() => checkCustomTimesteps('op', [10, 10], 1000), /strictly descending, found timesteps\[0\] = 10 then timesteps\[1\] = 10/);
    assert.throws(() => checkCustomTimesteps('op', [10, 2.5], 1000), /timesteps\[1\] = 2.5/);
    assert.deepEqual(checkCustomTimesteps('op', [999, 0], 1000), [999, 0]);
  });
});
