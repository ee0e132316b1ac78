import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../src/tensor/create.js';
import { noGrad, isGradEnabled } from '../../src/tensor/autograd.js';
import { sin, square, exp } from '../../src/ops/unary.js';
import { add, mul } from '../../src/ops/binary.js';
import { ShapeError } from '../../src/tensor/errors.js';

describe('autograd', () => {
  it('a diamond graph sums both paths: d/dx (x^2 + sin x) = 2x + cos x', () => {
    const x = tensor([0.3, -1.2, 2], [3], { requiresGrad: true });
    const y = add(square(x), sin(x));
    y.backward(tensor([1, 1, 1], [3]));
    const expected = [0.3, -1.2, 2].map((v) => 2 * v + Math.cos(v));
    x.grad!.toArray().forEach((g, i) => assert.ok(Math.abs(g - expected[i]!) < 1e-6, `${g} vs ${expected[i]}`));
  });

  it('the same tensor used twice in one op: d/dx (x * x) = 2x', () => {
    const x = tensor([1.5, -2], [2], { requiresGrad: true });
    mul(x, x).backward(tensor([1, 1], [2]));
    assert.deepEqual(Array.from(x.grad!.toArray()), [3, -4]);
  });

  it('gradients accumulate across backward calls until cleared', () => {
    const x = tensor([2], [1], { requiresGrad: true });
    exp(x).backward();
    exp(x).backward();
    assert.ok(Math.abs(x.grad!.item() - 2 * Math.exp(2)) < 1e-4);
    x.grad = null;
    exp(x).backward();
    assert.ok(Math.abs(x.grad!.item() - Math.exp(2)) < 1e-4);
  });

  it('a leaf gradient is a copy: later accumulation does not touch the seed', () => {
    const x = tensor([1, 2], [2], { requiresGrad: true });
    const seed = tensor([1, 1], [2]);
    x.backward(seed);
    x.backward(seed);
    assert.deepEqual(Array.from(seed.toArray()), [1, 1]);
    assert.deepEqual(Array.from(x.grad!.toArray()), [2, 2]);
  });

  it('noGrad records nothing and restores the previous mode, even on throw', () => {
    const x = tensor([1], [1], { requiresGrad: true });
    const y = noGrad(() => exp(x));
    assert.equal(y.requiresGrad, false);
    assert.equal(y.node, null);
    assert.throws(() => noGrad(() => { throw new Error('boom'); }));
    assert.equal(isGradEnabled(), true);
  });

  it('the graph is released after backward (memory), unless retainGraph', () => {
    const x = tensor([1], [1], { requiresGrad: true });
    const y = exp(sin(x));
    y.backward(undefined, { retainGraph: true });
    assert.notEqual(y.node, null);
    y.backward();
    assert.equal(y.node, null);
  });

  it('clear errors: non-scalar without gradient, no requiresGrad, wrong gradient shape', () => {
    const x = tensor([1, 2], [2], { requiresGrad: true });
    assert.throws(() => exp(x).backward(), (e: Error) => e instanceof ShapeError && /shape \[2\].*explicit gradient/.test(e.message));
    assert.throws(() => exp(tensor([1], [1])).backward(), /does not require gradients/);
    assert.throws(() => exp(x).backward(tensor([1, 2, 3], [3])), /gradient has shape \[3\].*expected \[2\]/);
  });
});
