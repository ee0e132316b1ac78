// Tests of concat and split: native vs reference, gradients, roundtrip, errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { concat, split } from '../../src/ops/concat.js';
import { sliceBatch } from '../../src/ops/slice.js';
import { tensor } from '../../src/tensor/create.js';
import { withBackend } from '../../src/backend/backend.js';
import { addon } from '../../src/backend/native/loader.js';
import { assertBackendsAgree } from '../helpers/backends.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { randTensor } from '../helpers/data.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

describe('concat', () => {
  // Skip-connection shapes (channels last, not multiples of 8, H != W, batch 1) and every axis.
  const cases: { shapes: number[][]; axis: number }[] = [
    { shapes: [[1, 5, 7, 3], [1, 5, 7, 13]], axis: -1 },
    { shapes: [[2, 28, 29, 37], [2, 28, 29, 5], [2, 28, 29, 1]], axis: 3 },
    { shapes: [[2, 5, 7, 3], [3, 5, 7, 3]], axis: 0 },
    { shapes: [[2, 5, 7, 3], [2, 1, 7, 3]], axis: 1 },
    { shapes: [[2, 5, 7, 3], [2, 5, 2, 3]], axis: -2 },
  ];
  for (const { shapes, axis } of cases) {
    it(`native matches reference for ${JSON.stringify(shapes)} on axis ${axis}, forward and backward`, () => {
      assertBackendsAgree(() => {
        const xs = shapes.map((s, k) => randTensor(s, 10 + k, { requiresGrad: true }));
        const y = concat(xs, axis);
        y.backward(randTensor([...y.shape], 99));
        return [y, ...xs.map((x) => x.grad!)];
      }, { nmseTol: 0, absTol: 0 });
    });
  }
  it('gradients match finite differences, inputs without requiresGrad get none', () => {
    gradcheck((a, b, c) => concat([a!, b!, c!], -1), [randTensor([2, 3, 2, 3], 1), randTensor([2, 3, 2, 2], 2), randTensor([2, 3, 2, 1], 3)]);
    gradcheck((a, b) => concat([a!, b!], 1), [randTensor([2, 2, 3], 4), randTensor([2, 3, 3], 5)], { skip: [0] });
    gradcheck((a) => concat([a!, a!], 0), [randTensor([2, 3], 9)]); // the same input twice: gradients add
    const a = randTensor([2, 3], 6);
    const b = randTensor([2, 4], 7, { requiresGrad: true });
    concat([a, b]).backward(randTensor([2, 7], 8));
    assert.equal(a.grad, null);
    assert.deepEqual(b.grad!.shape, [2, 4]);
  });
  it('closed form: a known last-axis concat', () => {
    const y = concat([tensor([1, 2, 3, 4], [2, 2]), tensor([5, 6], [2, 1])]);
    assert.deepEqual(y.shape, [2, 3]);
    assert.deepEqual([...hostBuffer(y)], [1, 2, 5, 3, 4, 6]);
  });
  it('propagates NaN to its place on both backends', () => {
    for (const b of ['native', 'reference'] as const) {
      const y = withBackend(b, () => concat([tensor([1, NaN], [2, 1]), tensor([3, 4], [2, 1])]));
      assert.ok(Number.isNaN(hostBuffer(y)[2]!) && hostBuffer(y)[3] === 4, `${b}: ${[...hostBuffer(y)]}`);
    }
  });
  it('rejects mismatched non-axis dims, mixed dtypes, bad axes and non-tensors', () => {
    const x = randTensor([2, 5, 5, 4], 1);
    assert.throws(() => concat([x, randTensor([2, 5, 6, 3], 2)]), /concat: input 'tensors\[1\]' has shape \[2, 5, 6, 3\], expected \[2, 5, 5, \*\] to match 'tensors\[0\]' \[2, 5, 5, 4\] on every axis but 3/);
    assert.throws(() => concat([x, randTensor([5, 5, 4], 2)]), /input 'tensors\[1\]' has shape \[5, 5, 4\]/);
    assert.throws(() => concat([x, randTensor([2, 5, 5, 4], 2, { dtype: 'float64' })]), /concat: input 'tensors\[1\]' is float64 but 'tensors\[0\]' is float32/);
    assert.throws(() => concat([x], 4), /concat: 'axis' must be an integer axis in \[-4, 3\] \(rank 4\), found 4/);
    assert.throws(() => concat([]), /concat: 'tensors' must be a non-empty array of Tensors, found an empty array/);
    assert.throws(() => concat([x, 3 as never]), /concat: input 'tensors\[1\]' must be a Tensor, found number/);
  });
});

describe('split', () => {
  it('native matches reference on odd shapes and axes, forward and backward', () => {
    for (const [shape, sizes, axis] of [[[1, 5, 7, 21], [3, 13, 5], -1], [[4, 3, 2], [1, 0, 3], 0], [[2, 9, 5, 3], [4, 5], 1]] as const) {
      assertBackendsAgree(() => {
        const x = randTensor([...shape], 20, { requiresGrad: true });
        const pieces = split(x, sizes, axis);
        pieces.forEach((p, k) => p.backward(randTensor([...p.shape], 30 + k)));
        return [...pieces, x.grad!];
      }, { nmseTol: 0, absTol: 0 });
    }
  });
  it('gradient matches finite differences when every piece is used', () => {
    gradcheck((x) => {
      const [a, b] = split(x!, [2, 3], -1);
      return concat([b!, a!], -1); // a reordering, so every piece feeds the loss
    }, [randTensor([2, 3, 5], 21)]);
  });
  it('gives zeros where a piece gets no gradient', () => {
    gradcheck((x) => split(x!, [1, 2, 2], 1)[1]!, [randTensor([2, 5, 3], 22)]);
    const x = randTensor([2, 4], 23, { requiresGrad: true });
    const [, b] = split(x, [1, 3]);
    b!.backward(tensor([1, 2, 3, 4, 5, 6], [2, 3]));
    assert.deepEqual([...hostBuffer(x.grad!)], [0, 1, 2, 3, 0, 4, 5, 6]);
  });
  it('closed form: concat then split is the identity', () => {
    const parts: Tensor[] = [randTensor([2, 3, 4, 5], 1), randTensor([2, 3, 4, 11], 2)];
    const back = split(concat(parts, -1), [5, 11], -1);
    back.forEach((t, k) => {
      assert.deepEqual(t.shape, parts[k]!.shape);
      assert.deepEqual(hostBuffer(t), hostBuffer(parts[k]!));
    });
  });
  it('rejects sizes that do not sum to the axis, bad sizes and bad axes', () => {
    const x = randTensor([2, 6], 3);
    assert.throws(() => split(x, [2, 3]), /split: sizes \[2,3\] sum to 5, expected 6 \(axis 1 of x \[2, 6\]\)/);
    assert.throws(() => split(x, [-1, 7]), /split: 'sizes' must be a non-empty array of non-negative integers, found \[-1,7\]/);
    assert.throws(() => split(x, [6], 2), /split: 'axis' must be an integer axis in \[-2, 1\]/);
  });
  it('the addon rejects wrong-size slabs with JS errors naming the argument', () => {
    const cat = addon()['concat'] as unknown as (...a: unknown[]) => void;
    const spl = addon()['split'] as unknown as (...a: unknown[]) => void;
    const inners = Int32Array.from([2, 3]);
    assert.throws(() => cat([new Float32Array(4), new Float32Array(5)], 2, inners, new Float32Array(10)), (e: Error) => e instanceof RangeError && /concat: argument 'xs\[1\]' has 5 elements, expected 6 \(outer 2 x inner 3\)/.test(e.message));
    assert.throws(() => cat([new Float32Array(4), new Float32Array(6)], 2, inners, new Float32Array(9)), /concat: argument 'out' has 9 elements, expected 10/);
    assert.throws(() => cat([new Float32Array(4)], 2, inners, new Float32Array(10)), /concat: argument 'xs' has 1 entries, expected 2/);
    assert.throws(() => spl(new Float32Array(10), 2, inners, [null, new Float64Array(6)]), (e: Error) => e instanceof TypeError && /split: argument 'outs\[1\]' must be a Float32Array or null, found Float64Array/.test(e.message));
    assert.throws(() => spl(new Float32Array(10), 2, Int32Array.from([2, -3]), [null, null]), /split: argument 'inners' has a negative entry -3/);
  });
  it('slices and joins slabs whose widths multiply past 2^63 (widths are summed, never multiplied)', () => {
    // sliceBatch of a large batch and a concat of many inputs: five slabs of 2^13..2^17 floats.
    const widths = [1 << 13, 1 << 17, 1 << 14, 1 << 16, 1 << 15];
    const xs = widths.map((w, k) => new Float32Array(w).fill(k + 1));
    const x = concat(xs.map((d, k) => tensor(d, [1, widths[k]!])), 1);
    const back = split(x, widths, 1);
    back.forEach((t, k) => assert.ok(hostBuffer(t).every((v) => v === k + 1), `slab ${k} round-trips`));
    const big = tensor(new Float32Array(60000 * 49).map((_, i) => i % 7), [60000, 7, 7, 1]);
    const s = sliceBatch(big, 1000, 1064);
    assert.deepEqual(s.shape, [64, 7, 7, 1]);
    assert.equal(hostBuffer(s)[0], (1000 * 49) % 7);
  });
});
