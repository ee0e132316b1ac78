/**
 * Pinned outputs: a few values of generate, inpaint (replace and RePaint), img2img, upscale and
 * classifier guidance, on the reference backend, recorded from the code before the reverse-process
 * engine (src/sampling/) replaced the pipelines' own loops. The oracle is the earlier code itself:
 * the same seed must give the same bits after the refactor (the determinism rule of
 * src/sampling/noise_streams.ts). Each case pins four values exactly and the sum closely.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generate } from '../../src/pipelines/generate.js';
import { inpaint } from '../../src/pipelines/inpaint.js';
import { img2img } from '../../src/pipelines/img2img.js';
import { upscale } from '../../src/pipelines/superres.js';
import { UNet2DModel, type UNet2DConfig } from '../../src/nn/unet_2d.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { withBackend } from '../../src/backend/backend.js';
import type { GuidingClassifier } from '../../src/sampling/classifier_guidance.js';
import { randTensor } from '../helpers/data.js';

const BASE: Partial<UNet2DConfig> = {
  sampleSize: [8, 6], inChannels: 1, outChannels: 1, blockOutChannels: [4, 8], layersPerBlock: 1, normNumGroups: 2,
  downBlockTypes: ['DownBlock2D', 'AttnDownBlock2D'], upBlockTypes: ['AttnUpBlock2D', 'UpBlock2D'], attentionHeadDim: 4,
};
const SCHED = { num_train_timesteps: 100, beta_schedule: 'linear' };
const cond = new UNet2DModel({ ...BASE, numClassEmbeds: 3 }).eval();
const learned = new UNet2DModel({ ...BASE, outChannels: 2 }).eval();
const sr = new UNet2DModel({ ...BASE, sampleSize: 8, inChannels: 2 }).eval();
const linear: GuidingClassifier = {
  numClasses: 2,
  logProbGrad: (xt, _t, labels) => new Tensor(Float32Array.from({ length: xt.size }, (_, i) => (labels[Math.floor(i / (xt.size / labels.length))]! === 0 ? 0.3 : -0.2)), xt.shape),
};

/** The four values at fixed positions and the sum of a result. */
function pin(t: Tensor): { at: number[]; sum: number } {
  const a = t.toArray() as ArrayLike<number>;
  const idx = [0, 7, Math.floor(a.length / 2), a.length - 1];
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]!;
  return { at: idx.map((i) => a[i]!), sum };
}

const image = randTensor([2, 8, 6, 1], 3);

const CASES: Record<string, () => Tensor> = {
  'generate ddim guided, trajectory': () => {
    const r = generate({ model: cond, scheduler: 'ddim', schedulerConfig: SCHED, n: 3, steps: 3, seed: 5, batchSize: 2, guidanceScale: 2, trajectoryFrames: 2 });
    return r.trajectory!.x0[0]!;
  },
  'generate ddpm guided': () => generate({ model: cond, scheduler: 'ddpm', schedulerConfig: SCHED, n: 3, steps: 4, seed: 5, batchSize: 2, guidanceScale: 2 }).images,
  'generate euler_ancestral guided': () => generate({ model: cond, scheduler: 'euler_ancestral', schedulerConfig: SCHED, n: 2, steps: 3, seed: 6, guidanceScale: 1.5 }).images,
  'generate dpmpp_2m': () => generate({ model: cond, scheduler: 'dpmpp_2m', schedulerConfig: SCHED, n: 2, steps: 3, seed: 7, classLabels: 1 }).images,
  'generate learned variance ddim': () => generate({ model: learned, scheduler: 'ddim', schedulerConfig: SCHED, n: 2, steps: 3, seed: 8 }).images,
  'generate learned variance euler': () => generate({ model: learned, scheduler: 'euler', schedulerConfig: SCHED, n: 2, steps: 3, seed: 8 }).images,
  'generate learned variance ddpm learned_range': () => generate({ model: learned, scheduler: 'ddpm', schedulerConfig: { ...SCHED, variance_type: 'learned_range' }, n: 2, steps: 3, seed: 8 }).images,
  'generate classifier ddim': () => generate({ model: cond, scheduler: 'ddim', schedulerConfig: SCHED, n: 2, steps: 3, seed: 9, classifier: linear, classifierScale: 2, classLabels: [0, 1] }).images,
  'generate classifier heun': () => generate({ model: cond, scheduler: 'heun', schedulerConfig: SCHED, n: 2, steps: 3, seed: 9, classifier: linear, classifierScale: 2, classLabels: [0, 1] }).images,
  'inpaint replace ddim guided': () => inpaint({ model: cond, scheduler: 'ddim', schedulerConfig: SCHED, image, box: { x: 1, y: 2, w: 3, h: 4 }, steps: 3, seed: 1, guidanceScale: 2 }).images,
  'inpaint replace euler': () => inpaint({ model: cond, scheduler: 'euler', schedulerConfig: SCHED, image, box: { x: 1, y: 2, w: 3, h: 4 }, steps: 3, seed: 1 }).images,
  'inpaint repaint ddpm': () => inpaint({ model: cond, scheduler: 'ddpm', schedulerConfig: SCHED, image, box: { x: 0, y: 0, w: 3, h: 3 }, method: 'repaint', steps: 4, jumpLength: 2, jumpNSample: 2, seed: 2 }).images,
  'img2img ddim': () => img2img({ model: cond, scheduler: 'ddim', schedulerConfig: SCHED, image, strength: 0.6, steps: 5, seed: 3, batchSize: 1 }).images,
  'img2img dpmpp_2m_sde guided': () => img2img({ model: cond, scheduler: 'dpmpp_2m_sde', schedulerConfig: SCHED, image, strength: 0.6, steps: 5, seed: 3, guidanceScale: 3 }).images,
  'upscale unipc': () => upscale({ model: sr, scheduler: 'unipc', schedulerConfig: SCHED, image: randTensor([2, 4, 4, 1], 4), scale: 2, steps: 3, seed: 4 }).images,
  'upscale dpmpp_2m': () => upscale({ model: sr, scheduler: 'dpmpp_2m', schedulerConfig: SCHED, image: randTensor([2, 4, 4, 1], 4), scale: 2, steps: 3, seed: 4 }).images,
};

/** Recorded from the pipelines as they were before src/sampling/ (commit dfcf586). */
const PINNED: Record<string, { at: number[]; sum: number }> = {
  'generate ddim guided, trajectory': { at: [0.748992383480072,  0.5988826751708984,  -1,  0.6639307141304016], sum: 16.091489559970796 },
  'generate ddpm guided': { at: [0.6782602667808533,  1,  -0.9974679350852966,  0.5465973019599915], sum: 20.01021732017398 },
  'generate euler_ancestral guided': { at: [-1,  -1,  -0.9299833178520203,  -1], sum: 11.255266810767353 },
  'generate dpmpp_2m': { at: [-0.016979746520519257,  -1,  -0.3235071897506714,  1], sum: 6.973197966814041 },
  'generate learned variance ddim': { at: [-0.24489277601242065,  0.9689032435417175,  -0.9665285348892212,  0.26172754168510437], sum: 4.344483848661184 },
  'generate learned variance euler': { at: [-0.2920079827308655,  1,  -1,  0.2844627797603607], sum: 2.1601971620693803 },
  'generate learned variance ddpm learned_range': { at: [0.22520507872104645,  0.8578594326972961,  -0.024346396327018738,  0.3122253119945526], sum: 8.832053007790819 },
  'generate classifier ddim': { at: [-0.5988021492958069,  0.6252859234809875,  -0.9991099834442139,  -0.32691502571105957], sum: 3.469786224886775 },
  'generate classifier heun': { at: [-0.7846514582633972,  0.8448752760887146,  -1,  -0.4640727639198303], sum: 6.153041237965226 },
  'inpaint replace ddim guided': { at: [0.44045355916023254,  -0.6763988733291626,  -0.006478759925812483,  0.8878970742225647], sum: 13.45057298662141 },
  'inpaint replace euler': { at: [0.44045355916023254,  -0.6763988733291626,  -0.006478759925812483,  0.8878970742225647], sum: 15.836672926787287 },
  'inpaint repaint ddpm': { at: [-0.8274034261703491,  0.6117754578590393,  0.14790520071983337,  0.8878970742225647], sum: 5.556666050804779 },
  'img2img ddim': { at: [0.8264545798301697,  -0.9989868998527527,  -0.06285367906093597,  0.41175830364227295], sum: 9.351508538238704 },
  'img2img dpmpp_2m_sde guided': { at: [0.5991378426551819,  -0.9863867163658142,  -0.061619531363248825,  0.6687266826629639], sum: 11.716123000718653 },
  'upscale unipc': { at: [-1,  0.31227555871009827,  1,  0.07762563228607178], sum: 16.080962886102498 },
  'upscale dpmpp_2m': { at: [-0.9625689387321472,  0.3509872257709503,  1,  0.03874890133738518], sum: 15.100754560902715 },
};

describe('pinned pipeline outputs (reference backend)', () => {
  if (process.env['PIN_RECORD'] === '1') {
    it('records', () => {
      const out: Record<string, { at: number[]; sum: number }> = {};
      withBackend('reference', () => {
        for (const [name, f] of Object.entries(CASES)) out[name] = pin(f());
      });
      process.stdout.write(`PINNED ${JSON.stringify(out)}\n`);
    });
    return;
  }
  for (const [name, f] of Object.entries(CASES)) {
    it(name, () => {
      const want = PINNED[name];
      assert.ok(want !== undefined, `no pinned values for '${name}'`);
      const got = withBackend('reference', () => pin(f()));
      assert.deepEqual(got.at, want.at, name);
      assert.ok(Math.abs(got.sum - want.sum) <= 1e-6 * Math.max(1, Math.abs(want.sum)), `${name}: sum ${got.sum}, pinned ${want.sum}`);
    });
  }
});
