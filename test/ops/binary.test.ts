/** Broadcasting add/sub/mul/div: native vs reference, gradients, closed forms, errors. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { add, sub, mul, div } from '../../src/ops/binary.js';
import { BINARY_OPS, broadcastShapes, type BinaryOp } from '../../src/backend/kernels/binary.js';
import { tensor, scalar } from '../../src/tensor/create.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { withBackend, backend } from '../../src/backend/backend.js';
import { addon } from '../../src/backend/native/loader.js';
import { DTypeError, NativeKernelError, ShapeError, ArgumentError } from '../../src/tensor/errors.js';
import { assertBackendsAgree } from '../helpers/backends.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { randTensor, rng } from '../helpers/data.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

const OPS: Record<BinaryOp, (a: Tensor, b: Tensor) => Tensor> = { add, sub, mul, div };

// Shape pairs: equal, odd broadcasts, scalars, and the fast paths (bias over channels,
// per-sample scale), the last ones big enough for the parallel path.
const PAIRS: [number[], number[]][] = [
  [[2, 3, 4, 5], [2, 3, 4, 5]],
  [[3, 1, 5], [4, 1]],
  [[1], [2, 3, 4]],
  [[], [2, 3]],
  [[2, 3], []],
  [[], []],
  [[4, 1, 6], [1, 5, 1]],
  [[2, 5, 7, 3], [3]],
  [[3, 1, 1, 1], [3, 4, 5, 6]],
  [[2, 33, 17, 19], [2, 33, 17, 19]],
  [[4, 16, 16, 24], [24]],
  [[4, 1, 1, 1], [4, 16, 16, 24]],
  [[3, 1, 40, 5], [3, 70, 1, 5]],
];

describe('broadcasting binary ops', () => {
  for (const op of BINARY_OPS) {
    for (const [sa, sb] of PAIRS) {
      it(`${op} ${JSON.stringify(sa)} with ${JSON.stringify(sb)}: native matches reference, forward and backward`, () => {
        assertBackendsAgree(() => {
          const a = randTensor(sa, 1, { requiresGrad: true });
          // Keep divisors away from 0.
          const b = randTensor(sb, 2, { requiresGrad: true, ...(op === 'div' ? { lo: 0.5, hi: 2 } : {}) });
          const y = OPS[op](a, b);
          y.backward(randTensor([...y.shape], 3));
          return [y, a.grad!, b.grad!];
        }, { nmseTol: 1e-12 });
      });
    }
    it(`${op}: gradients match finite differences, including broadcast inputs`, () => {
      const pos = op === 'div' ? { lo: 0.5, hi: 2 } : {};
      gradcheck(OPS[op], [randTensor([3, 1, 5], 4), randTensor([4, 1], 5, pos)]);
      gradcheck(OPS[op], [randTensor([1], 6), randTensor([2, 3, 2], 7, pos)]);
      gradcheck(OPS[op], [randTensor([2, 3], 8), randTensor([], 9, pos)]);
      gradcheck(OPS[op], [randTensor([2, 4], 10), randTensor([2, 4], 11, pos)]);
    });
    it(`${op}: NaN propagates on both backends (same shape and broadcast)`, () => {
      for (const be of ['native', 'reference'] as const) {
        const y = withBackend(be, () => OPS[op](tensor([NaN, 1, 2], [3]), tensor([2, 2, 2], [3])));
        assert.ok(Number.isNaN(hostBuffer(y)[0]) && !Number.isNaN(hostBuffer(y)[1]), `${be}: ${op} gave ${Array.from(hostBuffer(y))}`);
        const z = withBackend(be, () => OPS[op](tensor([1, 2, 3, 4], [2, 2]), tensor([NaN], [1])));
        assert.ok(Array.from(hostBuffer(z)).every(Number.isNaN), `${be}: ${op} with a NaN scalar gave ${Array.from(hostBuffer(z))}`);
      }
    });
  }

  it('random broadcast pairs (ranks 0-5): native matches reference for every op', () => {
    const r = rng(77);
    const pick = (n: number): number => Math.floor(r() * n);
    for (let trial = 0; trial < 150; trial++) {
      const out = Array.from({ length: pick(6) }, () => 1 + pick(5));
      // Each operand drops some leading axes and sets some others to 1.
      const derive = (): number[] => out.slice(pick(out.length + 1)).map((d) => (r() < 0.35 ? 1 : d));
      const [sa, sb] = r() < 0.5 ? [derive(), out] : [out, derive()];
      const op = BINARY_OPS[pick(4)]!;
      assertBackendsAgree(() => {
        const a = randTensor(sa, trial, { requiresGrad: true });
        const b = randTensor(sb, trial + 1000, { requiresGrad: true, lo: 0.5, hi: 2 });
        const y = OPS[op](a, b);
        y.backward(randTensor([...y.shape], 3));
        return [y, a.grad!, b.grad!];
      }, { nmseTol: 1e-12, what: `${op} ${JSON.stringify(sa)} ${JSON.stringify(sb)}` });
    }
  });

  it('closed forms: bias over channels, per-sample scale, IEEE division', () => {
    const x = tensor([1, 2, 3, 4, 5, 6], [1, 1, 2, 3]);
    assert.deepEqual(Array.from(hostBuffer(add(x, tensor([10, 20, 30], [3])))), [11, 22, 33, 14, 25, 36]);
    const s = mul(tensor([2, -1], [2, 1, 1, 1]), tensor([1, 2, 3, 4], [2, 1, 1, 2]));
    assert.deepEqual(s.shape, [2, 1, 1, 2]);
    assert.deepEqual(Array.from(hostBuffer(s)), [2, 4, -3, -4]);
    assert.deepEqual(Array.from(hostBuffer(sub(scalar(1), tensor([1, 2], [2])))), [0, -1]);
    const d = div(tensor([1, -1, 0], [3]), tensor([0], [1]));
    assert.deepEqual(Array.from(hostBuffer(d)).slice(0, 2), [Infinity, -Infinity]);
    assert.ok(Number.isNaN(hostBuffer(d)[2]));
    assert.deepEqual(broadcastShapes('add', { a: [3, 1, 5], b: [4, 1] }), [3, 4, 5]);
  });

  it('closed forms: gradients of a bias and of a per-sample scale are sums', () => {
    const x = tensor([1, 2, 3, 4, 5, 6], [2, 3], { requiresGrad: true });
    const bias = tensor([0, 0, 0], [3], { requiresGrad: true });
    const k = tensor([2, 3], [2, 1], { requiresGrad: true });
    mul(add(x, bias), k).backward(tensor([1, 1, 1, 1, 1, 1], [2, 3]));
    assert.deepEqual(Array.from(hostBuffer(bias.grad!)), [5, 5, 5]);
    assert.deepEqual(Array.from(hostBuffer(k.grad!)), [6, 15]);
    assert.deepEqual(Array.from(hostBuffer(x.grad!)), [2, 2, 2, 3, 3, 3]);
  });

  it('the same input on both sides accumulates both gradients', () => {
    const x = tensor([3], [1], { requiresGrad: true });
    mul(x, x).backward(tensor([1], [1]));
    assert.equal(x.grad!.item(), 6);
  });

  it('rejects incompatible shapes, naming both shapes and the axis', () => {
    assert.throws(
      () => add(tensor([1, 2, 3, 4, 5, 6], [2, 3]), tensor([1, 2, 3, 4], [2, 2])),
      (e: Error) =>
        e instanceof ShapeError &&
        /add: cannot broadcast 'a' of shape \[2, 3\] with 'b' of shape \[2, 2\]: axis -1 \(counted from the end\) has size 3 in 'a' and 2 in 'b'/.test(e.message),
    );
    assert.throws(() => mul(randTensor([3, 4, 5], 1), randTensor([2, 5], 2)), /mul: cannot broadcast .*axis -2/);
  });

  it('rejects a non-tensor and a float64/float32 mix', () => {
    assert.throws(() => sub([1, 2] as never, scalar(1)), (e: Error) => e instanceof ArgumentError && /sub: input 'a' must be a Tensor, found an Array/.test(e.message));
    assert.throws(() => div(scalar(1), 2 as never), /div: input 'b' must be a Tensor, found number/);
    assert.throws(
      () => add(scalar(1), scalar(2, { dtype: 'float64' })),
      (e: Error) => e instanceof DTypeError && /add: input 'b' is float64 but 'a' is float32/.test(e.message),
    );
  });

  it('float64 runs on the reference kernels, whichever backend is current', () => {
    const a = randTensor([2, 3], 1, { dtype: 'float64' });
    const y = withBackend('reference', () => add(a, a));
    assert.equal(y.dtype, 'float64');
    const z = withBackend('native', () => add(a, a));
    assert.equal(z.dtype, 'float64');
    assert.deepEqual(z.toArray(), y.toArray());
  });

  it('the addon rejects wrong-size buffers and bad shapes with JS errors naming the op and argument', () => {
    const f = addon()['binary'] as unknown as (...a: unknown[]) => void;
    const F = (n: number): Float32Array => new Float32Array(n);
    const S = (...d: number[]): Int32Array => Int32Array.from(d);
    assert.throws(() => f(0, F(3), S(4), F(4), S(4), F(4), S(4)), (e: Error) => e instanceof RangeError && /add: argument 'a' has 3 elements, expected 4/.test(e.message));
    assert.throws(() => f(2, F(4), S(4), F(4), S(4), F(5), S(4)), /mul: argument 'out' has 5 elements, expected 4/);
    assert.throws(() => f(1, F(3), S(3), F(2), S(2), F(3), S(3)), /sub: argument 'b' of shape \[2\] does not broadcast to \[3\]/);
    assert.throws(() => f(3, F(4), S(4), F(4), S(4), F(4), S(2, 2)), /div: argument 'a' of shape \[4\] does not broadcast to \[2, 2\]/);
    assert.throws(() => f(0, F(1), S(-1), F(1), S(1), F(1), S(1)), /add: argument 'aShape' has a negative size/);
    assert.throws(() => f(9, F(1), S(1), F(1), S(1), F(1), S(1)), /unknown op code 9/);
    assert.throws(() => f(0, [1], S(1), F(1), S(1), F(1), S(1)), (e: Error) => e instanceof TypeError && /add: argument 'a' must be a Float32Array, found Array/.test(e.message));
    assert.throws(() => f(0, F(1), [1], F(1), S(1), F(1), S(1)), /add: argument 'aShape' must be an Int32Array/);
    assert.throws(() => f(), /must be a number, found nothing/);
    // Through the typed backend, the failure is a NativeKernelError.
    assert.throws(
      () => withBackend('native', () => backend().binary('add', F(3), [4], F(4), [4], F(4), [4])),
      (e: Error) => e instanceof NativeKernelError && /add: argument 'a' has 3 elements/.test(e.message),
    );
  });
});
