/**
 * The running loss a user reads: an exponential moving average with Adam's bias correction, so it
 * is an average of the losses seen from the first step on (a plain EMA started at 0 reads low at
 * first; one started at the first loss reads that single noisy value for a long time). The progress
 * line and `diffuse plot` both use it; a resumed run starts a fresh one, so no jump.
 */
export class LossAverage {
  readonly #beta: number;
  #ema = 0;
  #count = 0;

  /** `alpha` is the weight of the newest loss (0.02: about the last 50 steps). */
  constructor(alpha = 0.02) {
    this.#beta = 1 - alpha;
  }

  /** Adds a loss; returns the corrected average. */
  add(loss: number): number {
    this.#ema = this.#beta * this.#ema + (1 - this.#beta) * loss;
    this.#count++;
    return this.value;
  }

  /** The corrected average (NaN before the first loss). */
  get value(): number {
    return this.#count === 0 ? NaN : this.#ema / (1 - this.#beta ** this.#count);
  }
}
