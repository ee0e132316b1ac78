// Tests of sliceBatch: native vs reference, gradient (zero padding), closed form, errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sliceBatch } from '../../src/ops/slice.js';
import { tensor } from '../../src/tensor/create.js';
import { withBackend } from '../../src/backend/backend.js';
import { assertBackendsAgree } from '../helpers/backends.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { randTensor } from '../helpers/data.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

describe('sliceBatch', () => {
  it('native matches reference on odd shapes and ranges, forward and backward', () => {
    for (const [shape, start, end] of [[[5, 3, 7, 3], 1, 4], [[1, 5, 3], 0, 1], [[4, 2], 4, 4], [[6, 9, 11, 13], 3, 6]] as const) {
      assertBackendsAgree(() => {
        const x = randTensor([...shape], 1, { requiresGrad: true });
        const y = sliceBatch(x, start, end);
        y.backward(randTensor([...y.shape], 2));
        return [y, x.grad!];
      }, { nmseTol: 0, absTol: 0 });
    }
  });
  it('gradient matches finite differences (zeros outside the slice)', () => {
    gradcheck((x) => sliceBatch(x, 1, 3), [randTensor([4, 2, 3], 3)]);
  });
  it('closed form: a known slice and its zero-padded gradient', () => {
    const x = tensor([1, 2, 3, 4, 5, 6], [3, 2], { requiresGrad: true });
    const y = sliceBatch(x, 1, 2);
    assert.deepEqual(y.shape, [1, 2]);
    assert.deepEqual([...hostBuffer(y)], [3, 4]);
    y.backward(tensor([7, 8], [1, 2]));
    assert.deepEqual([...hostBuffer(x.grad!)], [0, 0, 7, 8, 0, 0]);
  });
  it('propagates NaN on both backends', () => {
    for (const b of ['native', 'reference'] as const) {
      const y = withBackend(b, () => sliceBatch(tensor([1, NaN, 3], [3]), 1, 3));
      assert.ok(Number.isNaN(hostBuffer(y)[0]!) && hostBuffer(y)[1] === 3, b);
    }
  });
  it('rejects out-of-bounds ranges, non-integers and scalars', () => {
    const x = randTensor([4, 2], 5);
    assert.throws(() => sliceBatch(x, 2, 5), (e: Error) => e instanceof RangeError && /sliceBatch: range \[2, 5\) is out of bounds for x of shape \[4, 2\]; need 0 <= start <= end <= 4/.test(e.message));
    assert.throws(() => sliceBatch(x, -1, 2), RangeError);
    assert.throws(() => sliceBatch(x, 3, 2), RangeError);
    assert.throws(() => sliceBatch(x, 0.5, 2), /sliceBatch: start and end must be integers, found start 0.5, end 2/);
    assert.throws(() => sliceBatch(tensor([1], []), 0, 1), /sliceBatch: x has shape \[\]; it needs at least one axis/);
  });
});
