/**
 * Softmax cross-entropy over class logits, the loss of the evaluation classifiers (feature nets,
 * CAS): for logits z (N, K) and labels y,
 *   L = (1/N) sum_i [ log sum_k exp(z_ik) - z_i,y_i ],
 * computed with the row max subtracted (log-sum-exp is stable for any logit scale), and
 *   dL/dz_ik = (softmax(z_i)_k - [k = y_i]) / N.
 * K is small (10 classes), so forward and backward are plain TypeScript over the rows.
 */
import { Tensor } from '../tensor/tensor.js';
import { tensor } from '../tensor/create.js';
import { recordOp } from '../tensor/autograd.js';
import { expectTensor } from '../tensor/check.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';

/**
 * Mean softmax cross-entropy of `logits` (N, K) against integer `labels` (N) in [0, K); shape [].
 * @example const loss = softmaxCrossEntropy(net.forward(x).logits, labels); loss.backward();
 */
export function softmaxCrossEntropy(logits: Tensor, labels: Int32Array | readonly number[]): Tensor {
  const op = 'softmaxCrossEntropy';
  expectTensor(op, 'logits', logits);
  if (logits.rank !== 2 || logits.shape[0]! < 1 || logits.shape[1]! < 1) {
    throw new ShapeError(`${op}: 'logits' must be (N, K) with N, K >= 1, found shape ${fmtShape(logits.shape)}`);
  }
  const [n, k] = logits.shape as [number, number];
  if (labels.length !== n) throw new ShapeError(`${op}: ${labels.length} labels for ${n} rows of logits; expected one label per row`);
  for (let i = 0; i < n; i++) {
    const y = labels[i]!;
    if (!Number.isInteger(y) || y < 0 || y >= k) throw new ArgumentError(`${op}: labels[${i}] must be an integer in [0, ${k}), found ${y}`);
  }
  // (N, K) is small: the softmax and its gradient run on the host in double.
  const z = logits.toArray('float64');
  const probs = new Float64Array(n * k); // (N, K) softmax, saved for the gradient
  let total = 0;
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let c = 0; c < k; c++) max = Math.max(max, z[i * k + c]!);
    let s = 0;
    for (let c = 0; c < k; c++) s += (probs[i * k + c] = Math.exp(z[i * k + c]! - max));
    for (let c = 0; c < k; c++) probs[i * k + c]! /= s;
    total += Math.log(s) + max - z[i * k + labels[i]!]!;
  }
  const out = tensor([total / n], [], { dtype: logits.dtype, device: logits.device });
  return recordOp(op, out, [logits], (gy) => {
    const g = gy.item() / n;
    const gx = logits.dtype === 'float64' ? new Float64Array(n * k) : new Float32Array(n * k);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < k; c++) gx[i * k + c] = g * (probs[i * k + c]! - (c === labels[i] ? 1 : 0));
    }
    return [new Tensor(gx, logits.shape).to(logits.device)];
  });
}

/**
 * The predicted class of each row of `logits` (N, K): the argmax (the first on ties; a row with
 * NaN predicts -1, which never matches a label).
 */
export function argmaxRows(logits: Tensor): Int32Array {
  if (logits.rank !== 2) throw new ShapeError(`argmaxRows: 'logits' must be (N, K), found shape ${fmtShape(logits.shape)}`);
  const [n, k] = logits.shape as [number, number];
  const out = new Int32Array(n);
  const z = logits.toArray('float64');
  for (let i = 0; i < n; i++) {
    let best = -1;
    let bestV = -Infinity;
    for (let c = 0; c < k; c++) {
      const v = z[i * k + c]!;
      if (Number.isNaN(v)) {
        best = -1;
        break;
      }
      if (v > bestV) {
        bestV = v;
        best = c;
      }
    }
    out[i] = best;
  }
  return out;
}
