/**
 * The one progress event of every reverse process: pipelines (generate, inpaint, img2img, upscale,
 * explain, augment), the CLI's progress bar, the server's SSE events and the web page all speak
 * it, under one option name, `onProgress`.
 */
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../tensor/errors.js';

/** Progress after a model evaluation (or an SDE time step). */
export interface ProgressEvent {
  /** Completed steps over the whole call (all chunks), 1..total. */
  step: number;
  /** Steps of the whole call. */
  total: number;
  /** The current chunk's sample x_t (B, H, W, C), where one is at hand. */
  x?: Tensor;
  /** The current chunk's estimate of x_0 (B, H, W, C), for a live preview, where one is at hand. */
  x0Preview?: Tensor;
  /** Model (score) evaluations so far, where the solver picks its own steps (the SDE's ODE). */
  nfe?: number;
}

/** What `onProgress` is. */
export type ProgressHandler = (event: ProgressEvent) => void;

/**
 * The legacy positional progress callback of the editing pipelines, (step, total, x0Preview?).
 * @deprecated Use `onProgress(event)` with a ProgressEvent.
 */
export type ProgressCallback = (step: number, total: number, x0Preview?: Tensor) => void;

/** The progress options a pipeline accepts: `onProgress`, and generate's legacy `onStep`. */
export interface ProgressOptions {
  /** Called after every step with a ProgressEvent. */
  onProgress?: ProgressHandler;
  /**
   * generate's former hook, (i, total, xt, x0Pred).
   * @deprecated Use `onProgress(event)`: event.step, event.total, event.x, event.x0Preview.
   */
  onStep?(i: number, total: number, xt: Tensor, x0Pred: Tensor): void;
}

/**
 * The one handler of a pipeline call. `onProgress` takes a ProgressEvent; a function declared
 * with two or more parameters is the editing pipelines' legacy (step, total, x0Preview) callback
 * and is called that way, and generate's legacy `onStep` is still called with (i, total, xt, x0).
 * @example const emit = progressHandler('generate', options); emit({ step: 1, total: 20 });
 */
export function progressHandler(op: string, o: ProgressOptions): ProgressHandler | undefined {
  const { onProgress, onStep } = o;
  if (onProgress !== undefined && typeof onProgress !== 'function') throw new ArgumentError(`${op}: 'onProgress' must be a function (event: { step, total, x, x0Preview }) => void, found ${onProgress === null ? 'null' : typeof onProgress}`);
  if (onStep !== undefined && typeof onStep !== 'function') throw new ArgumentError(`${op}: 'onStep' must be a function, found ${typeof onStep}; it is deprecated: pass onProgress(event) instead`);
  if (onProgress === undefined && onStep === undefined) return undefined;
  const legacy = onProgress !== undefined && onProgress.length >= 2 ? (onProgress as unknown as ProgressCallback) : null;
  return (e) => {
    if (legacy !== null) legacy(e.step, e.total, e.x0Preview);
    else onProgress?.(e);
    if (onStep !== undefined) onStep(e.step, e.total, e.x!, e.x0Preview!);
  };
}

/** Counts steps over a whole chunked call and emits a ProgressEvent per step. */
export class ProgressCounter {
  done = 0;
  constructor(readonly total: number, private readonly emit: ProgressHandler | undefined) {}

  /** One more step done; `x` and `x0Preview` are the current chunk's, where at hand. */
  tick(x?: Tensor, x0Preview?: Tensor, nfe?: number): void {
    this.done++;
    if (this.emit === undefined) return;
    const e: ProgressEvent = { step: this.done, total: this.total };
    if (x !== undefined) e.x = x;
    if (x0Preview !== undefined) e.x0Preview = x0Preview;
    if (nfe !== undefined) e.nfe = nfe;
    this.emit(e);
  }
}
