/** matmul and linear: native (oneDNN) vs reference, float64 gradient checks, closed forms, bad input. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { matmul, linear, type MatmulOptions } from '../../src/ops/matmul.js';
import { tensor } from '../../src/tensor/create.js';
import { withBackend } from '../../src/backend/backend.js';
import { nativeMatmul, paramsArray } from '../../src/backend/native/matmul.js';
import { addon } from '../../src/backend/native/loader.js';
import { ArgumentError, DTypeError, NativeKernelError, ShapeError } from '../../src/tensor/errors.js';
import { assertBackendsAgree } from '../helpers/backends.js';
import { assertClose } from '../helpers/closeness.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { randTensor } from '../helpers/data.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

interface Case { a: number[]; b: number[]; opts: MatmulOptions; what: string }

const cases: Case[] = [
  { a: [5, 7], b: [7, 3], opts: {}, what: '2-D' },
  { a: [2, 3, 5, 7], b: [2, 3, 7, 4], opts: {}, what: 'batched (2, 3)' },
  { a: [3, 7, 5], b: [3, 7, 4], opts: { transA: true }, what: 'transA' },
  { a: [3, 5, 7], b: [3, 4, 7], opts: { transB: true, alpha: 0.125 }, what: 'transB, alpha (attention scores)' },
  { a: [2, 7, 5], b: [2, 4, 7], opts: { transA: true, transB: true, alpha: -2 }, what: 'transA and transB, alpha' },
  { a: [4, 5, 7], b: [7, 3], opts: {}, what: 'shared weight (folded into rows)' },
  { a: [2, 3, 5, 7], b: [3, 7], opts: { transB: true, alpha: 3 }, what: 'shared transposed weight, alpha' },
  { a: [4, 7, 5], b: [7, 3], opts: { transA: true }, what: 'transA with a shared weight (batch broadcast)' },
  { a: [3, 7, 5], b: [3, 7], opts: { transA: true, transB: true, alpha: 0.5 }, what: 'transA, transB, shared weight, alpha' },
  { a: [1, 17, 9], b: [1, 9, 33], opts: {}, what: 'batch 1, sizes not multiples of 8' },
];

describe('matmul', () => {
  for (const c of cases) {
    it(`native matches reference, forward and both gradients: ${c.what}`, () => {
      assertBackendsAgree(() => {
        const a = randTensor(c.a, 1, { requiresGrad: true });
        const b = randTensor(c.b, 2, { requiresGrad: true });
        const y = matmul(a, b, c.opts);
        y.backward(randTensor([...y.shape], 3));
        return [y, a.grad!, b.grad!];
      }, { nmseTol: 1e-11 });
    });
    it(`gradients match float64 finite differences: ${c.what}`, () => {
      gradcheck((a, b) => matmul(a!, b!, c.opts), [randTensor(c.a, 4), randTensor(c.b, 5)]);
    });
  }

  it('NaN propagates along its row and column only, on both backends alike', () => {
    const { native } = assertBackendsAgree(() => {
      const a = randTensor([2, 4, 3], 6);
      hostBuffer(a)[1 * 3 + 2] = NaN; // batch 0, row 1
      return matmul(a, randTensor([2, 3, 5], 7));
    });
    const y = native[0]!;
    for (let j = 0; j < 5; j++) assert.ok(Number.isNaN(hostBuffer(y)[5 + j]!), `row 1 col ${j} is NaN`);
    assert.ok(hostBuffer(y).every((v, i) => (i >= 5 && i < 10) || !Number.isNaN(v)), 'other rows are finite');
  });

  it('repeated calls reuse cached primitives', () => {
    const cacheSize = addon()['matmulCacheSize'] as () => number;
    const run = (): void => {
      const a = randTensor([2, 6, 5], 8, { requiresGrad: true });
      const b = randTensor([2, 4, 5], 9, { requiresGrad: true });
      matmul(a, b, { transB: true, alpha: 0.5 }).backward(randTensor([2, 6, 4], 10));
    };
    run();
    const before = cacheSize();
    for (let i = 0; i < 3; i++) run();
    assert.equal(cacheSize(), before);
  });

  it('closed forms: a 2x2 product, alpha, and the identity', () => {
    const a = tensor([1, 2, 3, 4], [2, 2]);
    const b = tensor([5, 6, 7, 8], [2, 2]);
    for (const be of ['native', 'reference'] as const) {
      withBackend(be, () => {
        assert.deepEqual([...hostBuffer(matmul(a, b))], [19, 22, 43, 50]);
        assert.deepEqual([...hostBuffer(matmul(a, b, { alpha: 0.5 }))], [9.5, 11, 21.5, 25]);
        assert.deepEqual([...hostBuffer(matmul(a, b, { transA: true }))], [26, 30, 38, 44]);
        assert.deepEqual([...hostBuffer(matmul(a, b, { transB: true }))], [17, 23, 39, 53]);
        const x = randTensor([3, 4, 4], 11);
        assertClose(hostBuffer(matmul(x, tensor([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], [4, 4]))), hostBuffer(x), { what: `${be}: x I` });
      });
    }
  });

  it('empty products: M = 0 gives an empty output, K = 0 gives zeros (plus bias in linear)', () => {
    for (const be of ['native', 'reference'] as const) {
      withBackend(be, () => {
        assert.deepEqual(matmul(randTensor([2, 0, 3], 1), randTensor([2, 3, 4], 2)).shape, [2, 0, 4]);
        const a = randTensor([2, 0], 3, { requiresGrad: true });
        const b = randTensor([0, 3], 4, { requiresGrad: true });
        const c = matmul(a, b);
        assert.deepEqual([...hostBuffer(c)], [0, 0, 0, 0, 0, 0]);
        c.backward(randTensor([2, 3], 5));
        assert.deepEqual(a.grad!.shape, [2, 0]);
        assert.deepEqual([...hostBuffer(linear(randTensor([2, 0], 6), randTensor([2, 0], 7), tensor([1, 2], [2])))], [1, 2, 1, 2]);
      });
    }
  });

  describe('bad input', () => {
    it('inner sizes, batch axes and ranks are checked with both shapes in the message', () => {
      assert.throws(() => matmul(randTensor([2, 3], 1), randTensor([4, 5], 2)), (e: Error) =>
        e instanceof ShapeError && e.message === "matmul: inner sizes differ: 'a' [2, 3] has K = 3, 'b' [4, 5] has K = 4");
      assert.throws(() => matmul(randTensor([2, 3], 1), randTensor([2, 5], 2), { transB: true }), /'b' \[2, 5\] \(transposed\) has K = 5/);
      assert.throws(() => matmul(randTensor([2, 2, 3], 1), randTensor([3, 3, 4], 2)), /matmul: batch axes differ: 'a' \[2, 2, 3\] has \[2\], 'b' \[3, 3, 4\] has \[3\]/);
      assert.throws(() => matmul(randTensor([2, 3], 1), randTensor([2, 3, 4], 2)), /batch axes differ/);
      assert.throws(() => matmul(randTensor([3], 1), randTensor([3, 4], 2)), /matmul: input 'a' must have rank >= 2 \(\.\.\., M, K\), found shape \[3\]/);
    });
    it('options and non-tensors', () => {
      const a = randTensor([2, 3], 1);
      assert.throws(() => matmul(a, a, { transA: 1 as never }), (e: Error) => e instanceof ArgumentError && /option 'transA' must be a boolean, found number/.test(e.message));
      assert.throws(() => matmul(a, a, { alpha: NaN }), /option 'alpha' must be a finite number, found NaN/);
      assert.throws(() => matmul(a, 3 as never), /matmul: input 'b' must be a Tensor, found number/);
    });
    it('float64 on the native backend runs the reference kernel', () => {
      const a = randTensor([2, 3], 1, { dtype: 'float64' });
      const ref = withBackend('reference', () => matmul(a, a, { transB: true }));
      assert.deepEqual(withBackend('native', () => matmul(a, a, { transB: true })).toArray(), ref.toArray());
    });
    it('a wrong-size buffer passed straight to the addon raises a JS error naming the op and argument', () => {
      const p = { batch: 2, m: 3, n: 4, k: 5, transA: false, transB: false, broadcastA: false, broadcastB: true, alpha: 1 };
      const raw = addon()['matmul'] as (...args: unknown[]) => void;
      const ok = [paramsArray(p), new Float32Array(30), new Float32Array(20), null, new Float32Array(24), 1];
      assert.doesNotThrow(() => raw(...ok));
      assert.throws(() => raw(ok[0], ok[1], new Float32Array(40), null, ok[4], 1), (e: Error) => e instanceof RangeError && e.message === "matmul: argument 'b' has 40 elements, expected 20");
      assert.throws(() => raw(ok[0], ok[1], ok[2], null, new Float32Array(23), 1), /matmul: argument 'c' has 23 elements, expected 24/);
      assert.throws(() => raw(ok[0], ok[1], ok[2], new Float32Array(4), ok[4], 2), /matmul: a bias needs alpha == 1/);
      assert.throws(() => raw(ok[0], ok[1], ok[2], null, ok[4]), /matmul: argument 'alpha' must be a number, found nothing/);
      assert.throws(() => raw(Int32Array.of(0, 3, 4, 5, 0, 0, 0, 0), ok[1], ok[2], null, ok[4], 1), /matmul: batch, M, N and K in 'params' must be >= 1/);
      assert.throws(() => nativeMatmul.matmul(p, new Float32Array(29), new Float32Array(20), null, new Float32Array(24)), NativeKernelError);
    });
  });
});

describe('linear', () => {
  it('native matches reference with bias over (B, T, in), and without bias', () => {
    assertBackendsAgree(() => {
      const x = randTensor([2, 3, 7], 1, { requiresGrad: true });
      const w = randTensor([5, 7], 2, { requiresGrad: true });
      const b = randTensor([5], 3, { requiresGrad: true });
      const y = linear(x, w, b);
      y.backward(randTensor([2, 3, 5], 4));
      const z = linear(x.detach(), w.detach());
      return [y, x.grad!, w.grad!, b.grad!, z];
    }, { nmseTol: 1e-11 });
  });
  it('gradients of x, weight and bias match float64 finite differences', () => {
    gradcheck((x, w, b) => linear(x!, w!, b!), [randTensor([2, 2, 3], 5), randTensor([4, 3], 6), randTensor([4], 7)]);
    gradcheck((x, w) => linear(x!, w!), [randTensor([3], 8), randTensor([2, 3], 9)]);
  });
  it('closed form: y = x W^T + b', () => {
    const y = linear(tensor([1, 2], [1, 2]), tensor([1, 0, 1, 1, 2, -1], [3, 2]), tensor([10, 20, 30], [3]));
    assert.deepEqual([...hostBuffer(y)], [11, 23, 30]);
    assert.deepEqual(y.shape, [1, 3]);
  });
  it('bad input names the shapes', () => {
    assert.throws(() => linear(randTensor([2, 4], 1), randTensor([5, 3], 2)), (e: Error) =>
      e instanceof ShapeError && e.message === "linear: input 'weight' has shape [5, 3], expected in-features 4 (the last axis of x [2, 4])");
    assert.throws(() => linear(randTensor([2, 3], 1), randTensor([5, 3], 2), randTensor([4], 3)), /linear: input 'bias' has shape \[4\], expected \[5\]/);
    assert.throws(() => linear(randTensor([2, 3], 1), randTensor([15], 2)), /linear: input 'weight' must have rank 2 \(out, in\)/);
  });
});
