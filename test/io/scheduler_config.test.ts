/**
 * scheduler_config.json's noise schedule is checked when it is read (issue 14, failure 6): the
 * configs that gave all-NaN images with no error (beta_end 1; betas that wipe out the signal before
 * the last step; betas too small to add noise) are refused naming the file and the field, every
 * usual schedule is still read, and a zero-terminal-SNR schedule visited at its last timestep
 * (rescale_betas_zero_snr with trailing spacing) samples finite images with DDPM and DDIM, as the
 * sigma schedulers already did. Oracles: alpha_bar = prod(1 - beta) computed in the test; the
 * images' finiteness.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointError, SCHEDULER_CONFIG_NAME, readSchedulerConfig, writeSchedulerConfig } from '../../src/io/checkpoint.js';
import { makeBetas, MAX_TRAINING_SIGMA } from '../../src/diffusion/schedules.js';
import { DDIMScheduler, DDPMScheduler, SCHEDULER_CLASSES } from '../../src/schedulers/index.js';
import { generate } from '../../src/pipelines/generate.js';
import { UNet2DModel, type UNet2DConfig } from '../../src/nn/unet_2d.js';

const TINY: Partial<UNet2DConfig> = {
  sampleSize: [8, 6], inChannels: 1, outChannels: 1, blockOutChannels: [4, 8], layersPerBlock: 1, normNumGroups: 2,
  downBlockTypes: ['DownBlock2D', 'AttnDownBlock2D'], upBlockTypes: ['AttnUpBlock2D', 'UpBlock2D'], attentionHeadDim: 4,
};
const model = new UNet2DModel(TINY).eval();
const linear = (n: number, a: number, b: number): number[] => Array.from({ length: n }, (_, i) => a + ((b - a) * i) / (n - 1));

let root = '';
before(() => {
  root = mkdtempSync(join(tmpdir(), 'sched-config-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

/** Writes `config` as a folder's scheduler_config.json and reads it back. */
function roundTrip(name: string, config: Record<string, unknown>): Record<string, unknown> {
  const dir = join(root, name);
  writeSchedulerConfig(dir, { _class_name: 'DDPMScheduler', ...config });
  return readSchedulerConfig(dir);
}

describe('scheduler_config.json: the noise schedule is checked when read', () => {
  it('refuses the schedules that sampled NaN images, naming the file and the field (7 configs)', () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['beta_end_1', { beta_end: 1 }, /training sigma .* reaches 1\.\d+e\+8 at t = 259, above 100000000 .*beta_schedule 'linear' from beta_start 0\.0001 to beta_end 1 over num_train_timesteps = 1000.*Lower beta_end/],
      ['beta_end_0999', { beta_end: 0.999 }, /training sigma .* above 100000000/],
      ['huge_T', { num_train_timesteps: 100000 }, /training sigma .* above 100000000 .*over num_train_timesteps = 100000.*Lower beta_end or num_train_timesteps/],
      ['betas_zero_mid', { trained_betas: [...linear(500, 0.0001, 0.02), 1, ...linear(499, 0.0001, 0.02)] }, /alpha_bar \(the signal left at step t\) reaches 0 at t = 500, before the last step t = 999/],
      ['betas_all_1', { trained_betas: new Array<number>(1000).fill(1) }, /alpha_bar .* reaches 0 at t = 0, before the last step .*trained_betas \(1000 values\).*Keep every trained_betas value below 1/],
      ['betas_tiny', { trained_betas: new Array<number>(1000).fill(1e-300) }, /beta\[0\] = 1e-300 is so small that 1 - beta rounds to 1.*trained_betas/],
      ['beta_start_0', { beta_start: 0 }, /beta\[0\] = 0 is outside \(0, 1\]/],
    ];
    for (const [name, config, re] of cases) {
      assert.throws(() => roundTrip(name, config), (e: unknown) => {
        assert.ok(e instanceof CheckpointError, `${name}: ${String(e)}`);
        assert.ok(e.message.startsWith(join(root, name, SCHEDULER_CONFIG_NAME)), e.message);
        assert.match(e.message, re, name);
        return true;
      });
    }
    // The schedulers refuse them too (without a file: the library's own path).
    assert.throws(() => new DDIMScheduler({ beta_end: 1 }), /DDIMScheduler: noise schedule: the training sigma/);
  });

  it('reads every usual schedule, zero terminal SNR and score-SDE configs (10 configs)', () => {
    const ok: Record<string, unknown>[] = [
      {}, { beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012 }, { beta_schedule: 'squaredcos_cap_v2' },
      { beta_schedule: 'squaredcos_cap_v2', num_train_timesteps: 4000 }, { beta_schedule: 'sigmoid' }, { rescale_betas_zero_snr: true },
      { beta_start: 0.02, beta_end: 0.0001 }, { trained_betas: [...linear(999, 0.0001, 0.02), 1] }, { num_train_timesteps: 2 },
      { _class_name: 'ScoreSdeVeScheduler', sde: 've', sigma_max: 50, num_train_timesteps: 2000 },
    ];
    ok.forEach((c, i) => assert.doesNotThrow(() => roundTrip(`ok${i}`, c), JSON.stringify(c)));
  });

  it('the limit sits between the usual schedules and the overflowing ones', () => {
    const sigmaMax = (betas: Float64Array): number => {
      let abar = 1;
      for (const b of betas) abar *= 1 - b;
      return Math.sqrt((1 - abar) / abar);
    };
    const cosine = sigmaMax(makeBetas({ numTrainTimesteps: 4000, betaStart: 0, betaEnd: 0, betaSchedule: 'squaredcos_cap_v2' }));
    assert.ok(cosine > 1e4 && cosine < MAX_TRAINING_SIGMA / 100, String(cosine));
  });

  it('rescale_betas_zero_snr with trailing spacing (t = T - 1 has alpha_bar 0): DDPM and DDIM sample finite images', () => {
    const config = { num_train_timesteps: 100, rescale_betas_zero_snr: true, timestep_spacing: 'trailing', clip_sample: true };
    for (const scheduler of [new DDIMScheduler(config), new DDPMScheduler(config)]) {
      scheduler.setTimesteps(4);
      assert.equal(scheduler.timesteps[0], 99);
      assert.equal(scheduler.alphasCumprod[99], 0);
      const { images } = generate({ model, scheduler, n: 2, steps: 4, seed: 0 });
      assert.ok(images.toArray().every((v) => Number.isFinite(v)), scheduler.className);
    }
  });

  it('trained_betas ending in 1 (alpha_bar_T = 0) with trailing spacing: every scheduler samples finite images', () => {
    const config = { num_train_timesteps: 100, trained_betas: [...linear(99, 0.0001, 0.2), 1], timestep_spacing: 'trailing' };
    for (const name of Object.keys(SCHEDULER_CLASSES)) {
      const { images } = generate({ model, scheduler: name, schedulerConfig: config, n: 1, steps: 4, seed: 0 });
      assert.ok(images.toArray().every((v) => Number.isFinite(v)), name);
    }
  });
});
