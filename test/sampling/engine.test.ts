/**
 * The reverse-process engine (src/sampling/): the registry keeps every name accepted before it and
 * adds the SDE samplers with a clear refusal in generate(); the scheduler/sampler fork exists only
 * in the engine's factory; guidance arithmetic has one function, equal to its formula; the
 * conditioned model's guided output equals the formula over two separate forwards; the legacy
 * progress callbacks still work beside onProgress(event); noise streams are per image.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { findMethod, methodNames, resolveScheduler, samplingMethods, schedulerNames, SCHEDULER_ALIASES } from '../../src/sampling/registry.js';
import { reverseProcess, plannedLoops } from '../../src/sampling/reverse_process.js';
import { conditionedModel } from '../../src/sampling/conditioned_model.js';
import { drawNoise, imageStream, imageStreams } from '../../src/sampling/noise_streams.js';
import { classifierFreeGuidance } from '../../src/diffusion/classifier_free_guidance.js';
import { generate } from '../../src/pipelines/generate.js';
import { inpaint } from '../../src/pipelines/inpaint.js';
import { SAMPLERS } from '../../src/samplers/index.js';
import { SCHEDULER_CLASSES } from '../../src/schedulers/index.js';
import { UNet2DModel, type UNet2DConfig } from '../../src/nn/unet_2d.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { concat } from '../../src/ops/concat.js';
import { noGrad } from '../../src/tensor/autograd.js';
import { ArgumentError } from '../../src/tensor/errors.js';
import { packageRoot } from '../../src/io/package_root.js';
import { randTensor } from '../helpers/data.js';

const TINY: Partial<UNet2DConfig> = {
  sampleSize: [8, 6], inChannels: 1, outChannels: 1, blockOutChannels: [4, 8], layersPerBlock: 1, normNumGroups: 2,
  downBlockTypes: ['DownBlock2D', 'AttnDownBlock2D'], upBlockTypes: ['AttnUpBlock2D', 'UpBlock2D'], attentionHeadDim: 4, numClassEmbeds: 3,
};
const SCHED = { num_train_timesteps: 100, beta_schedule: 'linear' };
const model = new UNet2DModel(TINY).eval();

describe('the sampling-method registry', () => {
  it('keeps every earlier name (samplers, scheduler aliases and class names) and adds pc and ode', () => {
    const names = methodNames();
    const available = Object.entries(SCHEDULER_ALIASES).filter(([, c]) => c in SCHEDULER_CLASSES).map(([a]) => a);
    for (const n of [...Object.keys(SAMPLERS), ...available, ...Object.keys(SCHEDULER_CLASSES), 'pc', 'ode']) {
      assert.ok(names.includes(n), n);
      assert.notEqual(findMethod(n), null, n);
    }
    assert.deepEqual(names.filter((n) => !schedulerNames().includes(n)), ['pc', 'ode']);
    assert.equal(findMethod('plms')!.name, 'PNDMScheduler');
    assert.equal(findMethod('nope'), null);
  });

  it('carries capability data: stochastic, --sigmas, --eta, default steps, calls per step, paper', () => {
    for (const m of samplingMethods()) {
      assert.ok(m.paper.length > 0 && m.order.length > 0 && m.modelCallsPerStep.length > 0, m.name);
      assert.equal(m.takesSigmas, m.kind === 'sampler', m.name);
    }
    assert.equal(findMethod('ddim')!.takesEta, true);
    assert.equal(findMethod('euler_ancestral')!.takesEta, true);
    assert.equal(findMethod('euler')!.takesEta, false);
    assert.equal(findMethod('ddpm')!.defaultSteps, 'num_train_timesteps');
    assert.equal(findMethod('pc')!.needs, 'score_sde');
  });

  it('generate() refuses an SDE sampler by name with a pointer to it', () => {
    assert.throws(() => resolveScheduler('pc'), (e: Error) => e instanceof ArgumentError && /score-SDE sampler.*diffuse sample --scheduler pc/.test(e.message));
  });
});

describe('the reverse-process contract', () => {
  it('schedulers and samplers alike: loops, timesteps, start levels', () => {
    const heun = reverseProcess('t', 'HeunDiscreteScheduler', { steps: 5, schedulerConfig: SCHED });
    assert.equal(heun.loops, 9);
    assert.equal(plannedLoops('HeunDiscreteScheduler', 5, SCHED), 9);
    assert.equal(plannedLoops('ddpm', 1000, SCHED), 1000); // more steps than the scheduler can do: the steps
    const dpm = reverseProcess('t', 'dpmpp_2m', { steps: 5, schedulerConfig: SCHED });
    assert.equal(dpm.loops, 5);
    assert.equal(dpm.timesteps.length, 5);
    assert.ok(dpm.initNoiseSigma > 1);
    assert.equal(dpm.scheduler, null);
    assert.equal(reverseProcess('t', 'pndm', { steps: 5, schedulerConfig: SCHED }).startsPartWay, false);
  });

  it("the scheduler/sampler fork exists only in the engine's factory", () => {
    const src = join(packageRoot(), 'src');
    const files: string[] = [];
    const walk = (d: string): void => {
      for (const f of readdirSync(d)) {
        const p = join(d, f);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith('.ts')) files.push(p);
      }
    };
    walk(src);
    const forks = files.filter((f) => /kind === 'scheduler'/.test(readFileSync(f, 'utf8'))).map((f) => f.slice(src.length + 1));
    assert.deepEqual(forks, [join('sampling', 'reverse_process.ts')]);
  });
});

describe('the conditioned model', () => {
  it('classifier-free guidance: one batched forward equals u + w (c - u) over two forwards', () => {
    const x = randTensor([2, 8, 6, 1], 5);
    const w = 2.5;
    const m = conditionedModel({ model, labels: [0, 1], guidance: w, nullClass: 2, conditioning: null, channels: 1, keepVariance: false, classifier: null, start: 0 });
    const guided = m.output(x, 40).toArray();
    const c = noGrad(() => model.forward(x, 40, [0, 1])).toArray();
    const u = noGrad(() => model.forward(x, 40, [2, 2])).toArray();
    guided.forEach((g, i) => assert.ok(Math.abs(g - (u[i]! + w * (c[i]! - u[i]!))) < 1e-5, `value ${i}`));
    const both = noGrad(() => model.forward(concat([x, x], 0), 40, [0, 1, 2, 2]));
    assert.deepEqual(Array.from(classifierFreeGuidance(both, 2, w).toArray()), Array.from(guided));
  });
});

describe('noise streams and progress', () => {
  it("image i's noise depends on the seed and i only", () => {
    const origin = { seed: 7n, base: 0n };
    const a = drawNoise(imageStreams(origin, 0, 3), [8, 6, 1], 'float32').toArray();
    const b = drawNoise([imageStream(origin, 2)], [8, 6, 1], 'float32').toArray();
    assert.deepEqual(Array.from(a.subarray(96)), Array.from(b));
  });

  it('onProgress(event) everywhere; the legacy onStep and positional onProgress still work', () => {
    const events: number[] = [];
    const legacy: number[] = [];
    generate({ model, scheduler: 'ddim', schedulerConfig: SCHED, n: 1, steps: 2, seed: 0, onProgress: (e) => events.push(e.step), onStep: (i) => legacy.push(i) });
    assert.deepEqual(events, [1, 2]);
    assert.deepEqual(legacy, [1, 2]);
    const positional: [number, number, boolean][] = [];
    const image = new Tensor(new Float32Array(48).fill(0.5), [8, 6, 1]);
    const old = (step: number, total: number, x0?: Tensor): void => void positional.push([step, total, x0 instanceof Tensor]);
    inpaint({ model, scheduler: 'ddim', schedulerConfig: SCHED, image, box: { x: 1, y: 1, w: 2, h: 2 }, steps: 2, seed: 0, onProgress: old as never });
    assert.deepEqual(positional, [[1, 2, true], [2, 2, true]]);
  });
});
