/** Tensor-scalar ops and clamp: native vs reference, gradients, closed forms, errors. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addScalar, subScalar, rsubScalar, mulScalar, divScalar, powScalar, clamp } from '../../src/ops/scalar.js';
import { tensor } from '../../src/tensor/create.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { withBackend } from '../../src/backend/backend.js';
import { addon } from '../../src/backend/native/loader.js';
import { ArgumentError } from '../../src/tensor/errors.js';
import { assertBackendsAgree } from '../helpers/backends.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { randTensor } from '../helpers/data.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

// name, op, input range (pow with a fractional exponent needs x > 0; clamp's bounds sit inside
// the data range so both sides are exercised).
const CASES: [string, (x: Tensor) => Tensor, { lo: number; hi: number }][] = [
  ['addScalar', (x) => addScalar(x, 0.1), { lo: -2, hi: 2 }],
  ['subScalar', (x) => subScalar(x, 1.7), { lo: -2, hi: 2 }],
  ['rsubScalar', (x) => rsubScalar(0.3, x), { lo: -2, hi: 2 }],
  ['mulScalar', (x) => mulScalar(x, -0.7), { lo: -2, hi: 2 }],
  ['divScalar', (x) => divScalar(x, 3), { lo: -2, hi: 2 }],
  ['powScalar 2.5', (x) => powScalar(x, 2.5), { lo: 0.2, hi: 2 }],
  ['powScalar 3', (x) => powScalar(x, 3), { lo: -2, hi: 2 }],
  ['powScalar -1', (x) => powScalar(x, -1), { lo: 0.5, hi: 2 }],
  ['powScalar 0', (x) => powScalar(x, 0), { lo: -2, hi: 2 }],
  ['clamp', (x) => clamp(x, -0.5, 0.8), { lo: -2, hi: 2 }],
];

describe('scalar ops', () => {
  for (const [name, f, range] of CASES) {
    it(`${name}: native matches reference on odd shapes, forward and backward`, () => {
      for (const shape of [[3, 5, 7, 3], [1], [], [2, 130, 131]]) {
        assertBackendsAgree(() => {
          const x = randTensor(shape, 1, { ...range, requiresGrad: true });
          const y = f(x);
          y.backward(randTensor(shape, 2));
          return [y, x.grad!];
        }, { nmseTol: 1e-12 });
      }
    });
    it(`${name}: gradient matches finite differences`, () => {
      // Values at least 0.05 from clamp's kinks, where the derivative jumps.
      const x = name === 'clamp' ? tensor([-1.5, -0.45, 0, 0.3, 0.75, 0.9, 1.7], [7]) : randTensor([2, 3, 5], 21, range);
      gradcheck(f, [x]);
    });
    it(`${name}: NaN propagates on both backends`, () => {
      for (const be of ['native', 'reference'] as const) {
        const y = withBackend(be, () => f(tensor([NaN, 1], [2])));
        // IEEE pow(NaN, 0) is 1 (as Math.pow and PyTorch); everything else propagates.
        if (name === 'powScalar 0') assert.equal(hostBuffer(y)[0], 1, `${be}: ${name}(NaN)`);
        else assert.ok(Number.isNaN(hostBuffer(y)[0]), `${be}: ${name}(NaN) = ${hostBuffer(y)[0]}`);
      }
    });
  }

  it('closed forms', () => {
    const x = tensor([-2, 0.5, 3], [3], { requiresGrad: true });
    const y = clamp(x, -1, 1);
    assert.deepEqual(Array.from(hostBuffer(y)), [-1, 0.5, 1]);
    y.backward(tensor([1, 1, 1], [3]));
    assert.deepEqual(Array.from(hostBuffer(x.grad!)), [0, 1, 0]);
    assert.deepEqual(Array.from(hostBuffer(powScalar(tensor([-3, 2, 4], [3]), 2))), [9, 4, 16]);
    assert.deepEqual(Array.from(hostBuffer(powScalar(tensor([4, 9], [2]), 0.5))), [2, 3]);
    assert.deepEqual(Array.from(hostBuffer(rsubScalar(1, tensor([0.25, 2], [2])))), [0.75, -1]);
    assert.deepEqual(Array.from(hostBuffer(divScalar(tensor([1, 3], [2]), 2))), [0.5, 1.5]);
    assert.deepEqual(Array.from(hostBuffer(clamp(tensor([-5, 5], [2]), -Infinity, 1))), [-5, 1]);
    // d/dx x^3 = 3x^2; rsub's gradient is -1.
    const z = tensor([2], [1], { requiresGrad: true });
    powScalar(z, 3).backward(tensor([1], [1]));
    assert.equal(z.grad!.item(), 12);
    const w = tensor([2], [1], { requiresGrad: true });
    rsubScalar(5, w).backward(tensor([1], [1]));
    assert.equal(w.grad!.item(), -1);
  });

  it('rejects bad scalars, bounds and inputs with messages naming the op', () => {
    const x = tensor([1], [1]);
    assert.throws(() => addScalar(x, '1' as never), (e: Error) => e instanceof ArgumentError && /addScalar: 's' must be a number, found string/.test(e.message));
    assert.throws(() => mulScalar(x, NaN), /mulScalar: 's' must be a number, found NaN/);
    assert.throws(() => powScalar(x, undefined as never), /powScalar: 'p' must be a number/);
    assert.throws(() => clamp(x, 1, -1), /clamp: 'lo' \(1\) is greater than 'hi' \(-1\)/);
    assert.throws(() => divScalar([1] as never, 2), /divScalar: input 'x' must be a Tensor, found an Array/);
    // float64 on the native backend runs the reference kernel (the addon is float32 only).
    assert.deepEqual(Array.from(withBackend('native', () => subScalar(tensor([1], [1], { dtype: 'float64' }), 1)).toArray()), [0]);
  });

  it('the addon rejects wrong-size buffers with JS errors naming the op and argument', () => {
    const F = (n: number): Float32Array => new Float32Array(n);
    const sc = addon()['scalar'] as unknown as (...a: unknown[]) => void;
    const back = addon()['scalarBackward'] as unknown as (...a: unknown[]) => void;
    assert.throws(() => sc(3, F(4), 2, 0, F(3)), (e: Error) => e instanceof RangeError && /mulScalar: argument 'out' has 3 elements, expected 4/.test(e.message));
    assert.throws(() => sc(0, F(4), 'x', 0, F(4)), (e: Error) => e instanceof TypeError && /addScalar: argument 's' must be a number, found string/.test(e.message));
    assert.throws(() => sc(42, F(1), 0, 0, F(1)), /unknown op code 42/);
    assert.throws(() => back(6, F(4), 0, 1, F(4), F(2)), /clamp: argument 'gx' has 2 elements, expected 4/);
    assert.throws(() => back(5, F(4), 2, 0, new Float64Array(4), F(4)), /powScalar: argument 'gy' must be a Float32Array, found Float64Array/);
  });
});
