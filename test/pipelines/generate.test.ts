/**
 * generate(): shapes and range, determinism per seed and independence of chunking (per-image
 * noise streams), classifier-free guidance batched in one forward equal to the formula over two
 * separate forwards, w = 0 as the unconditional model (closed form), trajectory and progress,
 * and errors raised before any work.
 */
import { NonfiniteSampleError } from '../../src/sampling/finite_check.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generate, IMAGE_STREAM_COUNTERS } from '../../src/pipelines/generate.js';
import { UNet2DModel, type UNet2DConfig } from '../../src/nn/unet_2d.js';
import { DDIMScheduler, DDPMScheduler } from '../../src/schedulers/index.js';
import { Generator } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { noGrad } from '../../src/tensor/autograd.js';
import { concat } from '../../src/ops/concat.js';
import { withBackend } from '../../src/backend/backend.js';
import { ArgumentError, ShapeError } from '../../src/tensor/errors.js';
import { assertClose } from '../helpers/closeness.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

/** A tiny class-conditional U-Net: 3 embeddings = 2 classes + the null class. H != W below. */
const COND: Partial<UNet2DConfig> = {
  sampleSize: [8, 6], inChannels: 1, outChannels: 1, blockOutChannels: [4, 8], layersPerBlock: 1, normNumGroups: 2,
  downBlockTypes: ['DownBlock2D', 'AttnDownBlock2D'], upBlockTypes: ['AttnUpBlock2D', 'UpBlock2D'], attentionHeadDim: 4, numClassEmbeds: 3,
};
const UNCOND: Partial<UNet2DConfig> = { ...COND, inChannels: 3, outChannels: 3, numClassEmbeds: null, sampleSize: 4 };
const SCHED = { num_train_timesteps: 100, beta_schedule: 'linear' };

const cond = new UNet2DModel(COND).eval();
const uncond = new UNet2DModel(UNCOND).eval();
const ddpm = () => new DDPMScheduler(SCHED);
const ddim = () => new DDIMScheduler(SCHED);
const same = (a: Tensor, b: Tensor, msg?: string) => assert.deepEqual(Array.from(hostBuffer(a)), Array.from(hostBuffer(b)), msg);

describe('generate', () => {
  it('shapes, range, determinism for a seed; a different seed differs', () => {
    const a = generate({ model: uncond, scheduler: ddpm(), n: 3, steps: 4, seed: 7 });
    assert.deepEqual(a.images.shape, [3, 4, 4, 3]);
    assert.equal(a.classLabels, null);
    assert.ok(hostBuffer(a.images).every((v) => v >= -1 && v <= 1));
    const b = generate({ model: uncond, scheduler: ddpm(), n: 3, steps: 4, seed: 7 });
    same(a.images, b.images);
    const c = generate({ model: uncond, scheduler: ddpm(), n: 3, steps: 4, seed: 8 });
    assert.ok(hostBuffer(a.images).some((v, i) => v !== hostBuffer(c.images)[i]));
    // Default classes cycle over the real ones (the last embedding is the null class).
    const d = generate({ model: cond, scheduler: ddim(), n: 5, steps: 2, seed: 0 });
    assert.deepEqual(d.classLabels, [0, 1, 0, 1, 0]);
    assert.deepEqual(d.images.shape, [5, 8, 6, 1]);
  });

  it('the same seed gives the same images whatever the batch size (exact on reference, close on native)', () => {
    for (const name of ['reference', 'native'] as const) {
      withBackend(name, () => {
        const run = (n: number, batchSize: number) => generate({ model: cond, scheduler: ddpm(), n, steps: 3, seed: 11, batchSize, classLabels: [1, 0, 1, 1, 0].slice(0, n) });
        const whole = run(5, 5).images;
        // The native check keeps to one split: each new batch size costs oneDNN primitive set-up.
        for (const [n, bs] of name === 'reference' ? ([[5, 1], [5, 2], [3, 2]] as const) : ([[3, 2]] as const)) {
          const part = run(n, bs).images;
          const ref = new Tensor(hostBuffer(whole).slice(0, part.size), part.shape);
          if (name === 'reference') same(part, ref, `n ${n} batch ${bs}`);
          else assertClose(hostBuffer(part), hostBuffer(ref), { nmseTol: 1e-10, absTol: 1e-4, what: `n ${n} batch ${bs}` });
        }
      });
    }
  });

  it('native and reference backends agree; a NaN from the model is never hidden (clamped to +-1): the run stops naming the step', () => {
    const run = () => generate({ model: cond, scheduler: ddpm(), n: 2, steps: 3, seed: 2, classLabels: [0, 1], guidanceScale: 2 }).images;
    assertClose(hostBuffer(withBackend('native', run)), hostBuffer(withBackend('reference', run)), { nmseTol: 1e-10, absTol: 1e-4, what: 'images' });
    const broken = new UNet2DModel(UNCOND).eval();
    hostBuffer(broken.conv_out.bias!)[1] = NaN;
    // Issue 14, failure 6: the engine's finite check stops the run instead of returning NaN images.
    assert.throws(() => generate({ model: broken, scheduler: ddim(), n: 1, steps: 1, seed: 0 }), (e: unknown) => e instanceof NonfiniteSampleError && /model output went NaN or Inf at step 1 of 1 \(DDIMScheduler\)/.test(e.message));
  });

  it('a generator continues past the streams it used; seed s equals a fresh Generator(s)', () => {
    const g = new Generator(5);
    const a = generate({ model: uncond, scheduler: ddim(), n: 2, steps: 2, generator: g });
    assert.equal(g.offset, 2n * IMAGE_STREAM_COUNTERS);
    same(a.images, generate({ model: uncond, scheduler: ddim(), n: 2, steps: 2, seed: 5 }).images);
    // The next call starts at image 2's stream: it equals images 2, 3 of one call with n = 4.
    const next = generate({ model: uncond, scheduler: ddim(), n: 2, steps: 2, generator: g }).images;
    const four = generate({ model: uncond, scheduler: ddim(), n: 4, steps: 2, seed: 5 }).images;
    same(next, new Tensor(hostBuffer(four).slice(next.size), next.shape));
  });

  it('guidance: one batched forward of 2N equals eps_u + w (eps_c - eps_u) from two separate forwards', () => {
    withBackend('reference', () => {
      const w = 2.5;
      const labels = [1, 0, 1];
      const steps = 3;
      const got = generate({ model: cond, scheduler: ddim(), n: 3, steps, seed: 3, classLabels: labels, guidanceScale: w });
      // The same process by hand: x_T from each image's stream, DDIM (eta 0: no noise used).
      const s = ddim();
      s.setTimesteps(steps);
      let x = concat([0, 1, 2].map((i) => Generator.fromState({ seed: '3', offset: String(BigInt(i) * IMAGE_STREAM_COUNTERS) }).normal([1, 8, 6, 1])), 0);
      noGrad(() => {
        for (const t of s.timesteps) {
          const ec = cond.forward(x, t, labels);
          const eu = cond.forward(x, t, [2, 2, 2]);
          const eps = new Tensor(hostBuffer(eu).map((u, i) => u + w * (hostBuffer(ec)[i]! - u)), eu.shape);
          x = s.step(eps, t, x).prevSample;
        }
      });
      const want = hostBuffer(x).map((v) => Math.min(1, Math.max(-1, v)));
      assertClose(hostBuffer(got.images), want, { nmseTol: 1e-12, absTol: 1e-5 });
    });
  });

  it('closed form: guidance 0 is the unconditional (null-class) model; guidance 1 is the conditional one', () => {
    withBackend('reference', () => {
      const opts = { model: cond, n: 2, steps: 2, seed: 4 } as const;
      const w0 = generate({ ...opts, scheduler: ddpm(), classLabels: [0, 1], guidanceScale: 0 }).images;
      const nullOnly = generate({ ...opts, scheduler: ddpm(), classLabels: [2, 2] }).images;
      same(w0, nullOnly);
      const w1 = generate({ ...opts, scheduler: ddpm(), classLabels: [0, 1], guidanceScale: 1 }).images;
      const plain = generate({ ...opts, scheduler: ddpm(), classLabels: [0, 1] }).images;
      same(w1, plain);
    });
  });

  it('trajectory frames, progress callbacks and abort', () => {
    const seen: number[] = [];
    const r = generate({
      model: uncond, scheduler: ddpm(), n: 3, steps: 4, seed: 1, batchSize: 2, trajectoryFrames: 3,
      onStep: (i, total, xt, x0) => {
        assert.equal(total, 8);
        assert.deepEqual(xt.shape, x0.shape);
        seen.push(i);
      },
    });
    assert.deepEqual(seen, [1, 2, 3, 4, 5, 6, 7, 8]);
    const t = r.trajectory!;
    assert.deepEqual(t.stepIndex, [0, 2, 4]);
    const ts = ddpm();
    ts.setTimesteps(4);
    assert.deepEqual(t.timesteps, [ts.timesteps[0], ts.timesteps[2], -1]);
    assert.equal(t.xt.length, 3);
    // Frame 0 is x_T: image 1's first draw from its stream.
    const xT1 = Generator.fromState({ seed: '1', offset: String(IMAGE_STREAM_COUNTERS) }).normal([1, 4, 4, 3]);
    assert.deepEqual(Array.from(hostBuffer(t.xt[0]!).slice(48, 96)), Array.from(hostBuffer(xT1)));
    // The last frame is the final images on both sides (before clamping).
    same(t.xt[2]!, t.x0[2]!);
    same(new Tensor(hostBuffer(t.xt[2]!).map((v) => Math.min(1, Math.max(-1, v))), r.images.shape), r.images);
    const ac = new AbortController();
    ac.abort(new Error('stop here'));
    assert.throws(() => generate({ model: uncond, scheduler: ddpm(), n: 1, steps: 2, seed: 0, signal: ac.signal }), /stop here/);
  });

  it('bad input: clear errors before any work', () => {
    let called = 0;
    const base = { model: cond, scheduler: ddim(), n: 2, steps: 2, seed: 0, onStep: () => called++ };
    const bad = (o: object, re: RegExp, type: Function = ArgumentError) =>
      assert.throws(() => generate({ ...base, ...o }), (e: Error) => e instanceof type && re.test(e.message), re.source);
    bad({ model: uncond, guidanceScale: 2 }, /guidanceScale 2 needs a class-conditional model.*unconditional/);
    bad({ model: uncond, classLabels: 1 }, /unconditional.*do not pass classLabels/);
    bad({ classLabels: 3 }, /class label is 3, expected an integer in \[0, 2\]/);
    bad({ classLabels: 2, guidanceScale: 3 }, /class label is 2, expected an integer in \[0, 1\].*class 2 is the null class/);
    bad({ classLabels: [0, 1, 1] }, /3 class labels for n = 2/);
    bad({ classLabels: [0, 1.5] }, /class label 1 is 1.5/);
    bad({ guidanceScale: NaN }, /guidanceScale' must be a finite number/);
    bad({ n: 0 }, /'n'.*integer >= 1, found 0/);
    bad({ steps: 2.5 }, /'steps' must be an integer >= 1/);
    bad({ batchSize: 0 }, /'batchSize'/);
    bad({ seed: undefined }, /exactly one of 'seed'.*'generator'/);
    bad({ generator: new Generator(1) }, /exactly one of 'seed'/);
    bad({ seed: -1 }, /seed must be an integer in \[0, 2\^64\)/);
    bad({ size: [8, 5] }, /8x5 is not divisible by 2/, ShapeError);
    bad({ eta: -1 }, /'eta' must be a finite number >= 0/);
    bad({ trajectoryFrames: 1 }, /trajectoryFrames' must be an integer >= 2/);
    bad({ steps: 101 }, /101/);
    bad({ model: {} }, /'model' must be a UNet2DModel/);
    bad({ scheduler: null }, /'scheduler' must be a scheduler/);
    assert.equal(called, 0);
  });
});
