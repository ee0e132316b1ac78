/**
 * Matrix products: `matmul` (batched, optional transposes, a shared weight broadcast over the
 * batch, and a scale alpha as in attention's softmax(alpha Q K^T)) and `linear` (PyTorch's
 * y = x W^T + b). Gradients of C = alpha op(A) op(B):
 *   d op(A) = alpha dC op(B)^T,   d op(B) = alpha op(A)^T dC,
 * each computed by the same kernel with transposes chosen so nothing is copied; a broadcast B
 * gets the sum over the batch.
 */
import { Tensor, numel } from '../tensor/tensor.js';
import { emptyUninit, full } from '../tensor/create.js';
import type { Device, DeviceBuffer } from '../backend/device.js';
import { recordOp } from '../tensor/autograd.js';
import { expectTensor, expectRank, expectShape, sameDType, sameDevice } from '../tensor/check.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';
import type { MatmulParams } from '../backend/kernels/matmul.js';

export interface MatmulOptions {
  /** Use a's last two axes transposed: a is (..., K, M). */
  transA?: boolean;
  /** Use b's last two axes transposed: b is (..., N, K). */
  transB?: boolean;
  /** Scale of the product (default 1). */
  alpha?: number;
}

/** Runs the kernel, handling empty problems (no kernel call; a K = 0 product is 0, plus bias). */
function runMatmul(dev: Device, p: MatmulParams, a: DeviceBuffer, b: DeviceBuffer, bias: DeviceBuffer | null, c: DeviceBuffer): void {
  if (p.batch === 0 || p.m === 0 || p.n === 0) return;
  if (p.k === 0) {
    if (bias === null) dev.kernels.fill(c, 0);
    else dev.kernels.broadcastTo(bias, [p.n], c, [p.batch * p.m, p.n]);
    return;
  }
  dev.kernels.matmul(p, a, b, bias, c);
}

function expectBool(op: string, name: string, v: unknown): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw new ArgumentError(`${op}: option '${name}' must be a boolean, found ${typeof v}`);
  return v;
}

/**
 * alpha * op(a) op(b) over the last two axes. a is (..., M, K) (or (..., K, M) with transA), b is
 * (..., K, N) (or (..., N, K) with transB); the batch axes must be equal, or b may be a single
 * matrix shared by every batch entry. Returns (..., M, N).
 * @example const scores = matmul(q, k, { transB: true, alpha: 1 / Math.sqrt(d) }); // (B, T, T)
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const op = 'matmul';
  expectTensor(op, 'a', a);
  expectTensor(op, 'b', b);
  const transA = expectBool(op, 'transA', options.transA);
  const transB = expectBool(op, 'transB', options.transB);
  const alpha = options.alpha ?? 1;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha)) {
    throw new ArgumentError(`${op}: option 'alpha' must be a finite number, found ${String(alpha)}`);
  }
  const dtype = sameDType(op, { a, b });
  const dev = sameDevice(op, { a, b });
  if (a.rank < 2) throw new ShapeError(`${op}: input 'a' must have rank >= 2 (..., M, K), found shape ${fmtShape(a.shape)}`);
  if (b.rank < 2) throw new ShapeError(`${op}: input 'b' must have rank >= 2 (..., K, N), found shape ${fmtShape(b.shape)}`);
  const [a0, a1] = a.shape.slice(-2) as [number, number];
  const [b0, b1] = b.shape.slice(-2) as [number, number];
  const [M, K] = transA ? [a1, a0] : [a0, a1];
  const [Kb, N] = transB ? [b1, b0] : [b0, b1];
  if (K !== Kb) {
    throw new ShapeError(
      `${op}: inner sizes differ: 'a' ${fmtShape(a.shape)}${transA ? ' (transposed)' : ''} has K = ${K}, ` +
        `'b' ${fmtShape(b.shape)}${transB ? ' (transposed)' : ''} has K = ${Kb}`,
    );
  }
  const batchShape = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const shared = b.rank === 2;
  if (!shared && (bBatch.length !== batchShape.length || bBatch.some((d, i) => d !== batchShape[i]))) {
    throw new ShapeError(
      `${op}: batch axes differ: 'a' ${fmtShape(a.shape)} has ${fmtShape(batchShape)}, 'b' ${fmtShape(b.shape)} has ` +
        `${fmtShape(bBatch)}; they must be equal, or 'b' must be a single matrix (rank 2)`,
    );
  }
  const batch = numel(batchShape);
  // A shared b with untransposed a is one big product: fold a's batch into its rows.
  const fold = shared && !transA;
  const p: MatmulParams = {
    batch: fold ? 1 : batch,
    m: fold ? batch * M : M,
    n: N,
    k: K,
    transA,
    transB,
    broadcastA: false,
    broadcastB: shared && !fold,
    alpha,
  };
  const c = emptyUninit([...batchShape, M, N], dtype, dev);
  runMatmul(dev, p, a.storage, b.storage, null, c.storage);

  return recordOp(op, c, [a, b], (gc) => {
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    if (a.requiresGrad) {
      ga = emptyUninit(a.shape, dtype, dev);
      if (!transA) {
        // dA (M, K) = alpha dC op(B)^T
        runMatmul(dev, { ...p, m: p.m, n: K, k: N, transA: false, transB: !transB }, gc.storage, b.storage, null, ga.storage);
      } else {
        // dA (K, M) = alpha op(B) dC^T
        runMatmul(dev, 
          { ...p, m: K, n: M, k: N, transA: transB, transB: true, broadcastA: p.broadcastB, broadcastB: false },
          b.storage, gc.storage, null, ga.storage,
        );
      }
    }
    if (b.requiresGrad) {
      // With a broadcast b, each batch entry's gradient goes to a scratch slot, then they are summed.
      const slots = p.broadcastB ? p.batch : 1;
      const g = emptyUninit([slots * b.size], dtype, dev);
      const q = { ...p, broadcastA: false, broadcastB: false };
      if (!transB) {
        // dB (K, N) = alpha op(A)^T dC
        runMatmul(dev, { ...q, m: K, n: N, k: p.m, transA: !transA, transB: false }, a.storage, gc.storage, null, g.storage);
      } else {
        // dB (N, K) = alpha dC^T op(A)
        runMatmul(dev, { ...q, m: N, n: K, k: p.m, transA: true, transB: transA }, gc.storage, a.storage, null, g.storage);
      }
      gb = slots === 1 ? new Tensor(g.storage, b.shape, false, dev) : sumSlots(g, slots, b.shape);
    }
    return [ga, gb];
  });
}

/** Sums `slots` consecutive equal-length parts of `g` into a tensor of `shape` (in slot order, as float adds). */
function sumSlots(g: Tensor, slots: number, shape: readonly number[]): Tensor {
  const dev = g.device;
  const size = numel(shape);
  const parts = Array.from({ length: slots }, () => emptyUninit(shape, g.dtype, dev));
  dev.kernels.split(g.storage, 1, new Array<number>(slots).fill(size), parts.map((p) => p.storage));
  const out = parts[0]!;
  for (let s = 1; s < slots; s++) dev.kernels.axpy(out.storage, parts[s]!.storage, 1);
  return out;
}

/**
 * y = x W^T + b over the last axis of x (PyTorch's nn.Linear layout): x (..., in),
 * weight (out, in), bias (out) or none. Returns (..., out).
 * @example const h = linear(x, w, b); // x (B, 128), w (512, 128), b (512) -> (B, 512)
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  const op = 'linear';
  expectTensor(op, 'x', x);
  expectTensor(op, 'weight', weight);
  if (bias !== null && bias !== undefined) expectTensor(op, 'bias', bias);
  const b = bias ?? null;
  expectRank(op, 'weight', weight, 2, '(out, in)');
  if (x.rank < 1) throw new ShapeError(`${op}: input 'x' must have rank >= 1 (..., in), found shape ${fmtShape(x.shape)}`);
  const [outF, inF] = weight.shape as [number, number];
  const inX = x.shape[x.rank - 1]!;
  if (inX !== inF) {
    throw new ShapeError(`${op}: input 'weight' has shape ${fmtShape(weight.shape)}, expected in-features ${inX} (the last axis of x ${fmtShape(x.shape)})`);
  }
  if (b !== null) expectShape(op, 'bias', b, [outF]);
  const named = b === null ? { x, weight } : { x, weight, bias: b };
  const dtype = sameDType(op, named);
  const dev = sameDevice(op, named);
  const leading = x.shape.slice(0, -1);
  const rowCount = numel(leading);
  const p: MatmulParams = { batch: 1, m: rowCount, n: outF, k: inF, transA: false, transB: true, broadcastA: false, broadcastB: false, alpha: 1 };
  const y = emptyUninit([...leading, outF], dtype, dev);
  runMatmul(dev, p, x.storage, weight.storage, b === null ? null : b.storage, y.storage);

  const inputs = b === null ? [x, weight] : [x, weight, b];
  return recordOp(op, y, inputs, (gy) => {
    const base = { batch: 1, transA: false, transB: false, broadcastA: false, broadcastB: false, alpha: 1 };
    let gx: Tensor | null = null;
    let gw: Tensor | null = null;
    let gbias: Tensor | null = null;
    if (x.requiresGrad) {
      // dX (rows, in) = dY (rows, out) W (out, in)
      gx = emptyUninit(x.shape, dtype, dev);
      runMatmul(dev, { ...base, m: rowCount, n: inF, k: outF }, gy.storage, weight.storage, null, gx.storage);
    }
    if (weight.requiresGrad) {
      // dW (out, in) = dY^T X
      gw = emptyUninit(weight.shape, dtype, dev);
      runMatmul(dev, { ...base, m: outF, n: inF, k: rowCount, transA: true }, gy.storage, x.storage, null, gw.storage);
    }
    if (b !== null && b.requiresGrad) {
      // db (out) = 1^T dY: the column sums, as a (1, rows) x (rows, out) product.
      gbias = emptyUninit(b.shape, dtype, dev);
      runMatmul(dev, { ...base, m: 1, n: outF, k: rowCount }, full([rowCount], 1, { dtype, device: dev }).storage, gy.storage, null, gbias.storage);
    }
    return b === null ? [gx, gw] : [gx, gw, gbias];
  });
}
