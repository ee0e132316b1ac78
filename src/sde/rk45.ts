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
 * The state is one float64 vector, so a batch of images is one system with one step size.
 */
import { ArgumentError, DiffuseError } from '../tensor/errors.js';

/** The right-hand side dy/dt = f(t, y); returns a new vector of y's length. */
export type OdeFunction = (t: number, y: Float64Array) => Float64Array;

/** The solver gave up (step size underflow or too many steps). */
export class OdeSolverError extends DiffuseError {}

export interface Rk45Options {
  /** Relative tolerance (default 1e-3, scipy's). */
  rtol?: number;
  /** Absolute tolerance (default 1e-6, scipy's). */
  atol?: number;
  /** First step size (default: chosen by Hairer's heuristic, 1 extra evaluation). */
  firstStep?: number;
  /** Give up after this many attempted steps (default 100000). */
  maxSteps?: number;
  /** Called after each accepted step. */
  onStep?: (t: number, y: Float64Array, nfe: number) => void;
  /** Aborts between evaluations. */
  signal?: AbortSignal;
}

export interface Rk45Result {
  /** y(t1). */
  y: Float64Array;
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

/** Hairer's starting step (scipy's select_initial_step): one extra evaluation of f. */
function initialStep(f: OdeFunction, t0: number, y0: Float64Array, f0: Float64Array, direction: number, span: number, rtol: number, atol: number): number {
  const n = y0.length;
  const scaled = new Float64Array(n);
  const norm = (v: ArrayLike<number>): number => {
    for (let i = 0; i < n; i++) scaled[i] = v[i]! / (atol + Math.abs(y0[i]!) * rtol);
    return rmsNorm(scaled);
  };
  const d0 = norm(y0);
  const d1 = norm(f0);
  const h0 = d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : (0.01 * d0) / d1;
  const hFirst = Math.min(h0, span);
  const y1 = Float64Array.from(y0, (v, i) => v + hFirst * direction * f0[i]!);
  const f1 = f(t0 + hFirst * direction, y1);
  const diff = Float64Array.from(f1, (v, i) => v - f0[i]!);
  const d2 = norm(diff) / hFirst;
  const h1 = d1 <= 1e-15 && d2 <= 1e-15 ? Math.max(1e-6, hFirst * 1e-3) : (0.01 / Math.max(d1, d2)) ** (1 / 5);
  return Math.min(100 * hFirst, h1, span);
}

/**
 * Integrates dy/dt = f(t, y) from t0 to t1 (either direction) from y0.
 * @example
 * const { y, nfe } = rk45((t, y) => y.map((v) => -v), 0, 1, Float64Array.of(1), { rtol: 1e-8, atol: 1e-10 });
 * // y[0] ~ e^-1
 */
export function rk45(f: OdeFunction, t0: number, t1: number, y0: ArrayLike<number>, options: Rk45Options = {}): Rk45Result {
  const op = 'rk45';
  if (typeof f !== 'function') throw new ArgumentError(`${op}: 'f' must be a function (t, y) => dy/dt, found ${typeof f}`);
  check(op, 't0', t0, false);
  check(op, 't1', t1, false);
  const rtol = check(op, 'rtol', options.rtol ?? 1e-3, true);
  const atol = check(op, 'atol', options.atol ?? 1e-6, true);
  const maxSteps = options.maxSteps ?? 100000;
  if (!Number.isInteger(maxSteps) || maxSteps < 1) throw new ArgumentError(`${op}: 'maxSteps' must be an integer >= 1, found ${String(maxSteps)}`);
  if (options.firstStep !== undefined) check(op, 'firstStep', options.firstStep, true);
  let y = Float64Array.from(y0);
  const n = y.length;
  const direction = t1 >= t0 ? 1 : -1;
  const ts = [t0];
  let nfe = 0;
  const evaluate = (t: number, v: Float64Array): Float64Array => {
    options.signal?.throwIfAborted();
    nfe++;
    const out = f(t, v);
    if (!(out instanceof Float64Array) || out.length !== n) throw new ArgumentError(`${op}: f returned ${out instanceof Float64Array ? `${out.length} values` : typeof out}, expected a Float64Array of ${n}`);
    return out;
  };
  if (t0 === t1) return { y, ts, nfe, accepted: 0, rejected: 0 };

  let t = t0;
  let fy = evaluate(t, y);
  const span = Math.abs(t1 - t0);
  let hAbs = options.firstStep ?? initialStep(evaluate, t0, y, fy, direction, span, rtol, atol);
  const minStep = (): number => 10 * Math.abs(nextAfter(t, direction) - t);
  const K: Float64Array[] = Array.from({ length: 7 }, () => new Float64Array(n));
  const yStage = new Float64Array(n);
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
      // Stages k_1..k_6, then y_new = y + h sum B_i k_i and k_7 = f(t + h, y_new) (FSAL).
      K[0]!.set(fy);
      for (let s = 1; s < 6; s++) {
        const a = A[s]!;
        for (let i = 0; i < n; i++) {
          let acc = 0;
          for (let j = 0; j < s; j++) acc += a[j]! * K[j]![i]!;
          yStage[i] = y[i]! + h * acc;
        }
        K[s]!.set(evaluate(t + C[s]! * h, yStage));
      }
      const yNew = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        let acc = 0;
        for (let j = 0; j < 6; j++) acc += B[j]! * K[j]![i]!;
        yNew[i] = y[i]! + h * acc;
      }
      const fNew = evaluate(tNew, yNew);
      K[6]!.set(fNew);
      // The error estimate, scaled componentwise by the tolerance.
      let ss = 0;
      for (let i = 0; i < n; i++) {
        let e = 0;
        for (let j = 0; j < 7; j++) e += E[j]! * K[j]![i]!;
        const scale = atol + Math.max(Math.abs(y[i]!), Math.abs(yNew[i]!)) * rtol;
        const r = (h * e) / scale;
        ss += r * r;
      }
      const errorNorm = Math.sqrt(ss / Math.max(n, 1));
      if (!Number.isFinite(errorNorm)) throw new OdeSolverError(`${op}: the error estimate is ${errorNorm} at t = ${t} (f returned NaN or Infinity)`);
      if (errorNorm < 1) {
        let factor = errorNorm === 0 ? MAX_FACTOR : Math.min(MAX_FACTOR, SAFETY * errorNorm ** ERROR_EXPONENT);
        if (stepRejected) factor = Math.min(1, factor);
        hAbs *= factor;
        t = tNew;
        y = yNew;
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
