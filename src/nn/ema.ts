/**
 * Exponential moving average of parameters (Polyak averaging, as in DDPM and diffusers'
 * EMAModel): shadow = decay * shadow + (1 - decay) * param after each optimizer step; sampling
 * then uses the shadow weights. The decay is a plain number per call; warm-up schedules
 * (diffusers' inv_gamma/power) are computed by the caller.
 */
import { Tensor } from '../tensor/tensor.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../tensor/errors.js';
import { emaUpdate } from '../ops/optim.js';
import { clone, copyInto } from '../ops/copy.js';

/** What a checkpoint stores: the shadow weights, the default decay and the update count. */
export interface EMAState {
  shadow: Tensor[];
  decay: number;
  numUpdates: number;
}

function checkDecay(op: string, decay: unknown): number {
  if (typeof decay !== 'number' || !(decay >= 0 && decay <= 1)) {
    throw new ArgumentError(`${op}: 'decay' must be a number in [0, 1], found ${typeof decay === 'number' ? decay : typeof decay}`);
  }
  return decay;
}

/**
 * Shadow copies of a parameter list, updated as a moving average.
 * @example
 * const ema = new EMA(model.parameters(), 0.9999);
 * opt.step();
 * ema.update();            // shadow <- 0.9999 shadow + 0.0001 params
 * ema.copyTo(evalModel.parameters());
 */
export class EMA {
  /** The parameters averaged by default. */
  readonly params: readonly Tensor[];
  /** The averaged weights, one per parameter (same shapes and dtypes). */
  readonly shadow: Tensor[];
  /** The decay used when update() is not given one. */
  decay: number;
  /** How many updates have run (for a caller's decay warm-up). */
  numUpdates = 0;

  constructor(params: readonly Tensor[], decay = 0.9999) {
    if (!Array.isArray(params)) throw new ArgumentError(`EMA: 'params' must be an array of Tensors, found ${typeof params}`);
    params.forEach((p: unknown, i) => {
      if (!(p instanceof Tensor)) throw new ArgumentError(`EMA: params[${i}] must be a Tensor, found ${p === null ? 'null' : typeof p}`);
    });
    this.decay = checkDecay('EMA', decay);
    this.params = [...params];
    this.shadow = this.params.map((p) => clone(p));
  }

  /** Throws unless `params` matches the shadow list one to one in shape and dtype. */
  #checkMatch(op: string, params: readonly Tensor[]): void {
    if (!Array.isArray(params) || params.length !== this.shadow.length) {
      throw new ArgumentError(`${op}: expected ${this.shadow.length} parameters (as given to the constructor), found ${Array.isArray(params) ? params.length : typeof params}`);
    }
    params.forEach((p: unknown, i) => {
      const s = this.shadow[i]!;
      if (!(p instanceof Tensor)) throw new ArgumentError(`${op}: params[${i}] must be a Tensor, found ${p === null ? 'null' : typeof p}`);
      if (p.size !== s.size) throw new ShapeError(`${op}: params[${i}] has shape ${fmtShape(p.shape)}, expected ${fmtShape(s.shape)}`);
      if (p.dtype !== s.dtype) throw new DTypeError(`${op}: params[${i}] is ${p.dtype}, expected ${s.dtype}`);
    });
  }

  /** shadow = decay * shadow + (1 - decay) * params, in place. */
  update(params: readonly Tensor[] = this.params, decay: number = this.decay): void {
    this.#checkMatch('EMA.update', params);
    const d = checkDecay('EMA.update', decay);
    params.forEach((p, i) => emaUpdate(this.shadow[i]!, p, d));
    this.numUpdates++;
  }

  /** Writes the shadow weights into `params` (by default the averaged parameters themselves). */
  copyTo(params: readonly Tensor[] = this.params): void {
    this.#checkMatch('EMA.copyTo', params);
    params.forEach((p, i) => copyInto(p, this.shadow[i]!));
  }

  /** A copy of the state, for checkpoints. */
  getState(): EMAState {
    return { shadow: this.shadow.map((s) => clone(s)), decay: this.decay, numUpdates: this.numUpdates };
  }

  /** Restores a state from getState() (copied in). */
  setState(state: EMAState): void {
    if (state === null || typeof state !== 'object') throw new ArgumentError(`EMA.setState: state must be an object, found ${state === null ? 'null' : typeof state}`);
    this.#checkMatch('EMA.setState', state.shadow);
    const decay = checkDecay('EMA.setState', state.decay);
    if (!Number.isInteger(state.numUpdates) || state.numUpdates < 0) {
      throw new ArgumentError(`EMA.setState: 'numUpdates' must be an integer >= 0, found ${state.numUpdates}`);
    }
    state.shadow.forEach((t, i) => copyInto(this.shadow[i]!, t.to(this.shadow[i]!.device)));
    this.decay = decay;
    this.numUpdates = state.numUpdates;
  }
}
