// Tests of layerNorm over the last axis: native vs reference (with and without gamma / beta),
// gradients by finite differences, closed forms, NaN propagation and bad input.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { layerNorm } from '../../src/ops/layer_norm.js';
import { tensor } from '../../src/tensor/create.js';
import { withBackend } from '../../src/backend/backend.js';
import { nativeNorm } from '../../src/backend/native/norm.js';
import { addon } from '../../src/backend/native/loader.js';
import { DTypeError, NativeKernelError, ShapeError } from '../../src/tensor/errors.js';
import { assertBackendsAgree } from '../helpers/backends.js';
import { assertClose } from '../helpers/closeness.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { randTensor } from '../helpers/data.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

type Affine = 'both' | 'gamma' | 'beta' | 'none';
const AFFINES: Affine[] = ['both', 'gamma', 'beta', 'none'];

describe('layerNorm', () => {
  // Odd shapes; [300, 70] spans several reduction chunks and the parallel path.
  for (const shape of [[3, 5, 7], [1, 10], [2, 1, 3], [300, 70]]) {
    for (const affine of AFFINES) {
      it(`native matches reference on [${shape}] (affine: ${affine}), forward and backward`, () => {
        assertBackendsAgree(() => {
          const d = shape[shape.length - 1]!;
          const x = randTensor(shape, 3, { lo: -2, hi: 4, requiresGrad: true });
          const gamma = affine === 'both' || affine === 'gamma' ? randTensor([d], 4, { lo: 0.5, hi: 1.5, requiresGrad: true }) : null;
          const beta = affine === 'both' || affine === 'beta' ? randTensor([d], 5, { requiresGrad: true }) : null;
          const y = layerNorm(x, gamma, beta);
          y.backward(randTensor(shape, 6));
          return [y, x.grad!, ...(gamma ? [gamma.grad!] : []), ...(beta ? [beta.grad!] : [])];
        }, { nmseTol: 1e-10, absTol: 2e-5 });
      });
    }
  }

  it('gradients of x, gamma and beta match finite differences', () => {
    gradcheck((x, g, b) => layerNorm(x!, g!, b!), [randTensor([2, 3, 5], 11, { lo: -2, hi: 2 }), randTensor([5], 12), randTensor([5], 13)]);
    gradcheck((x) => layerNorm(x!), [randTensor([4, 6], 14, { lo: -2, hi: 2 })]);
    gradcheck((x, g) => layerNorm(x!, g!), [randTensor([3, 4], 15, { lo: -2, hi: 2 }), randTensor([4], 16)]);
    gradcheck((x, b) => layerNorm(x!, null, b!), [randTensor([3, 4], 17, { lo: -2, hi: 2 }), randTensor([4], 18)]);
  });

  it('closed form: rows have mean 0 and variance 1 without affine; a hand-computed row with affine', () => {
    for (const b of ['native', 'reference'] as const) {
      const y = withBackend(b, () => layerNorm(randTensor([4, 9], 21, { lo: -5, hi: 10 }), null, null, 0));
      for (let i = 0; i < 4; i++) {
        const row = Array.from(hostBuffer(y).subarray(i * 9, i * 9 + 9));
        const m = row.reduce((a, v) => a + v, 0) / 9;
        const v = row.reduce((a, u) => a + (u - m) ** 2, 0) / 9;
        assert.ok(Math.abs(m) < 1e-6 && Math.abs(v - 1) < 1e-5, `${b}: row ${i} mean ${m} variance ${v}`);
      }
      // D = 1: the row is its own mean, so y = beta, and the gradient of x is 0 up to float
      // rounding amplified by 1/sqrt(eps) (hence a max-abs check, not a relative one).
      const x1 = randTensor([3, 1], 22, { requiresGrad: true });
      const y1 = withBackend(b, () => layerNorm(x1, tensor([2], [1]), tensor([0.25], [1])));
      assertClose(hostBuffer(y1), [0.25, 0.25, 0.25], { what: `${b} D=1 output` });
      withBackend(b, () => y1.backward(randTensor([3, 1], 23)));
      for (const g of hostBuffer(x1.grad!)) assert.ok(Math.abs(g) < 1e-4, `${b}: D=1 gradient ${g}`);
      // [1, 2, 3, 4]: mean 2.5, biased variance 1.25.
      const r = 1 / Math.sqrt(1.25 + 1e-5);
      const z = withBackend(b, () => layerNorm(tensor([1, 2, 3, 4], [1, 4]), tensor([1, 2, -1, 0], [4]), tensor([0, 1, 0, 7], [4])));
      assertClose(hostBuffer(z), [-1.5 * r, -0.5 * r * 2 + 1, -0.5 * r, 7], { nmseTol: 1e-12, absTol: 1e-6, what: b });
    }
  });

  it('a NaN makes its own row NaN and leaves the others finite, on both backends', () => {
    for (const b of ['native', 'reference'] as const) {
      const x = randTensor([3, 5], 31);
      hostBuffer(x)[7] = NaN;
      const y = withBackend(b, () => layerNorm(x));
      for (let k = 0; k < 15; k++) assert.equal(Number.isNaN(hostBuffer(y)[k]!), k >= 5 && k < 10, `${b}: y[${k}] = ${hostBuffer(y)[k]}`);
    }
  });

  it('native results are bitwise identical with 1 and 2 threads (fixed row chunks and reduction order)', () => {
    const prev = addon().nativeInfo().threads;
    const run = (threads: number): Float32Array[] => {
      addon().setNumThreads(threads);
      try {
        const x = randTensor([300, 70], 51, { requiresGrad: true });
        const gamma = randTensor([70], 52, { requiresGrad: true });
        const beta = randTensor([70], 53, { requiresGrad: true });
        const y = layerNorm(x, gamma, beta);
        y.backward(randTensor([300, 70], 54));
        return [y, x.grad!, gamma.grad!, beta.grad!].map((t) => t.toArray());
      } finally {
        addon().setNumThreads(prev);
      }
    };
    const one = run(1);
    const two = run(2);
    one.forEach((a, i) => assert.deepEqual(a, two[i], `result ${i} differs between 1 and 2 threads`));
  });

  it('rejects bad input with messages naming the op, input, expected and found', () => {
    const x = randTensor([2, 3, 5], 41);
    assert.throws(() => layerNorm(x, randTensor([4], 1)), (e: Error) =>
      e instanceof ShapeError && /layerNorm: input 'gamma' has shape \[4\], expected \[5\] \(the last axis of x \[2, 3, 5\]\)/.test(e.message));
    assert.throws(() => layerNorm(x, null, randTensor([1, 5], 1)), /input 'beta' has shape \[1, 5\], expected \[5\]/);
    assert.throws(() => layerNorm(x, tensor([1, 1, 1, 1, 1], [5], { dtype: 'float64' })), DTypeError);
    assert.throws(() => layerNorm(x, null, null, Number.NaN), /'eps' must be a number, found NaN/);
    assert.throws(() => layerNorm('x' as never), /layerNorm: input 'x' must be a Tensor, found string/);
    const f = (k: number): Float32Array => new Float32Array(k);
    assert.throws(() => nativeNorm.layerNormForward(f(12), f(3), null, 3, 4, 1e-5, f(12), f(3), f(3)), (e: Error) =>
      e instanceof NativeKernelError && /layerNormForward: argument 'gamma' has 3 elements, expected 4 \(or 0 for none\)/.test(e.message));
    assert.throws(() => nativeNorm.layerNormForward(f(12), null, null, 3, 4, 1e-5, f(12), f(2), f(3)), /layerNormForward: argument 'mean' has 2 elements, expected 3/);
    assert.throws(() => nativeNorm.layerNormBackward(f(12), null, f(3), f(3), f(11), 3, 4, f(12), null, null), /layerNormBackward: argument 'gy' has 11 elements, expected 12/);
    assert.throws(() => nativeNorm.layerNormBackward(f(12), null, f(3), f(3), f(12), 3, 4, f(12), f(5), null), /layerNormBackward: argument 'gGamma' has 5 elements/);
  });
});
