/**
 * The scheduler config contract: diffusers' defaults, scheduler_config.json round trip (with
 * `_class_name`), schedulerFromConfig dispatch, legacy and foreign keys, and errors that name the
 * key, the value and what is allowed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DDIMScheduler, DDPMScheduler, DIFFUSERS_VERSION, schedulerFromConfig } from '../../src/schedulers/index.js';
import { readVectors } from '../helpers/vectors.js';

/** DDIMScheduler's complete default config in diffusers 0.25.1. */
const DDIM_DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null,
  clip_sample: true,
  set_alpha_to_one: true,
  steps_offset: 0,
  prediction_type: 'epsilon',
  thresholding: false,
  dynamic_thresholding_ratio: 0.995,
  clip_sample_range: 1.0,
  sample_max_value: 1.0,
  timestep_spacing: 'leading',
  rescale_betas_zero_snr: false,
};

describe('scheduler config: defaults and round trip', () => {
  it('DDPMScheduler() has diffusers defaults (add_noise.json holds its full default config)', () => {
    const v = readVectors<{ cases: { config: Record<string, unknown> }[] }>('add_noise.json');
    const ddpmDefaults = v.cases[0]!.config;
    assert.deepEqual(new DDPMScheduler().toConfig(), { _class_name: 'DDPMScheduler', _diffusers_version: DIFFUSERS_VERSION, ...ddpmDefaults });
  });

  it('DDIMScheduler() has diffusers defaults, in diffusers key order', () => {
    const json = new DDIMScheduler().toConfig();
    assert.deepEqual(json, { _class_name: 'DDIMScheduler', _diffusers_version: DIFFUSERS_VERSION, ...DDIM_DEFAULTS });
    assert.deepEqual(Object.keys(json), ['_class_name', '_diffusers_version', ...Object.keys(DDIM_DEFAULTS)]);
  });

  it('toConfig -> JSON text -> schedulerFromConfig gives the same scheduler', () => {
    const configs = [
      new DDPMScheduler({ beta_schedule: 'squaredcos_cap_v2', variance_type: 'learned_range', prediction_type: 'v_prediction', thresholding: true, sample_max_value: 2.5, timestep_spacing: 'trailing', rescale_betas_zero_snr: true }),
      new DDIMScheduler({ beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, set_alpha_to_one: false, steps_offset: 1, clip_sample: false }),
      new DDPMScheduler({ num_train_timesteps: 4, trained_betas: [0.1, 0.2, 0.3, 0.4] }),
    ];
    for (const s of configs) {
      const text = JSON.stringify(s.toConfig(), null, 2);
      const back = schedulerFromConfig(JSON.parse(text));
      assert.equal(back.className, s.className);
      assert.deepEqual(back.toConfig(), s.toConfig());
      assert.ok(back instanceof (s instanceof DDPMScheduler ? DDPMScheduler : DDIMScheduler));
    }
    // The camelCase config reads back the parsed values.
    const d = new DDIMScheduler({ steps_offset: 1, timestep_spacing: 'linspace' });
    assert.equal(d.config.stepsOffset, 1);
    assert.equal(d.config.timestepSpacing, 'linspace');
    assert.ok(Object.isFrozen(d.config));
  });

  it('schedulerFromConfig can swap the class on one model config, ignoring the other class keys', () => {
    const ddpmJson = new DDPMScheduler({ variance_type: 'fixed_large', beta_schedule: 'squaredcos_cap_v2' }).toConfig();
    const ddim = schedulerFromConfig(ddpmJson, 'DDIMScheduler');
    assert.ok(ddim instanceof DDIMScheduler);
    assert.equal((ddim as DDIMScheduler).config.betaSchedule, 'squaredcos_cap_v2');
    assert.equal('variance_type' in ddim.toConfig(), false);
  });

  it('loads a legacy config like google/ddpm-cifar10-32 (predict_epsilon, tensor_format)', () => {
    const legacy = {
      _class_name: 'DDPMScheduler',
      _diffusers_version: '0.1.1',
      beta_end: 0.02,
      beta_schedule: 'linear',
      beta_start: 0.0001,
      clip_sample: true,
      num_train_timesteps: 1000,
      trained_betas: null,
      variance_type: 'fixed_small',
      tensor_format: 'pt',
      timestep_values: null,
      predict_epsilon: false,
    };
    const s = schedulerFromConfig(legacy) as DDPMScheduler;
    assert.equal(s.config.predictionType, 'sample');
    assert.equal(s.toConfig()['prediction_type'], 'sample');
    assert.equal('predict_epsilon' in s.toConfig(), false);
  });
});

describe('scheduler config: errors name the key, the value and what is allowed', () => {
  const cases: [() => unknown, RegExp][] = [
    [() => new DDPMScheduler({ beta_schedule: 'cubic' }), /DDPMScheduler: config key "beta_schedule" has value "cubic"; allowed: one of "linear", "scaled_linear", "squaredcos_cap_v2", "sigmoid"/],
    [() => new DDPMScheduler({ variance_type: 'small' }), /config key "variance_type" has value "small"; allowed: one of "fixed_small", "fixed_small_log", "fixed_large", "fixed_large_log", "learned", "learned_range"/],
    [() => new DDIMScheduler({ prediction_type: 'x0' }), /DDIMScheduler: config key "prediction_type" has value "x0"; allowed: one of "epsilon", "sample", "v_prediction"/],
    [() => new DDIMScheduler({ timestep_spacing: 'uniform' }), /config key "timestep_spacing" has value "uniform"; allowed: one of "leading", "trailing", "linspace"/],
    [() => new DDPMScheduler({ num_train_timesteps: 0 }), /config key "num_train_timesteps" has value 0; allowed: an integer in \[1, 1000000\]/],
    [() => new DDPMScheduler({ num_train_timesteps: '1000' }), /config key "num_train_timesteps" has value "1000"; allowed: an integer in \[1, 1000000\]/],
    // Bounded: 1e9 would allocate 8 GB per schedule array before anything else (issue 14, found by the fuzz suite).
    [() => new DDPMScheduler({ num_train_timesteps: 1e9 }), /config key "num_train_timesteps" has value 1000000000; allowed: an integer in \[1, 1000000\]/],
    [() => new DDIMScheduler({ steps_offset: -1 }), /config key "steps_offset" has value -1; allowed: an integer >= 0/],
    [() => new DDIMScheduler({ clip_sample: 'yes' }), /config key "clip_sample" has value "yes"; allowed: true or false/],
    [() => new DDPMScheduler({ beta_end: 2 }), /config key "beta_end" has value 2; allowed: a number in \[0, 1\]/],
    [() => new DDPMScheduler({ clip_sample_range: 0 }), /config key "clip_sample_range" has value 0; allowed: a number > 0/],
    [() => new DDPMScheduler({ dynamic_thresholding_ratio: 1.5 }), /config key "dynamic_thresholding_ratio" has value 1.5/],
    [() => new DDPMScheduler({ trained_betas: [0.1, 'x'] }), /config key "trained_betas" has value \[0.1,"x"\]; allowed: null or an array of numbers in \(0, 1\]/],
    [() => new DDPMScheduler({ num_train_timesteps: 3, trained_betas: [0.1] }), /DDPMScheduler: noise schedule: trained_betas has 1 values, expected num_train_timesteps = 3/],
    [() => new DDPMScheduler({ betaSchedule: 'linear' }), /unknown config key "betaSchedule" \(value "linear"\) \(did you mean "beta_schedule"\? scheduler configs use diffusers' snake_case keys\)/],
    [() => new DDIMScheduler({ beta_shedule: 'linear' }), /DDIMScheduler: unknown config key "beta_shedule".*known keys: num_train_timesteps, beta_start/],
    [() => new DDPMScheduler({ predict_epsilon: true, prediction_type: 'v_prediction' }), /predict_epsilon = true means prediction_type "epsilon", but prediction_type is "v_prediction"/],
    [() => new DDPMScheduler(null as never), /DDPMScheduler: config must be an object with diffusers' snake_case keys \(scheduler_config.json\), found null/],
    [() => schedulerFromConfig({ _class_name: 'FooScheduler' }), /schedulerFromConfig: unknown scheduler class "FooScheduler"; known: DDPMScheduler, DDIMScheduler/],
    [() => schedulerFromConfig({ beta_start: 0.001 }), /the config has no "_class_name" \(found undefined\); pass className/],
    [() => schedulerFromConfig([1]), /expected a scheduler_config.json object, found an array/],
  ];
  cases.forEach(([fn, re], i) => {
    it(`case ${i}: ${re.source.slice(0, 60)}`, () => assert.throws(fn, re));
  });
});
