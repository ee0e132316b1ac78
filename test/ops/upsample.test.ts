// Tests of upsampleNearest2x: native vs reference, gradient, a known image, errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { upsampleNearest2x } from '../../src/ops/upsample.js';
import { tensor } from '../../src/tensor/create.js';
import { withBackend } from '../../src/backend/backend.js';
import { addon } from '../../src/backend/native/loader.js';
import { assertBackendsAgree } from '../helpers/backends.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { randTensor } from '../helpers/data.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

describe('upsampleNearest2x', () => {
  // Batch 1, H != W, odd sizes, channels not a multiple of 8; the last is big enough to run parallel.
  for (const shape of [[1, 3, 5, 3], [2, 7, 4, 1], [3, 9, 7, 47]]) {
    it(`native matches reference on ${JSON.stringify(shape)}, forward and backward`, () => {
      assertBackendsAgree(() => {
        const x = randTensor(shape, 1, { requiresGrad: true });
        const y = upsampleNearest2x(x);
        y.backward(randTensor([...y.shape], 2));
        return [y, x.grad!];
      }, { nmseTol: 1e-14 });
    });
  }
  it('gradient matches finite differences', () => {
    gradcheck((x) => upsampleNearest2x(x), [randTensor([2, 3, 2, 3], 3)]);
  });
  it('closed form: a known 2x2 image, and the gradient of sum is 4 everywhere', () => {
    const x = tensor([1, 2, 3, 4], [1, 2, 2, 1], { requiresGrad: true });
    const y = upsampleNearest2x(x);
    assert.deepEqual(y.shape, [1, 4, 4, 1]);
    assert.deepEqual([...hostBuffer(y)], [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
    y.backward(tensor(new Array(16).fill(1), [1, 4, 4, 1]));
    assert.deepEqual([...hostBuffer(x.grad!)], [4, 4, 4, 4]);
    // Two channels stay separate.
    const z = upsampleNearest2x(tensor([1, 10], [1, 1, 1, 2]));
    assert.deepEqual([...hostBuffer(z)], [1, 10, 1, 10, 1, 10, 1, 10]);
  });
  it('propagates NaN into its 2x2 block on both backends, forward and backward', () => {
    for (const b of ['native', 'reference'] as const) {
      withBackend(b, () => {
        const x = tensor([NaN, 1], [1, 1, 2, 1], { requiresGrad: true });
        const y = upsampleNearest2x(x);
        assert.deepEqual([...hostBuffer(y)].map(Number.isNaN), [true, true, false, false, true, true, false, false], b);
        y.backward(tensor([1, 1, NaN, 1, 1, 1, 1, 1], [1, 2, 4, 1]));
        assert.ok(!Number.isNaN(hostBuffer(x.grad!)[0]!) && Number.isNaN(hostBuffer(x.grad!)[1]!), `${b}: ${[...hostBuffer(x.grad!)]}`);
      });
    }
  });
  it('rejects a tensor that is not rank 4', () => {
    assert.throws(() => upsampleNearest2x(randTensor([3, 4, 5], 1)), /upsampleNearest2x: input 'x' must have rank 4 \(N, H, W, C\), found shape \[3, 4, 5\]/);
    assert.throws(() => upsampleNearest2x(null as never), /upsampleNearest2x: input 'x' must be a Tensor, found null/);
  });
  it('the addon rejects wrong-size buffers with JS errors naming the argument', () => {
    const up = addon()['upsampleNearest2x'] as unknown as (...a: unknown[]) => void;
    const back = addon()['upsampleNearest2xBackward'] as unknown as (...a: unknown[]) => void;
    assert.throws(() => up(new Float32Array(6), 1, 2, 3, 1, new Float32Array(23)), (e: Error) => e instanceof RangeError && /upsampleNearest2x: argument 'out' has 23 elements, expected 24/.test(e.message));
    assert.throws(() => up(new Float32Array(5), 1, 2, 3, 1, new Float32Array(24)), /upsampleNearest2x: argument 'x' has 5 elements, expected 6/);
    assert.throws(() => back(new Float32Array(24), 1, 2, 3, 1, new Float32Array(7)), /upsampleNearest2xBackward: argument 'gx' has 7 elements, expected 6/);
    assert.throws(() => up(new Float32Array(6), 1, -2, 3, 1, new Float32Array(24)), /upsampleNearest2x: argument 'h' must be an integer >= 0/);
    assert.throws(() => up(new Float32Array(6), 2 ** 40, 2 ** 40, 1, 1, new Float32Array(24)), /upsampleNearest2x: sizes overflow/);
  });
});
