// Tests of reshape, permute and transpose: native vs reference, gradients, closed forms, errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { permute, reshape, transpose } from '../../src/ops/shape.js';
import { tensor } from '../../src/tensor/create.js';
import { withBackend } from '../../src/backend/backend.js';
import { nativeLayout } from '../../src/backend/native/layout.js';
import { addon } from '../../src/backend/native/loader.js';
import { NativeKernelError } from '../../src/tensor/errors.js';
import { assertBackendsAgree } from '../helpers/backends.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { randTensor } from '../helpers/data.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

// Every permutation of 0..r-1 (r <= 4 here).
function permutations(r: number): number[][] {
  if (r === 0) return [[]];
  return permutations(r - 1).flatMap((p) => Array.from({ length: r }, (_, i) => [...p.slice(0, i), r - 1, ...p.slice(i)]));
}

describe('reshape', () => {
  it('infers -1 and shares the data (a view)', () => {
    const x = randTensor([2, 3, 5, 7], 1);
    const y = reshape(x, [2, -1]);
    assert.deepEqual(y.shape, [2, 105]);
    assert.equal(hostBuffer(y), hostBuffer(x));
  });
  it('gradient reshapes back', () => {
    gradcheck((x) => reshape(x, [5, -1, 2]), [randTensor([2, 3, 5], 2)]);
  });
  it('rejects a size mismatch naming both shapes', () => {
    const x = randTensor([2, 3], 3);
    assert.throws(() => reshape(x, [4, 2]), /reshape: cannot reshape x of shape \[2, 3\] \(6 elements\) into \[4, 2\] \(8 elements\)/);
    assert.throws(() => reshape(x, [4, -1]), /reshape: cannot reshape x of shape \[2, 3\] \(6 elements\) into \[4, -1\]/);
    assert.throws(() => reshape(x, [-1, -1]), /only one entry of the shape may be -1/);
    assert.throws(() => reshape(x, [2.5, 2] as never), /shape must be an array of integers/);
  });
});

describe('permute / transpose', () => {
  // Odd shapes: batch 1, H != W, channels not a multiple of 8; sizes large enough for the
  // parallel, tiled native path (> 32 per side and > 2^15 elements).
  const shapes: number[][] = [[1, 5, 7, 3], [2, 37, 45, 11], [3, 70, 41]];
  for (const shape of shapes) {
    it(`native matches reference for every permutation of ${JSON.stringify(shape)}, forward and backward`, () => {
      for (const axes of permutations(shape.length)) {
        assertBackendsAgree(() => {
          const x = randTensor(shape, 7, { requiresGrad: true });
          const y = permute(x, axes);
          y.backward(randTensor([...y.shape], 8));
          return [y, x.grad!];
        }, { nmseTol: 0, absTol: 0, what: `permute ${JSON.stringify(axes)}` });
      }
    });
  }
  it('handles size-1 axes, rank 0 and rank 1', () => {
    for (const [shape, axes] of [[[4, 1, 3, 1], [3, 2, 1, 0]], [[], []], [[5], [0]]] as const) {
      assertBackendsAgree(() => permute(randTensor([...shape], 9), axes), { nmseTol: 0, absTol: 0 });
    }
  });
  it('gradients match finite differences', () => {
    gradcheck((x) => permute(x, [2, 0, 3, 1]), [randTensor([2, 3, 4, 3], 10)]);
    gradcheck((x) => transpose(x, 0, -1), [randTensor([3, 2, 5], 11)]);
  });
  it('closed forms: a known 2x3 transpose; permute then its inverse is the identity', () => {
    const t = transpose(tensor([1, 2, 3, 4, 5, 6], [2, 3]), 0, 1);
    assert.deepEqual(t.shape, [3, 2]);
    assert.deepEqual([...hostBuffer(t)], [1, 4, 2, 5, 3, 6]);
    const x = randTensor([2, 5, 7, 3], 12);
    const nchw = permute(x, [0, 3, 1, 2]);
    assert.deepEqual(nchw.shape, [2, 3, 5, 7]);
    assert.deepEqual(hostBuffer(permute(nchw, [0, 2, 3, 1])), hostBuffer(x));
  });
  it('propagates NaN to the permuted position on both backends', () => {
    for (const b of ['native', 'reference'] as const) {
      const x = tensor([0, 1, NaN, 3, 4, 5], [2, 3]); // NaN at (0, 2)
      const y = withBackend(b, () => transpose(x, 0, 1)); // now at (2, 0) = flat 4
      assert.ok(Number.isNaN(hostBuffer(y)[4]!), `${b}: ${[...hostBuffer(y)]}`);
      assert.equal([...hostBuffer(y)].filter(Number.isNaN).length, 1);
    }
  });
  it('rejects repeated axes, wrong axis counts and out-of-range axes', () => {
    const x = randTensor([2, 3, 4], 13);
    assert.throws(() => permute(x, [0, 1, 1]), /permute: axis 1 appears twice in axes \[0,1,1\]/);
    assert.throws(() => permute(x, [0, 1]), /permute: axes \[0,1\] has 2 entries, expected one per axis of x \[2, 3, 4\] \(rank 3\)/);
    assert.throws(() => permute(x, [0, 1, 3]), /permute: 'axes entry' must be an integer axis in \[-3, 2\] \(rank 3\), found 3/);
    assert.throws(() => transpose(x, 0, 5), /transpose: 'axis1' must be an integer axis/);
    assert.throws(() => permute('x' as never, [0]), /permute: input 'x' must be a Tensor, found string/);
  });
  it('the addon rejects wrong-size buffers and bad permutations with JS errors naming the argument', () => {
    const f = addon()['permute'] as unknown as (...a: unknown[]) => void;
    const shape = Int32Array.from([2, 3]);
    const axes = Int32Array.from([1, 0]);
    assert.throws(() => f(new Float32Array(6), shape, axes, new Float32Array(5)), (e: Error) => e instanceof RangeError && /permute: argument 'out' has 5 elements, expected 6/.test(e.message));
    assert.throws(() => f(new Float32Array(7), shape, axes, new Float32Array(6)), /permute: argument 'x' has 7 elements, expected 6/);
    assert.throws(() => f(new Float32Array(6), shape, Int32Array.from([1, 1]), new Float32Array(6)), /permute: argument 'axes' is not a permutation/);
    assert.throws(() => f(new Float32Array(6), [2, 3], axes, new Float32Array(6)), (e: Error) => e instanceof TypeError && /'shape' must be an Int32Array, found Array/.test(e.message));
    assert.throws(() => nativeLayout.permute(new Float32Array(6), [2, 3], [1, 0], new Float32Array(4)), NativeKernelError);
  });
});
