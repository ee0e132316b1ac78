/**
 * Scale-out through Redis (BullMQ): `diffuse serve --queue redis://HOST:PORT` puts jobs on a
 * BullMQ queue, and `diffuse worker --queue redis://HOST:PORT` processes (here or on other
 * machines) take them, each running compute on its own worker threads. Progress (with previews)
 * comes back as BullMQ job progress, results as the job's return value; a cancel removes a
 * waiting job or is published on a Redis channel that every worker listens to.
 */
import { Queue, QueueEvents, Worker, Job as BullJob } from 'bullmq';
import { Redis } from 'ioredis';
import { ArgumentError } from '../tensor/errors.js';
import { ThreadPool, JobError } from './pool.js';
import { encodeProgress, encodeResult, type JobStore } from './jobs.js';
import { QueueFullError, type JobQueue } from './local_queue.js';
import type { JobResult, JobSpec, Progress } from './job_types.js';

/** The BullMQ queue's name. */
export const QUEUE_NAME = 'diffuse-jobs';
/** The pub/sub channel that carries the ids of running jobs to cancel. */
export const CANCEL_CHANNEL = 'diffuse:cancel';
/** Finished jobs stay in Redis this long (seconds), then BullMQ removes them. */
const KEEP_FINISHED_S = 3600;

/** Where Redis is, as both BullMQ and ioredis take it. */
export interface RedisTarget {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  maxRetriesPerRequest: null;
}

/**
 * Connection options from a redis://[user:password@]HOST:PORT[/DB] URL.
 * @example redisOptions('redis://127.0.0.1:6379') // { host: '127.0.0.1', port: 6379, ... }
 */
export function redisOptions(url: string): RedisTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ArgumentError(`--queue must be 'local' or a redis://HOST:PORT URL, found '${url}'`);
  }
  if (u.protocol !== 'redis:') throw new ArgumentError(`--queue must be 'local' or a redis://HOST:PORT URL, found protocol '${u.protocol}' in '${url}'`);
  const port = u.port === '' ? 6379 : Number(u.port);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new ArgumentError(`--queue: the database in '${url}' must be a non-negative integer, found '${u.pathname.slice(1)}'`);
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port,
    db,
    ...(u.username === '' ? {} : { username: decodeURIComponent(u.username) }),
    ...(u.password === '' ? {} : { password: decodeURIComponent(u.password) }),
    // BullMQ's blocking connections need this; it also keeps commands waiting while Redis restarts.
    maxRetriesPerRequest: null,
  };
}

/** Why a job failed, as a worker encodes it in BullMQ's failedReason: "[reason] message". */
const REASON_RE = /^\[(cancelled|invalid|internal|timeout)\] ([\s\S]*)$/;

/** The server side: a BullMQ producer plus queue events feeding the job store. */
export class RedisQueue implements JobQueue {
  readonly mode = 'redis';

  private constructor(
    readonly store: JobStore,
    readonly capacity: number,
    readonly queue: Queue,
    readonly events: QueueEvents,
    readonly pub: Redis,
  ) {}

  static async connect(store: JobStore, capacity: number, url: string): Promise<RedisQueue> {
    const connection = redisOptions(url);
    const queue = new Queue(QUEUE_NAME, { connection });
    const events = new QueueEvents(QUEUE_NAME, { connection });
    const pub = new Redis({ ...connection, lazyConnect: true });
    try {
      await Promise.all([queue.waitUntilReady(), events.waitUntilReady(), pub.connect()]);
    } catch (e) {
      await Promise.allSettled([queue.close(), events.close()]);
      pub.disconnect();
      throw new ArgumentError(`could not connect to Redis at ${url}: ${(e as Error).message}`);
    }
    const q = new RedisQueue(store, capacity, queue, events, pub);
    q.#listen();
    return q;
  }

  #listen(): void {
    const { store, events } = this;
    events.on('active', ({ jobId }) => store.running(jobId));
    events.on('progress', ({ jobId, data }) => {
      if (data !== null && typeof data === 'object') store.progress(jobId, data as unknown as Progress);
    });
    events.on('completed', ({ jobId, returnvalue }) => {
      const r = (typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue) as JobResult;
      store.finish(jobId, r);
    });
    events.on('failed', ({ jobId, failedReason }) => {
      const m = REASON_RE.exec(failedReason);
      if (m?.[1] === 'cancelled') store.cancelled(jobId);
      else store.fail(jobId, m?.[2] ?? failedReason, m?.[1] ?? 'internal');
    });
  }

  async submit(spec: JobSpec): Promise<void> {
    // The bound counts this server's waiting jobs (another server's are its own business).
    const waiting = this.store.count('queued') - 1; // the job being submitted is already in the store
    if (waiting >= this.capacity) throw new QueueFullError(`the job queue is full (${waiting} of ${this.capacity} waiting); try again when a job has finished`);
    await this.queue.add(spec.kind, spec, { jobId: spec.id, attempts: 1, removeOnComplete: { age: KEEP_FINISHED_S }, removeOnFail: { age: KEEP_FINISHED_S } });
  }

  async cancel(id: string): Promise<boolean> {
    const job = await BullJob.fromId(this.queue, id);
    if (job === undefined) return false;
    const state = await job.getState();
    if (state === 'waiting' || state === 'delayed' || state === 'prioritized') {
      try {
        await job.remove();
        this.store.cancelled(id);
        return true;
      } catch {
        // a worker took it meanwhile: cancel it where it runs
      }
    }
    await this.pub.publish(CANCEL_CHANNEL, id);
    return true;
  }

  stats(): { queued: number; running: number; capacity: number; workers: null } {
    return { queued: this.store.count('queued'), running: this.store.count('running'), capacity: this.capacity, workers: null };
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.events.close(), this.queue.close()]);
    this.pub.disconnect();
  }
}

/** Options of a `diffuse worker` process. */
export interface RedisWorkerOptions {
  url: string;
  modelsDir: string;
  /** Jobs at once, one compute thread each (default 1). */
  concurrency?: number;
  /** Called when a job starts and ends (for the CLI's log). */
  log?(line: string): void;
  /** This worker's own wall-clock limit per job in ms (the server's, sent with each job, applies too; the lower wins). */
  jobTimeoutMs?: number;
}

/**
 * Takes jobs from the Redis queue and runs them on worker threads until closed.
 * @example const w = await startRedisWorker({ url: 'redis://127.0.0.1:6379', modelsDir: 'models' });
 */
export async function startRedisWorker(options: RedisWorkerOptions): Promise<{ close(): Promise<void> }> {
  const connection = redisOptions(options.url);
  const concurrency = options.concurrency ?? 1;
  const log = options.log ?? (() => {});
  const pool = new ThreadPool(concurrency, options.modelsDir, options.jobTimeoutMs === undefined ? {} : { jobTimeoutMs: options.jobTimeoutMs });
  const sub = new Redis({ ...connection, lazyConnect: true });
  try {
    await sub.connect();
  } catch (e) {
    await pool.close();
    sub.disconnect();
    throw new ArgumentError(`could not connect to Redis at ${options.url}: ${(e as Error).message}`);
  }
  await sub.subscribe(CANCEL_CHANNEL);
  sub.on('message', (_channel: string, id: string) => {
    if (pool.cancel(id)) log(`job ${id}: cancel requested`);
  });
  const worker = new Worker<JobSpec, JobResult>(
    QUEUE_NAME,
    async (job) => {
      const spec = job.data;
      log(`job ${spec.id}: ${spec.kind} started`);
      // Progress updates go out in order; the result waits for the last of them.
      let chain: Promise<unknown> = Promise.resolve();
      try {
        const raw = await pool.run(spec, (p) => {
          chain = chain.then(async () => job.updateProgress((await encodeProgress(p)) as unknown as Record<string, unknown>)).catch(() => {});
        });
        const result = await encodeResult(raw);
        await chain;
        log(`job ${spec.id}: done`);
        return result;
      } catch (e) {
        await chain;
        const reason = e instanceof JobError ? e.reason : 'internal';
        // The full message (a bug's stack) stays in this worker's log; the server keeps its own log of it.
        log(`job ${spec.id}: ${reason}${reason === 'internal' ? `: ${(e as Error).message}` : ''}`);
        throw new Error(`[${reason}] ${(e as Error).message}`);
      }
    },
    { connection, concurrency },
  );
  await worker.waitUntilReady();
  return {
    async close() {
      await worker.close();
      await pool.close();
      sub.disconnect();
    },
  };
}
