/**
 * The error an aborted pipeline call rejects with: a DiffuseError named 'AbortError', as Node's
 * own APIs (fs, fetch, timers/promises) name theirs, so `e.name === 'AbortError'` code written for
 * Node works unchanged; `cause` is the signal's reason.
 */
import { DiffuseError } from '../tensor/errors.js';

/** A call stopped by its AbortSignal. */
export class AbortError extends DiffuseError {
  /** The error code Node gives its own aborts. */
  readonly code = 'ABORT_ERR';
}

/**
 * The AbortError of `op` for a fired `signal` (its reason kept as `cause`).
 * @example if (signal.aborted) throw abortError('generate', signal);
 */
export function abortError(op: string, signal: AbortSignal): AbortError {
  return new AbortError(`${op}: aborted (the AbortSignal fired${signal.reason instanceof Error ? `: ${signal.reason.message}` : ''})`, { cause: signal.reason });
}
