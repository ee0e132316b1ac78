/**
 * AdamW (Loshchilov & Hutter, "Decoupled weight decay regularization", ICLR 2019), exactly as
 * torch.optim.AdamW: decoupled decay p *= 1 - lr*wd, then Adam with bias corrections and eps
 * outside the square root:
 *   m = b1*m + (1-b1)*g,  v = b2*v + (1-b2)*g^2,  p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
 * Updates run in place through the backend's adamwStep kernel, one call per parameter.
 */
import { Tensor } from '../tensor/tensor.js';
import { zeros } from '../tensor/create.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../tensor/errors.js';
import { adamwStep } from '../ops/optim.js';
import { clone, copyInto } from '../ops/copy.js';

/** Hyperparameters; defaults are torch.optim.AdamW's. */
export interface AdamWOptions {
  /** Learning rate (default 1e-3). */
  lr?: number;
  /** Decay rates of the first and second moment averages (default [0.9, 0.999]). */
  betas?: readonly [number, number];
  /** Added to the bias-corrected sqrt(v) (default 1e-8). */
  eps?: number;
  /** Decoupled weight decay coefficient (default 1e-2). */
  weightDecay?: number;
}

/**
 * Everything needed to resume: per-parameter step counts and moment buffers (torch's `step`,
 * `exp_avg`, `exp_avg_sq`) and the hyperparameters (torch's param_groups).
 */
export interface AdamWState {
  step: number[];
  expAvg: Tensor[];
  expAvgSq: Tensor[];
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
}

function checkParams(op: string, params: unknown): asserts params is readonly Tensor[] {
  if (!Array.isArray(params)) throw new ArgumentError(`${op}: 'params' must be an array of Tensors, found ${typeof params}`);
  const seen = new Set<Tensor>();
  params.forEach((p: unknown, i) => {
    if (!(p instanceof Tensor)) throw new ArgumentError(`${op}: params[${i}] must be a Tensor, found ${p === null ? 'null' : typeof p}`);
    if (seen.has(p)) throw new ArgumentError(`${op}: params[${i}] appears more than once; pass each parameter once`);
    seen.add(p);
  });
}

function checkHyper(op: string, name: string, v: unknown, lo: number, hi: number, hiOpen: boolean): number {
  if (typeof v !== 'number' || !(v >= lo) || (hiOpen ? !(v < hi) : !(v <= hi))) {
    const range = `[${lo}, ${hi === Infinity ? 'inf' : hi}${hiOpen ? ')' : ']'}`;
    throw new ArgumentError(`${op}: '${name}' must be a number in ${range}, found ${typeof v === 'number' ? v : typeof v}`);
  }
  return v;
}

/**
 * The AdamW optimizer over a list of parameters.
 * @example
 * const opt = new AdamW(model.parameters(), { lr: 2e-4 });
 * loss.backward();
 * opt.step();
 * opt.zeroGrad();
 */
export class AdamW {
  readonly params: readonly Tensor[];
  /** Learning rate, mutable so a schedule can change it between steps. */
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  #step: number[];
  #expAvg: Tensor[];
  #expAvgSq: Tensor[];

  constructor(params: readonly Tensor[], options: AdamWOptions = {}) {
    checkParams('AdamW', params);
    this.params = [...params];
    const { lr = 1e-3, betas = [0.9, 0.999], eps = 1e-8, weightDecay = 1e-2 } = options;
    this.lr = checkHyper('AdamW', 'lr', lr, 0, Infinity, false);
    if (!Array.isArray(betas) || betas.length !== 2) {
      throw new ArgumentError(`AdamW: 'betas' must be a pair [beta1, beta2], found ${JSON.stringify(betas)}`);
    }
    this.betas = [checkHyper('AdamW', 'betas[0]', betas[0], 0, 1, true), checkHyper('AdamW', 'betas[1]', betas[1], 0, 1, true)];
    this.eps = checkHyper('AdamW', 'eps', eps, 0, Infinity, false);
    this.weightDecay = checkHyper('AdamW', 'weightDecay', weightDecay, 0, Infinity, false);
    this.#step = this.params.map(() => 0);
    // Moment buffers start at zero, in each parameter's dtype.
    this.#expAvg = this.params.map((p) => zeros(p.shape, { dtype: p.dtype, device: p.device }));
    this.#expAvgSq = this.params.map((p) => zeros(p.shape, { dtype: p.dtype, device: p.device }));
  }

  /**
   * Updates every parameter that has a gradient, in place (a parameter without one is skipped
   * and its step count does not advance, as in torch).
   */
  step(): void {
    // Check every gradient before touching any parameter, so a bad one leaves the model intact.
    this.params.forEach((p, i) => {
      const g = p.grad;
      if (g === null) return;
      if (g.size !== p.size) {
        throw new ShapeError(`AdamW.step: params[${i}] has shape ${fmtShape(p.shape)} but its grad has shape ${fmtShape(g.shape)}`);
      }
      if (g.dtype !== p.dtype) throw new DTypeError(`AdamW.step: params[${i}] is ${p.dtype} but its grad is ${g.dtype}`);
    });
    const [beta1, beta2] = this.betas;
    this.params.forEach((p, i) => {
      if (p.grad === null) return;
      const step = this.#step[i]! + 1;
      adamwStep(p, p.grad, this.#expAvg[i]!, this.#expAvgSq[i]!, {
        lr: this.lr, beta1, beta2, eps: this.eps, weightDecay: this.weightDecay, step,
      });
      this.#step[i] = step;
    });
  }

  /** Drops every parameter's gradient (torch's zero_grad(set_to_none=True)): the next backward starts fresh. */
  zeroGrad(): void {
    for (const p of this.params) p.grad = null;
  }

  /** A copy of the optimizer state, for checkpoints. */
  getState(): AdamWState {
    const copy = (t: Tensor): Tensor => clone(t);
    return {
      step: [...this.#step],
      expAvg: this.#expAvg.map(copy),
      expAvgSq: this.#expAvgSq.map(copy),
      lr: this.lr,
      betas: [...this.betas],
      eps: this.eps,
      weightDecay: this.weightDecay,
    };
  }

  /** Restores a state from getState() (copied in); its buffers must match the parameters' shapes. */
  setState(state: AdamWState): void {
    const op = 'AdamW.setState';
    if (state === null || typeof state !== 'object') throw new ArgumentError(`${op}: state must be an object, found ${state === null ? 'null' : typeof state}`);
    const n = this.params.length;
    for (const key of ['step', 'expAvg', 'expAvgSq'] as const) {
      const v: unknown = state[key];
      if (!Array.isArray(v) || v.length !== n) {
        throw new ArgumentError(`${op}: state.${key} must be an array of ${n} entries (one per parameter), found ${Array.isArray(v) ? `${v.length} entries` : typeof v}`);
      }
    }
    state.step.forEach((s, i) => {
      if (!Number.isInteger(s) || s < 0) throw new ArgumentError(`${op}: state.step[${i}] must be an integer >= 0, found ${s}`);
    });
    const checkBuf = (name: string, t: unknown, i: number): Tensor => {
      const p = this.params[i]!;
      if (!(t instanceof Tensor)) throw new ArgumentError(`${op}: state.${name}[${i}] must be a Tensor, found ${typeof t}`);
      if (t.size !== p.size) throw new ShapeError(`${op}: state.${name}[${i}] has shape ${fmtShape(t.shape)}, expected params[${i}]'s ${fmtShape(p.shape)}`);
      const buf = zeros(p.shape, { dtype: p.dtype, device: p.device });
      copyInto(buf, t.to(p.device));
      return buf;
    };
    const expAvg = state.expAvg.map((t, i) => checkBuf('expAvg', t, i));
    const expAvgSq = state.expAvgSq.map((t, i) => checkBuf('expAvgSq', t, i));
    const lr = checkHyper(op, 'lr', state.lr, 0, Infinity, false);
    const betas: [number, number] = [checkHyper(op, 'betas[0]', state.betas?.[0], 0, 1, true), checkHyper(op, 'betas[1]', state.betas?.[1], 0, 1, true)];
    const eps = checkHyper(op, 'eps', state.eps, 0, Infinity, false);
    const weightDecay = checkHyper(op, 'weightDecay', state.weightDecay, 0, Infinity, false);
    // Everything validated: commit.
    this.#step = [...state.step];
    this.#expAvg = expAvg;
    this.#expAvgSq = expAvgSq;
    Object.assign(this, { lr, betas, eps, weightDecay });
  }
}
