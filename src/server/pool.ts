/**
 * A fixed pool of compute worker threads (thread_worker.ts), one job per thread at a time. The
 * native addon is context-aware and loads once per thread; model weights are cached per thread.
 * A thread that dies fails its job and is replaced.
 *
 * Each job has a wall-clock limit (its spec's timeoutMs, or the pool's): past it the job is asked
 * to stop at its next step, as a cancel does, and fails with a message naming the limit. A thread
 * that does not stop within a grace period (stuck inside one long step) is terminated and
 * replaced, so a runaway job never holds a compute thread for good.
 */
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import type { FromWorker, ToWorker } from './thread_worker.js';
import type { RawProgress, RawResult } from './compute.js';
import type { JobSpec } from './job_types.js';
import { DiffuseError } from '../tensor/errors.js';

/** Why a job ended without a result: cancelled, bad input, a bug, or past its time limit. */
export type JobFailure = 'cancelled' | 'invalid' | 'internal' | 'timeout';

/** Why a job ended without a result. */
export class JobError extends DiffuseError {
  constructor(
    message: string,
    readonly reason: JobFailure,
  ) {
    super(message);
  }
}

/** Options of a ThreadPool. */
export interface PoolOptions {
  /** Most milliseconds a job may run (0: no limit); a spec's own timeoutMs lowers it. */
  jobTimeoutMs?: number;
  /** How long a job past its limit may take to stop before its thread is terminated (default 10 s). */
  stopGraceMs?: number;
}

/** A job past its limit gets this long to reach its next step and stop before its thread is terminated. */
const DEFAULT_STOP_GRACE_MS = 10_000;

/** The message of a job stopped at its time limit. */
export function timeoutMessage(ms: number): string {
  const s = ms / 1000;
  return `the job ran longer than the server's job time limit of ${s} s (--job-timeout) and was stopped; ask for fewer steps or images, or start the server with a larger --job-timeout`;
}

/** The effective limit of a job: the smaller of the pool's and the spec's (0 or absent: none). */
export function effectiveTimeoutMs(poolMs: number | undefined, specMs: number | undefined): number {
  const limits = [poolMs, specMs].filter((v): v is number => v !== undefined && v > 0);
  return limits.length === 0 ? 0 : Math.min(...limits);
}

interface Slot {
  worker: Worker;
  cancel: Int32Array;
  ready: Promise<void>;
  job: { id: string; resolve(r: RawResult): void; reject(e: Error): void; onProgress(p: RawProgress): void } | null;
  /** Why the thread stopped, while it waits to be replaced. */
  dead: string | null;
}

/** V8 flags that apply to the whole process; a worker's execArgv may not carry them. */
const PROCESS_WIDE_FLAGS: ReadonlySet<string> = new Set(['--single-threaded-gc', '--single-threaded', '--max-old-space-size', '--max-semi-space-size', '--expose-gc']);

/**
 * Starts a worker thread on thread_worker: the compiled .js from dist/, or the .ts source through
 * tsx's loader when running from source (Node 20 does not pass --import hooks to workers).
 */
function spawnWorker(modelsDir: string, cancel: SharedArrayBuffer): Worker {
  const self = import.meta.url;
  const workerData = { modelsDir, cancel };
  if (self.endsWith('.ts')) {
    const entry = new URL('./thread_worker.ts', self).href;
    const code = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
    return new Worker(code, { eval: true, workerData });
  }
  // A thread inherits the process's node flags, but Node refuses some of them in a worker:
  // --input-type (a process started with -e) for a file entry, and process-wide V8 flags such as
  // the bin's --single-threaded-gc (ERR_WORKER_INVALID_EXEC_ARGV). Those are dropped; should Node
  // refuse another flag, the thread starts with none rather than not at all.
  const file = fileURLToPath(new URL('./thread_worker.js', self));
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type') && !PROCESS_WIDE_FLAGS.has(a.split('=')[0]!));
  try {
    return new Worker(file, { workerData, execArgv });
  } catch (e) {
    if ((e as { code?: unknown }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw e;
    return new Worker(file, { workerData, execArgv: [] });
  }
}

export class ThreadPool {
  readonly #slots: Slot[] = [];
  readonly #modelsDir: string;
  readonly #options: PoolOptions;
  #closed = false;
  /** Threads in a row that died before they were ready. */
  #startFailures = 0;

  constructor(
    readonly size: number,
    modelsDir: string,
    options: PoolOptions = {},
  ) {
    if (!Number.isInteger(size) || size < 1) throw new DiffuseError(`ThreadPool: size must be an integer >= 1, found ${String(size)}`);
    this.#modelsDir = modelsDir;
    this.#options = options;
    for (let i = 0; i < size; i++) this.#slots.push(this.#start());
  }

  #start(): Slot {
    const shared = new SharedArrayBuffer(4);
    const worker = spawnWorker(this.#modelsDir, shared);
    let onReady: () => void = () => {};
    let started = false;
    const slot: Slot = { worker, cancel: new Int32Array(shared), ready: new Promise<void>((r) => (onReady = r)), job: null, dead: null };
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'ready') {
        started = true;
        this.#startFailures = 0;
        return onReady();
      }
      const job = slot.job;
      if (job === null || job.id !== m.id) return;
      if (m.type === 'progress') return job.onProgress(m.progress);
      slot.job = null;
      if (m.type === 'done') job.resolve(m.result);
      else job.reject(new JobError(m.message, m.reason));
    });
    const died = (why: string): void => {
      const job = slot.job;
      slot.job = null;
      slot.dead = why;
      job?.reject(new JobError(`the compute thread stopped: ${why}`, 'internal'));
      // A thread that dies before it is ready would die again at once: back off (0.1 s doubling
      // to 30 s) instead of spinning; the slot stays, so its jobs fail with this reason meanwhile.
      this.#startFailures = started ? 0 : this.#startFailures + 1;
      const delay = this.#startFailures === 0 ? 0 : Math.min(30_000, 100 * 2 ** (this.#startFailures - 1));
      const respawn = (): void => {
        const i = this.#slots.indexOf(slot);
        if (i >= 0 && !this.#closed) this.#slots[i] = this.#start();
      };
      if (delay === 0) respawn();
      else setTimeout(respawn, delay).unref();
      onReady();
    };
    worker.on('error', (e) => died(e.message));
    worker.on('exit', (code) => {
      if (this.#slots.includes(slot)) died(`exit code ${code}`);
    });
    return slot;
  }

  /** Threads without a job. */
  get idle(): number {
    return this.#slots.filter((s) => s.job === null).length;
  }

  /** Runs `spec` on an idle thread (check `idle` first). */
  run(spec: JobSpec, onProgress: (p: RawProgress) => void): Promise<RawResult> {
    if (this.#closed) return Promise.reject(new JobError('the compute pool is closed', 'internal'));
    const slot = this.#slots.find((s) => s.job === null);
    if (slot === undefined) return Promise.reject(new JobError('no idle compute thread', 'internal'));
    if (slot.dead !== null) return Promise.reject(new JobError(`the compute thread stopped: ${slot.dead}`, 'internal'));
    const limitMs = effectiveTimeoutMs(this.#options.jobTimeoutMs, spec.timeoutMs);
    return new Promise<RawResult>((resolve, reject) => {
      let timedOut = false;
      let timer: NodeJS.Timeout | undefined;
      let killer: NodeJS.Timeout | undefined;
      const settle = (): void => {
        clearTimeout(timer);
        clearTimeout(killer);
      };
      const job: NonNullable<Slot['job']> = {
        id: spec.id,
        resolve: (r) => {
          settle();
          resolve(r);
        },
        // Whatever ended a job past its limit (its cancel, or its thread terminated), it failed for the limit.
        reject: (e) => {
          settle();
          reject(timedOut ? new JobError(timeoutMessage(limitMs), 'timeout') : e);
        },
        onProgress,
      };
      slot.job = job;
      Atomics.store(slot.cancel, 0, 0);
      void slot.ready.then(() => {
        if (slot.job !== job) return;
        slot.worker.postMessage({ type: 'run', spec } satisfies ToWorker);
        if (limitMs <= 0) return;
        timer = setTimeout(() => {
          if (slot.job !== job) return;
          timedOut = true;
          Atomics.store(slot.cancel, 0, 1);
          // A thread inside one long step reads no flag: terminate it; its exit fails the job and starts a new thread.
          killer = setTimeout(() => {
            if (slot.job === job) void slot.worker.terminate();
          }, this.#options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS);
        }, limitMs);
      });
    });
  }

  /** Asks the thread running job `id` to stop at its next step; false if no thread runs it. */
  cancel(id: string): boolean {
    const slot = this.#slots.find((s) => s.job?.id === id);
    if (slot === undefined) return false;
    Atomics.store(slot.cancel, 0, 1);
    return true;
  }

  /** Stops every thread (running jobs fail). */
  async close(): Promise<void> {
    this.#closed = true;
    const slots = this.#slots.splice(0);
    for (const s of slots) {
      s.job?.reject(new JobError('the server is shutting down', 'cancelled'));
      s.job = null;
    }
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }
}
