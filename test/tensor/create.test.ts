import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, zeros, ones, full, scalar } from '../../src/tensor/create.js';
import { ArgumentError, ShapeError } from '../../src/tensor/errors.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

describe('tensor creation', () => {
  it('tensor(data, shape) keeps values, shape and float32 dtype', () => {
    const t = tensor([1, 2, 3, 4, 5, 6], [1, 2, 3, 1]);
    assert.deepEqual(t.shape, [1, 2, 3, 1]);
    assert.equal(t.dtype, 'float32');
    assert.ok(t.toArray() instanceof Float32Array);
    assert.deepEqual(Array.from(t.toArray()), [1, 2, 3, 4, 5, 6]);
    assert.equal(Math.fround(0.1), tensor([0.1], [1]).item());
  });
  it('toArray returns a copy', () => {
    const t = tensor([1, 2], [2]);
    t.toArray()[0] = 9;
    assert.equal(hostBuffer(t)[0], 1);
  });
  it('zeros, ones, full, scalar', () => {
    assert.deepEqual(Array.from(zeros([2, 2]).toArray()), [0, 0, 0, 0]);
    assert.deepEqual(Array.from(ones([3]).toArray()), [1, 1, 1]);
    assert.deepEqual(Array.from(hostBuffer(full([2], 7, { dtype: 'float64' }))), [7, 7]);
    assert.equal(scalar(3).item(), 3);
    assert.deepEqual(scalar(3).shape, []);
  });
  it('rejects data that does not fill the shape, bad shapes and non-arrays', () => {
    assert.throws(() => tensor([1, 2, 3], [2, 2]), (e: Error) => e instanceof ShapeError && /3 values do not fill shape \[2, 2\] \(4 elements\)/.test(e.message));
    assert.throws(() => tensor([1], [1.5]), ArgumentError);
    assert.throws(() => tensor([1], [-1]), ArgumentError);
    assert.throws(() => tensor(null as never, [1]), /data must be an array/);
    assert.throws(() => tensor([1, 2], [2]).item(), /item\(\): tensor has shape \[2\]/);
  });
});
