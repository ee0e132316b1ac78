// Copies without a graph (clone, cast, copyInto) and the in-place optimizer ops (adamwStep,
// emaUpdate, gradNorm, scaleInPlace). Oracles: the same arithmetic in float64 on the host, and
// the reference backend for the native one.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../src/tensor/create.js';
import { ShapeError } from '../../src/tensor/errors.js';
import { withBackend } from '../../src/backend/backend.js';
import { cast, clone, copyInto } from '../../src/ops/copy.js';
import { adamwStep, emaUpdate, gradNorm, rowSumSquares, scaleInPlace } from '../../src/ops/optim.js';

describe('copies', () => {
  it('clone copies values, dtype, shape and device into a new buffer without graph', () => {
    const x = tensor([1, 2, 3, 4], [2, 2], { requiresGrad: true });
    const y = clone(x);
    assert.deepEqual(y.shape, [2, 2]);
    assert.equal(y.requiresGrad, false);
    assert.equal(y.node, null);
    assert.deepEqual(Array.from(y.toArray()), [1, 2, 3, 4]);
    copyInto(y, tensor([9, 9, 9, 9], [4]));
    assert.deepEqual(Array.from(x.toArray()), [1, 2, 3, 4], 'the clone owns its buffer');
  });

  it('cast converts between float32 and float64 (always a new buffer)', () => {
    const x = tensor([0.1, 1 / 3], [2], { dtype: 'float64' });
    const f = cast(x, 'float32');
    assert.equal(f.dtype, 'float32');
    assert.deepEqual(Array.from(f.toArray()), [Math.fround(0.1), Math.fround(1 / 3)]);
    const back = cast(f, 'float64');
    assert.equal(back.dtype, 'float64');
    assert.deepEqual(Array.from(back.toArray('float64')), [Math.fround(0.1), Math.fround(1 / 3)]);
    assert.notEqual(cast(back, 'float64'), back);
    assert.throws(() => cast(x, 'int8' as never), /cast: dtype must be 'float32' or 'float64', found "int8"/);
  });

  it('copyInto overwrites in place (dtype converted) and rejects a different element count', () => {
    const dst = tensor([0, 0, 0], [3], { dtype: 'float64' });
    copyInto(dst, tensor([1.5, 2.5, -1], [3]));
    assert.deepEqual(Array.from(dst.toArray('float64')), [1.5, 2.5, -1]);
    assert.throws(() => copyInto(dst, tensor([1, 2], [2])), (e: Error) => e instanceof ShapeError && /copyInto: 'src' has shape \[2\] \(2 elements\), expected 3 elements/.test(e.message));
  });
});

describe('in-place optimizer ops', () => {
  it('gradNorm is the L2 norm of all tensors together, accumulated in double', () => {
    const a = tensor([3, 4], [2]);
    const b = tensor([12], [1, 1]);
    assert.equal(gradNorm([a, b]), 13);
    assert.equal(gradNorm([a]), 5);
    assert.equal(gradNorm([]), 0);
    const values = Array.from({ length: 1001 }, (_, i) => Math.fround(Math.sin(i) * 1e-3));
    const expected = Math.sqrt(values.reduce((s, v) => s + v * v, 0));
    for (const name of ['native', 'reference'] as const) {
      assert.equal(withBackend(name, () => gradNorm([tensor(values, [1001])])), expected, name);
    }
  });

  it('rowSumSquares sums the squares of each batch entry in double', () => {
    const s = rowSumSquares(tensor([1, 2, 3, -4, 0.5, 0.25], [3, 2, 1]));
    assert.equal(s.dtype, 'float64');
    assert.deepEqual(s.shape, [3]);
    assert.deepEqual(Array.from(s.toArray('float64')), [5, 25, 0.3125]);
    assert.throws(() => rowSumSquares(tensor([1], [])), /rowSumSquares: x must have a batch axis/);
  });

  it('scaleInPlace scales the buffer itself', () => {
    const g = tensor([1, -2, 4], [3]);
    scaleInPlace(g, 0.5);
    assert.deepEqual(Array.from(g.toArray()), [0.5, -1, 2]);
  });

  it('adamwStep and emaUpdate update in place and agree across backends', () => {
    const run = (name: 'native' | 'reference') =>
      withBackend(name, () => {
        const p = tensor([1, -1, 0.5], [3]);
        const m = tensor([0, 0, 0], [3]);
        const v = tensor([0, 0, 0], [3]);
        adamwStep(p, tensor([0.1, 0.2, -0.3], [3]), m, v, { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 1 });
        const shadow = tensor([0, 0, 0], [3]);
        emaUpdate(shadow, p, 0.5);
        return [p, m, v, shadow].map((t) => Array.from(t.toArray()));
      });
    const native = run('native');
    const reference = run('reference');
    native.forEach((a, i) => a.forEach((x, j) => assert.ok(Math.abs(x - reference[i]![j]!) < 1e-6, `${i}:${j} ${x} vs ${reference[i]![j]}`)));
    // Step 1 of Adam moves each weight by about lr * sign(g) (after decay p *= 1 - lr * wd).
    native[0]!.forEach((x, j) => assert.ok(Math.abs(x - ([1, -1, 0.5][j]! * (1 - 0.001) - 0.1 * Math.sign([0.1, 0.2, -0.3][j]!))) < 1e-5));
    assert.throws(() => emaUpdate(tensor([0, 0], [2]), tensor([1, 2, 3], [3]), 0.5), /emaUpdate: 'param' has shape \[3\], expected 2 elements/);
  });
});
