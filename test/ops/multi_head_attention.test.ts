// Tests of the fused multiHeadAttention: native vs reference (forward and all three gradients,
// odd shapes, the U-Net's 7x7 case), equality with the composed path (heads split into the
// batch, scaledDotProductAttention, heads merged), float64 finite-difference gradients, NaN
// propagation and bad input.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { multiHeadAttention, scaledDotProductAttention } from '../../src/ops/attention.js';
import { permute, reshape } from '../../src/ops/shape.js';
import { withBackend } from '../../src/backend/backend.js';
import { ArgumentError, ShapeError } from '../../src/tensor/errors.js';
import { assertBackendsAgree } from '../helpers/backends.js';
import { assertClose } from '../helpers/closeness.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { randTensor } from '../helpers/data.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

/** The composed path: (B, L, H*Dh) -> (B*H, L, Dh), attention, back. */
function composed(q: Tensor, k: Tensor, v: Tensor, heads: number, scale: number): Tensor {
  const [b, lq, c] = q.shape as [number, number, number];
  const lk = k.shape[1]!;
  const dh = c / heads;
  const split = (t: Tensor, l: number): Tensor => reshape(permute(reshape(t, [b, l, heads, dh]), [0, 2, 1, 3]), [b * heads, l, dh]);
  const o = scaledDotProductAttention(split(q, lq), split(k, lk), split(v, lk), { scale });
  return reshape(permute(reshape(o, [b, heads, lq, dh]), [0, 2, 1, 3]), [b, lq, c]);
}

describe('multiHeadAttention', () => {
  // Odd shapes: batch 1, Lq != Lk, one head, head size 1, channels not a multiple of 8; the
  // last is the reference U-Net's attention at 7x7 (8 heads of 8 channels).
  const CASES = [
    { b: 2, lq: 5, lk: 7, heads: 3, dh: 2 },
    { b: 1, lq: 1, lk: 9, heads: 1, dh: 5 },
    { b: 3, lq: 4, lk: 1, heads: 2, dh: 1 },
    { b: 2, lq: 49, lk: 49, heads: 8, dh: 8 },
  ];
  for (const { b, lq, lk, heads, dh } of CASES) {
    const c = heads * dh;
    const inputs = (): Tensor[] => [randTensor([b, lq, c], 1, { requiresGrad: true }), randTensor([b, lk, c], 2, { requiresGrad: true }), randTensor([b, lk, c], 3, { requiresGrad: true })];
    it(`native matches reference for q [${b}, ${lq}, ${c}], k/v [${b}, ${lk}, ${c}], ${heads} heads, forward and backward`, () => {
      assertBackendsAgree(() => {
        const [q, k, v] = inputs() as [Tensor, Tensor, Tensor];
        const o = multiHeadAttention(q, k, v, { heads });
        o.backward(randTensor([b, lq, c], 4));
        return [o, q.grad!, k.grad!, v.grad!];
      });
    });
    it(`equals the composed split-heads path for ${heads} heads of ${dh} (${lq} queries, ${lk} keys), gradients included`, () => {
      const scale = 0.7;
      const run = (f: (q: Tensor, k: Tensor, v: Tensor) => Tensor): Tensor[] => {
        const [q, k, v] = inputs() as [Tensor, Tensor, Tensor];
        const o = f(q, k, v);
        o.backward(randTensor([b, lq, c], 4));
        return [o, q.grad!, k.grad!, v.grad!];
      };
      const fused = run((q, k, v) => multiHeadAttention(q, k, v, { heads, scale }));
      const ref = run((q, k, v) => composed(q, k, v, heads, scale));
      fused.forEach((t, i) => assertClose(hostBuffer(t), hostBuffer(ref[i]!), { nmseTol: 1e-11, absTol: 1e-5, what: `output ${i}` }));
    });
  }

  it('has the gradient of its definition (float64 central differences, q, k and v)', () => {
    gradcheck((q, k, v) => multiHeadAttention(q!, k!, v!, { heads: 2, scale: 0.9 }), [randTensor([2, 3, 4], 5), randTensor([2, 5, 4], 6), randTensor([2, 5, 4], 7)]);
  });

  it('propagates NaN from a key to every query of that head only, on both backends', () => {
    for (const name of ['native', 'reference'] as const) {
      withBackend(name, () => {
        const q = randTensor([1, 3, 4], 1), k = randTensor([1, 2, 4], 2), v = randTensor([1, 2, 4], 3);
        hostBuffer(k)[1] = NaN; // key 0, channel 1: head 0 of 2 (channels 0-1)
        const o = multiHeadAttention(q, k, v, { heads: 2 });
        for (let i = 0; i < 3; i++) {
          assert.ok(Number.isNaN(hostBuffer(o)[i * 4]!) && Number.isNaN(hostBuffer(o)[i * 4 + 1]!), `${name}: head 0 of query ${i} is NaN`);
          assert.ok(Number.isFinite(hostBuffer(o)[i * 4 + 2]!) && Number.isFinite(hostBuffer(o)[i * 4 + 3]!), `${name}: head 1 of query ${i} stays finite`);
        }
      });
    }
  });

  it('rejects bad input with errors naming the argument', () => {
    const q = randTensor([2, 3, 4], 1), k = randTensor([2, 5, 4], 2);
    assert.throws(() => multiHeadAttention(q, k, randTensor([2, 4, 4], 3), { heads: 2 }), (e: Error) => e instanceof ShapeError && /'v' has shape \[2, 4, 4\], expected \[2, 5, 4\]/.test(e.message));
    assert.throws(() => multiHeadAttention(q, randTensor([2, 5, 6], 2), k, { heads: 2 }), (e: Error) => e instanceof ShapeError && /'k'/.test(e.message));
    assert.throws(() => multiHeadAttention(q, k, k, { heads: 3 }), (e: Error) => e instanceof ArgumentError && /'heads' must be a positive integer dividing the channels C=4, found 3/.test(e.message));
    assert.throws(() => multiHeadAttention(q, k, k, { heads: 2, scale: NaN }), (e: Error) => e instanceof ArgumentError && /'scale'/.test(e.message));
    assert.throws(() => multiHeadAttention(randTensor([3, 4], 1), k, k, { heads: 2 }), ShapeError);
  });
});
