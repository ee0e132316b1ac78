/** sum, mean, sumTo, broadcastTo: native vs reference, gradients, accuracy, determinism, errors. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sum, mean, sumTo, broadcastTo, normalizeAxes } from '../../src/ops/reduce.js';
import { tensor, full, zeros } from '../../src/tensor/create.js';
import { withBackend, backend } from '../../src/backend/backend.js';
import { addon } from '../../src/backend/native/loader.js';
import { ArgumentError, NativeKernelError, ShapeError } from '../../src/tensor/errors.js';
import { assertBackendsAgree } from '../helpers/backends.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { randTensor, rng } from '../helpers/data.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

// (shape, axes) cases: inner, outer, middle, non-adjacent, all, negative, size-1 axes, and
// shapes big enough for the parallel and chunked paths.
const CASES: [number[], number | number[] | undefined][] = [
  [[3, 5, 7, 4], undefined],
  [[3, 5, 7, 4], -1],
  [[3, 5, 7, 4], [0, 1, 2]],
  [[3, 5, 7, 4], [1, 2]],
  [[3, 5, 7, 4], [0, 2]],
  [[3, 5, 7, 4], [1, 3]],
  [[3, 5, 7, 4], 0],
  [[5, 1, 7], [0, 1]],
  [[1, 1, 3], [0]],
  [[], undefined],
  [[4, 33, 17, 9], [0, 1, 2]],
  [[4, 33, 17, 9], [1, 2]],
  [[4, 33, 17, 9], [3]],
  [[4, 33, 17, 9], [0, 2]],
  [[200003], undefined],
  [[3, 70001], [1]],
  [[70001, 3], [0]],
  [[2, 1500, 3, 5], [1, 3]],
  [[1, 40000, 2], [1]],
];

describe('reductions', () => {
  for (const [shape, axes] of CASES) {
    for (const keep of [false, true]) {
      it(`sum and mean of ${JSON.stringify(shape)} over ${JSON.stringify(axes)}${keep ? ' (keepDims)' : ''}: native matches reference`, () => {
        assertBackendsAgree(() => {
          const x = randTensor(shape, 1, { requiresGrad: true });
          const s = sum(x, axes, keep);
          const m = mean(x, axes, keep);
          s.backward(randTensor([...s.shape], 2));
          m.backward(randTensor([...m.shape], 3));
          return [s, m, x.grad!];
        }, { nmseTol: 1e-13 });
      });
    }
  }

  it('random shapes and axis sets (ranks 0-5): native matches reference', () => {
    const r = rng(78);
    const pick = (n: number): number => Math.floor(r() * n);
    for (let trial = 0; trial < 150; trial++) {
      const shape = Array.from({ length: pick(6) }, () => 1 + pick(6));
      const axes = shape.map((_, i) => i).filter(() => r() < 0.5);
      const keep = r() < 0.5;
      // sumTo's target may also drop the leading axis when it is reduced.
      const target = shape.map((d, i) => (axes.includes(i) ? 1 : d)).slice(axes.includes(0) ? pick(2) : 0);
      assertBackendsAgree(() => {
        const x = randTensor(shape, trial, { requiresGrad: true });
        const s = sum(x, axes, keep);
        s.backward(randTensor([...s.shape], 2));
        return [s, x.grad!, sumTo(x.detach(), target)];
      }, { nmseTol: 1e-13, what: `sum ${JSON.stringify(shape)} over ${JSON.stringify(axes)}` });
    }
  });

  it('random large shapes (parallel and chunked paths): native matches reference', () => {
    const r = rng(79);
    const sizes = [1, 2, 3, 7, 64, 129, 1000, 4100];
    for (let trial = 0; trial < 15; trial++) {
      const shape: number[] = [];
      // Grow a random shape to between 40k and 200k elements.
      let n = 1;
      while (n < 40_000) {
        const fit = sizes.filter((d) => n * d <= 200_000);
        const d = fit[Math.floor(r() * fit.length)]!;
        shape.push(d);
        n *= d;
      }
      const axes = shape.map((_, i) => i).filter(() => r() < 0.5);
      assertBackendsAgree(() => sum(randTensor(shape, trial), axes), { nmseTol: 1e-13, what: `sum ${JSON.stringify(shape)} over ${JSON.stringify(axes)}` });
    }
  });

  it('output shapes follow axes and keepDims', () => {
    const x = zeros([2, 3, 4, 5]);
    assert.deepEqual(sum(x).shape, []);
    assert.deepEqual(sum(x, [1, -1]).shape, [2, 4]);
    assert.deepEqual(mean(x, [1, -1], true).shape, [2, 1, 4, 1]);
    assert.deepEqual(sum(x, []).shape, [2, 3, 4, 5]);
    assert.deepEqual(normalizeAxes('sum', 4, [-1, 0]), [0, 3]);
  });

  it('gradients match finite differences', () => {
    gradcheck((x) => sum(x), [randTensor([2, 3, 4], 1)]);
    gradcheck((x) => sum(x, [0, 2], true), [randTensor([2, 3, 4], 2)]);
    gradcheck((x) => mean(x, -1), [randTensor([3, 1, 5], 3)]);
    gradcheck((x) => mean(x, [0, 1]), [randTensor([2, 3, 2], 4)]);
    gradcheck((x) => sumTo(x, [3, 1]), [randTensor([2, 3, 4], 5)]);
    gradcheck((x) => broadcastTo(x, [2, 3, 4]), [randTensor([3, 1], 6)]);
  });

  it('closed forms: sum of 1..n, mean, and sums of bias-like gradients', () => {
    const n = 1000;
    const x = tensor(Array.from({ length: n }, (_, i) => i + 1), [n]);
    for (const be of ['native', 'reference'] as const) {
      withBackend(be, () => {
        assert.equal(sum(x).item(), (n * (n + 1)) / 2);
        assert.equal(mean(x).item(), (n + 1) / 2);
        const m = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
        assert.deepEqual(Array.from(hostBuffer(sum(m, 0))), [5, 7, 9]);
        assert.deepEqual(Array.from(hostBuffer(mean(m, 1))), [2, 5]);
        assert.deepEqual(Array.from(hostBuffer(sumTo(m, [3]))), [5, 7, 9]);
        assert.deepEqual(Array.from(hostBuffer(broadcastTo(tensor([1, 2], [2, 1]), [2, 3]))), [1, 1, 1, 2, 2, 2]);
      });
    }
  });

  it('accumulates in double: a million float32 0.1s sum to the correctly rounded total', () => {
    const n = 1_000_000;
    const x = full([n], 0.1);
    const exact = Math.fround(n * Math.fround(0.1));
    for (const be of ['native', 'reference'] as const) {
      assert.equal(withBackend(be, () => sum(x).item()), exact, be);
      // Over a leading axis too (the kept-channels path).
      const y = withBackend(be, () => sum(full([n / 4, 4], 0.1), 0));
      assert.ok(Array.from(hostBuffer(y)).every((v) => v === Math.fround((n / 4) * Math.fround(0.1))), `${be}: ${Array.from(hostBuffer(y))}`);
    }
  });

  it('native sums are bit-identical whatever the thread count', () => {
    const threads = addon().nativeInfo().threads;
    const x = randTensor([8, 64, 64, 3], 9);
    const run = (): Float32Array[] => [hostBuffer(sum(x)), hostBuffer(sum(x, [0, 1, 2])), hostBuffer(mean(x, [1, 2, 3]))].map((d) => Float32Array.from(d));
    try {
      addon().setNumThreads(1);
      const one = run();
      addon().setNumThreads(Math.max(2, threads));
      const many = run();
      one.forEach((a, i) => assert.deepEqual(a, many[i]));
    } finally {
      addon().setNumThreads(threads);
    }
  });

  it('NaN propagates; empty reductions give 0 (sum) and NaN (mean)', () => {
    for (const be of ['native', 'reference'] as const) {
      withBackend(be, () => {
        const s = sum(tensor([1, NaN, 3, 4], [2, 2]), 1);
        assert.ok(Number.isNaN(hostBuffer(s)[0]) && hostBuffer(s)[1] === 7, `${be}: ${Array.from(hostBuffer(s))}`);
        assert.ok(Number.isNaN(mean(tensor([Infinity, -Infinity], [2])).item()));
        assert.deepEqual(Array.from(hostBuffer(sum(zeros([0, 3]), 0))), [0, 0, 0]);
        assert.ok(Number.isNaN(mean(zeros([0, 3])).item()));
      });
    }
  });

  it('rejects bad axes, keepDims and shapes with messages naming the op', () => {
    const x = zeros([2, 3]);
    assert.throws(() => sum(x, 2), (e: Error) => e instanceof ArgumentError && /sum: axis 2 is out of range for a tensor of rank 2; expected an integer in \[-2, 1\]/.test(e.message));
    assert.throws(() => mean(x, [0, -2]), /mean: axis 0 appears more than once/);
    assert.throws(() => sum(x, 0.5), /sum: axis 0.5 is out of range/);
    assert.throws(() => sum(x, 'all' as never), /sum: 'axes' must be an integer or an array/);
    assert.throws(() => mean(x, 0, 1 as never), /mean: 'keepDims' must be a boolean, found number/);
    assert.throws(() => sum([1, 2] as never), /sum: input 'x' must be a Tensor, found an Array/);
    assert.throws(() => sumTo(x, [2]), (e: Error) => e instanceof ShapeError && /sumTo: 'shape' of shape \[2\] does not broadcast to \[2, 3\] \(axis 0 has size 2, expected 3 or 1\)/.test(e.message));
    assert.throws(() => broadcastTo(x, [3]), /broadcastTo: 'x' of shape \[2, 3\] does not broadcast to \[3\] \(it has more axes\)/);
  });

  it('the addon rejects wrong-size buffers and bad shapes with JS errors', () => {
    const F = (n: number): Float32Array => new Float32Array(n);
    const S = (...d: number[]): Int32Array => Int32Array.from(d);
    const red = addon()['reduceSum'] as unknown as (...a: unknown[]) => void;
    const bc = addon()['broadcastTo'] as unknown as (...a: unknown[]) => void;
    assert.throws(() => red(F(5), S(2, 3), F(3), S(3)), (e: Error) => e instanceof RangeError && /reduceSum: argument 'x' has 5 elements, expected 6/.test(e.message));
    assert.throws(() => red(F(6), S(2, 3), F(2), S(3)), /reduceSum: argument 'out' has 2 elements, expected 3/);
    assert.throws(() => red(F(6), S(2, 3), F(2), S(2)), /reduceSum: output shape \[2\] does not broadcast to the input \[2, 3\]/);
    assert.throws(() => red(F(6), S(6), F(6), S(1, 6)), /reduceSum: output shape \[1, 6\] has more axes/);
    assert.throws(() => bc(F(2), S(2), F(6), S(3, 3)), /broadcastTo: argument 'out' has 6 elements, expected 9/);
    assert.throws(() => bc(F(2), S(2), F(6), S(2, 3)), /broadcastTo: argument 'x' of shape \[2\] does not broadcast to \[2, 3\]/);
    assert.throws(() => red(F(1), S(...new Array<number>(17).fill(1)), F(1), S(1)), /reduceSum: argument 'xShape' has rank 17, at most 16/);
    const big = 2 ** 31 - 1;
    assert.throws(() => red(F(1), S(big, big, big), F(1), S(1)), /reduceSum: argument 'xShape' \[2147483647, 2147483647, 2147483647\] has too many elements/);
    // A zero-size tensor with huge other axes is fine (nothing to do).
    bc(F(0), S(0, big, big, big), F(0), S(0, big, big, big));
    assert.throws(
      () => withBackend('native', () => backend().reduceSum(F(5), [2, 3], F(3), [3])),
      (e: Error) => e instanceof NativeKernelError,
    );
  });
});
