/**
 * What a fuzz target is: the parent side makes a case (files in the case folder and a
 * JSON-serialisable spec), the child side runs it against the real library and reports every
 * break of the invariant it can see itself. Crashes, hangs and memory are the pool's to see.
 *
 * The invariant, always: a clear error (a DiffuseError, or an HTTP 4xx with a message) that
 * names the input; never an uncaught non-Diffuse error, a signal exit, a hang, a 5xx, unbounded
 * memory or an absolute path in an HTTP answer.
 */
import type { Rng } from './rng.js';

/** How a case broke the invariant. */
export type FailureKind =
  | 'foreign-error' // a thrown error that is not a DiffuseError (a raw TypeError, RangeError, sharp's Error...)
  | 'unnamed-error' // a DiffuseError whose message does not name the input (file, folder or field)
  | 'crash' // the process died (signal, native abort, an uncaught exception or rejection)
  | 'timeout' // the case ran past its time limit
  | 'memory' // peak RSS past the bound
  | 'silent-nonfinite' // a model loaded from the input produced NaN/Inf without an error
  | 'http-5xx' // a 5xx answer
  | 'http-no-message' // a 4xx without an error message
  | 'http-leak' // an absolute file-system path in an answer
  | 'http-traversal' // a file outside the served folders reached
  | 'http-host' // a foreign Host header served
  | 'http-headers' // a security header missing
  | 'http-format' // an upload in an undocumented format accepted
  | 'job-internal' // an accepted job failed with an internal error
  | 'job-hang' // an accepted job did not finish in time
  | 'harness'; // the fuzzer's own code failed (a bug here, not in the library)

/** One break of the invariant, with what was seen. */
export interface Violation {
  kind: FailureKind;
  detail: string;
}

/** A made case: the spec the child gets, and a one-line description for reports. */
export interface MadeCase {
  spec: unknown;
  note: string;
}

/** What a target may share between its cases in one run (seed files, servers), per process. */
export interface RunContext {
  /** A folder for the target's seed files, made once per run by `prepare`. */
  corpusDir: string;
  /** Include the slow inputs (decompression bombs, huge configs). */
  heavy: boolean;
}

export interface Target {
  name: string;
  /** What is fuzzed, for --help and the summary. */
  description: string;
  /** Time limit of one case (ms). */
  timeoutMs: number;
  /** Parent side, once per run: seed files under ctx.corpusDir. */
  prepare(ctx: RunContext): Promise<void>;
  /**
   * Parent side: writes the case's files under caseDir and returns its spec. `index` is the
   * case's number (the first few may go through a fixed list, so a short run covers it all).
   */
  make(rng: Rng, caseDir: string, ctx: RunContext, index: number): Promise<MadeCase>;
  /** Child side: runs the case, returns the violations it saw (none: the invariant held). */
  run(spec: unknown, caseDir: string): Promise<Violation[]>;
}
