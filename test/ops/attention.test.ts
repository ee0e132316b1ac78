// Tests of scaledDotProductAttention: native vs reference, gradients of q, k and v by finite
// differences, closed forms (one key returns v; equal keys average v; a direct evaluation of
// softmax(alpha q k^T) v), NaN propagation and bad input.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { scaledDotProductAttention as sdpa } from '../../src/ops/attention.js';
import { withBackend } from '../../src/backend/backend.js';
import { ArgumentError, DTypeError, ShapeError } from '../../src/tensor/errors.js';
import { assertBackendsAgree } from '../helpers/backends.js';
import { assertClose } from '../helpers/closeness.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { randTensor } from '../helpers/data.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

const BACKENDS = ['native', 'reference'] as const;

/** softmax(scale q k^T) v evaluated directly in doubles. */
function naive(q: Tensor, k: Tensor, v: Tensor, scale: number): number[] {
  const [b, lq, d] = q.shape as [number, number, number];
  const [, lk] = k.shape as [number, number, number];
  const dv = v.shape[2]!;
  const out: number[] = [];
  for (let n = 0; n < b; n++) {
    for (let i = 0; i < lq; i++) {
      const s = Array.from({ length: lk }, (_, j) => {
        let dot = 0;
        for (let t = 0; t < d; t++) dot += hostBuffer(q)[(n * lq + i) * d + t]! * hostBuffer(k)[(n * lk + j) * d + t]!;
        return scale * dot;
      });
      const m = Math.max(...s);
      const e = s.map((x) => Math.exp(x - m));
      const z = e.reduce((a, x) => a + x, 0);
      for (let c = 0; c < dv; c++) {
        let acc = 0;
        for (let j = 0; j < lk; j++) acc += (e[j]! / z) * hostBuffer(v)[(n * lk + j) * dv + c]!;
        out.push(acc);
      }
    }
  }
  return out;
}

describe('scaledDotProductAttention', () => {
  // Odd shapes: batch 1, Lq != Lk, D != Dv, sizes not multiples of 8; the last is the U-Net's
  // 7x7 attention with 64 channels.
  const CASES = [
    { b: 2, lq: 5, lk: 7, d: 3, dv: 6 },
    { b: 1, lq: 1, lk: 9, d: 10, dv: 1 },
    { b: 3, lq: 4, lk: 1, d: 2, dv: 5 },
    { b: 2, lq: 49, lk: 49, d: 64, dv: 64 },
  ];
  for (const { b, lq, lk, d, dv } of CASES) {
    it(`native matches reference for q [${b}, ${lq}, ${d}], k [${b}, ${lk}, ${d}], v [${b}, ${lk}, ${dv}], forward and backward`, () => {
      assertBackendsAgree(() => {
        const q = randTensor([b, lq, d], 1, { requiresGrad: true });
        const k = randTensor([b, lk, d], 2, { requiresGrad: true });
        const v = randTensor([b, lk, dv], 3, { requiresGrad: true });
        const out = sdpa(q, k, v);
        out.backward(randTensor([b, lq, dv], 4));
        return [out, q.grad!, k.grad!, v.grad!];
      }, { nmseTol: 1e-10, absTol: 1e-5 });
    });
  }

  it('gradients of q, k and v match finite differences (default and explicit scale)', () => {
    const inputs = (): Tensor[] => [randTensor([2, 3, 4], 11, { lo: -2, hi: 2 }), randTensor([2, 5, 4], 12, { lo: -2, hi: 2 }), randTensor([2, 5, 3], 13)];
    gradcheck((q, k, v) => sdpa(q!, k!, v!), inputs());
    gradcheck((q, k, v) => sdpa(q!, k!, v!, { scale: 0.7 }), inputs());
  });

  it('closed forms: one key returns v; equal keys average v; a direct evaluation agrees', () => {
    for (const be of BACKENDS) {
      withBackend(be, () => {
        // One key: the softmax over a single score is 1, so every query gets that key's value.
        const v1 = randTensor([2, 1, 3], 21);
        const out1 = sdpa(randTensor([2, 4, 5], 22), randTensor([2, 1, 5], 23), v1);
        assertClose(hostBuffer(out1), Array.from({ length: 2 }, (_, n) => Array.from({ length: 4 }, () => Array.from(hostBuffer(v1).subarray(n * 3, n * 3 + 3)))).flat(2), { what: `${be} one key` });
        // Equal keys: uniform weights, so the output is the mean of the values.
        const k = randTensor([1, 1, 4], 24);
        const kk = randTensor([1, 6, 4], 0);
        for (let j = 0; j < 6; j++) hostBuffer(kk).set(hostBuffer(k), j * 4);
        const v = randTensor([1, 6, 2], 25);
        const mean = [0, 1].map((c) => Array.from({ length: 6 }, (_, j) => hostBuffer(v)[j * 2 + c]!).reduce((a, x) => a + x, 0) / 6);
        assertClose(hostBuffer(sdpa(randTensor([1, 3, 4], 26), kk, v)), [...mean, ...mean, ...mean], { what: `${be} equal keys` });
        // Direct evaluation, default scale 1/sqrt(D) and an explicit one.
        const q = randTensor([2, 3, 4], 27, { lo: -2, hi: 2 });
        const kr = randTensor([2, 5, 4], 28, { lo: -2, hi: 2 });
        const vr = randTensor([2, 5, 3], 29);
        assertClose(hostBuffer(sdpa(q, kr, vr)), naive(q, kr, vr, 0.5), { nmseTol: 1e-12, absTol: 1e-6, what: `${be} direct` });
        assertClose(hostBuffer(sdpa(q, kr, vr, { scale: 2 })), naive(q, kr, vr, 2), { nmseTol: 1e-12, absTol: 1e-6, what: `${be} direct, scale 2` });
      });
    }
  });

  it('NaN propagates: a NaN in a query spoils only that query; a NaN in a value spoils that feature for every query', () => {
    for (const be of BACKENDS) {
      const q = randTensor([1, 3, 2], 31);
      const k = randTensor([1, 4, 2], 32);
      const v = randTensor([1, 4, 2], 33);
      hostBuffer(q)[2] = NaN; // query 1
      const out = withBackend(be, () => sdpa(q, k, v));
      for (let i = 0; i < 6; i++) assert.equal(Number.isNaN(hostBuffer(out)[i]!), i === 2 || i === 3, `${be}: out[${i}] = ${hostBuffer(out)[i]}`);
      hostBuffer(q)[2] = 0.5;
      hostBuffer(v)[5] = NaN; // key 2, feature 1
      const out2 = withBackend(be, () => sdpa(q, k, v));
      for (let i = 0; i < 6; i++) assert.equal(Number.isNaN(hostBuffer(out2)[i]!), i % 2 === 1, `${be}: out[${i}] = ${hostBuffer(out2)[i]}`);
    }
  });

  it('rejects bad input with messages naming the op, input, expected and found', () => {
    const q = randTensor([2, 3, 4], 1);
    const k = randTensor([2, 5, 4], 2);
    const v = randTensor([2, 5, 6], 3);
    assert.throws(() => sdpa(randTensor([3, 4], 1), k, v), (e: Error) =>
      e instanceof ShapeError && /scaledDotProductAttention: input 'q' must have rank 3 \(B, Lq, D\), found shape \[3, 4\]/.test(e.message));
    assert.throws(() => sdpa(q, randTensor([2, 5, 3], 2), v), /input 'k' has shape \[2, 5, 3\], expected \[2, Lk, 4\]/);
    assert.throws(() => sdpa(q, randTensor([1, 5, 4], 2), v), /input 'k' has shape \[1, 5, 4\], expected \[2, Lk, 4\]/);
    assert.throws(() => sdpa(q, k, randTensor([2, 4, 6], 3)), /input 'v' has shape \[2, 4, 6\], expected \[2, 5, Dv\]/);
    assert.throws(() => sdpa(q, k, v, { scale: Infinity }), (e: Error) => e instanceof ArgumentError && /option 'scale' must be a finite number, found Infinity/.test(e.message));
    assert.throws(() => sdpa(q, k, randTensor([2, 5, 6], 3, { dtype: 'float64' })), DTypeError);
    assert.throws(() => sdpa(q, undefined as never, v), /input 'k' must be a Tensor, found undefined/);
  });
});
