/**
 * Tests of classifier guidance. Oracle: a classifier whose log p(y | x_t, t) is linear in x_t, so
 * its gradient is a known constant a; then the guided epsilon is eps - s sqrt(1 - abar) a exactly,
 * a guided DDIM step moves x_{t-1} by the closed-form amount, a guided Euler step (denoiser form
 * D + s sigma^2 grad_x log p) moves x by its closed form, and the epsilon, v and x_0
 * parameterizations and the denoiser form all shift the predicted x_0 by the same
 * s (1 - abar) / sqrt(abar) a. Through generate(): scale 0 is exactly unguided, a real classifier
 * changes the samples on both paths, unconditional models accept targets, and bad input is refused.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { classifierGuide, type GuidingClassifier } from '../../src/sampling/classifier_guidance.js';
import { generate } from '../../src/pipelines/generate.js';
import { DDIMScheduler } from '../../src/schedulers/index.js';
import { DDPMScheduler } from '../../src/schedulers/ddpm.js';
import { euler } from '../../src/samplers/euler.js';
import { UNet2DModel, type UNet2DConfig } from '../../src/nn/unet_2d.js';
import { NoisyClassifier } from '../../src/nn/noisy_classifier.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { ArgumentError, ShapeError } from '../../src/tensor/errors.js';
import { run as sampleCli } from '../../src/cli/commands/sample.js';
import { randTensor } from '../helpers/data.js';
import { maxAbs } from '../helpers/closeness.js';
import { TINY_CLASSIFIER } from '../nn/noisy_classifier.test.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

const SCHED = { num_train_timesteps: 100, beta_schedule: 'linear', clip_sample: false };
const SHAPE = [2, 8, 8, 1];
/** The gradient of the linear log p(y | x) = a_y . x + b: a constant per class. */
const A = [randTensor([8, 8, 1], 11), randTensor([8, 8, 1], 12), randTensor([8, 8, 1], 13)];
const linear: GuidingClassifier = {
  numClasses: 3,
  logProbGrad: (xt, _t, labels) => {
    const per = xt.size / labels.length;
    const g = new Float32Array(xt.size);
    labels.forEach((y, i) => g.set(hostBuffer(A[y]!), i * per));
    return new Tensor(g, xt.shape);
  },
};
const Y = [2, 0];
/** s * a_y for each image, times k. */
const shift = (k: number): Float64Array => Float64Array.from({ length: 128 }, (_, j) => k * hostBuffer(A[Y[Math.floor(j / 64)]!]!)[j % 64]!);
const diff = (a: Tensor, b: Tensor): Float64Array => Float64Array.from(hostBuffer(a), (v, i) => v - hostBuffer(b)[i]!);

describe('classifier guidance with a linear log p (closed forms)', () => {
  const s = 1.7;
  const acp = new DDPMScheduler(SCHED).alphasCumprod;

  it('epsilon: eps - s sqrt(1 - abar_t) a; a DDIM step moves x_{t-1} by the closed form', () => {
    const guide = classifierGuide(linear, s, Y, SCHED);
    const ddim = new DDIMScheduler(SCHED);
    ddim.setTimesteps(10);
    const t = ddim.timesteps[3]!;
    const tPrev = ddim.timesteps[4]!;
    const [ab, abPrev] = [acp[t]!, acp[tPrev]!];
    const xt = randTensor(SHAPE, 1);
    const eps = randTensor(SHAPE, 2);
    const guided = guide.modelOutput(eps, xt, t, 0);
    assert.ok(maxAbs(diff(guided, eps), shift(-s * Math.sqrt(1 - ab))) < 1e-6);
    // x_{t-1} = sqrt(abar') (x_t - sqrt(1 - abar) eps) / sqrt(abar) + sqrt(1 - abar') eps is affine in eps.
    const dPrev = diff(ddim.step(guided, t, xt).prevSample, ddim.step(eps, t, xt).prevSample);
    const k = -s * Math.sqrt(1 - ab) * (Math.sqrt(1 - abPrev) - (Math.sqrt(abPrev) * Math.sqrt(1 - ab)) / Math.sqrt(ab));
    assert.ok(maxAbs(dPrev, shift(k)) < 1e-5, `${maxAbs(dPrev, shift(k))}`);
  });

  it('denoiser form: D + s sigma^2 c_in a; an Euler step moves x by -(sigma_next - sigma) s sigma c_in a', () => {
    const guide = classifierGuide(linear, s, Y, SCHED);
    const D = (x: Tensor, _sigma: number): Tensor => new Tensor(hostBuffer(x).map((v) => 0.3 * v), x.shape);
    const gd = guide.denoiser(D, 0);
    const x = randTensor(SHAPE, 3, { lo: -5, hi: 5 });
    const [sigma, next] = [2.5, 1.2];
    const cIn = 1 / Math.sqrt(sigma * sigma + 1);
    assert.ok(maxAbs(diff(gd(x, sigma), D(x, sigma)), shift(s * sigma * sigma * cIn)) < 1e-5);
    const moved = diff(euler(gd, x, [sigma, next]), euler(D, x, [sigma, next]));
    assert.ok(maxAbs(moved, shift(-(next - sigma) * s * sigma * cIn)) < 1e-5);
  });

  it('epsilon, v and x_0 models and the denoiser form shift the predicted x_0 by the same s (1 - abar) / sqrt(abar) a', () => {
    const t = 40;
    const ab = acp[t]!;
    const expected = shift((s * (1 - ab)) / Math.sqrt(ab));
    const xt = randTensor(SHAPE, 4);
    const out = randTensor(SHAPE, 5);
    const x0Of = (type: string, o: Tensor): Float64Array =>
      Float64Array.from(hostBuffer(o), (f, i) => {
        const x = hostBuffer(xt)[i]!;
        if (type === 'epsilon') return (x - Math.sqrt(1 - ab) * f) / Math.sqrt(ab);
        if (type === 'v_prediction') return Math.sqrt(ab) * x - Math.sqrt(1 - ab) * f;
        return f;
      });
    for (const type of ['epsilon', 'v_prediction', 'sample']) {
      const guide = classifierGuide(linear, s, Y, { ...SCHED, prediction_type: type });
      const d = Float64Array.from(x0Of(type, guide.modelOutput(out, xt, t, 0)), (v, i) => v - x0Of(type, out)[i]!);
      assert.ok(maxAbs(d, expected) < 1e-4, `${type}: ${maxAbs(d, expected)}`);
    }
    // The denoiser sees x = x_t / sqrt(abar) at sigma_t; its D' - D is the x_0 shift directly.
    const guide = classifierGuide(linear, s, Y, SCHED);
    const sigma = Math.sqrt((1 - ab) / ab);
    const D = (x: Tensor, _sigma: number): Tensor => x;
    const x = new Tensor(hostBuffer(xt).map((v) => v / Math.sqrt(ab)), xt.shape);
    assert.ok(maxAbs(diff(guide.denoiser(D, 0)(x, sigma), x), expected) < 1e-4);
  });
});

describe('classifier guidance in generate()', () => {
  const UNCOND: Partial<UNet2DConfig> = {
    sampleSize: 8, inChannels: 1, outChannels: 1, blockOutChannels: [4, 8], layersPerBlock: 1, normNumGroups: 2,
    downBlockTypes: ['DownBlock2D', 'AttnDownBlock2D'], upBlockTypes: ['AttnUpBlock2D', 'UpBlock2D'], attentionHeadDim: 4,
  };
  const model = new UNet2DModel(UNCOND).eval();
  const classifier = new NoisyClassifier(TINY_CLASSIFIER).eval();
  const base = { model, n: 2, steps: 3, seed: 1, schedulerConfig: SCHED, classLabels: [2, 1] };

  it('scale 0 is exactly unguided; a real classifier changes the samples on the scheduler and sampler paths', () => {
    for (const scheduler of ['ddim', 'euler'] as const) {
      const plain = generate({ ...base, scheduler, classLabels: undefined as never }).images;
      const zero = generate({ ...base, scheduler, classifier, classifierScale: 0 }).images;
      assert.deepEqual(Array.from(hostBuffer(zero)), Array.from(hostBuffer(plain)), scheduler);
      const guided = generate({ ...base, scheduler, classifier, classifierScale: 5 }).images;
      assert.ok(maxAbs(hostBuffer(guided), hostBuffer(plain)) > 1e-4, scheduler);
      assert.ok(hostBuffer(guided).every(Number.isFinite));
    }
  });

  it('bad input is refused before any work', () => {
    assert.throws(() => generate({ ...base, scheduler: 'ddim', classLabels: undefined as never, classifierScale: 2 }), (e: unknown) => e instanceof ArgumentError && /classifierScale 2 needs a classifier/.test(e.message));
    assert.throws(() => generate({ ...base, scheduler: 'ddim', classifier, classLabels: [3, 0] }), /the target class of image 0 is 3, but the classifier knows classes 0..2/);
    const big = new NoisyClassifier({ ...TINY_CLASSIFIER, sampleSize: 16 });
    assert.throws(() => generate({ ...base, scheduler: 'ddim', classifier: big }), (e: unknown) => e instanceof ShapeError && /the classifier takes 16x16x1 images but the model makes 8x8x1/.test(e.message));
    assert.throws(() => generate({ ...base, scheduler: 'ddim' }), /this model is unconditional \(num_class_embeds is null\); do not pass classLabels \(or steer it with a classifier\)/);
  });

  it('the sample command refuses --classifier-scale without --classifier', async () => {
    await assert.rejects(sampleCli(['--out', 'x.png', '--classifier-scale', '2']), /--classifier-scale needs --classifier DIR/);
  });
});
