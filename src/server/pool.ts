/**
 * A fixed pool of compute worker threads (thread_worker.ts), one job per thread at a time. The
 * native addon is context-aware and loads once per thread; model weights are cached per thread.
 * A thread that dies fails its job and is replaced.
 */
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import type { FromWorker, ToWorker } from './thread_worker.js';
import type { RawProgress, RawResult } from './compute.js';
import type { JobSpec } from './job_types.js';
import { DiffuseError } from '../tensor/errors.js';

/** Why a job ended without a result. */
export class JobError extends DiffuseError {
  constructor(
    message: string,
    readonly reason: 'cancelled' | 'invalid' | 'internal',
  ) {
    super(message);
  }
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
  #closed = false;
  /** Threads in a row that died before they were ready. */
  #startFailures = 0;

  constructor(
    readonly size: number,
    modelsDir: string,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new DiffuseError(`ThreadPool: size must be an integer >= 1, found ${String(size)}`);
    this.#modelsDir = modelsDir;
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
    return new Promise<RawResult>((resolve, reject) => {
      slot.job = { id: spec.id, resolve, reject, onProgress };
      Atomics.store(slot.cancel, 0, 0);
      void slot.ready.then(() => {
        if (slot.job?.id === spec.id) slot.worker.postMessage({ type: 'run', spec } satisfies ToWorker);
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
