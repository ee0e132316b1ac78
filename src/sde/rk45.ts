/**
 * An adaptive explicit Runge-Kutta 5(4) solver with the Dormand-Prince pair (Dormand & Prince
 * 1980, "A family of embedded Runge-Kutta formulae"; Hairer, Norsett & Wanner, "Solving ODEs I",
 * sec. II.4-5), as scipy's solve_ivp(method='RK45') runs it, which is what score_sde integrates the
 * probability-flow ODE with:
 *   - the 5th-order solution advances (local extrapolation); the embedded 4th-order one estimates
 *     the error err = h sum_i E_i k_i, with the last stage reused as the next step's first (FSAL);
 *   - error norm ||err / (atol + rtol max(|y_n|, |y_{n+1}|))||_RMS, step accepted when < 1;
 *   - new step h * min(10, 0.9 norm^(-1/5)) after an accepted step (no growth right after a
 *     rejection), h * max(0.2, 0.9 norm^(-1/5)) after a rejected one;
 *   - the first step from Hairer's heuristic (II.4, "starting step size").
 * The state is one tensor (a batch of images is one system with one step size), float64 where
 * the caller passes float64; the stages and the 5th/4th-order combinations are linearCombination
 * passes on its device, the error norm a device reduction, and the accept/reject decision reads
 * that one scalar per step attempt. rk45 is the same solver on host arrays, for small systems.
 */
import { Tensor, type DType } from '../tensor/tensor.js';
import { ArgumentError, DiffuseError, fmtShape } from '../tensor/errors.js';
import { expectTensor } from '../tensor/check.js';
import { noGrad } from '../tensor/autograd.js';
import { abs } from '../ops/unary.js';
import { div } from '../ops/binary.js';
import { addScalar } from '../ops/scalar.js';
import { cast } from '../ops/copy.js';
import { gradNorm } from '../ops/optim.js';
import { linearCombination, type LinearTerm } from '../ops/linear_combination.js';

/** The right-hand side dy/dt = f(t, y) on host arrays; returns a new vector of y's length. */
export type OdeFunction = (t: number, y: Float64Array) => Float64Array;

/**
 * The right-hand side dy/dt = f(t, y) on tensors; returns a tensor of y's shape (float32 or
 * float64; it is detached, so f may build a graph of its own, e.g. for a divergence).
 */
export type TensorOdeFunction = (t: number, y: Tensor) => Tensor;

/** The solver gave up (step size underflow or too many steps). */
export class OdeSolverError extends DiffuseError {}

/** Options of rk45 (Y = Float64Array) and rk45Tensor (Y = Tensor). */
export interface Rk45Options<Y = Float64Array> {
  /** Relative tolerance (default 1e-3, scipy's). */
  rtol?: number;
  /** Absolute tolerance (default 1e-6, scipy's). */
  atol?: number;
  /** First step size (default: chosen by Hairer's heuristic, 1 extra evaluation). */
  firstStep?: number;
  /** Give up after this many attempted steps (default 100000). */
  maxSteps?: number;
  /** Called after each accepted step. */
  onStep?: (t: number, y: Y, nfe: number) => void;
  /** Aborts between evaluations. */
  signal?: AbortSignal;
}

export interface Rk45Result<Y = Float64Array> {
  /** y(t1). */
  y: Y;
  /** The accepted times, t0 first and t1 last. */
  ts: number[];
  /** Evaluations of f (scipy's nfev). */
  nfe: number;
  /** Accepted and rejected steps. */
  accepted: number;
  rejected: number;
}

// The Dormand-Prince tableau: nodes C, stage matrix A, 5th-order weights B, and E = b4 - b5
// (the embedded 4th-order weights minus B, with 7 entries: the 7th stage is f(t + h, y_new)).
const C = [0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1] as const;
const A: readonly (readonly number[])[] = [
  [],
  [1 / 5],
  [3 / 40, 9 / 40],
  [44 / 45, -56 / 15, 32 / 9],
  [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
  [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
];
const B = [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84] as const;
const E = [-71 / 57600, 0, 71 / 16695, -71 / 1920, 17253 / 339200, -22 / 525, 1 / 40] as const;

/** Step-size control: safety factor, and the bounds on one change of h. */
const SAFETY = 0.9;
const MIN_FACTOR = 0.2;
const MAX_FACTOR = 10;
/** -1 / (q + 1) with q = 4, the order of the error estimate. */
const ERROR_EXPONENT = -1 / 5;

/** The root mean square of v (scipy's norm(x) / sqrt(n)). */
export function rmsNorm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  return Math.sqrt(s / Math.max(v.length, 1));
}

function check(op: string, name: string, v: unknown, positive: boolean): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || (positive ? !(v > 0) : false)) throw new ArgumentError(`${op}: '${name}' must be a finite number${positive ? ' > 0' : ''}, found ${String(v)}`);
  return v;
}

/**
 * The RMS of a float64 tensor (scipy's norm(x) / sqrt(n)): the squares summed in double on x's
 * device, then ONE host read of the scalar.
 */
function rmsOf(x: Tensor): number {
  return x.size === 0 ? 0 : gradNorm([x]) / Math.sqrt(x.size);
}

/** y (dtype) = sum_k c_k x_k, outside any graph (the solver's arithmetic is never differentiated). */
function combine(terms: readonly LinearTerm[], dtype: DType): Tensor {
  return noGrad(() => linearCombination(terms, dtype));
}

/**
 * Hairer's starting step (scipy's select_initial_step): one extra evaluation of f, and three
 * scalar reads (the norms d0, d1, d2 decide the step on the host; once per solve).
 */
function initialStep(f: TensorOdeFunction, t0: number, y0: Tensor, f0: Tensor, direction: number, span: number, rtol: number, atol: number): number {
  const scale = noGrad(() => addScalar(linearCombination([[rtol, abs(y0)]], 'float64'), atol));
  const norm = (v: Tensor): number => rmsOf(noGrad(() => div(cast(v, 'float64'), scale)));
  const d0 = norm(y0);
  const d1 = norm(f0);
  const h0 = d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : (0.01 * d0) / d1;
  const hFirst = Math.min(h0, span);
  const y1 = combine([[1, y0], [hFirst * direction, f0]], y0.dtype);
  const f1 = f(t0 + hFirst * direction, y1);
  const d2 = norm(combine([[1, f1], [-1, f0]], 'float64')) / hFirst;
  const h1 = d1 <= 1e-15 && d2 <= 1e-15 ? Math.max(1e-6, hFirst * 1e-3) : (0.01 / Math.max(d1, d2)) ** (1 / 5);
  return Math.min(100 * hFirst, h1, span);
}

/**
 * Integrates dy/dt = f(t, y) from t0 to t1 (either direction) from y0, on host arrays: the
 * adapter of rk45Tensor for small systems (each evaluation of f is a host round trip).
 * @example
 * const { y, nfe } = rk45((t, y) => y.map((v) => -v), 0, 1, Float64Array.of(1), { rtol: 1e-8, atol: 1e-10 });
 * // y[0] ~ e^-1
 */
export function rk45(f: OdeFunction, t0: number, t1: number, y0: ArrayLike<number>, options: Rk45Options = {}): Rk45Result {
  const op = 'rk45';
  if (typeof f !== 'function') throw new ArgumentError(`${op}: 'f' must be a function (t, y) => dy/dt, found ${typeof f}`);
  const n = y0.length;
  const onTensor: TensorOdeFunction = (t, y) => {
    const out = f(t, y.toArray('float64'));
    if (!(out instanceof Float64Array) || out.length !== n) throw new ArgumentError(`${op}: f returned ${out instanceof Float64Array ? `${out.length} values` : typeof out}, expected a Float64Array of ${n}`);
    return new Tensor(Float64Array.from(out), [n]);
  };
  const { onStep, ...rest } = options;
  const sol = rk45Tensor(onTensor, t0, t1, new Tensor(Float64Array.from(y0), [n]), {
    ...rest,
    ...(onStep === undefined ? {} : { onStep: (t: number, y: Tensor, nfe: number) => onStep(t, y.toArray('float64'), nfe) }),
  });
  return { ...sol, y: sol.y.toArray('float64') };
}

/**
 * Integrates dy/dt = f(t, y) from t0 to t1 (either direction) from y0, on y0's device: the state
 * keeps y0's dtype (pass a float64 y0 for float64 accuracy) and its shape; f's results may be of
 * either float dtype (the stages are combined in double by linearCombination). Per step attempt
 * the only host read is the scalar error norm.
 * @example
 * const { y, nfe } = rk45Tensor((t, y) => mulScalar(y, -1), 0, 1, new Tensor(Float64Array.of(1), [1]));
 */
export function rk45Tensor(f: TensorOdeFunction, t0: number, t1: number, y0: Tensor, options: Rk45Options<Tensor> = {}): Rk45Result<Tensor> {
  const op = 'rk45';
  if (typeof f !== 'function') throw new ArgumentError(`${op}: 'f' must be a function (t, y) => dy/dt, found ${typeof f}`);
  expectTensor(op, 'y0', y0);
  check(op, 't0', t0, false);
  check(op, 't1', t1, false);
  const rtol = check(op, 'rtol', options.rtol ?? 1e-3, true);
  const atol = check(op, 'atol', options.atol ?? 1e-6, true);
  const maxSteps = options.maxSteps ?? 100000;
  if (!Number.isInteger(maxSteps) || maxSteps < 1) throw new ArgumentError(`${op}: 'maxSteps' must be an integer >= 1, found ${String(maxSteps)}`);
  if (options.firstStep !== undefined) check(op, 'firstStep', options.firstStep, true);
  const dtype = y0.dtype;
  if (dtype !== 'float32' && dtype !== 'float64') throw new ArgumentError(`${op}: y0 must be a float32 or float64 tensor, found ${dtype}`);
  const shape = y0.shape;
  let y = combine([[1, y0]], dtype);
  const direction = t1 >= t0 ? 1 : -1;
  const ts = [t0];
  let nfe = 0;
  const evaluate = (t: number, v: Tensor): Tensor => {
    options.signal?.throwIfAborted();
    nfe++;
    const out = f(t, v);
    if (!(out instanceof Tensor) || out.rank !== shape.length || out.shape.some((d, i) => d !== shape[i])) {
      throw new ArgumentError(`${op}: f returned ${out instanceof Tensor ? `shape ${fmtShape(out.shape)}` : typeof out}, expected a tensor of y's shape ${fmtShape(shape)}`);
    }
    return out.detach();
  };
  if (t0 === t1) return { y, ts, nfe, accepted: 0, rejected: 0 };

  let t = t0;
  let fy = evaluate(t, y);
  const span = Math.abs(t1 - t0);
  let hAbs = options.firstStep ?? initialStep(evaluate, t0, y, fy, direction, span, rtol, atol);
  const minStep = (): number => 10 * Math.abs(nextAfter(t, direction) - t);
  // |y_n|, for the error scale; |y_{n+1}| of an accepted step is the next step's.
  let absY = noGrad(() => abs(cast(y, 'float64')));
  let accepted = 0;
  let rejected = 0;

  while (direction * (t1 - t) > 0) {
    let stepRejected = false;
    for (;;) {
      if (accepted + rejected >= maxSteps) throw new OdeSolverError(`${op}: gave up after ${maxSteps} steps at t = ${t} (of ${t0} -> ${t1}); loosen rtol/atol or raise maxSteps`);
      if (hAbs < minStep()) throw new OdeSolverError(`${op}: the step size ${hAbs} underflowed at t = ${t}; the ODE is too stiff or f is not smooth there (check for NaN)`);
      let h = hAbs * direction;
      let tNew = t + h;
      if (direction * (tNew - t1) > 0) tNew = t1;
      h = tNew - t;
      hAbs = Math.abs(h);
      // Stages k_1..k_6 at y + h sum_j A_sj k_j, then y_new = y + h sum B_i k_i and
      // k_7 = f(t + h, y_new) (FSAL): each combination one fused pass on the device.
      const K: Tensor[] = [fy];
      for (let s = 1; s < 6; s++) {
        const yStage = combine([[1, y], ...A[s]!.map((a, j): LinearTerm => [h * a, K[j]!])], dtype);
        K.push(evaluate(t + C[s]! * h, yStage));
      }
      const yNew = combine([[1, y], ...K.map((k, j): LinearTerm => [h * B[j]!, k]).filter(([c]) => c !== 0)], dtype);
      const fNew = evaluate(tNew, yNew);
      K.push(fNew);
      // The error estimate h sum E_j k_j, scaled componentwise by atol + rtol max(|y|, |y_new|)
      // (max(a, b) = (a + b + |a - b|) / 2: no elementwise max op).
      const absNew = noGrad(() => abs(cast(yNew, 'float64')));
      const ratio = noGrad(() => {
        const err = linearCombination(K.map((k, j): LinearTerm => [h * E[j]!, k]).filter(([c]) => c !== 0), 'float64');
        const gap = abs(linearCombination([[1, absY], [-1, absNew]]));
        const scale = addScalar(linearCombination([[rtol / 2, absY], [rtol / 2, absNew], [rtol / 2, gap]]), atol);
        return div(err, scale);
      });
      // The accept/reject decision and the next step size are host control flow: this scalar
      // read is the one device-to-host copy per step attempt.
      const errorNorm = rmsOf(ratio);
      if (!Number.isFinite(errorNorm)) throw new OdeSolverError(`${op}: the error estimate is ${errorNorm} at t = ${t} (f returned NaN or Infinity)`);
      if (errorNorm < 1) {
        let factor = errorNorm === 0 ? MAX_FACTOR : Math.min(MAX_FACTOR, SAFETY * errorNorm ** ERROR_EXPONENT);
        if (stepRejected) factor = Math.min(1, factor);
        hAbs *= factor;
        t = tNew;
        y = yNew;
        absY = absNew;
        fy = fNew;
        accepted++;
        ts.push(t);
        options.onStep?.(t, y, nfe);
        break;
      }
      hAbs *= Math.max(MIN_FACTOR, SAFETY * errorNorm ** ERROR_EXPONENT);
      stepRejected = true;
      rejected++;
    }
  }
  return { y, ts, nfe, accepted, rejected };
}

/** The next float64 after x in the given direction (numpy's nextafter(x, direction * inf)). */
function nextAfter(x: number, direction: number): number {
  if (x === 0) return direction * Number.MIN_VALUE;
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, x);
  let bits = buf.getBigUint64(0);
  bits += (x > 0) === (direction > 0) ? 1n : -1n;
  buf.setBigUint64(0, bits);
  return buf.getFloat64(0);
}
