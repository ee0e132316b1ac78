// Tests of embedding: native vs reference, gradient (scatter-add with repeats), closed form, errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { embedding } from '../../src/ops/embedding.js';
import { tensor } from '../../src/tensor/create.js';
import { withBackend } from '../../src/backend/backend.js';
import { addon } from '../../src/backend/native/loader.js';
import { nativeLayout } from '../../src/backend/native/layout.js';
import { NativeKernelError } from '../../src/tensor/errors.js';
import { assertBackendsAgree } from '../helpers/backends.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { randTensor, rng } from '../helpers/data.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

/** `n` indices in [0, v) from a seeded generator (repeats likely when n > v). */
function randIndices(n: number, v: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.floor(r() * v));
}

describe('embedding', () => {
  // Small D (serial scatter) and D >= 64 with many repeated indices (column-parallel scatter).
  for (const [v, d, n] of [[10, 3, 7], [11, 77, 600], [1, 5, 4]] as const) {
    it(`native matches reference for V=${v}, D=${d}, ${n} indices, forward and backward`, () => {
      assertBackendsAgree(() => {
        const w = randTensor([v, d], 1, { requiresGrad: true });
        const y = embedding(w, Int32Array.from(randIndices(n, v, 2)));
        y.backward(randTensor([...y.shape], 3));
        return [y, w.grad!];
      }, { nmseTol: 1e-13 });
    });
  }
  it('keeps the shape of a Tensor of indices: (...indexShape, D)', () => {
    const w = randTensor([6, 4], 4);
    const idx = tensor([0, 5, 2, 2, 1, 3], [2, 3]);
    const y = embedding(w, idx);
    assert.deepEqual(y.shape, [2, 3, 4]);
    assert.deepEqual([...hostBuffer(y).subarray(4, 8)], [...hostBuffer(w).subarray(20, 24)]);
  });
  it('gradient matches finite differences, with repeated indices', () => {
    gradcheck((w) => embedding(w, [2, 0, 2, 3, 2]), [randTensor([4, 3], 5)]);
    gradcheck((w) => embedding(w, tensor([1, 1, 0, 1], [2, 2])), [randTensor([3, 2], 6)]);
  });
  it('closed form: rows are copied and repeated indices accumulate their gradients', () => {
    const w = tensor([1, 2, 3, 4, 5, 6], [3, 2], { requiresGrad: true });
    const y = embedding(w, [2, 0, 2]);
    assert.deepEqual([...hostBuffer(y)], [5, 6, 1, 2, 5, 6]);
    y.backward(tensor([1, 1, 10, 10, 100, 100], [3, 2]));
    assert.deepEqual([...hostBuffer(w.grad!)], [10, 10, 0, 0, 101, 101]);
  });
  it('propagates NaN in a row on both backends', () => {
    for (const b of ['native', 'reference'] as const) {
      const y = withBackend(b, () => embedding(tensor([NaN, 1, 2, 3], [2, 2]), [1, 0]));
      assert.deepEqual([...hostBuffer(y)].map(Number.isNaN), [false, false, true, false], b);
    }
  });
  it('rejects an out-of-range index with a RangeError naming it, its position and V', () => {
    const w = randTensor([5, 3], 7);
    assert.throws(() => embedding(w, [0, 5, 1]), (e: Error) => e instanceof RangeError && /embedding: index 5 at position \[1\] is out of range for a weight of 5 rows \(valid: 0\.\.4\)/.test(e.message));
    assert.throws(() => embedding(w, tensor([0, 1, 2, -1], [2, 2])), /embedding: index -1 at position \[1, 1\] is out of range/);
    assert.throws(() => embedding(w, [0, 1.5]), /embedding: index at position \[1\] is 1.5, expected an integer row number in \[0, 4\]/);
    assert.throws(() => embedding(w, 'abc' as never), /embedding: 'indices' must be an Int32Array, an array of integers or a Tensor/);
    assert.throws(() => embedding(randTensor([5], 1), [0]), /embedding: input 'weight' must have rank 2 \(V, D\), found shape \[5\]/);
  });
  it('the addon re-checks indices and buffer sizes', () => {
    const f = addon()['embedding'] as unknown as (...a: unknown[]) => void;
    const back = addon()['embeddingBackward'] as unknown as (...a: unknown[]) => void;
    const w = new Float32Array(6);
    assert.throws(() => f(w, 3, 2, Int32Array.from([0, 3]), new Float32Array(4)), (e: Error) => e instanceof RangeError && /embedding: index 3 at position 1 is out of range for 3 rows/.test(e.message));
    assert.throws(() => f(w, 3, 2, Int32Array.from([0, 1]), new Float32Array(3)), /embedding: argument 'out' has 3 elements, expected 4/);
    assert.throws(() => f(new Float32Array(5), 3, 2, Int32Array.from([0]), new Float32Array(2)), /embedding: argument 'weight' has 5 elements, expected 6/);
    assert.throws(() => back(new Float32Array(4), Int32Array.from([0, -1]), 3, 2, new Float32Array(6)), /embeddingBackward: index -1 at position 1 is out of range/);
    assert.throws(() => back(new Float32Array(4), Int32Array.from([0, 1]), 3, 2, new Float32Array(5)), /embeddingBackward: argument 'gw' has 5 elements, expected 6/);
    assert.throws(() => nativeLayout.embedding(w, 3, 2, Int32Array.from([7]), new Float32Array(2)), NativeKernelError);
  });
});
