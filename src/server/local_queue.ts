/**
 * The default job queue: in-process and bounded. Jobs wait in FIFO order (at most `queueSize`;
 * one more is refused with QueueFullError, which the server answers with 429) and run on a pool
 * of worker threads, so the event loop keeps answering while they compute.
 */
import { ThreadPool, JobError, type PoolOptions } from './pool.js';
import { encodeProgress, encodeResult, type JobStore } from './jobs.js';
import type { JobSpec } from './job_types.js';
import { DiffuseError } from '../tensor/errors.js';

/** The queue is full (HTTP 429). */
export class QueueFullError extends DiffuseError {}

/** What the server needs of a queue, in-process or Redis. */
export interface JobQueue {
  readonly mode: 'local' | 'redis';
  /** Queues a job already created in the store; throws QueueFullError when full. */
  submit(spec: JobSpec): Promise<void>;
  /** Cancels a queued or running job; false if it is not this queue's or already finished. */
  cancel(id: string): Promise<boolean>;
  stats(): { queued: number; running: number; capacity: number; workers: number | null };
  close(): Promise<void>;
}

export class LocalQueue implements JobQueue {
  readonly mode = 'local';
  readonly #pool: ThreadPool;
  readonly #pending: JobSpec[] = [];
  readonly #running = new Set<string>();

  constructor(
    readonly store: JobStore,
    readonly capacity: number,
    modelsDir: string,
    /** Jobs at once, each on its own compute thread. */
    concurrency = 1,
    poolOptions: PoolOptions = {},
  ) {
    this.#pool = new ThreadPool(concurrency, modelsDir, poolOptions);
  }

  async submit(spec: JobSpec): Promise<void> {
    if (this.#pending.length >= this.capacity) {
      throw new QueueFullError(`the job queue is full (${this.#pending.length} of ${this.capacity} waiting); try again when a job has finished`);
    }
    this.#pending.push(spec);
    this.#pump();
  }

  #pump(): void {
    while (this.#pool.idle > 0 && this.#pending.length > 0) {
      const spec = this.#pending.shift()!;
      this.#running.add(spec.id);
      this.store.running(spec.id);
      // Progress is encoded in order: a preview's PNG must not overtake the steps after it.
      let chain = Promise.resolve();
      const run = this.#pool.run(spec, (p) => {
        chain = chain.then(async () => this.store.progress(spec.id, await encodeProgress(p))).catch(() => {});
      });
      run
        .then(async (raw) => {
          const result = await encodeResult(raw);
          await chain;
          this.store.finish(spec.id, result);
        })
        .catch(async (e: unknown) => {
          await chain;
          if (e instanceof JobError && e.reason === 'cancelled') this.store.cancelled(spec.id);
          else this.store.fail(spec.id, (e as Error).message, e instanceof JobError ? e.reason : 'internal');
        })
        .finally(() => {
          this.#running.delete(spec.id);
          this.#pump();
        });
    }
  }

  async cancel(id: string): Promise<boolean> {
    const i = this.#pending.findIndex((s) => s.id === id);
    if (i >= 0) {
      this.#pending.splice(i, 1);
      this.store.cancelled(id);
      return true;
    }
    return this.#running.has(id) && this.#pool.cancel(id);
  }

  stats(): { queued: number; running: number; capacity: number; workers: number } {
    return { queued: this.#pending.length, running: this.#running.size, capacity: this.capacity, workers: this.#pool.size };
  }

  async close(): Promise<void> {
    for (const s of this.#pending.splice(0)) this.store.cancelled(s.id);
    await this.#pool.close();
  }
}
