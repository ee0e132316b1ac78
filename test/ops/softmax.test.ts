// Tests of softmax over the last axis: native vs reference, gradient by finite differences,
// closed forms (rows sum to 1, equal values give the uniform distribution, shift invariance,
// no overflow for large inputs), NaN propagation and bad input.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { softmax } from '../../src/ops/softmax.js';
import { tensor, full } from '../../src/tensor/create.js';
import { withBackend } from '../../src/backend/backend.js';
import { nativeNorm } from '../../src/backend/native/norm.js';
import { fn } from '../../src/backend/native/loader.js';
import { NativeKernelError } from '../../src/tensor/errors.js';
import { assertBackendsAgree } from '../helpers/backends.js';
import { assertClose } from '../helpers/closeness.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { randTensor } from '../helpers/data.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

const BACKENDS = ['native', 'reference'] as const;

describe('softmax', () => {
  for (const shape of [[3, 5, 7], [1, 1], [2, 49, 49], [1000, 33]]) {
    it(`native matches reference on [${shape}], forward and backward`, () => {
      assertBackendsAgree(() => {
        const x = randTensor(shape, 3, { lo: -6, hi: 6, requiresGrad: true });
        const y = softmax(x);
        y.backward(randTensor(shape, 4));
        return [y, x.grad!];
      }, { nmseTol: 1e-10, absTol: 1e-6 });
    });
  }

  it('gradient matches finite differences', () => {
    gradcheck((x) => softmax(x!), [randTensor([2, 3, 5], 11, { lo: -3, hi: 3 })]);
    gradcheck((x) => softmax(x!), [randTensor([4, 1], 12)]);
  });

  it('closed forms: rows sum to 1; equal values give 1/D; shifting a row changes nothing; large inputs do not overflow', () => {
    for (const b of BACKENDS) {
      withBackend(b, () => {
        const y = softmax(randTensor([6, 11], 21, { lo: -10, hi: 10 }));
        for (let i = 0; i < 6; i++) {
          let s = 0;
          for (let j = 0; j < 11; j++) s += hostBuffer(y)[i * 11 + j]!;
          assert.ok(Math.abs(s - 1) < 1e-6, `${b}: row ${i} sums to ${s}`);
        }
        assertClose(hostBuffer(softmax(full([2, 7], 3.25))), new Array(14).fill(1 / 7), { nmseTol: 1e-14, absTol: 1e-7, what: `${b} uniform` });
        const big = hostBuffer(softmax(tensor([1000, 1001, 1002], [1, 3])));
        const e = [Math.exp(-2), Math.exp(-1), 1];
        const z = e[0]! + e[1]! + e[2]!;
        assertClose(big, e.map((v) => v / z), { nmseTol: 1e-12, absTol: 1e-6, what: `${b} large inputs` });
        assertClose(hostBuffer(softmax(tensor([1, 2, 3], [3]))), big, { nmseTol: 1e-12, absTol: 1e-6, what: `${b} shift invariance` });
      });
    }
  });

  it('a NaN makes its own row NaN and leaves the others finite, on both backends', () => {
    for (const b of BACKENDS) {
      const x = randTensor([3, 4], 31);
      hostBuffer(x)[5] = NaN;
      const y = withBackend(b, () => softmax(x));
      for (let k = 0; k < 12; k++) assert.equal(Number.isNaN(hostBuffer(y)[k]!), k >= 4 && k < 8, `${b}: y[${k}] = ${hostBuffer(y)[k]}`);
      // -Infinity entries get probability 0.
      const m = withBackend(b, () => softmax(tensor([0, -Infinity, 0], [3])));
      assertClose(hostBuffer(m), [0.5, 0, 0.5], { what: `${b} masked` });
    }
  });

  it('rejects bad input with messages naming the op, input, expected and found', () => {
    assert.throws(() => softmax(null as never), /softmax: input 'x' must be a Tensor, found null/);
    assert.throws(() => softmax(full([], 1)), /softmax: input 'x' must have rank >= 1/);
    const f = (k: number): Float32Array => new Float32Array(k);
    assert.throws(() => nativeNorm.softmaxForward(f(12), 3, 4, f(13)), (e: Error) =>
      e instanceof NativeKernelError && /softmaxForward: argument 'y' has 13 elements, expected 12/.test(e.message));
    assert.throws(() => nativeNorm.softmaxBackward(f(12), f(12), 3, 4, f(4)), /softmaxBackward: argument 'gx' has 4 elements, expected 12/);
    const raw = fn<(...a: unknown[]) => void>('softmaxForward');
    assert.throws(() => raw(f(12), f(12), 3, 0), /softmaxForward: argument 'd' must be an integer >= 1, found 0/);
    assert.throws(() => raw(f(12), [1, 2], 3, 4), (e: Error) => e instanceof TypeError && /argument 'y' must be a Float32Array, found Array/.test(e.message));
  });
});
