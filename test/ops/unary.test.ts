import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as ops from '../../src/ops/unary.js';
import { UNARY_OPS } from '../../src/backend/kernels/unary.js';
import { tensor } from '../../src/tensor/create.js';
import { withBackend } from '../../src/backend/backend.js';
import { assertBackendsAgree } from '../helpers/backends.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { randTensor } from '../helpers/data.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

// log and sqrt need positive inputs.
const domain = (op: string): { lo: number; hi: number } => (op === 'log' || op === 'sqrt' ? { lo: 0.2, hi: 3 } : { lo: -3, hi: 3 });

describe('unary ops', () => {
  for (const op of UNARY_OPS) {
    it(`${op}: native matches reference on an odd shape, forward and backward`, () => {
      assertBackendsAgree(() => {
        const x = randTensor([3, 5, 7, 3], 11, { ...domain(op), requiresGrad: true });
        const y = ops.unary(op, x);
        y.backward(randTensor([3, 5, 7, 3], 12));
        return [y, x.grad!];
      }, { nmseTol: 1e-12 });
    });
    it(`${op}: gradient matches finite differences`, () => {
      gradcheck((x) => ops.unary(op, x), [randTensor([2, 3, 5], 21, domain(op))]);
    });
    it(`${op}: NaN propagates on both backends`, () => {
      for (const b of ['native', 'reference'] as const) {
        const y = withBackend(b, () => ops.unary(op, tensor([NaN, 1], [2])));
        assert.ok(Number.isNaN(hostBuffer(y)[0]), `${b}: ${op}(NaN) = ${hostBuffer(y)[0]}`);
      }
    });
  }
  it('closed forms: silu(0)=0, sigmoid(0)=0.5, exp(log 2)=2', () => {
    assert.equal(ops.silu(tensor([0], [1])).item(), 0);
    assert.equal(ops.sigmoid(tensor([0], [1])).item(), 0.5);
    assert.ok(Math.abs(ops.exp(ops.log(tensor([2], [1]))).item() - 2) < 1e-6);
  });
  it('rejects a non-tensor with a message naming the op and input', () => {
    assert.throws(() => ops.silu([1, 2] as never), /silu: input 'x' must be a Tensor, found an Array/);
  });
});
