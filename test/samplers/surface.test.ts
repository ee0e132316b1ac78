/**
 * The samplers' surface: generate() by sampler name or SAMPLERS entry (deterministic per seed and
 * independent of chunking, guidance, progress, trajectory), every accepted name resolving, the
 * `diffuse samplers` listing covering both registries, and `diffuse sample --scheduler <sampler>`.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate, resolveScheduler, schedulerNames, SCHEDULER_ALIASES } from '../../src/pipelines/generate.js';
import { UNet2DModel, type UNet2DConfig } from '../../src/nn/unet_2d.js';
import { SCHEDULER_CLASSES } from '../../src/schedulers/index.js';
import { SAMPLERS, type SamplerName } from '../../src/samplers/index.js';
import { algorithmRows, run as listRun } from '../../src/cli/commands/samplers.js';
import { run as sampleRun } from '../../src/cli/commands/sample.js';
import { writeSchedulerConfig } from '../../src/io/checkpoint.js';
import { ArgumentError } from '../../src/tensor/errors.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

const COND: Partial<UNet2DConfig> = {
  sampleSize: [8, 6], inChannels: 1, outChannels: 1, blockOutChannels: [4, 8], layersPerBlock: 1, normNumGroups: 2,
  downBlockTypes: ['DownBlock2D', 'DownBlock2D'], upBlockTypes: ['UpBlock2D', 'UpBlock2D'], numClassEmbeds: 3,
};
const model = new UNet2DModel(COND).eval();
const CONFIG = { num_train_timesteps: 100, beta_schedule: 'linear' };

describe('generate with samplers', () => {
  it('every sampler by name: shapes, range, determinism per seed, independent of the batch size', () => {
    for (const name of Object.keys(SAMPLERS) as SamplerName[]) {
      const o = { model, scheduler: name, schedulerConfig: CONFIG, n: 3, steps: 3, seed: 5, classLabels: [0, 1, 0] } as const;
      const a = generate({ ...o, batchSize: 3 }).images;
      assert.deepEqual(a.shape, [3, 8, 6, 1], name);
      assert.ok(hostBuffer(a).every((v) => v >= -1 && v <= 1), name);
      if (name === 'dpm_adaptive') {
        // Its step sizes come from an error norm over the whole batch, so chunking changes them.
        assert.deepEqual(Array.from(hostBuffer(generate({ ...o, batchSize: 3 }).images)), Array.from(hostBuffer(a)));
      } else {
        const b = generate({ ...o, batchSize: 2 }).images;
        // Native kernels may round differently per batch size: close, not bitwise.
        hostBuffer(a).forEach((v, i) => assert.ok(Math.abs(v - hostBuffer(b)[i]!) < 1e-4, `${name}: pixel ${i} ${v} vs ${hostBuffer(b)[i]}`));
      }
      if (SAMPLERS[name].stochastic) {
        const c = generate({ ...o, batchSize: 3, seed: 6 }).images;
        assert.ok(hostBuffer(c).some((v, i) => v !== hostBuffer(a)[i]), `${name}: another seed must differ`);
      }
    }
  });

  it('a SAMPLERS entry works like its name; sigma schedules; guidance; progress and trajectory', () => {
    const o = { model, schedulerConfig: CONFIG, n: 2, steps: 4, seed: 1, classLabels: [1, 0], guidanceScale: 2.5 } as const;
    const byName = generate({ ...o, scheduler: 'dpmpp_2m' }).images;
    const byEntry = generate({ ...o, scheduler: SAMPLERS.dpmpp_2m }).images;
    assert.deepEqual(Array.from(hostBuffer(byEntry)), Array.from(hostBuffer(byName)));
    const discrete = generate({ ...o, scheduler: 'dpmpp_2m', sigmaSchedule: 'discrete' }).images;
    assert.ok(hostBuffer(discrete).some((v, i) => v !== hostBuffer(byName)[i]), 'another sigma schedule gives other images');
    const seen: number[] = [];
    const r = generate({ ...o, scheduler: 'heun', batchSize: 1, trajectoryFrames: 3, onStep: (i, total) => (seen.push(i), assert.equal(total, 8)) });
    assert.deepEqual(seen, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(r.trajectory!.stepIndex, [0, 2, 4]);
    assert.ok(Math.abs(r.trajectory!.timesteps[0]! - 99) < 1e-9); // sigma_max is the last training timestep
    assert.throws(() => generate({ ...o, scheduler: 'euler', sigmaSchedule: 'vp' }), /'vp' is the continuous VP SDE's schedule/);
    const ac = new AbortController();
    ac.abort(new Error('halt'));
    assert.throws(() => generate({ ...o, scheduler: 'euler', signal: ac.signal }), /halt/);
  });

  it('a multi-evaluation scheduler by class name runs all its timesteps', () => {
    assert.ok('HeunDiscreteScheduler' in SCHEDULER_CLASSES, 'HeunDiscreteScheduler is registered');
    let last = 0;
    const r = generate({ model, scheduler: 'HeunDiscreteScheduler', schedulerConfig: CONFIG, n: 1, steps: 3, seed: 0, classLabels: 0, onStep: (i) => (last = i) });
    assert.equal(last, 5, 'Heun lists 2N - 1 timesteps');
    assert.ok(hostBuffer(r.images).every((v) => Number.isFinite(v)));
  });

  it('every accepted name resolves; unknown names list the known ones', () => {
    for (const name of schedulerNames()) {
      const r = resolveScheduler(name, CONFIG);
      if (name in SAMPLERS) assert.equal(r.kind, 'sampler', name);
      else {
        assert.equal(r.kind, 'scheduler', name);
        if (r.kind === 'scheduler') assert.equal(r.scheduler.className, SCHEDULER_ALIASES[name] ?? name);
      }
    }
    for (const short of ['ddpm', 'ddim', 'euler', 'heun', 'dpmpp_2m']) assert.ok(schedulerNames().includes(short), short);
    assert.throws(() => resolveScheduler('nope'), (e: Error) => e instanceof ArgumentError && /unknown scheduler or sampler 'nope'; known: euler, .*ddpm/.test(e.message));
    assert.throws(() => generate({ model, scheduler: 'nope', n: 1, steps: 1, seed: 0 }), /generate: unknown scheduler or sampler 'nope'/);
  });
});

describe('diffuse samplers and diffuse sample --scheduler <sampler>', () => {
  it('lists every sampler and every registered scheduler, each with its columns', () => {
    const rows = algorithmRows();
    assert.deepEqual(rows.filter((r) => r.kind === 'sampler').map((r) => r.name), Object.keys(SAMPLERS));
    assert.deepEqual(rows.filter((r) => r.kind === 'scheduler').map((r) => r.name), Object.keys(SCHEDULER_CLASSES));
    for (const r of rows) {
      assert.ok(r.order !== '?' && r.modelCallsPerStep !== '?' && r.stochastic !== '?' && r.paper.length > 10, `${r.name}: ${JSON.stringify(r)}`);
    }
    // A positional is one method's name (`diffuse samplers dpmpp_2m`); an unknown one gets the closest.
    assert.throws(() => listRun(['extra']), /unknown sampler 'extra'; 'diffuse samplers' lists them all/);
    assert.throws(() => listRun(['dpmpp_2', 'x']), /takes at most one NAME/);
  });

  let root = '';
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'diffuse-samplers-'));
    model.savePretrained(join(root, 'pipe', 'unet'));
    writeSchedulerConfig(join(root, 'pipe', 'scheduler'), { _class_name: 'DDPMScheduler', num_train_timesteps: 100 });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('diffuse sample runs a sampler and a scheduler by name; flag errors come first', async () => {
    const pipe = join(root, 'pipe');
    await sampleRun(['--model', pipe, '--scheduler', 'dpmpp_2m_sde', '--eta', '0.5', '--sigmas', 'exponential', '--steps', '3', '--n', '2', '--out', join(root, 'a.png')]);
    assert.ok(existsSync(join(root, 'a.png')));
    await sampleRun(['--model', pipe, '--scheduler', 'ddim', '--steps', '2', '--n', '1', '--out', join(root, 'b.png')]);
    assert.ok(existsSync(join(root, 'b.png')));
    const bad = (args: string[], re: RegExp) => assert.rejects(sampleRun([...args, '--model', pipe, '--out', join(root, 'never.png')]), (e: Error) => re.test(e.message), re.source);
    await bad(['--scheduler', 'nope'], /--scheduler: unknown sampler 'nope'; 'diffuse samplers' lists them all/);
    await bad(['--scheduler', 'ddim', '--sigmas', 'karras'], /--sigmas applies to the samplers/);
    await bad(['--scheduler', 'euler', '--sigmas', 'cubic'], /--sigmas must be one of karras, exponential, polyexponential, discrete, found 'cubic'/);
    await bad(['--scheduler', 'heun', '--eta', '1'], /--eta applies to --scheduler ddim only, or to a stochastic sampler/);
    assert.equal(existsSync(join(root, 'never.png')), false);
  });
});
