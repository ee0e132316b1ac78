/** where(mask, a, b): native vs reference with broadcasting, gradients, closed forms, errors. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { where } from '../../src/ops/where.js';
import { tensor, scalar } from '../../src/tensor/create.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { withBackend } from '../../src/backend/backend.js';
import { addon } from '../../src/backend/native/loader.js';
import { DTypeError, ShapeError } from '../../src/tensor/errors.js';
import { assertBackendsAgree } from '../helpers/backends.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { randTensor, uniformValues } from '../helpers/data.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

/** A 0/1 mask of `shape` (about half ones). */
function randMask(shape: number[], seed: number): Tensor {
  return tensor(uniformValues(shape.reduce((n, d) => n * d, 1), seed).map((v) => (v > 0 ? 1 : 0)), shape);
}

// (mask, a, b) shapes: equal, broadcasting in each operand, scalars, an inpainting-like
// (N, H, W, 1) mask over (N, H, W, C) images, and a size for the parallel path.
const SHAPES: [number[], number[], number[]][] = [
  [[2, 3, 5], [2, 3, 5], [2, 3, 5]],
  [[2, 1, 5], [3, 5], []],
  [[4, 1], [3, 1, 5], [1, 5]],
  [[], [2, 3], [2, 3]],
  [[1], [], []],
  [[2, 7, 9, 1], [2, 7, 9, 3], [2, 7, 9, 3]],
  [[4, 40, 40, 1], [4, 40, 40, 6], [6]],
];

describe('where', () => {
  for (const [sm, sa, sb] of SHAPES) {
    it(`mask ${JSON.stringify(sm)}, a ${JSON.stringify(sa)}, b ${JSON.stringify(sb)}: native matches reference, forward and backward`, () => {
      assertBackendsAgree(() => {
        const a = randTensor(sa, 1, { requiresGrad: true });
        const b = randTensor(sb, 2, { requiresGrad: true });
        const y = where(randMask(sm, 3), a, b);
        y.backward(randTensor([...y.shape], 4));
        return [y, a.grad!, b.grad!];
      }, { nmseTol: 1e-13 });
    });
  }

  it('gradients match finite differences for a and b (none flows to the mask)', () => {
    gradcheck(where, [randMask([2, 1, 5], 1), randTensor([3, 5], 2), randTensor([], 3)], { skip: [0] });
    gradcheck(where, [randMask([4, 1], 4), randTensor([3, 1, 5], 5), randTensor([1, 5], 6)], { skip: [0] });
    const m = randMask([3], 7).requireGrad();
    const a = tensor([1, 2, 3], [3], { requiresGrad: true });
    where(m, a, scalar(0)).backward(tensor([1, 1, 1], [3]));
    assert.equal(m.grad, null);
  });

  it('closed form: selects by mask, routes gradients by mask', () => {
    const a = tensor([1, 2, 3, 4], [2, 2], { requiresGrad: true });
    const b = tensor([10, 20], [2], { requiresGrad: true });
    const y = where(tensor([1, 0], [2, 1]), a, b);
    assert.deepEqual(Array.from(hostBuffer(y)), [1, 2, 10, 20]);
    y.backward(tensor([1, 2, 3, 4], [2, 2]));
    assert.deepEqual(Array.from(hostBuffer(a.grad!)), [1, 2, 0, 0]);
    assert.deepEqual(Array.from(hostBuffer(b.grad!)), [3, 4]);
  });

  it('NaN: a NaN value passes only where selected; a NaN mask counts as true', () => {
    for (const be of ['native', 'reference'] as const) {
      withBackend(be, () => {
        const y = where(tensor([1, 0], [2]), tensor([NaN, NaN], [2]), tensor([5, 6], [2]));
        assert.ok(Number.isNaN(hostBuffer(y)[0]) && hostBuffer(y)[1] === 6, `${be}: ${Array.from(hostBuffer(y))}`);
        assert.equal(where(tensor([NaN], [1]), scalar(1), scalar(2)).item(), 1);
      });
    }
  });

  it('rejects incompatible shapes, non-tensors and dtype mixes', () => {
    assert.throws(
      () => where(randMask([2, 3], 1), randTensor([4, 3], 2), randTensor([3], 3)),
      (e: Error) => e instanceof ShapeError && /where: cannot broadcast 'mask' of shape \[2, 3\] with 'a' of shape \[4, 3\]: axis -2/.test(e.message),
    );
    assert.throws(() => where(randMask([3], 1), randTensor([3], 2), randTensor([2], 3)), /where: cannot broadcast .* with 'b' of shape \[2\]/);
    assert.throws(() => where(true as never, scalar(1), scalar(2)), /where: input 'mask' must be a Tensor, found boolean/);
    assert.throws(
      () => where(scalar(1), scalar(1), scalar(2, { dtype: 'float64' })),
      (e: Error) => e instanceof DTypeError && /where: input 'b' is float64 but 'a' is float32/.test(e.message),
    );
  });

  it('the addon rejects wrong-size buffers and bad shapes with JS errors', () => {
    const F = (n: number): Float32Array => new Float32Array(n);
    const S = (...d: number[]): Int32Array => Int32Array.from(d);
    const w = addon()['where'] as unknown as (...a: unknown[]) => void;
    assert.throws(() => w(F(2), S(3), F(3), S(3), F(3), S(3), F(3), S(3)), (e: Error) => e instanceof RangeError && /where: argument 'mask' has 2 elements, expected 3/.test(e.message));
    assert.throws(() => w(F(3), S(3), F(3), S(3), F(3), S(3), F(4), S(3)), /where: argument 'out' has 4 elements, expected 3/);
    assert.throws(() => w(F(3), S(3), F(2), S(2), F(3), S(3), F(3), S(3)), /where: argument 'a' of shape \[2\] does not broadcast to \[3\]/);
    assert.throws(() => w(F(3), S(3)), (e: Error) => e instanceof TypeError && /where: argument 'aShape' must be an Int32Array, found nothing/.test(e.message));
  });
});
