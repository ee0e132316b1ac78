/** linearCombination: a plain double loop as the oracle, both backends, gradients, NaN, dtypes, errors. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { linearCombination, type LinearTerm } from '../../src/ops/linear_combination.js';
import { tensor } from '../../src/tensor/create.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { withBackend } from '../../src/backend/backend.js';
import { ArgumentError, ShapeError } from '../../src/tensor/errors.js';
import { assertBackendsAgree } from '../helpers/backends.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { randTensor } from '../helpers/data.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

/** The elements in their own precision (host read: the test's oracle needs every bit). */
const values = (t: Tensor): number[] => Array.from(hostBuffer(t));

/**
 * The oracle: sum_k c_k x_k[i] in double over the terms with c_k != 0, term by term, rounded once
 * to the output's precision; an array coefficient has one value per batch element.
 */
function plainLoop(terms: readonly LinearTerm[], round: (v: number) => number): number[] {
  const xs = terms.map(([, x]) => values(x));
  const shape = terms[0]![1].shape;
  const per = shape.slice(1).reduce((a, b) => a * b, 1);
  const coef = (k: number, i: number): number => {
    const c = terms[k]![0];
    return typeof c === 'number' ? c : c[c.length === 1 ? 0 : Math.floor(i / per)]!;
  };
  return xs[0]!.map((_, i) => {
    let s: number | null = null;
    for (let k = 0; k < terms.length; k++) {
      const c = coef(k, i);
      if (c !== 0) s = s === null ? c * xs[k]![i]! : s + c * xs[k]![i]!;
    }
    return round(s ?? 0);
  });
}

// Odd shapes: batch 1, channels not a multiple of 8, H != W, a scalar, and one past the native
// kernel's 4096-element block (for more than four terms).
const SHAPES = [[1, 5, 7, 3], [2, 3], [], [3, 41, 43, 1], [4097]];

describe('linearCombination', () => {
  for (const shape of SHAPES) {
    for (const dtype of ['float32', 'float64'] as const) {
      it(`${JSON.stringify(shape)} ${dtype}: equals a plain double loop bit for bit on both backends`, () => {
        // 1 to 6 terms: the native kernel has straight loops up to four and an accumulator beyond.
        const all: LinearTerm[] = [0.7, -1.3e-3, 1 / 3, -2.5, 1e-5, 0.125].map((c, k) => [c, randTensor(shape, k + 1, { dtype })] as const);
        for (let count = 1; count <= all.length; count++) {
          const terms = all.slice(0, count);
          const want = plainLoop(terms, dtype === 'float32' ? Math.fround : (v) => v);
          for (const be of ['native', 'reference'] as const) {
            const y = withBackend(be, () => linearCombination(terms));
            assert.equal(y.dtype, dtype);
            assert.deepEqual(y.shape, shape);
            assert.deepEqual(values(y), want, `${be}, ${count} terms`);
          }
        }
      });
    }
  }

  for (const dtype of ['float32', 'float64'] as const) {
    it(`per-batch-element coefficients (${dtype}, one zero among them): a plain loop bit for bit on both backends`, () => {
      const shape = [3, 5, 7, 2];
      const terms: LinearTerm[] = [[[0.5, 0, -2], randTensor(shape, 1, { dtype })], [1.25, randTensor(shape, 2, { dtype })], [[1e-3], randTensor(shape, 3, { dtype })]];
      const want = plainLoop(terms, dtype === 'float32' ? Math.fround : (v) => v);
      for (const be of ['native', 'reference'] as const) assert.deepEqual(values(withBackend(be, () => linearCombination(terms))), want, be);
    });
  }

  it('per-batch-element coefficients: gradient matches finite differences', () => {
    gradcheck((x, y) => linearCombination([[[0.3, -1.1], x], [-1.7, y]]), [randTensor([2, 3, 5], 8), randTensor([2, 3, 5], 9)]);
  });

  it('native matches reference, forward and backward (gradients c_k gy)', () => {
    for (const shape of [[2, 7, 9, 3], [1]]) {
      assertBackendsAgree(() => {
        const a = randTensor(shape, 1, { requiresGrad: true });
        const b = randTensor(shape, 2, { requiresGrad: true });
        const y = linearCombination([[2.5, a], [-0.25, b], [1, a]]);
        y.backward(randTensor(shape, 4));
        return [y, a.grad!, b.grad!];
      }, { nmseTol: 1e-14 });
    }
  });

  it('gradient matches finite differences (a tensor used twice accumulates)', () => {
    const a = randTensor([2, 3, 5], 5);
    const b = randTensor([2, 3, 5], 6);
    gradcheck((x, y) => linearCombination([[0.3, x], [-1.7, y], [2, x]]), [a, b]);
  });

  it('NaN and Infinity propagate; a zero coefficient drops its term', () => {
    for (const be of ['native', 'reference'] as const) {
      const x = tensor([NaN, 1, Infinity, 2], [4]);
      const y = tensor([1, 1, 1, 1], [4]);
      const out = withBackend(be, () => values(linearCombination([[1, y], [2, x]])));
      assert.ok(Number.isNaN(out[0]), `${be}: NaN propagates`);
      assert.equal(out[1], 3);
      assert.equal(out[2], Infinity);
      assert.deepEqual(withBackend(be, () => values(linearCombination([[1, y], [0, x]]))), [1, 1, 1, 1], `${be}: the 0-coefficient term is absent`);
      assert.deepEqual(withBackend(be, () => values(linearCombination([[0, x]]))), [0, 0, 0, 0], `${be}: all terms off gives zeros`);
      const perSample = withBackend(be, () => values(linearCombination([[[NaN, 2], tensor([1, 1, 1, 1], [2, 2])]])));
      assert.ok(Number.isNaN(perSample[0]) && Number.isNaN(perSample[1]) && perSample[2] === 2, `${be}: a NaN coefficient gives NaN`);
    }
  });

  it('converts between dtypes: inputs are read in double, the result is stored in dtype', () => {
    const z = randTensor([3, 4], 7);
    const z64 = linearCombination([[1, z]], 'float64');
    assert.equal(z64.dtype, 'float64');
    assert.deepEqual(values(z64), values(z));
    const mixed = linearCombination([[1, z64], [0.1, z]]);
    assert.equal(mixed.dtype, 'float64');
    assert.deepEqual(values(mixed), values(z).map((v) => v + 0.1 * v));
    const back = linearCombination([[1, mixed]], 'float32');
    assert.deepEqual(values(back), values(mixed).map(Math.fround));
  });

  it('errors name the problem, the value found and what was expected', () => {
    const x = randTensor([2, 3], 1);
    assert.throws(() => linearCombination([]), (e: unknown) => e instanceof ArgumentError && /non-empty array/.test(e.message));
    assert.throws(() => linearCombination([['2' as never, x]]), (e: unknown) => e instanceof ArgumentError && /terms\[0\]'s coefficient must be a number or an array of numbers \(one per batch element\), found string/.test(e.message));
    assert.throws(() => linearCombination([[1, x], [1, randTensor([3, 2], 2)]]), (e: unknown) => e instanceof ShapeError && /terms\[1\]'s tensor has shape \[3, 2\], expected \[2, 3\]/.test(e.message));
    assert.throws(() => linearCombination([[1, x]], 'int8' as never), (e: unknown) => e instanceof ArgumentError && /'dtype' must be/.test(e.message));
    assert.throws(() => linearCombination([[[1, 2, 3], x]]), (e: unknown) => e instanceof ShapeError && /terms\[0\]'s coefficient has 3 values, expected 1 or one per batch element \(2\)/.test(e.message));
    assert.throws(() => linearCombination([[[1, '2' as never], x]]), (e: unknown) => e instanceof ArgumentError && /terms\[0\]'s coefficient\[1\] must be a number, found string/.test(e.message));
  });
});
