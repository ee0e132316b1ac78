/** mseLoss: native vs reference for every reduction, gradients, closed forms, errors. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mseLoss, type Reduction } from '../../src/ops/loss.js';
import { tensor } from '../../src/tensor/create.js';
import { withBackend } from '../../src/backend/backend.js';
import { addon } from '../../src/backend/native/loader.js';
import { ArgumentError, DTypeError, ShapeError } from '../../src/tensor/errors.js';
import { assertBackendsAgree } from '../helpers/backends.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { randTensor } from '../helpers/data.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

const REDUCTIONS: Reduction[] = ['mean', 'sum', 'none'];

describe('mseLoss', () => {
  for (const reduction of REDUCTIONS) {
    for (const shape of [[3, 5, 7, 3], [1], [], [4, 28, 28, 1], [2, 100, 90, 3]]) {
      it(`${reduction} on ${JSON.stringify(shape)}: native matches reference, forward and backward`, () => {
        assertBackendsAgree(() => {
          const p = randTensor(shape, 1, { requiresGrad: true });
          const t = randTensor(shape, 2, { requiresGrad: true });
          const l = mseLoss(p, t, reduction);
          l.backward(randTensor([...l.shape], 3));
          return [l, p.grad!, t.grad!];
        }, { nmseTol: 1e-12 });
      });
    }
    it(`${reduction}: gradients for pred and target match finite differences`, () => {
      gradcheck((p, t) => mseLoss(p, t, reduction), [randTensor([2, 3, 4], 4), randTensor([2, 3, 4], 5)]);
    });
    it(`${reduction}: NaN propagates on both backends`, () => {
      for (const be of ['native', 'reference'] as const) {
        const l = withBackend(be, () => mseLoss(tensor([NaN, 1], [2]), tensor([0, 0], [2]), reduction));
        assert.ok(Number.isNaN(hostBuffer(l)[0]), `${be}: ${Array.from(hostBuffer(l))}`);
      }
    });
  }

  it('closed forms: known vectors and their gradients', () => {
    for (const be of ['native', 'reference'] as const) {
      withBackend(be, () => {
        const p = tensor([1, 2, 3], [3], { requiresGrad: true });
        const t = tensor([0, 0, 1], [3], { requiresGrad: true });
        const l = mseLoss(p, t);
        assert.deepEqual(l.shape, []);
        assert.equal(l.item(), Math.fround(9 / 3));
        l.backward();
        // d/dp = 2 (p - t) / n; d/dt is its negative.
        assert.deepEqual(Array.from(hostBuffer(p.grad!)), [2 / 3, 4 / 3, 4 / 3].map(Math.fround));
        assert.deepEqual(Array.from(hostBuffer(t.grad!)), [-2 / 3, -4 / 3, -4 / 3].map(Math.fround));
        assert.equal(mseLoss(p.detach(), t.detach(), 'sum').item(), 9);
        assert.deepEqual(Array.from(hostBuffer(mseLoss(p.detach(), t.detach(), 'none'))), [1, 4, 4]);
      });
    }
  });

  it('only inputs that require gradients get them', () => {
    const p = tensor([1, 2], [2], { requiresGrad: true });
    const t = tensor([0, 0], [2]);
    mseLoss(p, t, 'sum').backward();
    assert.deepEqual(Array.from(hostBuffer(p.grad!)), [2, 4]);
    assert.equal(t.grad, null);
  });

  it('rejects mismatched shapes, bad reductions, dtype mixes and non-tensors', () => {
    const p = randTensor([2, 4, 4, 3], 1);
    assert.throws(
      () => mseLoss(p, randTensor([2, 4, 4, 1], 2)),
      (e: Error) => e instanceof ShapeError && /mseLoss: input 'target' has shape \[2, 4, 4, 1\], expected \[2, 4, 4, 3\]/.test(e.message),
    );
    assert.throws(() => mseLoss(p, p, 'avg' as never), (e: Error) => e instanceof ArgumentError && /mseLoss: reduction must be 'mean', 'sum' or 'none', found "avg"/.test(e.message));
    assert.throws(() => mseLoss(p, randTensor([2, 4, 4, 3], 2, { dtype: 'float64' })), (e: Error) => e instanceof DTypeError && /mseLoss: input 'target' is float64/.test(e.message));
    assert.throws(() => mseLoss(p, null as never), /mseLoss: input 'target' must be a Tensor, found null/);
  });

  it('the addon rejects wrong-size buffers with JS errors naming the argument', () => {
    const F = (n: number): Float32Array => new Float32Array(n);
    const sum = addon()['sqDiffSum'] as unknown as (...a: unknown[]) => unknown;
    const sq = addon()['sqDiff'] as unknown as (...a: unknown[]) => void;
    const back = addon()['sqDiffBackward'] as unknown as (...a: unknown[]) => void;
    assert.throws(() => sum(F(4), F(3)), (e: Error) => e instanceof RangeError && /mseLoss: argument 'target' has 3 elements, expected 4/.test(e.message));
    assert.equal(sum(F(4), F(4)), 0);
    assert.throws(() => sq(F(4), F(4), F(5)), /mseLoss: argument 'out' has 5 elements, expected 4/);
    assert.throws(() => back(F(4), F(4), F(2), 1, F(4)), /mseLoss: argument 'gy' has 2 elements, expected 1 or 4/);
    assert.throws(() => back(F(4), F(4), F(1), 'x', F(4)), /mseLoss: argument 'scale' must be a number, found string/);
    assert.throws(() => back(F(4), F(4), F(1), 1, F(3)), /mseLoss: argument 'g' has 3 elements, expected 4/);
  });
});
