/**
 * The promise pipelines (pipelines/async.ts): each equals its synchronous twin exactly for the
 * same seed (generate with a name, a scheduler instance and a Generator; inpaint; img2img;
 * upscale), progress arrives per step, errors keep their class, and an AbortSignal fired from a
 * timer rejects with an AbortError within about one step while a setInterval keeps firing during
 * the run (the event loop is free); nothing of the run (thread, listener) outlives the promise.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generate } from '../../src/pipelines/generate.js';
import { inpaint } from '../../src/pipelines/inpaint.js';
import { img2img } from '../../src/pipelines/img2img.js';
import { upscale } from '../../src/pipelines/superres.js';
import { generateAsync, inpaintAsync, img2imgAsync, upscaleAsync } from '../../src/pipelines/async.js';
import { AbortError } from '../../src/pipelines/abort_error.js';
import * as promises from '../../src/promises.js';
import { UNet2DModel, type UNet2DConfig } from '../../src/nn/unet_2d.js';
import { DDIMScheduler } from '../../src/schedulers/index.js';
import { Generator } from '../../src/tensor/random.js';
import { ArgumentError, DiffuseError, ShapeError } from '../../src/tensor/errors.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { randTensor } from '../helpers/data.js';

const COND: Partial<UNet2DConfig> = {
  sampleSize: [8, 6], inChannels: 1, outChannels: 1, blockOutChannels: [4, 8], layersPerBlock: 1, normNumGroups: 2,
  downBlockTypes: ['DownBlock2D', 'AttnDownBlock2D'], upBlockTypes: ['AttnUpBlock2D', 'UpBlock2D'], attentionHeadDim: 4, numClassEmbeds: 3,
};
const SR: Partial<UNet2DConfig> = { ...COND, sampleSize: 8, inChannels: 2, numClassEmbeds: null };
const SCHED = { num_train_timesteps: 100, beta_schedule: 'linear' };
const model = new UNet2DModel(COND).eval();

function same(a: Tensor, b: Tensor, what: string): void {
  assert.deepEqual(a.shape, b.shape, what);
  assert.deepEqual(Array.from(a.toArray()), Array.from(b.toArray()), `${what}: the async images differ from the sync ones`);
}

/** Counts of the process's live resources (a worker thread shows as one). */
function resources(): string {
  return process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'Timeout').sort().join(',');
}

describe('async pipelines', () => {
  it('generateAsync equals generate exactly: by name with guidance, with a scheduler instance, with a Generator (advanced the same)', async () => {
    const base = { model, schedulerConfig: SCHED, n: 3, steps: 4, classLabels: [0, 1, 0], guidanceScale: 2, batchSize: 2 };
    same((await generateAsync({ ...base, scheduler: 'dpmpp_2m', seed: 5 })).images, generate({ ...base, scheduler: 'dpmpp_2m', seed: 5 }).images, 'dpmpp_2m');
    const ddim = () => new DDIMScheduler(SCHED);
    same((await generateAsync({ ...base, scheduler: ddim(), eta: 0.5, seed: 6 })).images, generate({ ...base, scheduler: ddim(), eta: 0.5, seed: 6 }).images, 'DDIM instance');
    const g1 = new Generator(9);
    const g2 = new Generator(9);
    const a = await generateAsync({ ...base, scheduler: 'euler_ancestral', generator: g1 });
    const s = generate({ ...base, scheduler: 'euler_ancestral', generator: g2 });
    same(a.images, s.images, 'generator');
    assert.deepEqual(a.classLabels, s.classLabels);
    assert.deepEqual(g1.getState(), g2.getState(), 'the generator is advanced as the sync call advances it');
    // diffuse/promises gives the same function under the plain name.
    assert.equal(promises.generate, generateAsync);
  });

  it('inpaintAsync, img2imgAsync and upscaleAsync equal their sync twins', async () => {
    const image = randTensor([2, 8, 6, 1], 3, { lo: -0.9, hi: 0.9 });
    const box = { x: 1, y: 2, w: 3, h: 4 };
    for (const method of ['replace', 'repaint'] as const) {
      const o = { model, schedulerConfig: SCHED, image, box, method, steps: 3, seed: 2, scheduler: 'ddim', ...(method === 'repaint' ? { jumpLength: 1, jumpNSample: 2 } : {}) };
      const a = await inpaintAsync(o);
      const s = inpaint(o);
      same(a.images, s.images, `inpaint ${method}`);
      assert.deepEqual(Array.from(a.keep), Array.from(s.keep));
      assert.equal(a.modelEvaluations, s.modelEvaluations);
    }
    const i2i = { model, schedulerConfig: SCHED, image, strength: 0.6, steps: 5, seed: 4, scheduler: 'dpmpp_2m', guidanceScale: 1.5, classLabels: 1 };
    same((await img2imgAsync(i2i)).images, img2img(i2i).images, 'img2img');
    const sr = new UNet2DModel(SR).eval();
    const up = { model: sr, schedulerConfig: SCHED, image: randTensor([2, 4, 4, 1], 8), scale: 2, steps: 3, seed: 1, scheduler: 'ddim' };
    const ua = await upscaleAsync(up);
    const us = upscale(up);
    same(ua.images, us.images, 'upscale');
    same(ua.bicubic, us.bicubic, 'upscale bicubic');
  });

  it('reports every step to onProgress (with x0Preview), and errors keep their class and message', async () => {
    const steps: number[] = [];
    let preview: readonly number[] | undefined;
    await generateAsync({ model, schedulerConfig: SCHED, n: 2, steps: 4, seed: 0, scheduler: 'ddim', onProgress: (e) => { steps.push(e.step); preview = e.x0Preview?.shape; } });
    assert.deepEqual(steps, [1, 2, 3, 4]);
    assert.deepEqual(preview, [2, 8, 6, 1]);
    await assert.rejects(generateAsync({ model, schedulerConfig: SCHED, n: 0, steps: 4, seed: 0, scheduler: 'ddim' }), (e: unknown) => e instanceof ArgumentError && /'n' \(number of images\) must be an integer >= 1, found 0/.test(e.message));
    await assert.rejects(img2imgAsync({ model, schedulerConfig: SCHED, image: randTensor([4, 4, 1], 1), strength: 0.5, seed: 0 }), ShapeError);
    await assert.rejects(generateAsync({ model: {} as UNet2DModel, n: 1, steps: 1, scheduler: 'ddim', seed: 0 }), /'model' must be a UNet2DModel/);
    // An onProgress that throws stops the run with its own error, as in the sync call.
    const boom = new Error('boom');
    await assert.rejects(generateAsync({ model, schedulerConfig: SCHED, n: 1, steps: 50, seed: 0, scheduler: 'ddim', onProgress: () => { throw boom; } }), (e) => e === boom);
  });

  it('an AbortSignal fired by a timer rejects within about one step with an AbortError, the event loop stays free, and nothing leaks', async () => {
    const before = resources();
    const controller = new AbortController();
    let ticks = 0;
    let stepsDone = 0;
    let lastStepAt = 0;
    let longestStep = 0;
    const interval = setInterval(() => ticks++, 2);
    const started = performance.now();
    lastStepAt = started;
    let abortedAt = 0;
    const timer = setTimeout(() => {
      abortedAt = performance.now();
      controller.abort(new Error('user pressed stop'));
    }, 400);
    const run = generateAsync({
      model, schedulerConfig: SCHED, n: 4, steps: 100000, seed: 0, scheduler: 'euler',
      signal: controller.signal,
      onProgress: () => {
        const now = performance.now();
        longestStep = Math.max(longestStep, now - lastStepAt);
        lastStepAt = now;
        stepsDone++;
      },
    });
    await assert.rejects(run, (e: unknown) => {
      assert.ok(e instanceof AbortError && e instanceof DiffuseError, `expected an AbortError, found ${String(e)}`);
      assert.equal(e.name, 'AbortError');
      assert.equal((e.cause as Error).message, 'user pressed stop');
      return true;
    });
    const latency = performance.now() - abortedAt;
    clearInterval(interval);
    clearTimeout(timer);
    assert.ok(abortedAt > 0 && stepsDone > 0, `the run made progress before the abort (${stepsDone} steps)`);
    // "About one step": the thread is stopped inside the step it is in; allow scheduling slack.
    assert.ok(latency < 2 * longestStep + 100, `rejected ${latency.toFixed(0)} ms after the abort; the longest step took ${longestStep.toFixed(0)} ms`);
    // A 2 ms interval fired all through the run: the event loop was never blocked.
    assert.ok(ticks >= 20, `setInterval fired ${ticks} times during a ${(abortedAt - started).toFixed(0)} ms run`);
    assert.equal(resources(), before, 'the worker thread is gone when the promise settles');
  });

  it('an already aborted signal rejects at once, and a non-signal and a classifier are refused by name', async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(generateAsync({ model, schedulerConfig: SCHED, n: 1, steps: 2, seed: 0, scheduler: 'ddim', signal: controller.signal }), { name: 'AbortError' });
    await assert.rejects(generateAsync({ model, n: 1, steps: 2, seed: 0, scheduler: 'ddim', signal: {} as AbortSignal }), /'signal' must be an AbortSignal/);
    await assert.rejects(generateAsync({ model, n: 1, steps: 2, seed: 0, scheduler: 'ddim', classifier: {} as never }), /call the synchronous generate\(\) for classifier guidance/);
  });
});
