/** conv2d: native (oneDNN) vs reference, float64 gradient checks, closed forms, and bad input. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { conv2d, type Conv2dOptions } from '../../src/ops/conv2d.js';
import { linear } from '../../src/ops/matmul.js';
import { tensor } from '../../src/tensor/create.js';
import { withBackend } from '../../src/backend/backend.js';
import { nativeConv2d, geometryArray } from '../../src/backend/native/conv2d.js';
import { addon } from '../../src/backend/native/loader.js';
import { DTypeError, NativeKernelError, ShapeError, ArgumentError } from '../../src/tensor/errors.js';
import { assertBackendsAgree } from '../helpers/backends.js';
import { assertClose } from '../helpers/closeness.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { randTensor } from '../helpers/data.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

type Pad = NonNullable<Conv2dOptions['padding']>;
interface Case { n: number; h: number; w: number; cin: number; cout: number; k: number; stride: number; padding: Pad }

const cases: Case[] = [
  { n: 1, h: 5, w: 7, cin: 3, cout: 5, k: 3, stride: 1, padding: 1 },
  { n: 2, h: 9, w: 7, cin: 4, cout: 6, k: 3, stride: 2, padding: 1 },
  { n: 2, h: 7, w: 9, cin: 8, cout: 16, k: 3, stride: 2, padding: [0, 1, 0, 1] },
  { n: 3, h: 5, w: 7, cin: 3, cout: 5, k: 1, stride: 1, padding: 0 },
  { n: 1, h: 4, w: 5, cin: 3, cout: 2, k: 3, stride: 1, padding: [1, 0, 2, 1] },
  { n: 2, h: 8, w: 8, cin: 16, cout: 9, k: 3, stride: 1, padding: [1, 1] },
  { n: 2, h: 6, w: 5, cin: 5, cout: 3, k: 5, stride: 2, padding: 2 },
  // Wide enough that oneDNN picks blocked weight layouts (our OHWI <-> blocked copy is exercised).
  { n: 2, h: 5, w: 4, cin: 32, cout: 64, k: 3, stride: 1, padding: 1 },
  { n: 1, h: 7, w: 7, cin: 64, cout: 32, k: 3, stride: 2, padding: [0, 1, 0, 1] },
];

const name = (c: Case): string => `N${c.n} ${c.h}x${c.w} ${c.cin}->${c.cout} k${c.k} s${c.stride} p${JSON.stringify(c.padding)}`;

describe('conv2d', () => {
  for (const c of cases) {
    it(`native matches reference, forward and x/w/b gradients: ${name(c)}`, () => {
      assertBackendsAgree(() => {
        const x = randTensor([c.n, c.h, c.w, c.cin], 1, { requiresGrad: true });
        const w = randTensor([c.cout, c.k, c.k, c.cin], 2, { requiresGrad: true });
        const b = randTensor([c.cout], 3, { requiresGrad: true });
        const y = conv2d(x, w, b, { stride: c.stride, padding: c.padding });
        y.backward(randTensor([...y.shape], 4));
        return [y, x.grad!, w.grad!, b.grad!];
      }, { nmseTol: 1e-11 });
    });
  }

  it('native matches reference without a bias and with only w requiring grad', () => {
    assertBackendsAgree(() => {
      const x = randTensor([2, 6, 5, 4], 5);
      const w = randTensor([3, 3, 3, 4], 6, { requiresGrad: true });
      const y = conv2d(x, w, null, { padding: 1 });
      y.backward(randTensor([...y.shape], 7));
      assert.equal(x.grad, null);
      return [y, w.grad!];
    }, { nmseTol: 1e-11 });
  });

  it('NaN in x propagates to the outputs it touches, on both backends alike', () => {
    const { native } = assertBackendsAgree(() => {
      const x = randTensor([1, 5, 6, 3], 8);
      hostBuffer(x)[(2 * 6 + 3) * 3 + 1] = NaN; // pixel (2, 3)
      return conv2d(x, randTensor([4, 3, 3, 3], 9), randTensor([4], 10), { padding: 1 });
    });
    const y = native[0]!;
    assert.ok(Number.isNaN(hostBuffer(y)[(2 * 6 + 3) * 4]!), 'the output at the NaN pixel is NaN');
    assert.ok(!Number.isNaN(hostBuffer(y)[0]!), 'an output far from the NaN pixel is finite');
  });

  it('repeated calls reuse cached primitives', () => {
    const cacheSize = addon()['conv2dCacheSize'] as () => number;
    const run = (): void => {
      const x = randTensor([2, 7, 6, 3], 11, { requiresGrad: true });
      const w = randTensor([4, 3, 3, 3], 12, { requiresGrad: true });
      conv2d(x, w, null, { padding: 1, stride: 2 }).backward(randTensor([2, 4, 3, 4], 13));
    };
    run();
    const before = cacheSize();
    for (let i = 0; i < 3; i++) run();
    assert.equal(cacheSize(), before);
  });

  describe('gradients match float64 finite differences', () => {
    it('3x3, stride 1, padding 1', () => {
      gradcheck((x, w, b) => conv2d(x!, w!, b!, { padding: 1 }), [randTensor([1, 4, 5, 2], 21), randTensor([3, 3, 3, 2], 22), randTensor([3], 23)]);
    });
    it('3x3, stride 2, padding [0, 1, 0, 1], odd sizes', () => {
      gradcheck((x, w, b) => conv2d(x!, w!, b!, { stride: 2, padding: [0, 1, 0, 1] }), [randTensor([2, 5, 3, 2], 24), randTensor([2, 3, 3, 2], 25), randTensor([2], 26)]);
    });
    it('1x1, no bias', () => {
      gradcheck((x, w) => conv2d(x!, w!), [randTensor([2, 3, 2, 3], 27), randTensor([4, 1, 1, 3], 28)]);
    });
  });

  describe('closed forms', () => {
    it('a 3x3 identity kernel with padding 1 returns x (plus bias)', () => {
      const c = 3;
      const w = tensor(new Float32Array(c * 9 * c), [c, 3, 3, c]);
      for (let o = 0; o < c; o++) hostBuffer(w)[((o * 3 + 1) * 3 + 1) * c + o] = 1; // centre tap, channel o -> o
      const x = randTensor([2, 5, 4, c], 31);
      const b = tensor([0.5, -1, 2], [c]);
      for (const be of ['native', 'reference'] as const) {
        const y = withBackend(be, () => conv2d(x, w, b, { padding: 1 }));
        const expected = hostBuffer(x).map((v, i) => v + hostBuffer(b)[i % c]!);
        assertClose(hostBuffer(y), expected, { what: `${be}: identity conv`, absTol: 1e-6 });
      }
    });
    it('a 1x1 conv equals linear over the channel axis', () => {
      const x = randTensor([2, 3, 5, 6], 32);
      const w = randTensor([4, 1, 1, 6], 33);
      const b = randTensor([4], 34);
      for (const be of ['native', 'reference'] as const) {
        const y = withBackend(be, () => conv2d(x, w, b));
        const z = withBackend(be, () => linear(x, tensor(hostBuffer(w), [4, 6]), b));
        assertClose(hostBuffer(y), hostBuffer(z), { what: `${be}: 1x1 conv vs linear`, nmseTol: 1e-12 });
      }
    });
    it('an empty batch gives an empty output and empty/zero gradients without calling a kernel', () => {
      for (const be of ['native', 'reference'] as const) {
        const x = randTensor([0, 5, 5, 3], 37, { requiresGrad: true });
        const w = randTensor([4, 3, 3, 3], 38, { requiresGrad: true });
        const b = randTensor([4], 39, { requiresGrad: true });
        const y = withBackend(be, () => conv2d(x, w, b, { padding: 1 }));
        assert.deepEqual(y.shape, [0, 5, 5, 4]);
        withBackend(be, () => y.backward(randTensor([0, 5, 5, 4], 40)));
        assert.deepEqual([...hostBuffer(w.grad!)], new Array(4 * 9 * 3).fill(0));
        assert.deepEqual([...hostBuffer(b.grad!)], [0, 0, 0, 0]);
      }
    });
    it('stride 2 with padding [0, 1, 0, 1] halves 28x28 to 14x14 (Downsample2D)', () => {
      const y = conv2d(randTensor([1, 28, 28, 2], 35), randTensor([2, 3, 3, 2], 36), null, { stride: 2, padding: [0, 1, 0, 1] });
      assert.deepEqual(y.shape, [1, 14, 14, 2]);
    });
  });

  describe('bad input', () => {
    const x = randTensor([2, 5, 5, 4], 41);
    it('channel mismatch names both shapes', () => {
      assert.throws(() => conv2d(x, randTensor([8, 3, 3, 5], 42)), (e: Error) =>
        e instanceof ShapeError && e.message === "conv2d: input 'w' has shape [8, 3, 3, 5], expected in-channels 4 (the last axis of x [2, 5, 5, 4])");
    });
    it('wrong rank', () => {
      assert.throws(() => conv2d(randTensor([5, 5, 4], 43), randTensor([8, 3, 3, 4], 42)), /conv2d: input 'x' must have rank 4 \(N, H, W, C\), found shape \[5, 5, 4\]/);
      assert.throws(() => conv2d(x, randTensor([8, 9, 4], 42)), /conv2d: input 'w' must have rank 4/);
    });
    it('bias of the wrong size, kernel larger than the padded input, bad options, non-tensors', () => {
      const w = randTensor([8, 3, 3, 4], 44);
      assert.throws(() => conv2d(x, w, randTensor([7], 45)), /conv2d: input 'b' has shape \[7\], expected \[8\]/);
      assert.throws(() => conv2d(randTensor([1, 2, 2, 4], 46), w), (e: Error) => e instanceof ShapeError && /larger than the padded input 2x2/.test(e.message));
      assert.throws(() => conv2d(x, w, null, { stride: 0 }), (e: Error) => e instanceof ArgumentError && /'stride' must be an integer >= 1/.test(e.message));
      assert.throws(() => conv2d(x, w, null, { padding: -1 }), /'padding' must be an integer >= 0/);
      assert.throws(() => conv2d(x, w, null, { padding: [1, 1, 1] as never }), /'padding' must be an integer >= 0 or an array of 2 or 4/);
      assert.throws(() => conv2d([1] as never, w), /conv2d: input 'x' must be a Tensor, found an Array/);
    });
    it('float64 on the native backend runs the reference kernel; mixed dtypes are a DTypeError', () => {
      const x64 = randTensor([1, 3, 3, 2], 47, { dtype: 'float64' });
      const w64 = randTensor([2, 3, 3, 2], 48, { dtype: 'float64' });
      const ref = withBackend('reference', () => conv2d(x64, w64));
      assert.deepEqual(withBackend('native', () => conv2d(x64, w64)).toArray(), ref.toArray());
      assert.throws(() => conv2d(x64, randTensor([2, 3, 3, 2], 49)), (e: Error) => e instanceof DTypeError && /'w' is float32 but 'x' is float64/.test(e.message));
    });
    it('a wrong-size buffer passed straight to the addon raises a JS error naming the op and argument', () => {
      const g = { n: 1, h: 4, w: 4, cin: 2, cout: 3, kh: 3, kw: 3, strideH: 1, strideW: 1, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1, oh: 4, ow: 4 };
      const raw = addon()['conv2dForward'] as (...a: unknown[]) => void;
      const ok = [geometryArray(g), new Float32Array(32), new Float32Array(54), null, new Float32Array(48)];
      assert.doesNotThrow(() => raw(...ok));
      assert.throws(() => raw(ok[0], new Float32Array(31), ok[2], null, ok[4]), (e: Error) => e instanceof RangeError && e.message === "conv2dForward: argument 'x' has 31 elements, expected 32");
      assert.throws(() => raw(ok[0], ok[1], ok[2], new Float32Array(2), ok[4]), /conv2dForward: argument 'b' has 2 elements, expected 3/);
      assert.throws(() => raw(ok[0], ok[1], new Float64Array(54), null, ok[4]), (e: Error) => e instanceof TypeError && /argument 'w' must be a Float32Array, found Float64Array/.test(e.message));
      assert.throws(() => raw(Int32Array.of(1, 2, 3), ok[1], ok[2], null, ok[4]), /conv2dForward: argument 'geometry' has 3 elements, expected 13/);
      assert.throws(() => raw(geometryArray({ ...g, strideH: 0 }), ok[1], ok[2], null, ok[4]), /conv2dForward: strides in 'geometry' must be >= 1/);
      assert.throws(() => raw(), /conv2dForward: argument 'geometry' must be an Int32Array, found nothing/);
      const bd = addon()['conv2dBackwardData'] as (...a: unknown[]) => void;
      assert.throws(() => bd(ok[0], new Float32Array(47), ok[2], ok[1]), /conv2dBackwardData: argument 'gy' has 47 elements, expected 48/);
      const bw = addon()['conv2dBackwardWeights'] as (...a: unknown[]) => void;
      assert.throws(() => bw(ok[0], ok[1], ok[4], new Float32Array(53), null), /conv2dBackwardWeights: argument 'gw' has 53 elements, expected 54/);
      // Through the typed wrapper the same failure is a NativeKernelError.
      assert.throws(() => nativeConv2d.conv2dForward(g, new Float32Array(31), new Float32Array(54), null, new Float32Array(48)), NativeKernelError);
    });
  });
});
