/**
 * Embedding lookup (class labels -> vectors, as in diffusers' class_embedding = nn.Embedding):
 * out[..., :] = weight[indices[...], :]. The gradient scatter-adds rows of the incoming gradient
 * into the weight's rows; repeated indices accumulate. Indices get no gradient.
 */
import { Tensor } from '../tensor/tensor.js';
import { emptyUninit } from '../tensor/create.js';
import { recordOp } from '../tensor/autograd.js';
import { expectRank, expectTensor } from '../tensor/check.js';
import { ArgumentError, fmtShape } from '../tensor/errors.js';

/** What embedding accepts as indices: a flat list, or a Tensor of integer values of any shape. */
export type EmbeddingIndices = Int32Array | readonly number[] | Tensor;

/** The position of flat index `i` in `shape`, for messages: `[1, 2]`. */
function positionOf(i: number, shape: readonly number[]): string {
  const pos = new Array<number>(shape.length);
  for (let k = shape.length - 1; k >= 0; k--) {
    pos[k] = i % shape[k]!;
    i = Math.floor(i / shape[k]!);
  }
  return fmtShape(pos);
}

/** Indices as an Int32Array plus their shape, each checked to be an integer in [0, v). */
function indexArg(indices: unknown, v: number): { idx: Int32Array; shape: readonly number[] } {
  let values: ArrayLike<number>;
  let shape: readonly number[];
  if (indices instanceof Tensor) {
    // Indices are host values (the kernel contract takes an Int32Array): a host read of a few labels.
    values = indices.toArray('float64');
    shape = indices.shape;
  } else if (indices instanceof Int32Array || Array.isArray(indices)) {
    values = indices as ArrayLike<number>;
    shape = [values.length];
  } else {
    const found = indices === null ? 'null' : typeof indices === 'object' ? (indices.constructor?.name ?? 'object') : typeof indices;
    throw new ArgumentError(`embedding: 'indices' must be an Int32Array, an array of integers or a Tensor of integer values, found ${found}`);
  }
  const idx = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const r = values[i];
    if (typeof r !== 'number' || !Number.isInteger(r)) {
      throw new ArgumentError(`embedding: index at position ${positionOf(i, shape)} is ${String(r)}, expected an integer row number in [0, ${v - 1}]`);
    }
    if (r < 0 || r >= v) {
      throw new RangeError(`embedding: index ${r} at position ${positionOf(i, shape)} is out of range for a weight of ${v} rows (valid: 0..${v - 1})`);
    }
    idx[i] = r;
  }
  return { idx, shape };
}

/**
 * Looks up rows of `weight` (V, D): the result has shape (...indexShape, D).
 * @example embedding(classEmbedding, labels) // labels [3, 1, 4] -> (3, D)
 */
export function embedding(weight: Tensor, indices: EmbeddingIndices): Tensor {
  expectTensor('embedding', 'weight', weight);
  expectRank('embedding', 'weight', weight, 2, '(V, D)');
  const [v, d] = weight.shape as [number, number];
  const { idx, shape } = indexArg(indices, v);
  const dev = weight.device;
  const y = emptyUninit([...shape, d], weight.dtype, dev); // (...indexShape, D)
  dev.kernels.embedding(weight.storage, v, d, idx, y.storage);
  return recordOp('embedding', y, [weight], (gy) => {
    const gw = emptyUninit(weight.shape, weight.dtype, dev); // (V, D)
    dev.kernels.embeddingBackward(gy.storage, idx, v, d, gw.storage);
    return [gw];
  });
}
