// Tests of groupNorm and the fused groupNormSilu: native vs reference, gradients by finite
// differences, closed forms (per-group mean 0 / variance 1, a hand-computed case), the fused op
// against the composition silu(groupNorm(x)), NaN propagation and bad input.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { groupNorm, groupNormSilu } from '../../src/ops/group_norm.js';
import { silu } from '../../src/ops/unary.js';
import { tensor, ones, zeros } from '../../src/tensor/create.js';
import { withBackend } from '../../src/backend/backend.js';
import { nativeNorm } from '../../src/backend/native/norm.js';
import { addon, fn } from '../../src/backend/native/loader.js';
import { DTypeError, NativeKernelError, ShapeError, ArgumentError } from '../../src/tensor/errors.js';
import { assertBackendsAgree } from '../helpers/backends.js';
import { assertClose } from '../helpers/closeness.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { randTensor } from '../helpers/data.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

const OPS = { groupNorm, groupNormSilu } as const;

// Odd shapes: C not a multiple of 8, H != W, batch 1; the last one spans several reduction chunks
// and the parallel path of the native kernel.
const CASES: { shape: [number, number, number, number]; groups: number }[] = [
  { shape: [2, 5, 7, 6], groups: 3 },
  { shape: [1, 3, 4, 10], groups: 5 },
  { shape: [3, 2, 3, 5], groups: 1 },
  { shape: [2, 4, 3, 12], groups: 12 },
  { shape: [2, 28, 28, 32], groups: 8 },
];

/** Runs op forward and backward on fresh leaves; returns [y, gx, gGamma, gBeta]. */
function runWithGrads(op: typeof groupNorm, shape: number[], groups: number, seed: number): Tensor[] {
  const c = shape[3]!;
  const x = randTensor(shape, seed, { lo: -2, hi: 3, requiresGrad: true });
  const gamma = randTensor([c], seed + 1, { lo: 0.5, hi: 1.5, requiresGrad: true });
  const beta = randTensor([c], seed + 2, { requiresGrad: true });
  const y = op(x, groups, gamma, beta);
  y.backward(randTensor(shape, seed + 3));
  return [y, x.grad!, gamma.grad!, beta.grad!];
}

describe('groupNorm / groupNormSilu', () => {
  for (const [name, op] of Object.entries(OPS)) {
    for (const { shape, groups } of CASES) {
      it(`${name}: native matches reference on [${shape}] with ${groups} groups, forward and backward`, () => {
        assertBackendsAgree(() => runWithGrads(op, shape, groups, 7), { nmseTol: 1e-10, absTol: 2e-5 });
      });
    }

    it(`${name}: gradients of x, gamma and beta match finite differences`, () => {
      gradcheck((x, g, b) => op(x!, 2, g!, b!), [
        randTensor([2, 3, 2, 4], 31, { lo: -2, hi: 2 }),
        randTensor([4], 32, { lo: 0.5, hi: 1.5 }),
        randTensor([4], 33),
      ]);
      gradcheck((x, g, b) => op(x!, 3, g!, b!), [
        randTensor([1, 2, 3, 6], 34, { lo: -2, hi: 2 }),
        randTensor([6], 35, { lo: -1.5, hi: 1.5 }),
        randTensor([6], 36),
      ]);
    });

    it(`${name}: a NaN makes its own group NaN and leaves the others finite, on both backends`, () => {
      for (const b of ['native', 'reference'] as const) {
        const x = randTensor([2, 3, 2, 4], 41);
        hostBuffer(x)[4 * 2 + 1] = NaN; // sample 0, pixel 2, channel 1: group 0 of sample 0
        const y = withBackend(b, () => op(x, 2, ones([4]), zeros([4])));
        for (let p = 0; p < 6; p++) {
          for (let ch = 0; ch < 4; ch++) {
            const v0 = hostBuffer(y)[p * 4 + ch]!;
            const v1 = hostBuffer(y)[24 + p * 4 + ch]!;
            assert.equal(Number.isNaN(v0), ch < 2, `${b}: sample 0 pixel ${p} channel ${ch} = ${v0}`);
            assert.ok(Number.isFinite(v1), `${b}: sample 1 pixel ${p} channel ${ch} = ${v1}`);
          }
        }
      }
    });
  }

  it('closed form: before the affine each group has mean 0 and variance 1 (biased), per sample', () => {
    for (const b of ['native', 'reference'] as const) {
      const [n, h, w, c, groups] = [2, 5, 3, 10, 5];
      const x = randTensor([n, h, w, c], 51, { lo: -3, hi: 7 });
      const y = withBackend(b, () => groupNorm(x, groups, ones([c]), zeros([c]), 0));
      const cg = c / groups;
      for (let i = 0; i < n; i++) {
        for (let g = 0; g < groups; g++) {
          let s = 0;
          let ss = 0;
          for (let p = 0; p < h * w; p++) for (let j = 0; j < cg; j++) s += hostBuffer(y)[(i * h * w + p) * c + g * cg + j]!;
          const m = s / (h * w * cg);
          for (let p = 0; p < h * w; p++) for (let j = 0; j < cg; j++) ss += (hostBuffer(y)[(i * h * w + p) * c + g * cg + j]! - m) ** 2;
          assert.ok(Math.abs(m) < 1e-6, `${b}: sample ${i} group ${g} mean ${m}`);
          assert.ok(Math.abs(ss / (h * w * cg) - 1) < 1e-5, `${b}: sample ${i} group ${g} variance ${ss / (h * w * cg)}`);
        }
      }
    }
  });

  it('closed form: a hand-computed case with biased variance, eps and the affine (torch.nn.GroupNorm semantics)', () => {
    // One sample, 2x1 pixels, 4 channels, 2 groups: group 0 holds {1, 2, 3, 4} (channels 0, 1 of
    // both pixels), mean 2.5, biased variance 1.25; group 1 holds {10, 10, 10, 10}, variance 0.
    const x = tensor([1, 2, 10, 10, 3, 4, 10, 10], [1, 2, 1, 4]);
    const gamma = tensor([2, -1, 3, 1], [4]);
    const beta = tensor([0.5, 0, 1, -1], [4]);
    const eps = 1e-5;
    const r = 1 / Math.sqrt(1.25 + eps);
    const expected = [(1 - 2.5) * r * 2 + 0.5, (2 - 2.5) * r * -1, 1, -1, (3 - 2.5) * r * 2 + 0.5, (4 - 2.5) * r * -1, 1, -1];
    for (const b of ['native', 'reference'] as const) {
      const y = withBackend(b, () => groupNorm(x, 2, gamma, beta, eps));
      assertClose(hostBuffer(y), expected, { nmseTol: 1e-12, absTol: 1e-6, what: `${b} groupNorm` });
    }
  });

  it('groupNormSilu equals silu(groupNorm(x)) in value and in every gradient, on both backends', () => {
    for (const b of ['native', 'reference'] as const) {
      withBackend(b, () => {
        const shape = [2, 6, 5, 12];
        const fused = runWithGrads(groupNormSilu, shape, 4, 61);
        const composed = runWithGrads((x, g, gm, bt) => silu(groupNorm(x, g, gm, bt)), shape, 4, 61);
        fused.forEach((t, i) => assertClose(hostBuffer(t), hostBuffer(composed[i]!), { nmseTol: 1e-11, absTol: 1e-5, what: `${b} result ${i}` }));
      });
    }
  });

  it('native results are bitwise identical with 1 and 2 threads (fixed chunking and reduction order)', () => {
    const prev = addon().nativeInfo().threads;
    const run = (threads: number): Tensor[] => {
      addon().setNumThreads(threads);
      try {
        return runWithGrads(groupNormSilu, [2, 28, 28, 32], 8, 81);
      } finally {
        addon().setNumThreads(prev);
      }
    };
    const one = run(1);
    const two = run(2);
    one.forEach((t, i) => assert.deepEqual(hostBuffer(t), hostBuffer(two[i]!), `result ${i} differs between 1 and 2 threads`));
  });

  it('an empty batch gives an empty output and zero parameter gradients', () => {
    const [y, gx, gGamma, gBeta] = runWithGrads(groupNorm, [0, 3, 3, 4], 2, 91);
    assert.deepEqual([y!.shape, gx!.shape], [[0, 3, 3, 4], [0, 3, 3, 4]]);
    assert.deepEqual([...hostBuffer(gGamma!), ...hostBuffer(gBeta!)], new Array(8).fill(0));
  });

  it('rejects bad input with messages naming the op, input, expected and found', () => {
    const x = randTensor([2, 5, 5, 10], 71);
    assert.throws(() => groupNorm(x, 3, ones([10]), zeros([10])), (e: Error) =>
      e instanceof ShapeError && /groupNorm: channels C=10 .*\[2, 5, 5, 10\].* not divisible by groups=3/.test(e.message));
    assert.throws(() => groupNormSilu(x, 5, ones([7]), zeros([10])), (e: Error) =>
      e instanceof ShapeError && /groupNormSilu: input 'gamma' has shape \[7\], expected \[10\]/.test(e.message));
    assert.throws(() => groupNorm(x, 5, ones([10]), zeros([2, 5])), /input 'beta' has shape \[2, 5\], expected \[10\]/);
    assert.throws(() => groupNorm(x, 0, ones([10]), zeros([10])), ArgumentError);
    assert.throws(() => groupNorm(x, 2.5, ones([10]), zeros([10])), /'groups' must be an integer, found 2.5/);
    assert.throws(() => groupNorm(x, 5, ones([10]), zeros([10]), -1), /'eps' must be a finite number >= 0/);
    assert.throws(() => groupNorm(randTensor([10], 1), 5, ones([10]), zeros([10])), /rank >= 2/);
    assert.throws(() => groupNorm(x, 5, [1] as never, zeros([10])), /groupNorm: input 'gamma' must be a Tensor, found an Array/);
    assert.throws(() => groupNorm(x, 5, ones([10], { dtype: 'float64' }), zeros([10])), DTypeError);
  });

  it('the addon rejects wrong-size or wrong-type buffers with an error naming the kernel and argument', () => {
    const dims = { n: 2, s: 3, c: 4, groups: 2 };
    const f = (k: number): Float32Array => new Float32Array(k);
    assert.throws(() => nativeNorm.groupNormForward(f(24), f(4), f(4), dims, 1e-5, false, f(23), f(4), f(4)), (e: Error) =>
      e instanceof NativeKernelError && /groupNormForward: argument 'y' has 23 elements, expected 24/.test(e.message));
    assert.throws(() => nativeNorm.groupNormForward(f(24), f(3), f(4), dims, 1e-5, true, f(24), f(4), f(4)),
      /groupNormForward: argument 'gamma' has 3 elements, expected 4/);
    assert.throws(() => nativeNorm.groupNormForward(f(24), f(4), f(4), { ...dims, groups: 3 }, 1e-5, false, f(24), f(6), f(6)),
      /groupNormForward: channels c=4 are not divisible by groups=3/);
    assert.throws(() => nativeNorm.groupNormBackward(f(24), f(4), f(4), f(4), f(4), f(24), dims, false, f(24), f(4), f(5)),
      /groupNormBackward: argument 'gBeta' has 5 elements, expected 4/);
    assert.throws(() => nativeNorm.groupNormBackward(f(24), f(4), f(4), f(3), f(4), f(24), dims, true, f(24), f(4), f(4)),
      /groupNormBackward: argument 'mean' has 3 elements, expected 4/);
    // Straight to the raw addon function, bypassing the TypeScript wrapper.
    const raw = fn<(...a: unknown[]) => void>('groupNormForward');
    assert.throws(() => raw(new Float64Array(24), f(4), f(4), f(24), f(4), f(4), 2, 3, 4, 2, 1e-5, false),
      (e: Error) => e instanceof TypeError && /groupNormForward: argument 'x' must be a Float32Array, found Float64Array/.test(e.message));
    assert.throws(() => raw(f(24), f(4), f(4), f(24), f(4), f(4), 2, -3, 4, 2, 1e-5, false), /argument 's' must be an integer >= 0/);
    assert.throws(() => raw(f(24)), /groupNormForward: argument '\w+' must be a/);
    assert.throws(() => nativeNorm.groupNormForward(new Float64Array(24), f(4), f(4), dims, 1e-5, false, f(24), f(4), f(4)), DTypeError);
  });
});
