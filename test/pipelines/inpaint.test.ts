/**
 * inpaint(): known pixels come back exactly (every scheduler, every sampler, both methods);
 * RePaint's time-travel schedule equals hand-computed ones (Lugmayr et al. 2022, sec. 4.2); RePaint
 * without resampling is the replacement method on the same DDPM steps and noise (bitwise);
 * classifier-free guidance at w = 0 is the null-class run (closed form); results do not depend
 * on the batch size; every bad input is a clear error before any model evaluation.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { inpaint, boxMask, repaintSchedule } from '../../src/pipelines/inpaint.js';
import { UNet2DModel, type UNet2DConfig } from '../../src/nn/unet_2d.js';
import { SCHEDULER_CLASSES } from '../../src/schedulers/index.js';
import { SAMPLERS } from '../../src/samplers/index.js';
import { Generator } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { useBackend, withBackend } from '../../src/backend/backend.js';
import { ArgumentError, ShapeError } from '../../src/tensor/errors.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

/** 2 classes + the null class; 8x8 grayscale. */
const COND: Partial<UNet2DConfig> = {
  sampleSize: 8, inChannels: 1, outChannels: 1, blockOutChannels: [4, 8], layersPerBlock: 1, normNumGroups: 2,
  downBlockTypes: ['DownBlock2D', 'DownBlock2D'], upBlockTypes: ['UpBlock2D', 'UpBlock2D'], numClassEmbeds: 3,
};
// The reference kernels are faster than oneDNN's set-up for models this small.
useBackend('reference');
const cond = new UNet2DModel(COND).eval();
const uncond = new UNet2DModel({ ...COND, numClassEmbeds: null, inChannels: 3, outChannels: 3 }).eval();
const CONFIG = { num_train_timesteps: 100, beta_schedule: 'linear' };
/** A smooth test image in [-1, 1], (8, 8, C). */
const image = (c = 1): Tensor => new Tensor(Float32Array.from({ length: 64 * c }, (_, i) => Math.sin(i * 0.37) * 0.9), [8, 8, c]);
const BOX = { x: 2, y: 3, w: 4, h: 3 };

/** Every known value equals the input; at least one generated value differs from it. */
function assertKept(images: Tensor, input: Tensor, keep: Uint8Array, what: string): void {
  const per = input.size;
  let changed = false;
  for (let i = 0; i < images.size; i++) {
    const want = hostBuffer(input)[i % per]!;
    if (keep[i] === 1) assert.equal(hostBuffer(images)[i], want, `${what}: known value ${i}`);
    else if (hostBuffer(images)[i] !== want) changed = true;
  }
  assert.ok(changed, `${what}: the generated region must change`);
}

describe('repaintSchedule', () => {
  it('matches the hand-computed time-travel schedules', () => {
    // jumps at j = 0, 2 (range(0, 5 - 2, 2)); each is traversed twice.
    assert.deepEqual(repaintSchedule(5, 2, 2), [4, 3, 2, 3, 4, 3, 2, 1, 0, 1, 2, 1, 0, -1]);
    // jumps at j = 0, 3, 6 (range(0, 7, 3)).
    assert.deepEqual(repaintSchedule(10, 3, 2), [9, 8, 7, 6, 7, 8, 9, 8, 7, 6, 5, 4, 3, 4, 5, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0, -1]);
    // Three passes over each interval of length 1.
    assert.deepEqual(repaintSchedule(3, 1, 3), [2, 1, 2, 1, 2, 1, 0, 1, 0, 1, 0, -1]);
    assert.deepEqual(repaintSchedule(4, 1, 1), [3, 2, 1, 0, -1]);
    assert.deepEqual(repaintSchedule(3, 5, 4), [2, 1, 0, -1], 'a jump longer than the schedule never happens');
  });

  it("the paper's setting (T = 250, j = 10, r = 10): unit moves, 250 + 24 * 9 * 10 reverse steps", () => {
    const s = repaintSchedule(250, 10, 10);
    assert.equal(s[0], 249);
    assert.equal(s.at(-1), -1);
    for (let i = 1; i < s.length; i++) assert.equal(Math.abs(s[i]! - s[i - 1]!), 1, `move ${i}`);
    assert.equal(s.filter((v, i) => i > 0 && v < s[i - 1]!).length, 250 + 24 * 9 * 10);
    assert.ok(Math.max(...s) === 249 && Math.min(...s) === -1);
  });
});

describe('inpaint', () => {
  it('replace: known pixels exactly as given with every scheduler and every sampler', () => {
    const x = image();
    const names = [...Object.keys(SCHEDULER_CLASSES), ...Object.keys(SAMPLERS)];
    for (const scheduler of names) {
      const r = inpaint({ model: cond, scheduler, schedulerConfig: CONFIG, steps: 4, image: x, box: BOX, classLabels: 1, seed: 3 });
      assert.deepEqual(r.images.shape, [1, 8, 8, 1], scheduler);
      assert.ok(hostBuffer(r.images).every((v) => v >= -1 && v <= 1), `${scheduler}: range`);
      assertKept(r.images, x, r.keep, scheduler);
    }
  });

  it('the box is the generated region; a mask (1 = repaint) may give it per image; RGB images keep every channel', () => {
    const m = boxMask(8, 8, BOX); // diffusers' convention: 1 inside the box (repaint), 0 outside
    assert.equal(Array.from(hostBuffer(m)).filter((v) => v === 1).length, 12);
    assert.equal(hostBuffer(m)[3 * 8 + 2], 1);
    assert.equal(hostBuffer(m)[3 * 8 + 6], 0);
    assert.equal(hostBuffer(m)[2 * 8 + 2], 0);
    const rgb = image(3);
    const r = inpaint({ model: uncond, schedulerConfig: CONFIG, steps: 2, image: rgb, mask: m, seed: 0, n: 2 });
    assert.deepEqual(r.images.shape, [2, 8, 8, 3]);
    assertKept(r.images, rgb, r.keep, 'rgb');
    assert.equal(r.keep.filter((v) => v === 0).length, 2 * 12 * 3);
    // Two images, two masks.
    const two = new Tensor(Float32Array.from({ length: 128 }, (_, i) => Math.cos(i) * 0.5), [2, 8, 8, 1]);
    const masks = new Tensor(Float32Array.from({ length: 128 }, (_, i) => (i < 64 ? (i < 32 ? 1 : 0) : i % 2)), [2, 8, 8, 1]);
    const r2 = inpaint({ model: cond, schedulerConfig: CONFIG, steps: 2, image: two, mask: masks, seed: 1 });
    for (let i = 0; i < 128; i++) if (hostBuffer(masks)[i] === 0) assert.equal(hostBuffer(r2.images)[i], hostBuffer(two)[i]);
    for (let i = 0; i < 128; i++) assert.equal(r2.keep[i], 1 - hostBuffer(masks)[i]!, `keep ${i}`);
  });

  it("one mask convention: 1 = repaint by default, as a box; maskConvention 'keep' reads the complement mask to the same result, bitwise", () => {
    withBackend('reference', () => {
      const o = { model: cond, schedulerConfig: CONFIG, scheduler: 'ddim', steps: 2, image: image(), classLabels: 1, seed: 4 } as const;
      const viaBox = inpaint({ ...o, box: BOX });
      const repaint = boxMask(8, 8, BOX);
      const viaMask = inpaint({ ...o, mask: repaint });
      const viaRepaint = inpaint({ ...o, mask: repaint, maskConvention: 'repaint' });
      const keepMask = new Tensor(Float32Array.from(hostBuffer(repaint), (v) => 1 - v), [8, 8, 1]);
      const viaKeep = inpaint({ ...o, mask: keepMask, maskConvention: 'keep' });
      for (const r of [viaMask, viaRepaint, viaKeep]) {
        assert.deepEqual(Array.from(hostBuffer(r.images)), Array.from(hostBuffer(viaBox.images)));
        assert.deepEqual(Array.from(r.keep), Array.from(viaBox.keep));
      }
      // The box's 12 pixels are the generated ones.
      assert.equal(viaBox.keep.filter((k) => k === 0).length, 12);
      assert.equal(viaBox.keep[3 * 8 + 2], 0);
      // The old reading of the same mask inverts the region.
      const flipped = inpaint({ ...o, mask: repaint, maskConvention: 'keep' });
      assert.equal(flipped.keep.filter((k) => k === 0).length, 64 - 12);
    });
  });

  it('RePaint: known pixels kept, one model evaluation per reverse move, progress to the total', () => {
    const x = image();
    const seen: number[] = [];
    const r = inpaint({
      model: cond, scheduler: 'ddpm', schedulerConfig: CONFIG, steps: 5, method: 'repaint', jumpLength: 2, jumpNSample: 2, image: x, box: BOX, n: 3, batchSize: 2, seed: 9,
      onProgress: (e) => (seen.push(e.step), assert.equal(e.total, 2 * 9), assert.ok(e.x0Preview instanceof Tensor)),
    });
    assert.equal(r.modelEvaluations, 9); // the downward moves of [4, 3, 2, 3, 4, 3, 2, 1, 0, 1, 2, 1, 0, -1]
    assert.deepEqual(seen, Array.from({ length: 18 }, (_, i) => i + 1));
    assertKept(r.images, x, r.keep, 'repaint');
    const ddim = inpaint({ model: cond, scheduler: 'ddim', eta: 0.5, schedulerConfig: CONFIG, steps: 4, method: 'repaint', jumpLength: 1, jumpNSample: 3, image: x, box: BOX, seed: 9 });
    assertKept(ddim.images, x, ddim.keep, 'repaint ddim');
  });

  it('RePaint without resampling (jumpNSample 1) is the replacement method on the same DDPM steps, bitwise', () => {
    withBackend('reference', () => {
      const o = { model: cond, scheduler: 'ddpm', schedulerConfig: CONFIG, steps: 4, image: image(), box: BOX, n: 2, classLabels: [0, 1], seed: 5 } as const;
      const a = inpaint({ ...o, method: 'repaint', jumpLength: 2, jumpNSample: 1 }).images;
      const b = inpaint({ ...o, method: 'replace' }).images;
      assert.deepEqual(Array.from(hostBuffer(a)), Array.from(hostBuffer(b)));
      const c = inpaint({ ...o, method: 'repaint', jumpLength: 2, jumpNSample: 2 }).images;
      assert.ok(hostBuffer(c).some((v, i) => v !== hostBuffer(a)[i]), 'resampling changes the result');
    });
  });

  it('guidance 0 is the null-class run; the batch size and the caller\'s generator do not change the result', () => {
    withBackend('reference', () => {
      const o = { model: cond, schedulerConfig: CONFIG, steps: 2, image: image(), box: BOX, n: 3 } as const;
      for (const scheduler of ['ddim', 'euler_ancestral']) {
        const w0 = inpaint({ ...o, scheduler, classLabels: [0, 1, 0], guidanceScale: 0, seed: 2 }).images;
        const nul = inpaint({ ...o, scheduler, classLabels: 2, seed: 2 }).images;
        assert.deepEqual(Array.from(hostBuffer(w0)), Array.from(hostBuffer(nul)), scheduler);
        const b1 = inpaint({ ...o, scheduler, classLabels: [0, 1, 0], guidanceScale: 3, seed: 2, batchSize: 1 }).images;
        const b3 = inpaint({ ...o, scheduler, classLabels: [0, 1, 0], guidanceScale: 3, seed: 2, batchSize: 3 }).images;
        assert.deepEqual(Array.from(hostBuffer(b1)), Array.from(hostBuffer(b3)), `${scheduler}: batch size`);
      }
      const g = new Generator(2);
      const viaGen = inpaint({ ...o, scheduler: 'ddim', generator: g }).images;
      assert.deepEqual(Array.from(hostBuffer(viaGen)), Array.from(hostBuffer(inpaint({ ...o, scheduler: 'ddim', seed: 2 }).images)));
      assert.equal(g.offset, 3n << 40n);
    });
  });

  it('abort stops the run', () => {
    const ac = new AbortController();
    ac.abort(new Error('cancelled by user'));
    assert.throws(() => inpaint({ model: cond, schedulerConfig: CONFIG, steps: 2, image: image(), box: BOX, seed: 0, signal: ac.signal }), /cancelled by user/);
  });

  it('bad input: clear errors before any model evaluation', () => {
    let calls = 0;
    const base = { model: cond, schedulerConfig: CONFIG, steps: 2, image: image(), box: BOX, seed: 0, onProgress: () => calls++ };
    const bad = (o: object, re: RegExp, type: Function = ArgumentError) =>
      assert.throws(() => inpaint({ ...base, ...o } as Parameters<typeof inpaint>[0]), (e: Error) => e instanceof type && re.test(e.message), re.source);
    bad({ box: undefined, mask: new Tensor(new Float32Array(36).fill(1), [6, 6, 1]) }, /'mask' is 6x6 pixels .* but the image is 8x8/, ShapeError);
    bad({ box: undefined, mask: new Tensor(new Float32Array(64).fill(0.5), [8, 8]) }, /mask values must be 0 or 1 \(1 = repaint, 0 = keep\)/);
    bad({ box: undefined, mask: new Tensor(new Float32Array(64).fill(0.5), [8, 8]), maskConvention: 'keep' }, /mask values must be 0 or 1 \(1 = keep, 0 = repaint\)/);
    bad({ box: undefined, mask: boxMask(8, 8, BOX), maskConvention: 'white' }, /'maskConvention' must be 'repaint' .* or 'keep' .*found "white"/);
    bad({ maskConvention: 'keep' }, /'maskConvention' applies to 'mask'/);
    bad({ box: undefined, mask: new Tensor(new Float32Array(128).fill(1), [8, 8, 2]) }, /'mask' has 2 channels/, ShapeError);
    bad({ box: undefined }, /exactly one of 'mask'.*or 'box'/);
    bad({ mask: boxMask(8, 8, BOX) }, /exactly one of 'mask'/);
    bad({ image: image(3) }, /'image' has 3 channels \(RGB\).*model takes 1 \(grayscale\)/, ShapeError);
    bad({ image: new Tensor(new Float32Array(16 * 16), [16, 16, 1]) }, /'image' is 16x16 pixels, but the model takes 8x8/, ShapeError);
    bad({ image: new Tensor(new Float32Array(64).fill(2), [8, 8, 1]) }, /value 2 at image 0, pixel \(y 0, x 0\).*in \[-1, 1\]/);
    bad({ box: { x: 6, y: 0, w: 4, h: 2 } }, /box x 6, y 0, w 4, h 2 reaches column 9 .*outside the 8x8 image/);
    bad({ box: { x: -1, y: 0, w: 4, h: 2 } }, /box.x must be an integer >= 0, found -1/);
    bad({ box: { x: 0, y: 0, w: 0, h: 2 } }, /box.w must be an integer >= 1, found 0/);
    bad({ model: uncond, image: image(3), guidanceScale: 2 }, /guidanceScale 2 needs a class-conditional model.*unconditional/);
    bad({ classLabels: 3 }, /class label is 3, expected an integer in \[0, 2\]/);
    bad({ classLabels: 2, guidanceScale: 2 }, /class label is 2, expected an integer in \[0, 1\].*null class/);
    bad({ method: 'magic' }, /'method' must be one of replace, repaint/);
    bad({ jumpLength: 3 }, /RePaint's; pass method: 'repaint'/);
    bad({ method: 'repaint', scheduler: 'euler' }, /RePaint runs on DDPM steps .*found 'euler'/);
    bad({ method: 'repaint', scheduler: 'ddpm', jumpNSample: 0 }, /'jumpNSample' must be an integer >= 1/);
    bad({ scheduler: 'nope' }, /unknown scheduler or sampler 'nope'/);
    bad({ steps: 0 }, /'steps' must be an integer >= 1/);
    bad({ seed: undefined }, /exactly one of 'seed'/);
    bad({ n: 0 }, /'n' must be an integer >= 1/);
    bad({ model: {} }, /'model' must be a UNet2DModel/);
    assert.equal(calls, 0);
  });
});
